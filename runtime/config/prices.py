"""The list prices `make bench` prices its measurements with (``bench/cost.py``)."""

from __future__ import annotations

from dataclasses import dataclass

from runtime.config.declared import DeclaredSettings, setting


@dataclass(frozen=True)
class PriceSettings(DeclaredSettings):
    """AWS's list prices that `make bench` turns its measurements into dollars with (USD,
    us-east-1). They cannot be read from this machine: these are the published prices as
    of PRICES_AS_OF; set the variables to today's, or your region's."""

    prices_as_of: str = setting(
        "2024-06",
        "PRICES_AS_OF",
        doc="when the prices below were read off aws.amazon.com/s3/pricing and"
        " aws.amazon.com/lambda/pricing",
    )
    s3_write_price_per_1000: float = setting(
        0.005,
        "S3_WRITE_PRICE_PER_1000",
        doc="S3 Standard: PUT, COPY, POST and LIST requests, per 1,000",
    )
    s3_read_price_per_1000: float = setting(
        0.0004,
        "S3_READ_PRICE_PER_1000",
        doc="S3 Standard: GET, HEAD and other reads, per 1,000 (DELETE is free)",
    )
    lambda_gb_second_price: float = setting(
        0.0000166667, "LAMBDA_GB_SECOND_PRICE", doc="Lambda on x86, per GB-second of duration"
    )
    lambda_request_price_per_million: float = setting(
        0.20, "LAMBDA_REQUEST_PRICE_PER_MILLION", doc="Lambda, per million invocations"
    )
    lambda_batch_size: int = setting(
        100,
        "LAMBDA_BATCH_SIZE",
        doc="records an event source mapping hands a Kafka-triggered function at once, as"
        " infra/aws/template.yaml sets it",
    )
