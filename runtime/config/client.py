"""A client's settings: what the `billing` CLI and the benchmark need to find the stack."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from runtime.config.declared import read_secret, setting
from runtime.config.parts import (
    REPO,
    LogSettings,
    PortSettings,
    S3Settings,
    ScheduleSettings,
    TokenSettings,
)

TOKEN_FILE_NAME = "billing-token"


@dataclass(frozen=True)
class ClientSettings(S3Settings, TokenSettings, LogSettings, ScheduleSettings, PortSettings):
    """What a client of the HTTP functions needs: the `billing` CLI's, the benchmark's."""

    coordinator_url: str = setting(
        "",
        "COORDINATOR_URL",
        doc="where clients (the `billing` CLI, the benchmark) find the coordinator; empty:"
        " 127.0.0.1 at COORDINATOR_PORT",
    )
    crm_url: str = setting(
        "", "CRM_URL", doc="where clients find the CRM; empty: 127.0.0.1 at CRM_PORT"
    )
    traces_url: str = setting(
        "",
        "TRACES_URL",
        doc="where `billing trace` finds Jaeger's query API; empty: 127.0.0.1 at TRACES_QUERY_PORT",
    )
    traces_query_port: int = setting(
        16686,
        "TRACES_QUERY_PORT",
        doc="`make up TRACES=1`: Jaeger's query API (its gRPC one is the port below)",
    )
    state_dir: str = setting(
        str(REPO / ".state"),
        "STATE_DIR",
        doc="where `make up` keeps the stack's data, logs and pid files",
        shown="<repository>/.state",
    )
    billing_state_dir: str | None = setting(
        None,
        "BILLING_STATE_DIR",
        doc="where the `billing` CLI keeps what it must remember between commands: the plan"
        " of a `billing run` not finished yet, which the same command run again finishes;"
        " unset: billing/ in XDG_STATE_HOME",
    )
    xdg_state_home: str | None = setting(
        None,
        "XDG_STATE_HOME",
        doc="the user's state folder (XDG Base Directory), an absolute path; unset or"
        " relative: ~/.local/state",
    )

    @property
    def coordinator_address(self) -> str:
        return self.coordinator_url or f"http://127.0.0.1:{self.coordinator_port}"

    @property
    def crm_address(self) -> str:
        return self.crm_url or f"http://127.0.0.1:{self.crm_port}"

    @property
    def traces_address(self) -> str:
        return self.traces_url or f"http://127.0.0.1:{self.traces_query_port}"

    @property
    def billing_state_path(self) -> Path:
        """The `billing` CLI's own state folder (``BILLING_STATE_DIR``)."""
        if self.billing_state_dir:
            return Path(self.billing_state_dir)
        # The XDG spec says a relative path is invalid and to be ignored.
        if self.xdg_state_home and Path(self.xdg_state_home).is_absolute():
            return Path(self.xdg_state_home) / "billing"
        return Path.home() / ".local" / "state" / "billing"

    @property
    def token_file(self) -> Path:
        """Where `make up` keeps the bearer token it made for the local stack."""
        return Path(self.state_dir) / TOKEN_FILE_NAME

    @cached_property
    def token(self) -> str | None:
        """The environment's token, else the one `make up` made for the local stack."""
        if self.auth_token is None and not self.auth_token_file and self.token_file.exists():
            return read_secret(str(self.token_file))
        return super().token
