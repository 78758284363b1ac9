"""The one exception root of the project.

Every error we raise on purpose is a ``BillingError``; its message says what was
wrong and what to do about it.
"""


class BillingError(Exception):
    """Root of every error this project raises on purpose."""


class MalformedMessage(BillingError):
    """A Kafka message that no retry can process; the runtime dead-letters it."""


class InvalidRequest(BillingError):
    """An HTTP request body or query that the caller must correct (answered with a 4xx)."""

    def __init__(
        self, message: str, status: int = 400, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers or {}


class MethodNotAllowed(InvalidRequest):
    """The path exists, but not for this method (answered with 405 and ``Allow``)."""

    def __init__(self, method: str, path: str, allowed: tuple[str, ...], hint: str = "") -> None:
        super().__init__(
            f"{method} {path} is not supported; use {' or '.join(allowed)}{hint}",
            status=405,
            headers={"Allow": ", ".join(allowed)},
        )


class NotFound(InvalidRequest):
    """The HTTP request names something that does not exist."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status=404)


class StorageUnavailable(BillingError):
    """S3 could not be reached or refused a request; worth retrying."""


class PublishFailed(BillingError):
    """Kafka did not acknowledge every message in time."""


class ConfigurationError(BillingError):
    """An environment variable holds a value the process cannot use."""


class ImageBuildFailed(BillingError):
    """A container image could not be built (the compose check's stand-ins); the message
    names the build's log."""
