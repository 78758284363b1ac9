"""The one exception root of the project.

Every error we raise on purpose is a ``BillingError``; its message says what was
wrong and what to do about it.
"""

from __future__ import annotations


class BillingError(Exception):
    """Root of every error this project raises on purpose."""


class MalformedMessage(BillingError):
    """A Kafka message that no retry can process; the runtime dead-letters it."""


# The error type of a body's value a rule refused (``functions/http/bodies.py``), what is wrong
# with it in the error's ``ctx["what"]``.
REFUSED_VALUE = "refused_value"

# Where in a request a problem is: its part (body, query, path, header), then the names and
# indexes within it, as FastAPI's and pydantic's ``loc``.
Location = tuple[str | int, ...]


class InvalidRequest(BillingError):
    """An HTTP request that the caller must correct (answered with a 4xx). ``problems``: each
    problem found, with where it is; the message is the first's, or the whole request's."""

    def __init__(
        self,
        message: str,
        status: int = 400,
        headers: dict[str, str] | None = None,
        problems: tuple[tuple[Location, str], ...] = (),
    ) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers or {}
        self.problems = problems or (((), message),)

    @classmethod
    def of(cls, problems: list[tuple[Location, str]], status: int = 400) -> InvalidRequest:
        """One refusal (400) of every problem of ``problems`` (one at least), told by the
        first."""
        first = problems[0][1]
        more = len(problems) - 1
        message = (
            f"{first} (and {more} more problem{'s' * (more > 1)}: see errors)" if more else first
        )
        return cls(message, status, problems=tuple(problems))

    def located(self, *where: str | int) -> list[tuple[Location, str]]:
        """Its problems, each found within ``where`` (``"query"``, ``"body"``...)."""
        return [((*where, *location), detail) for location, detail in self.problems]


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


class IssuerUnavailable(BillingError):
    """The OpenID Connect issuer's keys (its JWKS) could not be read; worth retrying."""


class PublishFailed(BillingError):
    """Kafka did not acknowledge every message in time."""


class ConfigurationError(BillingError):
    """An environment variable holds a value the process cannot use."""


class ImageBuildFailed(BillingError):
    """A container image could not be built (the compose check's stand-ins); the message
    names the build's log."""
