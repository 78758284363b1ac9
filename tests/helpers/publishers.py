"""Kafka as an in-process HTTP function sees it, for integration tests that run several
coordinators or CRMs against the real S3 server without a broker of their own."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from functions.messages import Outgoing


class RecordingPublisher:
    """Acknowledges every publish and keeps what was published, from any thread."""

    def __init__(self) -> None:
        self.published: list[Outgoing] = []
        self._lock = threading.Lock()

    def publish(
        self, messages: Sequence[Outgoing], before_commit: Callable[[], None] = lambda: None
    ) -> None:
        before_commit()
        with self._lock:
            self.published.extend(messages)
