"""The CRM's customers on S3-compatible storage: one object each, keyed so that S3's key
order is the ids' order, and new ids from blocks reserved a process at a time
(``id_blocks.py``)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from itertools import islice
from typing import TypeVar

from functions.errors import StorageUnavailable
from functions.storage import keys
from functions.storage.base import CustomerStore, Page
from functions.storage.bucket import in_parallel
from functions.storage.id_blocks import IdBlocks
from functions.storage.objects import Objects
from functions.wire.messages import Customer

# Ids found taken in a row before the rest of a block is given up; blocks given up before
# a create gives up. Only ids written by hand (an import) can be taken, and an import
# moves the blocks past its ids, so neither is reached in practice.
_TAKEN_BEFORE_SKIPPING = 3
_BLOCKS_BEFORE_GIVING_UP = 10
# A customer's name keys are written beside it on a pool of their own: its writes already
# run on ``in_parallel``'s pool when a page of customers is written, which must not wait on
# itself.
_NAME_KEY_WRITERS = ThreadPoolExecutor(16, thread_name_prefix="s3-name-keys")
T = TypeVar("T")
_DIGITS = re.compile(r"[0-9]+")


class S3CustomerStore(CustomerStore):
    """``keys.customer``: a page is listed shard by shard, and a listing with a narrow
    prefix is cheap on any S3 server (one on a file system reads every object a prefix
    matches, which for ``customers/`` is all)."""

    def __init__(self, bucket: Objects) -> None:
        self.bucket = bucket
        self.ids = IdBlocks(bucket, self._first_free)

    def _keys_after(self, after: str) -> Iterator[str]:
        """Every customer's key after ``after``'s, in order, listed shard by shard as taken."""
        start = keys.customer(after) if after else ""
        for length_folder in self.bucket.folders(keys.CUSTOMERS, start[: len(keys.CUSTOMERS) + 2]):
            for shard in self.bucket.folders(length_folder, start.rsplit("/", 1)[0]):
                yield from self.bucket.names(shard, start)

    def get(self, customer_id: str) -> Customer | None:
        stored = self.bucket.get_json(keys.customer(customer_id))
        return None if stored is None else Customer.from_wire(stored)

    def id_page(self, after: str, limit: int) -> Page[str]:
        listed = list(islice(self._keys_after(after), limit + 1))
        ids = [found for key in listed[:limit] if (found := keys.customer_id_of(key)) is not None]
        return Page(ids, ids[-1] if len(listed) > limit and ids else None)

    def page(self, after: str, limit: int) -> Page[Customer]:
        ids = self.id_page(after, limit)
        stored = self.bucket.get_json_all([keys.customer(customer_id) for customer_id in ids.items])
        # A customer deleted between the listing and the read is simply not shown.
        customers = [Customer.from_wire(record) for record in stored if record is not None]
        return Page(customers, ids.next_after)

    def add(self, customer: Customer) -> bool:
        key = keys.customer(customer.customer_id)
        return self._with_name_keys(customer, lambda: self._created(key, customer))

    def _created(self, key: str, customer: Customer) -> bool:
        """Create the customer's object; True also if it holds this very customer already:
        a create whose answer was lost is tried again by the client, and finds its own."""
        if self.bucket.put_json(key, customer.to_wire(), only_if_absent=True) is not None:
            return True
        return self.get(customer.customer_id) == customer

    def index_names(self, customer: Customer) -> None:
        self._with_name_keys(customer, lambda: None)

    def _with_name_keys(self, customer: Customer, write: Callable[[], T]) -> T:
        """``write()``, once a name key for each word of the customer's names is written, so
        that a customer stored is one a search finds, and a write that fails leaves no
        customer. A key whose customer is not there or is named otherwise (a create that
        failed or lost its id, a rename) stays: a search reads the customer and skips it."""
        words = keys.name_words(customer.first_name, customer.last_name)
        written = [
            _NAME_KEY_WRITERS.submit(
                self.bucket.put_bytes,
                keys.customer_name(word, customer.customer_id),
                b"",
                "application/octet-stream",
            )
            for word in words
        ]
        for name_key in written:
            name_key.result()
        return write()

    def search(self, name_start: str, after: str, limit: int) -> Page[Customer]:
        """Customers with a word of their names starting with ``name_start``, in the words'
        order: one listing, and a read per customer shown (or skipped as renamed)."""
        prefix = keys.name_prefix(name_start)
        start = f"{keys.CUSTOMER_NAMES}{after}" if after else ""
        listed = list(islice(self.bucket.names(prefix, start), limit + 1))
        shown = listed[:limit]
        stored = self.bucket.get_json_all(
            [keys.customer(keys.customer_id_of_name(key)) for key in shown]
        )
        found: dict[str, Customer] = {}
        for record in stored:
            if record is None:
                continue
            customer = Customer.from_wire(record)
            words = keys.name_words(customer.first_name, customer.last_name)
            if any(word.startswith(name_start.casefold()) for word in words):
                found.setdefault(customer.customer_id, customer)
        cursor = shown[-1].removeprefix(keys.CUSTOMER_NAMES) if len(listed) > limit else None
        return Page(list(found.values()), cursor)

    def add_new(self, customers: Sequence[Callable[[str], Customer]]) -> list[Customer]:
        planned = [make(str(self.ids.next_id())) for make in customers]
        added = in_parallel(self.add, planned)
        return [
            customer if ok else self._add_one_new(make)
            for customer, ok, make in zip(planned, added, customers, strict=True)
        ]

    def _add_one_new(self, make: Callable[[str], Customer]) -> Customer:
        for _ in range(_BLOCKS_BEFORE_GIVING_UP):
            for _ in range(_TAKEN_BEFORE_SKIPPING):
                customer = make(str(self.ids.next_id()))
                if self.add(customer):
                    return customer
            self.ids.skip_block()
        raise StorageUnavailable(
            f"every new id tried in {_BLOCKS_BEFORE_GIVING_UP} blocks of"
            f" s3://{self.bucket.name}/{keys.CUSTOMERS} was taken; ids are being written by hand"
            " past the blocks' note (ids/next-block.json)"
        )

    def import_ids(
        self, import_digest: str, count: int, given_ids: Sequence[str]
    ) -> tuple[list[str], bool]:
        if not count:  # writing given ids again writes the same: nothing to fix
            return [], False
        key = keys.import_plan(import_digest)
        stored = self.bucket.get_json(key)
        if stored is None:
            self._skip_past(given_ids)
            planned = {"newIds": [str(self.ids.next_id()) for _ in range(count)]}
            if self.bucket.put_json(key, planned, only_if_absent=True) is not None:
                return planned["newIds"], False
            stored = self.bucket.get_json(key) or planned  # a concurrent try planned first
        return list(stored["newIds"]), True

    def add_as_planned(self, customers: Sequence[Customer]) -> list[bool]:
        return in_parallel(self.add, customers)

    def put_all(self, customers: Sequence[Customer]) -> None:
        self._skip_past([customer.customer_id for customer in customers])
        in_parallel(self.put, customers)

    def _skip_past(self, customer_ids: Sequence[str]) -> None:
        self.ids.skip_past([int(text) for text in customer_ids if _DIGITS.fullmatch(text)])

    def put(self, customer: Customer) -> None:
        key = keys.customer(customer.customer_id)
        self._with_name_keys(customer, lambda: self.bucket.put_json(key, customer.to_wire()))

    def _taken(self, customer_id: int) -> bool:
        return self.bucket.metadata(keys.customer(str(customer_id))) is not None

    def _first_free(self) -> int:
        """The first free id after those taken in order from 1, at 2 log2(N) reads."""
        # Numbers were handed out in order, so the taken ones run from 1 up: find where
        # that run ends by doubling, then halving, never by listing N.
        taken, probe = 0, 1
        while self._taken(probe):
            taken, probe = probe, probe * 2
        while probe - taken > 1:
            middle = (taken + probe) // 2
            taken, probe = (middle, probe) if self._taken(middle) else (taken, middle)
        return probe
