"""The CRM at scale: ids from reserved blocks, listings a page at a time, creates and
imports, each stored once whatever is sent again."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any
from urllib.parse import unquote, urlparse

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError

from cli.batches import import_requests
from functions.storage import CustomerStore, keys
from functions.storage.migrations import move_legacy_customers
from functions.storage.objects import Objects
from functions.storage.s3_customers import S3CustomerStore
from functions.wire.messages import Customer
from tests.helpers.lab import ADA
from tests.unit.harness import Harness, S3Harness, client, s3_requests, seeding


def synthetic(count: int, start: int = 1) -> list[Customer]:
    return [Customer(str(n), "F", "L", "C", "1", "0") for n in range(start, start + count)]


def customers_bucket(harness: Harness) -> Objects:
    return harness.bucket(harness.services.settings.customers_bucket)


def new_store(harness: Harness) -> S3CustomerStore:
    """Another CRM process's store on the same bucket."""
    return S3CustomerStore(customers_bucket(harness))


def test_a_create_costs_the_same_whatever_the_crm_holds(s3_harness: S3Harness) -> None:
    crm = client("crm")
    assert crm.post("/customers", json=ADA).get_json()["customerId"] == "9"  # reserves a block
    costs = []
    for extra in (0, 1100):
        seeding(s3_harness).customers.put_all(synthetic(extra, start=10_000))
        before = s3_requests()
        assert crm.post("/customers", json=ADA).status_code == 201
        costs.append(s3_requests() - before)
    # The customer's own create and a name key a word, with 10 customers as with 1,110.
    assert costs == [3, 3]


def test_concurrent_creators_of_one_process_never_share_an_id(harness: Harness) -> None:
    # Two processes racing for a block is the integration tier's (moto's conditional
    # writes are not atomic across threads; the S3 server's are).
    store = new_store(harness)
    other = new_store(harness)
    # Nameless, so a create is its one conditional write (no name keys): names play no part
    # in the ids, and the races stay the same at a third of the requests.
    make = [lambda customer_id: Customer(customer_id, "", "", "C", "1", "0")]
    with ThreadPoolExecutor(64) as pool:
        ids = list(pool.map(lambda _: store.add_new(make)[0].customer_id, range(640)))
    ids += [other.add_new(make)[0].customer_id for _ in range(150)]
    assert len(ids) == len(set(ids)) == 790
    assert len([c for page in _all_pages(store) for c in page]) == 790


def _all_pages(store: CustomerStore) -> list[list[str]]:
    pages, after = [], ""
    while True:
        page = store.id_page(after, 1000)
        pages.append(page.items)
        if page.next_after is None:
            return pages
        after = page.next_after


def test_a_restarted_process_goes_on_after_its_block_leaving_a_gap(harness: Harness) -> None:
    make = [lambda customer_id: Customer(customer_id, "F", "L", "C", "1", "0")]
    first = new_store(harness)
    assert [first.add_new(make)[0].customer_id for _ in range(3)] == ["1", "2", "3"]
    restarted = new_store(harness)
    assert restarted.add_new(make)[0].customer_id == "101"  # 4 to 100 stay unused
    assert first.add_new(make)[0].customer_id == "4"  # still its own block


def test_ids_start_after_those_a_crm_gave_before_the_blocks(harness: Harness) -> None:
    bucket = customers_bucket(harness)
    store = new_store(harness)
    store.put_all(synthetic(40))
    bucket.delete(keys.NEXT_ID_BLOCK)  # as a CRM before the blocks left it
    fresh = new_store(harness)
    assert fresh.add_new([lambda i: Customer(i, "F", "L", "C", "1", "0")])[0].customer_id == "41"
    bucket.delete(keys.NEXT_ID_BLOCK)
    bucket.put_json(keys.LEGACY_NEXT_ID, {"nextId": 250})  # its note, if it left one
    noted = new_store(harness)
    assert noted.add_new([lambda i: Customer(i, "F", "L", "C", "1", "0")])[0].customer_id == "250"


def test_ids_given_by_hand_are_skipped_not_collided_with(harness: Harness) -> None:
    make = [lambda customer_id: Customer(customer_id, "F", "L", "C", "1", "0")]
    busy = new_store(harness)
    assert busy.add_new(make)[0].customer_id == "1"
    imported = [replace(c, last_name="Imported") for c in synthetic(500, start=2)]
    seeding(harness).customers.put_all(imported)  # an import of ids 2 to 501
    # The busy process's block is taken from 2 on: it gives it up and reserves past 501.
    assert busy.add_new(make)[0].customer_id == "601"
    assert new_store(harness).add_new(make)[0].customer_id == "701"


def test_customers_are_listed_in_id_order_a_page_at_a_time(harness: Harness) -> None:
    crm = client("crm")
    crm.get("/?customerId=1")  # seeds 1 to 8
    harness.services.context.customers.put_all([*synthetic(20, start=9), synthetic(1, 100)[0]])
    first = crm.get("/?limit=10")
    assert [c["customerId"] for c in first.get_json()] == [str(n) for n in range(1, 11)]
    assert first.headers["Link"] == '</?after=10&limit=10>; rel="next"'
    last = crm.get("/?after=20&limit=10")
    expected = [*(str(n) for n in range(21, 29)), "100"]
    assert [c["customerId"] for c in last.get_json()] == expected
    assert "Link" not in last.headers
    assert len(crm.get("/").get_json()) == 29  # a page of 100 by default


def test_a_page_costs_the_page_not_the_crm(s3_harness: S3Harness) -> None:
    crm = client("crm")
    crm.get("/?customerId=1")
    seeding(s3_harness).customers.put_all(synthetic(1100, start=9))
    before = s3_requests()
    assert len(crm.get("/?limit=20&after=500").get_json()) == 20
    # The folders of the ids' lengths and of the shards of 3 digits, the shard's keys
    # (501 to 599), and a read a customer.
    assert s3_requests() - before == 3 + 20
    ids = crm.get("/customer-ids?limit=1000")
    assert ids.get_json()[:3] == ["1", "2", "3"] and len(ids.get_json()) == 1000
    assert ids.headers["Link"] == '</customer-ids?after=1000&limit=1000>; rel="next"'


def test_every_id_is_enumerated_at_about_one_request_per_thousand(s3_harness: S3Harness) -> None:
    store = s3_harness.services.context.customers
    seeding(s3_harness).customers.put_all(synthetic(2100, start=10_000))
    before = s3_requests()
    page = store.id_page("", 10_000)
    # Two folder listings (the ids' lengths, then the shards of 5 digits), and one listing
    # per shard of up to a thousand: 10000-10999, 11000-11999, 12000-12099.
    assert s3_requests() - before == 2 + 3
    assert page.items == [str(n) for n in range(10_000, 12_100)] and page.next_after is None
    pages = _all_pages(store)  # the same a thousand at a time
    assert [len(page) for page in pages] == [1000, 1000, 100]
    assert [n for page in pages for n in page] == [str(n) for n in range(10_000, 12_100)]


@pytest.mark.parametrize(
    ("query", "complaint"),
    [
        ("limit=0", "limit must be a whole number from 1 to 500"),
        ("limit=501", "from 1 to 500"),
        ("limit=ten", "got 'ten'"),
        ("after=../x", "not a customer id"),
        ("page=2", "unknown query parameter(s) 'page'"),
    ],
)
def test_a_bad_page_request_says_what_is_wrong(
    harness: Harness, query: str, complaint: str
) -> None:
    response = client("crm").get(f"/?{query}")
    assert response.status_code == 400
    assert complaint in response.get_json()["detail"]


def test_a_list_is_imported_with_given_and_new_ids_in_order(harness: Harness) -> None:
    crm = client("crm")
    crm.get("/?customerId=1")
    items = [
        ADA | {"customerId": "7"},
        ADA,
        ADA | {"customerId": "C-1"},
        ADA | {"customerId": "500"},
    ]
    response = crm.post("/customers", json=items)
    assert response.status_code == 201
    assert [c["customerId"] for c in response.get_json()] == ["7", "501", "C-1", "500"]
    assert crm.get("/?customerId=7").get_json()["firstName"] == "Ada"  # replaced
    assert crm.post("/customers", json=ADA).get_json()["customerId"] == "502"


@pytest.mark.parametrize(
    ("items", "status", "complaint"),
    [
        ([ADA, {"firstName": "A"}, ADA | {"colour": "red"}], 400, '[1] has no "lastName" field'),
        ([ADA | {"customerId": "../x"}], 400, "[0] \"customerId\" is '../x', which is not a"),
        ([ADA, "x"], 400, "[1] must be a JSON object, not a string"),
        ([ADA | {"customerId": 5}], 400, '"customerId" must be a string, got 5 (write it as "5")'),
        (
            [ADA | {"customerId": "5"}, ADA | {"customerId": "5"}],
            422,
            "[1] customerId '5' is also at [0]",
        ),
        ([], 400, "the request body is empty; give at least 1"),
        ([ADA] * 1001, 413, "split it into requests of at most 1000"),
    ],
)
def test_an_invalid_import_writes_nothing(
    harness: Harness, items: list[Any], status: int, complaint: str
) -> None:
    crm = client("crm")
    crm.get("/?customerId=1")
    response = crm.post("/customers", json=items)
    assert response.status_code == status
    assert complaint in response.get_json()["detail"]
    assert len(crm.get("/").get_json()) == 8


def test_customers_kept_before_the_ordered_keys_are_moved(harness: Harness) -> None:
    bucket = customers_bucket(harness)
    for customer in synthetic(3):
        bucket.put_json(f"customers/{customer.customer_id}.json", customer.to_wire())
    store = new_store(harness)
    assert store.get("2") is None
    assert move_legacy_customers(bucket, store) == 3
    assert store.get("2") == synthetic(3)[1]
    assert list(bucket.names("customers/")) == [f"customers/01/_/{n}.json" for n in (1, 2, 3)]
    assert move_legacy_customers(bucket, store) == 0


def test_an_import_that_failed_midway_is_finished_by_sending_it_again(
    s3_harness: S3Harness,
) -> None:
    crm = client("crm")
    crm.get("/?customerId=1")
    items = [ADA | {"customerId": "7"}, ADA | {"city": "Gouda"}, ADA | {"city": "Breda"}]
    writes = 0

    def fail_the_sixth_write(model: Any, **_: Any) -> None:
        nonlocal writes
        if model.name == "PutObject":
            writes += 1
            if writes == 6:
                raise EndpointConnectionError(endpoint_url="http://moto")

    s3_harness.s3.meta.events.register("before-call.s3", fail_the_sixth_write)
    failed = crm.post("/customers", json=items)
    s3_harness.s3.meta.events.unregister("before-call.s3", fail_the_sixth_write)
    assert failed.status_code == 503
    assert "the import is written in part" in failed.get_json()["detail"]
    assert "send the same request again to finish it" in failed.get_json()["detail"]

    again = crm.post("/customers", json=items)
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    stored = again.get_json()
    assert [c["city"] for c in stored] == ["Delft", "Gouda", "Breda"]
    listed = crm.get("/?limit=500").get_json()
    cities = [customer["city"] for customer in listed]
    assert cities.count("Gouda") == cities.count("Breda") == 1, "no new customer twice"
    assert crm.post("/customers", json=items).get_json() == stored, "asked again: the same"


def test_an_import_that_could_not_begin_says_nothing_was_imported(s3_harness: S3Harness) -> None:
    crm = client("crm")
    crm.get("/?customerId=1")

    def refuse(model: Any, **_: Any) -> None:
        if model.name == "GetObject":
            raise EndpointConnectionError(endpoint_url="http://moto")

    s3_harness.s3.meta.events.register("before-call.s3", refuse)
    failed = crm.post("/customers", json=[ADA])
    s3_harness.s3.meta.events.unregister("before-call.s3", refuse)
    assert failed.status_code == 503
    assert failed.get_json()["detail"].startswith("nothing was imported")


def test_a_create_whose_answer_was_lost_stores_the_customer_once(
    s3_harness: S3Harness,
) -> None:
    """Once: the customer's create (If-None-Match) reaches S3, its answer is
    lost (a read timeout, a 500 after the write); botocore tries it again, S3 answers
    412, ``add`` reads that as "id taken" and _add_one_new stores the same customer under
    a second id. One POST, one 201, two customers."""
    crm = client("crm")
    crm.get("/?customerId=1")  # the CRM's seed, first
    raw = boto3.client("s3", region_name="us-east-1")  # the same mock S3, another client
    lost: list[str] = []
    bodies: dict[str, bytes] = {}

    def keep_body(params: dict[str, Any], **_: Any) -> None:
        bodies[params["Key"]] = params["Body"]

    def store_then_lose_the_answer(request: Any, **_: Any) -> None:
        url = urlparse(request.url)
        headers = {name.lower(): value for name, value in request.headers.items()}
        if lost or request.method != "PUT" or headers.get("if-none-match") not in ("*", b"*"):
            return
        path = unquote(url.path.lstrip("/"))
        host = url.hostname.split(".")[0] if url.hostname else ""
        # The bucket in the host (virtual-host style) or first in the path (path style).
        bucket, key = (host, path) if host != "s3" else tuple(path.split("/", 1))
        if not key.startswith("customers/"):
            return
        if "Contents" not in raw.list_objects_v2(Bucket=bucket, Prefix=key):
            raw.put_object(Bucket=bucket, Key=key, Body=bodies[key])  # the server wrote it
        lost.append(key)
        raise ReadTimeoutError(endpoint_url=request.url)  # ... and its answer never came

    s3_harness.s3.meta.events.register("before-parameter-build.s3.PutObject", keep_body)
    s3_harness.s3.meta.events.register("before-send.s3.PutObject", store_then_lose_the_answer)
    created = crm.post("/customers", json=ADA)
    s3_harness.s3.meta.events.unregister("before-send.s3.PutObject", store_then_lose_the_answer)
    assert lost, "the create's answer was lost"
    assert created.status_code == 201
    listed = crm.get("/?limit=500")
    assert listed.status_code == 200, listed.get_json()
    adas = [c for c in listed.get_json() if c["lastName"] == "Lovelace"]
    assert len(adas) == 1, (
        f"one POST stored Ada {len(adas)} times: {[c['customerId'] for c in adas]}"
    )


def test_a_finished_import_sent_again_after_an_update_says_so_and_stores_nothing_twice(
    harness: Harness,
) -> None:
    """Once: crm.api._import: an import that finished
    long ago, sent again (the same CSV) after one of its new customers was updated,
    answers 409 "the import is written in part ... import those items again in a list of
    their own". Nothing was missing; doing as told stores that customer a second time."""
    crm = client("crm")
    crm.get("/?customerId=1")
    items = [ADA, ADA | {"firstName": "Grace", "lastName": "Hopper"}]
    first = crm.post("/customers", json=items)
    assert first.status_code == 201
    ada_id = first.get_json()[0]["customerId"]
    assert crm.post(f"/customers/{ada_id}", json={"city": "Leiden"}).status_code == 200
    again = crm.post("/customers", json=items)
    assert again.status_code == 409
    advice = again.get_json()["detail"]
    assert "in part" not in advice, advice
    assert "this list was imported before" in advice
    adas = [c for c in crm.get("/?limit=500").get_json() if c["lastName"] == "Lovelace"]
    assert len(adas) == 1, f"Ada stored {len(adas)} times"


def test_a_list_sent_again_after_another_took_its_new_id_stores_its_given_customers_as_sent(
    s3_harness: S3Harness,
) -> None:
    """A list failed before writing any customer, its new one's id fixed; another import
    then names that id. Sent again, the list answers 409 and leaves that customer as the
    other import wrote it, and stores every other item as sent (found by the model at 2,000
    sequences: the model had not counted the given ones as stored)."""
    crm = client("crm")
    crm.get("/?customerId=1")
    first = [ADA | {"customerId": "2", "city": "Gouda"}, ADA | {"city": "Breda"}]

    def fail_customer_writes(params: Any, **_: Any) -> None:
        if params["Key"].startswith("customers/"):
            raise EndpointConnectionError(endpoint_url="http://moto")

    s3_harness.s3.meta.events.register("provide-client-params.s3.PutObject", fail_customer_writes)
    assert crm.post("/customers", json=first).status_code == 503
    s3_harness.s3.meta.events.unregister("provide-client-params.s3.PutObject", fail_customer_writes)
    # New ids are handed out in order: the one before the next is the one the list fixed.
    next_id = int(crm.post("/customers", json=ADA).get_json()["customerId"])
    taken = str(next_id - 1)
    other = [
        ADA | {"customerId": "2", "city": "Delft"},
        ADA | {"customerId": taken, "city": "Ede"},
    ]
    assert crm.post("/customers", json=other).status_code == 201
    again = crm.post("/customers", json=first)
    assert again.status_code == 409, again.get_json()
    assert "every other customer of the list is stored as sent" in again.get_json()["detail"]
    assert crm.get("/?customerId=2").get_json()["city"] == "Gouda"
    assert crm.get(f"/?customerId={taken}").get_json()["city"] == "Ede"


def test_a_file_imported_again_as_the_cli_says_stores_no_customer_twice(
    harness: Harness,
) -> None:
    """The CRM knows an import by each request's content, and --batch cuts the requests:
    the CLI's advice after a failure names the same --batch (cli/customers.py), and the
    same file cut the same way finishes the import without storing a row twice."""
    crm = client("crm")
    crm.get("/?customerId=1")
    rows = [(n + 2, ADA | {"city": f"city-{n}"}) for n in range(4)]
    first_try = import_requests(rows, 2)  # `billing customers import f.csv --batch 2`
    assert crm.post("/customers", json=[v for _, v in first_try[0]]).status_code == 201
    # ... its second request failed; the file imported again, as told (--batch 2):
    for request in import_requests(rows, 2):
        assert crm.post("/customers", json=[v for _, v in request]).status_code == 201
    cities = [c["city"] for c in crm.get("/?limit=500").get_json() if c["lastName"] == "Lovelace"]
    assert sorted(cities) == [f"city-{n}" for n in range(4)], f"stored: {sorted(cities)}"


def test_new_ids_keep_to_thirteen_digits_whatever_an_import_gives(harness: Harness) -> None:
    """An imported id below 10^12 moves new ids past it; one at or above does not: a new id
    has at most 13 digits (docs/guarantees.md)."""
    crm = client("crm")
    crm.get("/?customerId=1")
    for given in ("999999999999", "9" * 64, "1" + "0" * 20):
        assert crm.post("/customers", json=[ADA | {"customerId": given}]).status_code == 201
        created = crm.post("/customers", json=ADA).get_json()
        assert len(created["customerId"]) <= 13, created["customerId"]
