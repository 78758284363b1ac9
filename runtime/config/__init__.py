"""The configuration of each audience, and the only reader of the environment.

Every variable the project reads is declared once, beside its field (``declared.py``: how),
in the module of the audience that reads it:

- ``parts.py``: what the audiences share (Kafka, S3, logs, the token, the OIDC issuer,
  the HTTP functions' ports, the schedule)
- ``traces.py``: OpenTelemetry's variables, every process's
- ``function.py``: a function's process (``FunctionSettings``)
- ``client.py``: a client of the HTTP functions, the CLI and the benchmark (``ClientSettings``)
- ``stack.py``: the local stack, which runs the functions and serves the clients
  (``StackSettings``)
- ``prices.py``: the list prices `make bench` prices a million bills with

``from runtime.config import FunctionSettings`` reads any of them from here.
"""

from __future__ import annotations

from runtime.config.client import TOKEN_FILE_NAME, ClientSettings
from runtime.config.compose import ComposeSettings
from runtime.config.declared import DeclaredSettings
from runtime.config.function import FunctionSettings
from runtime.config.parts import (
    DEAD_LETTER_SUFFIX,
    LOCAL_S3,
    REPO,
    KafkaSettings,
    LogSettings,
    OidcSettings,
    PortSettings,
    S3Settings,
    ScheduleSettings,
    TokenSettings,
)
from runtime.config.prices import PriceSettings
from runtime.config.stack import StackSettings
from runtime.config.traces import TraceSettings

# Every part and audience, in the order docs/configuration.md shows them.
AUDIENCES: tuple[type[DeclaredSettings], ...] = (
    KafkaSettings,
    S3Settings,
    LogSettings,
    TokenSettings,
    OidcSettings,
    ScheduleSettings,
    PortSettings,
    TraceSettings,
    ClientSettings,
    FunctionSettings,
    StackSettings,
    PriceSettings,
    ComposeSettings,
)

__all__ = [
    "AUDIENCES",
    "DEAD_LETTER_SUFFIX",
    "LOCAL_S3",
    "REPO",
    "TOKEN_FILE_NAME",
    "ClientSettings",
    "ComposeSettings",
    "DeclaredSettings",
    "FunctionSettings",
    "KafkaSettings",
    "LogSettings",
    "OidcSettings",
    "PortSettings",
    "PriceSettings",
    "S3Settings",
    "ScheduleSettings",
    "StackSettings",
    "TokenSettings",
    "TraceSettings",
]
