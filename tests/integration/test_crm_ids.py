"""New customer ids on the real S3 server: CRM processes racing for blocks of ids."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from functions.storage.bucket import Bucket
from functions.storage.s3_customers import S3CustomerStore
from functions.wire.messages import Customer
from runtime.config import StackSettings
from runtime.services import s3_client


def test_four_processes_racing_for_blocks_never_give_an_id_twice(settings: StackSettings) -> None:
    # Four stores stand for four CRM processes: each reserves blocks of its own with a
    # conditional create, which the S3 server lets exactly one of them win.
    stores = [
        S3CustomerStore(Bucket(s3_client(settings), settings.customers_bucket)) for _ in range(4)
    ]
    make = [lambda customer_id: Customer(customer_id, "F", "L", "C", "1", "0")]
    with ThreadPoolExecutor(64) as pool:
        ids = list(pool.map(lambda n: stores[n % 4].add_new(make)[0].customer_id, range(1280)))
    assert len(set(ids)) == 1280
    blocks = list(Bucket(s3_client(settings), settings.customers_bucket).names("ids/blocks/"))
    assert len(blocks) >= 13  # 1280 ids, 100 to a block, some left unused by each store
