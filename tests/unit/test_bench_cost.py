"""The benchmark's price of a million bills: S3 by request class, Lambda by the CPU's floor."""

from __future__ import annotations

import pytest

from bench.cost import million_bills
from runtime.config import PriceSettings


def test_a_bill_of_one_write_and_one_read_costs_their_list_prices() -> None:
    cost = million_bills({"PutObject": 1.0, "GetObject": 1.0}, 0.0, PriceSettings())
    assert cost.s3_writes == pytest.approx(5.00)  # $0.005 per 1,000 writes
    assert cost.s3_reads == pytest.approx(0.40)  # $0.0004 per 1,000 reads
    assert cost.lambda_requests == pytest.approx(0.006)  # 3 functions, 100 records a call


def test_deletes_are_free_and_listings_are_priced_as_writes() -> None:
    free = million_bills({"DeleteObjects": 5.0}, 0.0, PriceSettings())
    listed = million_bills({"ListObjectsV2": 1.0, "HeadObject": 1.0}, 0.0, PriceSettings())
    assert (free.s3_writes, free.s3_reads) == (0, 0)
    assert listed.s3_writes == pytest.approx(5.00)
    assert listed.s3_reads == pytest.approx(0.40)


def test_a_cpu_second_costs_at_least_1_73_gb_seconds_whatever_the_memory() -> None:
    cost = million_bills({}, 0.001, PriceSettings(lambda_gb_second_price=1.0))
    assert cost.lambda_duration == pytest.approx(1_000 * 1769 / 1024)


def test_the_prices_are_settings() -> None:
    prices = PriceSettings.from_env({"S3_WRITE_PRICE_PER_1000": "0.0054", "PRICES_AS_OF": "x"})
    cost = million_bills({"PutObject": 1.0}, 0.0, prices)
    assert cost.s3_writes == pytest.approx(5.40)
    assert cost.lines()[0].startswith("a million bills on AWS (list prices of x")
