"""A function's settings: what the process of a Kafka-triggered, timer-triggered or HTTP
function reads, under the runtime, functions-framework or Lambda."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass

from runtime.config.declared import setting
from runtime.config.parts import (
    KafkaSettings,
    LogSettings,
    OidcSettings,
    PortSettings,
    S3Settings,
    ScheduleSettings,
    TokenSettings,
)
from runtime.config.traces import TraceSettings


@dataclass(frozen=True)
class FunctionSettings(
    KafkaSettings,
    S3Settings,
    TokenSettings,
    OidcSettings,
    LogSettings,
    ScheduleSettings,
    PortSettings,
    TraceSettings,
):
    """What a function's process needs: the Kafka-triggered functions under the runtime or
    Lambda, the HTTP functions under functions-framework or Lambda."""

    storage_retry_s: float = setting(
        60.0,
        "STORAGE_RETRY_S",
        doc="how long an S3 outage is retried before a worker stops without committing",
    )
    commit_interval_s: float = setting(
        1.0,
        "COMMIT_INTERVAL_S",
        doc="how often a Kafka-triggered function commits what it finished",
    )
    max_in_flight: int = setting(
        32,
        "MAX_IN_FLIGHT",
        doc="records one Kafka-triggered function works on at once (threads waiting on S3)",
    )
    processing_guarantee: str = setting(
        "at-least-once",
        "PROCESSING_GUARANTEE",
        choices=("at-least-once", "exactly-once"),
        doc="at-least-once: S3 writes sit outside any Kafka transaction, so exactly-once"
        " adds a transaction per commit without making a bill more certain",
    )
    session_timeout_s: float = setting(
        10.0,
        "KAFKA_SESSION_TIMEOUT_S",
        doc="how soon a crashed worker's partitions go to another (Kafka's own default is 45 s)",
    )
    answer_timeout_s: float = setting(
        30.0,
        "ANSWER_TIMEOUT_S",
        doc="how long a question waits for its answer before it is asked again",
    )
    answer_backoff: float = setting(
        2.0, "ANSWER_BACKOFF", doc="each wait is this many times the one before"
    )
    answer_attempts: int = setting(5, "ANSWER_ATTEMPTS", doc="questions asked before the job fails")
    cancel_check_s: float = setting(
        1.0,
        "CANCEL_CHECK_S",
        zero_allowed=True,
        doc="how long engine-start and engine-complete take a run they saw running for running"
        " (besides within a batch): a bill may be written this long, and a batch, after a cancel",
    )
    retry_interval_s: float = setting(
        5.0, "RETRY_INTERVAL_S", doc="how often `retry-unanswered` looks for overdue questions"
    )
    schedule_check_s: float = setting(
        5.0,
        "SCHEDULE_CHECK_S",
        doc="how often `bill-on-schedule` looks whether a tick of BILLING_SCHEDULE is due: a"
        " tick's runs start within this long of it",
    )
    metrics_host: str = setting(
        "127.0.0.1",
        "METRICS_HOST",
        doc="where the Kafka-triggered functions serve their Prometheus metrics",
    )
    metrics_port: int = setting(
        9400,
        "METRICS_PORT",
        zero_allowed=True,
        doc="the first Kafka-triggered function's metrics port; `runtime all` counts up"
        " from it; 0: off",
    )
    quix_state_dir: str = setting(
        os.path.join(tempfile.gettempdir(), "billing-quix-state"),
        "QUIX_STATE_DIR",
        doc="quix-streams' state folder (the functions keep no state there)",
        shown="<temp folder>/billing-quix-state",
    )
    function_target: str = setting(
        "http",
        "FUNCTION_TARGET",
        doc="the functions-framework target this process serves (functions-framework sets it)",
    )
    console_crm_url: str = setting(
        "",
        "CONSOLE_CRM_URL",
        doc="where the web console, which the coordinator serves, finds the CRM's API;"
        " empty: 127.0.0.1 at CRM_PORT",
    )
    console_origins: str = setting(
        "",
        "CONSOLE_ORIGINS",
        doc="the origins (space-separated) whose console pages may call this HTTP function"
        " from a browser (CORS): the coordinator's address, for the CRM; empty: 127.0.0.1"
        " and localhost at COORDINATOR_PORT",
    )
    supervisor_pid: int | None = setting(
        None,
        "BILLING_SUPERVISOR_PID",
        doc="the runtime's supervisor, which the functions it starts watch (set by `runtime all`)",
    )

    @property
    def console_crm_address(self) -> str:
        """Where the console finds the CRM: CONSOLE_CRM_URL, else the CRM's port here."""
        return self.console_crm_url or f"http://127.0.0.1:{self.crm_port}"

    @property
    def console_allowed_origins(self) -> tuple[str, ...]:
        """The origins of the console's pages: CONSOLE_ORIGINS, else the coordinator's own."""
        if self.console_origins:
            return tuple(self.console_origins.split())
        port = self.coordinator_port
        return (f"http://127.0.0.1:{port}", f"http://localhost:{port}")
