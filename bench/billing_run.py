"""Billing-run throughput, latency and cost on the running local stack (``make bench``).

    python -m bench.billing_run --customers 10000    # one run: figures, ceilings, a JSON line
    python -m bench.billing_run --latency            # a one-customer run, 20 times

The stack is the one `make up` starts: the broker, the S3 server and every function in a
process of its own. Latency runs from the POST to the moment engine-complete saw the bill
exist (the bill's ``billed-at`` metadata, stamped as it is written).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from bench import ceilings, cost, probes
from cli.api import Api
from functions.runs.status import MAX_RUN_SIZE, bill_names
from functions.storage.bucket import Bucket
from functions.wire.messages import Customer
from infra import s3server
from infra.components import http_answers
from runtime.config import PriceSettings, StackSettings
from runtime.services import Services, s3_client
from runtime.triggers import enabled_functions


def metrics_urls(settings: StackSettings) -> list[str]:
    ports = [settings.metrics_port + n for n in range(len(enabled_functions(settings)))]
    http = [
        f"{url.rstrip('/')}/metrics" for url in (settings.coordinator_address, settings.crm_address)
    ]
    return [f"http://127.0.0.1:{port}/metrics" for port in ports] + http


def start_run(settings: StackSettings, customer_ids: list[str]) -> tuple[str, set[str]]:
    """POST a run as the CLI does; its id and the names its bills will have."""
    accepted = Api(settings).start_run(customer_ids)
    return accepted["runId"], set(bill_names(accepted))


def start_runs(settings: StackSettings, customer_ids: list[str]) -> dict[str, set[str]]:
    """As many runs as the coordinator needs for these customers (10,000 to a run),
    all started before any is waited for: each run's id, and its bills' names."""
    runs = {}
    for start in range(0, len(customer_ids), MAX_RUN_SIZE):
        run_id, names = start_run(settings, customer_ids[start : start + MAX_RUN_SIZE])
        runs[run_id] = names
    return runs


def server_name(settings: StackSettings) -> str:
    started = probes.running_pid(settings, "s3") is not None
    return f"s3proxy {s3server.VERSION}" if started else "not started by `make up`"


def cpu_seconds(settings: StackSettings, names: tuple[str, ...]) -> float:
    """CPU time used so far by the stack's processes whose names start with ``names``."""
    return sum(
        probes.cpu_seconds(process.pid)
        for process in probes.stack_processes(settings)
        if process.name.startswith(names)
    )


FUNCTION_PROCESSES = ("coordinator", "crm", "runtime")
SERVER_PROCESSES = ("kafka", "s3")


def seed(settings: StackSettings, count: int) -> list[str]:
    customers = [
        Customer(f"bench-{n:05d}", f"First{n}", f"Last{n}", "Utrecht", str(10_000 + n), "1")
        for n in range(count)
    ]
    store = Services(settings).context.customers
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(store.add, customers))
    return [customer.customer_id for customer in customers]


def wait_until_billed(
    settings: StackSettings, runs: dict[str, set[str]], answered_before: float, timeout_s: float
) -> float:
    """Seconds until every bill exists. engine-complete's counter of answers says when to
    look; listing 10,000 bills every second would load the S3 server under test."""
    bucket = Bucket(s3_client(settings), settings.bills_bucket)
    expected = sum(len(names) for names in runs.values())
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        answered = probes.answers_processed(probes.counters(metrics_urls(settings)))
        if answered - answered_before >= expected:
            missing = sum(
                len(names - set(bucket.names(run_id + "/"))) for run_id, names in runs.items()
            )
            if not missing:
                return time.monotonic() - started
            answered_before += missing  # duplicates were counted; wait for the rest
        time.sleep(0.2)
    raise SystemExit(f"not every bill exists after {timeout_s:.0f}s")


def billed_after_ms(settings: StackSettings, names: set[str], posted: datetime) -> list[float]:
    bills = Services(settings).context.bills

    def latency(name: str) -> float:
        billed_at = bills.billed_at(name)
        assert billed_at is not None, f"{name} does not exist"
        return (datetime.fromisoformat(billed_at) - posted).total_seconds() * 1000

    with ThreadPoolExecutor(16) as pool:
        return sorted(pool.map(latency, names))


def percentile(sorted_values: list[float], fraction: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))]


def billing_run(settings: StackSettings, count: int) -> dict[str, float]:
    customers = seed(settings, count)
    before = probes.counters(metrics_urls(settings))
    functions_cpu = cpu_seconds(settings, FUNCTION_PROCESSES)
    servers_cpu = cpu_seconds(settings, SERVER_PROCESSES)
    posted = datetime.now().astimezone()
    started = time.monotonic()
    runs = start_runs(settings, customers)
    accepted_s = time.monotonic() - started
    answered_before = probes.answers_processed(before)
    elapsed = accepted_s + wait_until_billed(
        settings, runs, answered_before, timeout_s=60 + count / 5
    )
    delta = probes.increase(before, probes.counters(metrics_urls(settings)))
    functions_cpu = (cpu_seconds(settings, FUNCTION_PROCESSES) - functions_cpu) / count
    servers_cpu = (cpu_seconds(settings, SERVER_PROCESSES) - servers_cpu) / count

    names = set().union(*runs.values())
    # The percentiles of a random 10,000 are as good as of all, and cost less to read.
    latencies = billed_after_ms(
        settings, set(random.sample(sorted(names), min(len(names), 10_000))), posted
    )
    print(
        f"{len(runs)} run(s) of {count} customers on {server_name(settings)},"
        f" S3 latency {settings.s3_latency_ms:g} ms, {settings.max_in_flight} record(s) in flight,"
        f" tracing {'on' if settings.traces else 'off'};"
        f" 202 after {accepted_s * 1000:.0f} ms,"
    )
    print(f"  every bill after {elapsed:.1f} s: {count / elapsed:.1f} bills/s")
    print(
        f"  POST to bill: p50 {percentile(latencies, 0.5):.0f} ms,"
        f" p95 {percentile(latencies, 0.95):.0f} ms, p99 {percentile(latencies, 0.99):.0f} ms"
    )
    s3_per_bill = probes.s3_requests(delta) / count
    messages_per_bill = probes.messages_taken(delta) / count
    operations = {
        key.split('"')[1]: value / count
        for key, value in delta.items()
        if key.startswith("billing_s3_requests_total")
    }
    shown = ", ".join(f"{op} {n:.2f}" for op, n in sorted(operations.items()))
    print(f"  per bill: {s3_per_bill:.2f} S3 requests ({shown})")
    print(f"            {messages_per_bill:.2f} Kafka messages")
    print(
        f"            {functions_cpu * 1000:.2f} ms CPU in the functions,"
        f" {servers_cpu * 1000:.2f} ms in Kafka and S3"
    )
    million = cost.million_bills(operations, functions_cpu, PriceSettings.from_env())
    for line in million.lines():
        print(f"  {line}")
    print("  peak memory (VmHWM):")
    for process in probes.stack_processes(settings):
        print(f"    {process.name:28} {probes.peak_memory_mib(process.pid):7.0f} MiB")
    return {
        "bills_per_s": count / elapsed,
        "seconds": elapsed,
        "p50_ms": percentile(latencies, 0.5),
        "p95_ms": percentile(latencies, 0.95),
        "p99_ms": percentile(latencies, 0.99),
        "s3_requests_per_bill": s3_per_bill,
        "kafka_messages_per_bill": messages_per_bill,
        "function_cpu_s_per_bill": functions_cpu,
        "server_cpu_s_per_bill": servers_cpu,
        "million_bills_usd": million.total,
    }


def measure_ceiling(settings: StackSettings, figures: dict[str, float]) -> float:
    """The bills/s the servers allow: their raw rates over what one bill costs of each."""
    s3_requests = ceilings.s3_requests_per_second(settings)
    s3_bills = s3_requests / figures["s3_requests_per_bill"]
    kafka_messages = ceilings.kafka_messages_per_second(settings)
    kafka_bills = kafka_messages / figures["kafka_messages_per_bill"]
    print("ceilings, on the same servers:")
    print(
        f"  S3: {s3_requests:.0f} requests/s / {figures['s3_requests_per_bill']:.2f}"
        f" per bill = {s3_bills:.1f} bills/s"
    )
    print(
        f"  Kafka: {kafka_messages:.0f} messages/s produced to consumed = {kafka_bills:.0f} bills/s"
    )
    return min(s3_bills, kafka_bills)


def one_customer_latency(settings: StackSettings, repeat: int) -> None:
    seed(settings, 1)
    bills = Bucket(s3_client(settings), settings.bills_bucket)
    timings = []
    for _ in range(repeat):
        started = time.monotonic()
        _run_id, names = start_run(settings, ["bench-00000"])
        (name,) = names
        while bills.get_bytes(name) is None:
            time.sleep(0.005)
        timings.append((time.monotonic() - started) * 1000)
    timings.sort()
    print(
        f"one-customer run, {repeat} times: POST to bill p50 {statistics.median(timings):.0f} ms,"
        f" p99 {percentile(timings, 0.99):.0f} ms (min {timings[0]:.0f}, max {timings[-1]:.0f})"
    )
    print(
        json.dumps(
            {
                "n": 1,
                "s3_latency_ms": settings.s3_latency_ms,
                "s3_server": server_name(settings),
                "runs": repeat,
                "p50_ms": statistics.median(timings),
                "p99_ms": percentile(timings, 0.99),
            }
        )
    )


def customer_create_latency(settings: StackSettings, repeat: int) -> None:
    """POST /customers to the CRM, as many times: what a create costs with every customer
    the CRM already holds (the first may reserve the process's block of ids)."""
    api = Api(settings)
    fields = {"firstName": "Bench", "lastName": "Mark", "city": "Utrecht"}
    fields |= {"connectionId": "1", "connectionMandate": "1"}
    timings = []
    for _ in range(repeat + 1):
        started = time.monotonic()
        api.create_customer(fields)
        timings.append((time.monotonic() - started) * 1000)
    first, rest = timings[0], sorted(timings[1:])
    print(
        f"creating a customer, {repeat} times: p50 {statistics.median(rest):.0f} ms,"
        f" max {rest[-1]:.0f} ms (the first: {first:.0f} ms)"
    )


def running_stack() -> StackSettings:
    """The local stack's settings, once its coordinator answers."""
    settings = StackSettings.from_env()
    if not http_answers(settings.coordinator_address):
        raise SystemExit(
            f"no coordinator at {settings.coordinator_address}; start the stack with `make up`"
        )
    return settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--latency", action="store_true", help="time a one-customer run")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    settings = running_stack()
    if args.latency:
        one_customer_latency(settings, args.repeat)
        customer_create_latency(settings, args.repeat)
        return
    figures = billing_run(settings, args.customers)
    ceiling = measure_ceiling(settings, figures)
    ratio = figures["bills_per_s"] / ceiling
    print(f"achieved / ceiling: {figures['bills_per_s']:.1f} / {ceiling:.1f} = {ratio:.2f}")
    summary = {
        "n": args.customers,
        "s3_latency_ms": settings.s3_latency_ms,
        "max_in_flight": settings.max_in_flight,
        **figures,
        "ceiling_bills_per_s": ceiling,
        "ratio": ratio,
    }
    rounded = {key: round(value, 4) for key, value in summary.items()}
    print(json.dumps({**rounded, "s3_server": server_name(settings), **tracing_of(settings)}))


def tracing_of(settings: StackSettings) -> dict[str, object]:
    """Whether the functions traced (`make bench TRACES=1`), and which share of workflows."""
    if not settings.traces:
        return {"tracing": False}
    return {"tracing": True, "trace_ratio": settings.trace_ratio}


if __name__ == "__main__":
    main()
