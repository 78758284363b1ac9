"""The benchmark's latency proxy passes every S3 request and answer through unchanged."""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from urllib.parse import urlsplit

from functions.storage.bucket import Bucket
from infra.components import http_answers
from runtime.config import StackSettings
from runtime.services import s3_client
from tests.helpers.ports import free_port
from tests.helpers.processes import Processes
from tests.helpers.waiting import wait_for


def test_requests_through_the_latency_proxy_reach_the_s3_server_whole(
    settings: StackSettings, processes: Processes
) -> None:
    server = urlsplit(settings.s3_endpoint_url or "")
    port = free_port()
    processes.start(
        [
            *(sys.executable, "-m", "infra.s3_latency"),
            *("--listen", f"127.0.0.1:{port}", "--target", f"{server.hostname}:{server.port}"),
            *("--latency-ms", "5"),
        ],
        settings,
        "s3-latency",
    )
    wait_for("the proxy", lambda: http_answers(f"http://127.0.0.1:{port}"))
    proxied = replace(settings, s3_endpoint_url=f"http://127.0.0.1:{port}")
    bucket = Bucket(s3_client(proxied), settings.bills_bucket)
    direct = Bucket(s3_client(settings), settings.bills_bucket)
    body = bytes(range(256)) * 300  # more than one read of the proxy's

    def round_trip(n: int) -> bool:
        assert bucket.put_bytes(f"p/{n}", body, "application/octet-stream", only_if_absent=True)
        assert not bucket.put_bytes(f"p/{n}", b"x", "text/plain", only_if_absent=True)
        return bucket.get_bytes(f"p/{n}") == body == direct.get_bytes(f"p/{n}")

    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(round_trip, range(40)))
    assert sorted(bucket.names("p/")) == sorted(f"p/{n}" for n in range(40))
