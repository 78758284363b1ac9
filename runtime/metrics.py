"""Prometheus metrics of one process: messages per function and outcome, time in the
function, and S3 requests by operation. Kafka-triggered functions serve them on
``METRICS_PORT`` (``runtime all`` gives each function the next port); the HTTP functions
answer ``GET /metrics``."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from prometheus_client import start_http_server as _start_http_server

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)

MESSAGES = Counter(
    "billing_messages",
    "Messages a function took: processed, failed (the function raised) or dead_lettered",
    ["function", "outcome"],
)
HANDLER_SECONDS = Histogram(
    "billing_handler_seconds",
    "Time a function spent on one message, S3 calls included",
    ["function"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
S3_REQUESTS = Counter("billing_s3_requests", "S3 requests made, by operation", ["operation"])

EXPOSITION_TYPE = CONTENT_TYPE_LATEST


def count_s3_requests(client: S3Client) -> None:
    def count(model: Any, **_: Any) -> None:
        S3_REQUESTS.labels(model.name).inc()

    client.meta.events.register("before-call.s3", count)


def exposition() -> bytes:
    return generate_latest()


def serve(host: str, port: int) -> None:
    """Serve the metrics in the background; a taken port costs the metrics, not the process."""
    if port == 0:
        return
    try:
        _start_http_server(port, addr=host)
        log.info("metrics on http://%s:%d/metrics", host, port)
    except OSError as exc:
        log.warning("metrics not served: %s:%d is unavailable (%s)", host, port, exc)
