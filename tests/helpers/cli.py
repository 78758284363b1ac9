"""The `billing` command as a user runs it, against a stack of a test's own: as a process
(``billing``), or in the test's own process over the HTTP functions' test clients
(``InProcessApi``)."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from cli.api import Api, named_headers
from runtime.config import ClientSettings, StackSettings

# The bearer token the end-to-end stacks run with.
TOKEN = "e2e-token-Zq8w"
BILLING = str(Path(sys.executable).parent / "billing")


@functools.cache
def _plans_of_the_tests() -> str:
    return tempfile.mkdtemp(prefix="billing-state-")


def billing(
    settings: StackSettings, *arguments: str, token: str | None = TOKEN
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **settings.to_env(), "BILLING_TOKEN": token or ""}
    # The plans of a `billing run` a test left unfinished stay out of the user's own folder.
    env.setdefault("BILLING_STATE_DIR", _plans_of_the_tests())
    return subprocess.run(
        [BILLING, *arguments], capture_output=True, text=True, env=env, timeout=180
    )


class Refusable(Protocol):
    """A publisher that Kafka refuses while ``fail`` is set (the unit tier's recorder)."""

    fail: bool


class InProcessApi(Api):
    """The CLI's Api over HTTP functions served in this process (``serve(target)``: its
    test client), a request at a time. Each POST / is kept with the plans the state folder
    held as it was sent; Kafka refuses the POSTs numbered in ``refused`` (from 1): a 503."""

    def __init__(
        self,
        settings: ClientSettings,
        serve: Callable[[str], Any],
        publisher: Refusable,
        state: Path,
    ) -> None:
        super().__init__(settings)
        self.serve, self.publisher, self.state = serve, publisher, state
        self.refused: set[int] = set()
        self.posts: list[tuple[str, dict[str, Any]]] = []
        self.plans_at_post: list[list[str]] = []
        # One at a time: Kafka refuses exactly the POST meant, not one sent alongside it.
        self._one_at_a_time = threading.Lock()

    def _transport(
        self, url: str, data: bytes | None, headers: dict[str, str], timeout_s: float
    ) -> tuple[int, Mapping[str, str], bytes]:
        coordinator = url.startswith(self.settings.coordinator_address)
        path = "/" + url.split("//", 1)[1].partition("/")[2]
        with self._one_at_a_time:
            if coordinator and path == "/" and data is not None:
                self.posts.append((headers.get("Idempotency-Key", ""), json.loads(data)))
                self.plans_at_post.append(sorted(p.name for p in self.state.glob("*")))
                self.publisher.fail = len(self.posts) in self.refused
            try:
                answer = self.serve("coordinator" if coordinator else "crm").open(
                    path, method="GET" if data is None else "POST", data=data, headers=headers
                )
            finally:
                self.publisher.fail = False
        return answer.status_code, named_headers(answer.headers.items()), answer.get_data()

    def posted(self) -> list[list[str]]:
        """The customers of each POST /, in the order they were sent."""
        return [body["customerIdentifiers"] for _, body in self.posts]


def billing_in_process(
    monkeypatch: Any, serve: Callable[[str], Any], publisher: Refusable, state: Path
) -> InProcessApi:
    """`billing` (``cli.__main__.main``) over ``InProcessApi``, with S3 as moto mocks it,
    the plans in ``state``, and three customers a run: the CRM's 8 seed customers are then
    three runs."""
    import cli.__main__
    import cli.runs

    monkeypatch.setenv("BILLING_STATE_DIR", str(state))
    monkeypatch.setenv("S3_ENDPOINT_URL", "")  # moto's mock stands in for AWS itself
    api = InProcessApi(ClientSettings.from_env(), serve, publisher, state)
    monkeypatch.setattr(cli.__main__, "Api", lambda _: api)
    monkeypatch.setattr(cli.runs, "MAX_RUN_SIZE", 3)
    return api
