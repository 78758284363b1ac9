"""What a million bills would cost on AWS, from what a billing run measured.

S3: the requests a bill took, by operation, at S3's request prices (writes and listings
cost twelve times reads; deletes are free). Lambda: the functions' CPU a bill took, as
duration. Below 1,769 MB a function gets that share of one vCPU, so a CPU-second takes
1769/M seconds of duration at M MB, which is 1769/1024 = 1.73 GB-seconds whatever M is:
the floor of what a bill's CPU costs. Time spent waiting on S3 and Kafka overlaps across
the records of a batch, and is left out. Kafka itself (MSK or another) is not counted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from runtime.config import PriceSettings

MILLION = 1_000_000
# S3's request classes: PUT, COPY, POST, LIST at one price; GET, HEAD at another.
WRITES = frozenset({"PutObject", "ListObjectsV2", "CopyObject", "CreateMultipartUpload"})
FREE = frozenset({"DeleteObject", "DeleteObjects"})
FULL_VCPU_MB = 1769
GB_SECONDS_PER_CPU_SECOND = FULL_VCPU_MB / 1024
KAFKA_TRIGGERED = 3  # engine-start, crm-answer, engine-complete: one invocation a batch each


@dataclass(frozen=True)
class MillionBills:
    prices_as_of: str
    s3_writes: float
    s3_reads: float
    lambda_duration: float
    lambda_requests: float

    @property
    def total(self) -> float:
        return self.s3_writes + self.s3_reads + self.lambda_duration + self.lambda_requests

    def lines(self) -> list[str]:
        share = {name: value / self.total for name, value in self.parts().items()}
        return [
            f"a million bills on AWS (list prices of {self.prices_as_of}, us-east-1):"
            f" ${self.total:.2f}",
            *(
                f"  {name:34} ${value:8.2f}  {share[name]:4.0%}"
                for name, value in self.parts().items()
            ),
        ]

    def parts(self) -> dict[str, float]:
        return {
            "S3 writes and listings": self.s3_writes,
            "S3 reads": self.s3_reads,
            "Lambda duration (the CPU's floor)": self.lambda_duration,
            "Lambda invocations": self.lambda_requests,
        }


def million_bills(
    requests_per_bill: Mapping[str, float], cpu_s_per_bill: float, prices: PriceSettings
) -> MillionBills:
    """The cost of a million bills, from the S3 requests a bill took (by operation) and
    the functions' CPU seconds a bill took."""
    writes = sum(n for op, n in requests_per_bill.items() if op in WRITES)
    reads = sum(n for op, n in requests_per_bill.items() if op not in WRITES | FREE)
    gb_seconds = cpu_s_per_bill * GB_SECONDS_PER_CPU_SECOND * MILLION
    invocations = KAFKA_TRIGGERED * MILLION / prices.lambda_batch_size
    return MillionBills(
        prices_as_of=prices.prices_as_of,
        s3_writes=writes * MILLION / 1000 * prices.s3_write_price_per_1000,
        s3_reads=reads * MILLION / 1000 * prices.s3_read_price_per_1000,
        lambda_duration=gb_seconds * prices.lambda_gb_second_price,
        lambda_requests=invocations / MILLION * prices.lambda_request_price_per_million,
    )
