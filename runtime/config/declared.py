"""How settings are declared and read: each field names its environment variable, its
default, the values it allows and whether it is a secret (``setting``); a settings class
(``DeclaredSettings``) reads them from the environment and checks them, and reads nothing
else while it is built. The audiences' classes are beside it, a module an audience.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Self

from functions.errors import ConfigurationError

# What a local S3 server (S3Proxy, LocalStack, moto) is started with and signed for, unless
# AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY say otherwise. Real AWS takes the usual chain.
LOCAL_S3_CREDENTIALS = ("test", "test")


def setting(
    default: Any,
    env: str,
    *,
    choices: tuple[str, ...] = (),
    secret: bool = False,
    zero_allowed: bool = False,
    upper: bool = False,
    doc: str,
    shown: str | None = None,
) -> Any:
    """A field read from ``env``. Numbers must be greater than zero unless ``zero_allowed``;
    ``upper``: the value is upper-cased as it is read (LOG_LEVEL=debug). ``doc`` says what
    it is for, in docs/configuration.md; ``shown``: the default as that page shows it, where
    the value depends on the machine."""
    metadata = {
        "env": env,
        "choices": choices,
        "zero_allowed": zero_allowed,
        "upper": upper,
        "doc": doc,
        "shown": shown,
    }
    return field(default=default, repr=not secret, metadata={**metadata, "secret": secret})


@dataclass(frozen=True)
class DeclaredSettings:
    """Settings read from the environment by their declarations (``setting``), checked
    whatever builds them (the environment, a test, ``dataclasses.replace``). Construction
    reads nothing else: no file, no environment."""

    def __post_init__(self) -> None:
        for spec in dataclasses.fields(self):
            _check(spec, getattr(self, spec.name))
        self._check_together()

    def _check_together(self) -> None:
        """Rules between settings; each audience adds its own."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Self:
        env = os.environ if env is None else env
        types = typing.get_type_hints(cls)
        values = {}
        for spec in dataclasses.fields(cls):
            raw = env.get(spec.metadata["env"])
            if raw is None or (raw == "" and types[spec.name] in (int, float)):
                continue  # S3_LATENCY_MS= means the default, as unset does
            values[spec.name] = _parse(spec, types[spec.name], raw)
        return cls(**values)

    def to_env(self) -> dict[str, str]:
        """The environment that makes another process read these same settings. A value
        left unset is left out, so that the other process's own chain (AWS's) applies."""
        env = {}
        for spec in dataclasses.fields(self):
            value = getattr(self, spec.name)
            if value is not None:
                env[spec.metadata["env"]] = str(value)
            elif spec.default is not None:
                env[spec.metadata["env"]] = ""  # S3_ENDPOINT_URL= : AWS S3
        return env

    def secrets(self) -> list[str]:
        """The secret values set, so that logs can blank them. A local server's dummy
        credentials are no secret, and blanking them would garble every line."""
        fields = dataclasses.fields(self)
        values = (getattr(self, spec.name) for spec in fields if spec.metadata["secret"])
        return [value for value in values if value and value not in LOCAL_S3_CREDENTIALS]


def _parse(spec: dataclasses.Field[Any], annotation: Any, raw: str) -> Any:
    name = spec.metadata["env"]
    optional = type(None) in typing.get_args(annotation)
    kind = next((a for a in typing.get_args(annotation) if a is not type(None)), annotation)
    if optional and not raw:
        return None
    if kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            raise ConfigurationError(f"{name}={raw!r} is not a {kind.__name__}") from None
    return raw.upper() if spec.metadata["upper"] else raw


def _check(spec: dataclasses.Field[Any], value: Any) -> None:
    name, choices = spec.metadata["env"], spec.metadata["choices"]
    if choices and value not in choices:
        raise ConfigurationError(f"{name}={value!r}; use one of {choices}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        zero_allowed = spec.metadata["zero_allowed"]
        if value < 0 or (value == 0 and not zero_allowed):
            least = "zero or more" if zero_allowed else "greater than zero"
            raise ConfigurationError(f"{name}={value!r} must be {least}")


def read_secret(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as file:
            secret = file.read().strip()
    except OSError as exc:
        raise ConfigurationError(
            f"BILLING_TOKEN_FILE={path!r} cannot be read: {exc.strerror}"
        ) from None
    if not secret:
        raise ConfigurationError(f"BILLING_TOKEN_FILE={path!r} is empty; put the token in it")
    return secret
