"""The compose stack's host ports (`docker compose up`, `make compose-check`)."""

from __future__ import annotations

from dataclasses import dataclass

from runtime.config.declared import DeclaredSettings, setting


@dataclass(frozen=True)
class ComposeSettings(DeclaredSettings):
    """The host ports the compose stack publishes on: docker-compose.yml reads the same
    variables and takes today's ports where they are unset; `make compose-check` takes
    free ones, so that it runs beside `make up`."""

    compose_kafka_port: int = setting(
        0,
        "COMPOSE_KAFKA_PORT",
        zero_allowed=True,
        doc="Kafka under `docker compose` (unset: 9092; `make compose-check`: a free port)",
    )
    compose_s3_port: int = setting(
        0,
        "COMPOSE_S3_PORT",
        zero_allowed=True,
        doc="LocalStack's S3 (unset: 4566; `make compose-check`: a free port)",
    )
    compose_coordinator_port: int = setting(
        0,
        "COMPOSE_COORDINATOR_PORT",
        zero_allowed=True,
        doc="the coordinator (unset: 3007; `make compose-check`: a free port)",
    )
    compose_crm_port: int = setting(
        0,
        "COMPOSE_CRM_PORT",
        zero_allowed=True,
        doc="the CRM (unset: 3008; `make compose-check`: a free port)",
    )
    compose_metrics_ports: str = setting(
        "",
        "COMPOSE_METRICS_PORTS",
        doc="the runtime's four metrics ports, as a range (unset: 9400-9403;"
        " `make compose-check`: four free ones)",
    )
