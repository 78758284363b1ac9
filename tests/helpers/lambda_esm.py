"""An event source mapping of our own, on the local broker: it polls a topic in the
function's consumer group the way Lambda's does for Kafka, hands each batch, in the MSK
event's shape, to the function's Lambda entry point in a fresh process (a cold start every
time), and commits the batch's offsets only once the invocation succeeded. A failed
invocation is retried with the same records."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from confluent_kafka import Consumer, Message, TopicPartition

from runtime.config import StackSettings
from runtime.triggers import BY_FUNCTION


def msk_event(messages: list[Message], bootstrap: str) -> dict[str, Any]:
    records: dict[str, list[dict[str, Any]]] = {}
    for message in messages:
        topic, partition = message.topic() or "", message.partition() or 0
        key, value = message.key(), message.value()
        records.setdefault(f"{topic}-{partition}", []).append(
            {
                "topic": topic,
                "partition": partition,
                "offset": message.offset(),
                "timestamp": message.timestamp()[1],
                "timestampType": "CREATE_TIME",
                **({"key": base64.b64encode(key).decode()} if key is not None else {}),
                **({"value": base64.b64encode(value).decode()} if value is not None else {}),
                "headers": [{name: list(data)} for name, data in message.headers() or []],
            }
        )
    return {"eventSource": "aws:kafka", "bootstrapServers": bootstrap, "records": records}


def invoke(
    entry: str,
    event: dict[str, Any],
    settings: StackSettings,
    until_killed: Callable[[], bool] | None = None,
) -> subprocess.CompletedProcess[str] | None:
    """Run ``handlers.<entry>`` on ``event`` in a fresh process; None if ``until_killed``
    said to kill it (SIGKILL) while it ran."""
    env = {**os.environ, **replace(settings, metrics_port=0).to_env(), "PYTHONUNBUFFERED": "1"}
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.lambda_invoke", entry],
            stdin=subprocess.PIPE,
            stdout=stdout,
            stderr=stderr,
            text=True,
            env=env,
        )
        assert process.stdin is not None
        process.stdin.write(json.dumps(event))
        process.stdin.close()
        while process.poll() is None:
            if until_killed is not None and until_killed():
                process.kill()
                process.wait()
                return None
            time.sleep(0.01)
        stdout.seek(0)
        stderr.seek(0)
        return subprocess.CompletedProcess(
            process.args, process.returncode, stdout.read(), stderr.read()
        )


class EventSourceMapping:
    def __init__(self, settings: StackSettings, function: str, batch_size: int = 100) -> None:
        trigger = BY_FUNCTION[function]
        self.settings = settings
        self.entry = function.replace("-", "_")
        self.consumer = Consumer(
            {
                **settings.kafka_connection(),
                "group.id": settings.consumer_group_prefix + trigger.consumer_group,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
            }
        )
        self.consumer.subscribe([settings.topic(trigger.source)])
        self.batch_size = batch_size
        self.invocations = 0
        self.failures: list[str] = []
        self.retrying = False  # a failed batch waits to be invoked again

    def step(self, kill_when: Callable[[], bool] | None = None) -> int:
        """Poll one batch and invoke the function with it; the records it processed."""
        messages = [m for m in self.consumer.consume(self.batch_size, 1.0) if m.error() is None]
        if not messages:
            return 0
        self.invocations += 1
        event = msk_event(messages, self.settings.kafka_bootstrap_servers)
        done = invoke(self.entry, event, self.settings, kill_when)
        firsts: dict[tuple[str, int], int] = {}
        lasts: dict[tuple[str, int], int] = {}
        for m in messages:
            where = (m.topic() or "", m.partition() or 0)
            firsts.setdefault(where, m.offset() or 0)
            lasts[where] = (m.offset() or 0) + 1
        if done is None or done.returncode != 0:
            self.failures.append("killed" if done is None else done.stderr[-2000:])
            for (topic, partition), offset in firsts.items():  # the same batch again
                self.consumer.seek(TopicPartition(topic, partition, offset))
            self.retrying = True
            return 0
        self.retrying = False
        offsets = [TopicPartition(t, p, offset) for (t, p), offset in lasts.items()]
        self.consumer.commit(offsets=offsets, asynchronous=False)
        return len(messages)

    def close(self) -> None:
        self.consumer.close()
