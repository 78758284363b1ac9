"""The rates the servers allow, measured on the same servers as the run: what a bill's S3
requests and Kafka messages cost when nothing else is done between them."""

from __future__ import annotations

import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from functions.storage.bucket import Bucket
from runtime.config import StackSettings
from runtime.services import s3_client

REQUESTS_PER_SYNTHETIC_BILL = 4


def s3_requests_per_second(
    settings: StackSettings, seconds: float = 5.0, threads: int = 8
) -> float:
    """S3 requests/s when the server does nothing but the requests a bill needs, in the
    mix a bill needs them (create the job, read the customer, read the job, create the
    bill; ending the waits costs one request per batch), from ``threads`` clients at once."""
    bucket_name = f"bench-ceiling-{uuid.uuid4().hex[:8]}"
    client = s3_client(settings)
    client.create_bucket(Bucket=bucket_name)
    bucket = Bucket(client, bucket_name)
    bucket.put_json("customers/c.json", {"customerId": "c", "firstName": "A"})
    deadline = time.monotonic() + seconds
    done = [0] * threads

    def synthetic_bills(worker: int) -> None:
        n = 0
        while time.monotonic() < deadline:
            key = f"{worker}-{n}"
            bucket.put_json(f"jobs/{key}.json", {"s": "pending"}, only_if_absent=True)
            bucket.get_json("customers/c.json")
            bucket.get_json(f"jobs/{key}.json")
            bucket.put_bytes(f"bills/{key}.txt", b"Bill" * 70, "text/plain", only_if_absent=True)
            n += 1
        done[worker] = n

    started = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(synthetic_bills, range(threads)))
    elapsed = time.monotonic() - started
    bucket.delete_many(list(bucket.names()))
    client.delete_bucket(Bucket=bucket_name)
    return sum(done) * REQUESTS_PER_SYNTHETIC_BILL / elapsed


def kafka_messages_per_second(settings: StackSettings, count: int = 30_000) -> float:
    """Messages/s from produce to consume through the broker, with messages the size of ours."""
    topic = f"bench-ceiling-{uuid.uuid4().hex[:8]}"
    quiet = {"bootstrap.servers": settings.kafka_bootstrap_servers, "log_level": 3}
    admin = AdminClient(quiet)
    replication = min(settings.topic_replication, len(admin.list_topics(timeout=10).brokers))
    admin.create_topics([NewTopic(topic, settings.topic_partitions, replication)])[topic].result()
    value = json.dumps(
        {
            "workflow-type": "bill-generation",
            "workflow-id": "run-20261127T000000-00000000-10000",
            "create-time": "2026-11-27T00:00:00.000Z",
            "payload": {"customerIdentifier": "bench-00001"},
        }
    ).encode()
    consumer = Consumer(
        {
            **quiet,
            "group.id": topic,
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    consumed = threading.Event()

    def consume() -> None:
        seen = 0
        while seen < count:
            seen += len(consumer.consume(1000, timeout=0.5))
        consumed.set()

    reader = threading.Thread(target=consume)
    reader.start()
    producer = Producer({**quiet, "linger.ms": 5, "acks": "all"})
    started = time.monotonic()
    for n in range(count):
        while True:
            try:
                producer.produce(topic, value, str(n).encode())
                break
            except BufferError:
                producer.poll(0.01)
    producer.flush(60)
    reader.join(120)
    elapsed = time.monotonic() - started
    consumer.close()
    admin.delete_topics([topic])
    assert consumed.is_set(), "the ceiling's consumer did not read every message"
    return count / elapsed
