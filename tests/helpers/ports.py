"""Free ports on this machine, for the servers a test starts."""

from __future__ import annotations

import contextlib
import random
import socket


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def free_port_block(count: int) -> int:
    """The first of ``count`` free ports in a row, below the range the kernel hands out
    for outgoing connections, so no connection between brokers can take one meanwhile."""
    for _ in range(100):
        first = random.randrange(20_000, 32_000 - count)
        with contextlib.ExitStack() as held:
            try:
                for port in range(first, first + count):
                    sock = held.enter_context(socket.socket())
                    sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return first
    raise AssertionError(f"no {count} free ports in a row")
