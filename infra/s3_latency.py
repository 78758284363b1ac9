"""A TCP proxy that makes every S3 request wait as it would on a cloud object store.

    python -m infra.s3_latency --listen 127.0.0.1:4567 --target 127.0.0.1:4566 --latency-ms 25

Each request sent over a connection is held ``--latency-ms`` before it is passed on, once
per request and response, which is what a round trip to a cloud region costs. `make up
S3_LATENCY_MS=25` (and `make bench S3_LATENCY_MS=25`) puts it between the functions and
the S3 server. It listens on loopback only and stops on SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys

log = logging.getLogger("infra.s3_latency")


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host or "127.0.0.1", int(port)


class Connection:
    """One client connection and its own connection to the server."""

    def __init__(self, latency_s: float) -> None:
        self.latency_s = latency_s
        # A new request starts when the client writes after the server has answered.
        self.answered = True

    async def requests(self, client: asyncio.StreamReader, server: asyncio.StreamWriter) -> None:
        while data := await client.read(65536):
            if self.answered:
                self.answered = False
                await asyncio.sleep(self.latency_s)
            server.write(data)
            await server.drain()
        server.close()

    async def responses(self, server: asyncio.StreamReader, client: asyncio.StreamWriter) -> None:
        while data := await server.read(65536):
            self.answered = True
            client.write(data)
            await client.drain()
        client.close()


async def serve(listen: tuple[str, int], target: tuple[str, int], latency_s: float) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(*target)
        except OSError as exc:
            log.warning("cannot reach the S3 server at %s:%d: %s", *target, exc)
            writer.close()
            return
        connection = Connection(latency_s)
        with contextlib.suppress(ConnectionError):
            await asyncio.gather(
                connection.requests(reader, server_writer),
                connection.responses(server_reader, writer),
            )

    server = await asyncio.start_server(handle, *listen)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    log.info("holding each S3 request %.0f ms: %s:%d -> %s:%d", latency_s * 1000, *listen, *target)
    async with server:
        await stop.wait()
    log.info("stopped")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.s3_latency", description=__doc__)
    parser.add_argument("--listen", type=_address, required=True)
    parser.add_argument("--target", type=_address, required=True)
    parser.add_argument("--latency-ms", type=float, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    asyncio.run(serve(args.listen, args.target, args.latency_ms / 1000))
    return 0


if __name__ == "__main__":
    sys.exit(main())
