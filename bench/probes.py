"""What the benchmark reads off the running stack: its processes' peak memory and the
counters the functions keep (messages, S3 requests)."""

from __future__ import annotations

import urllib.request
from dataclasses import dataclass
from pathlib import Path

import psutil
from prometheus_client.parser import text_string_to_metric_families

from infra.stack import Stack
from runtime.config import StackSettings


@dataclass(frozen=True)
class Process:
    name: str
    pid: int


def running_pid(settings: StackSettings, name: str) -> int | None:
    return Stack(settings).background.running_pid(name)


def stack_processes(settings: StackSettings) -> list[Process]:
    """Every process `make up` started, and the function processes under the runtime."""
    found = []
    stack = Stack(settings)
    for name in stack.known_names():
        pid = stack.background.running_pid(name)
        if pid is None:
            continue
        found.append(Process(name, pid))
        for child in _children(pid):
            found.append(Process(f"{name}/{_function_of(child)}", child))
    return found


def _children(pid: int) -> list[int]:
    try:
        return [child.pid for child in psutil.Process(pid).children()]
    except psutil.Error:
        return []


def _function_of(pid: int) -> str:
    try:
        return psutil.Process(pid).cmdline()[-1]
    except (psutil.Error, IndexError):
        return str(pid)


def peak_memory_mib(pid: int) -> float:
    """The most memory the process ever had resident (VmHWM). psutil tells today's resident
    memory only, so this one figure is read from /proc."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User and system CPU time the process has used (0 if it is gone)."""
    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return 0.0
    return times.user + times.system


def counters(urls: list[str]) -> dict[str, float]:
    """The billing_* counters of every metrics endpoint, summed, by name and labels."""
    total: dict[str, float] = {}
    for url in urls:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                text = response.read().decode()
        except OSError:
            continue
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name.startswith("billing_") and sample.name.endswith("_total"):
                    labels = ",".join(f'{name}="{value}"' for name, value in sample.labels.items())
                    key = f"{sample.name}{{{labels}}}"
                    total[key] = total.get(key, 0.0) + sample.value
    return total


def increase(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {key: value - before.get(key, 0.0) for key, value in after.items()}


def s3_requests(sample: dict[str, float]) -> float:
    return sum(v for k, v in sample.items() if k.startswith("billing_s3_requests_total"))


def messages_taken(sample: dict[str, float]) -> float:
    return sum(v for k, v in sample.items() if k.startswith("billing_messages_total"))


def answers_processed(sample: dict[str, float]) -> float:
    key = 'billing_messages_total{function="engine-complete",outcome="processed"}'
    return sample.get(key, 0.0)
