"""Faults the tests inject: a Kafka cluster of a test's own that can be restarted or lose
a node, and a proxy that cuts the S3 server off."""

from __future__ import annotations

import contextlib
import socket
import threading
from pathlib import Path
from urllib.parse import urlsplit

from infra import broker
from infra.components import kafka_ready
from runtime.config import StackSettings
from tests.helpers.ports import free_port_block
from tests.helpers.processes import Process, Processes
from tests.helpers.waiting import wait_for


def _serves(address: str) -> bool:
    return kafka_ready(StackSettings(kafka_bootstrap_servers=address))


class Cluster:
    """A Kafka cluster of this test's own, on free ports, so it may be restarted or broken."""

    def __init__(self, processes: Processes, data: Path, size: int) -> None:
        self._processes = processes
        self._data = data
        first = free_port_block(2 * size)
        self.nodes = broker.cluster_nodes(first, size)
        self.bootstrap = broker.bootstrap_servers(self.nodes)
        self.running: dict[int, Process] = {}
        self._starts: dict[int, int] = {}
        for node in self.nodes:
            self.start(node.node_id)
        wait_for("every node to serve", self._all_serving, timeout_s=120)

    def start(self, node_id: int) -> None:
        node = self.nodes[node_id - 1]
        command = broker.prepare(self._data, node, self.nodes, StackSettings.from_env())
        self._starts[node_id] = self._starts.get(node_id, 0) + 1
        name = f"kafka-{node_id}-start-{self._starts[node_id]}"
        # The JVM answers SIGTERM by shutting down cleanly, then exits with 143.
        self.running[node_id] = self._processes.start(command, StackSettings(), name, (0, 143))
        self.running[node_id].disposable = True

    def kill(self, node_id: int) -> None:
        self.running[node_id].kill()

    def restart(self, node_id: int) -> None:
        """Stops a node as an operator does (SIGTERM) and starts it again."""
        self.running[node_id].terminate(timeout_s=60)
        self.start(node_id)
        address = self.nodes[node_id - 1].address
        wait_for(f"node {node_id} to serve", lambda: _serves(address), timeout_s=120)

    def serving(self) -> bool:
        return self._all_serving()

    def _all_serving(self) -> bool:
        return kafka_ready(StackSettings(kafka_bootstrap_servers=self.bootstrap), len(self.nodes))


class FlakyProxy:
    """A TCP proxy in front of the S3 server that can be switched off, as a network fails."""

    def __init__(self, target: str) -> None:
        parts = urlsplit(target)
        self._target = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        self.up = True
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self._target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._connections += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        """Refuse new connections and break the open ones."""
        self.up = False
        with self._lock:
            for sock in self._connections:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._connections.clear()

    def restore(self) -> None:
        self.up = True

    def close(self) -> None:
        self.cut()
        self._server.close()
