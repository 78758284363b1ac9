"""New customer ids without collisions: each CRM process reserves a block of ids at a time
(a hi/lo allocator), so concurrent creators never race for the same id.

Block ``n`` holds the ids ``n * size + 1`` to ``(n + 1) * size``. A process reserves one
by creating ``ids/blocks/<n>.json`` (``If-None-Match: *``, so exactly one process wins
it) and hands its ids out in order under a lock; it then notes ``n + 1`` in
``ids/next-block.json``, where the next reservation starts looking. An id is therefore
given out once, whatever the number of processes and threads, at one conditional create
per ``size`` ids. What a process had not handed out when it stopped is a gap: ids are
unique, not dense.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterator
from datetime import UTC, datetime

from functions.storage import keys
from functions.storage.objects import Objects

BLOCK_SIZE = 100
# An id given by hand (an import) below this moves new ids past it; one at or above does
# not, so new ids keep to 13 digits: 64 nines cannot push every new one past the id rule.
FOLLOWED_BELOW = 10**12


class IdBlocks:
    """The numeric ids this process hands out, a reserved block at a time."""

    def __init__(
        self, bucket: Objects, first_free: Callable[[], int], size: int = BLOCK_SIZE
    ) -> None:
        """``first_free``: the lowest free id above those taken in order from 1; asked only
        when the bucket has no note of a block yet (a CRM that never reserved one)."""
        self.bucket = bucket
        self.size = size
        self._first_free = first_free
        self._lock = threading.Lock()
        self._ids: Iterator[int] = iter(())
        # Ids this process saw given by hand, which its block must not hand out again.
        self._given: set[int] = set()

    def next_id(self) -> int:
        with self._lock:
            for candidate in self._ids:
                if candidate not in self._given:
                    return candidate
            self._ids = self._reserve()
            return next(self._ids)

    def skip_block(self) -> None:
        """Give up what is left of the current block (its ids turned out to be taken)."""
        with self._lock:
            self._ids = iter(())

    def skip_past(self, given: Collection[int]) -> None:
        """Ids were given by hand (an import): this process hands none of them out, and
        reservations start above them, except above ``FOLLOWED_BELOW``."""
        followed = [customer_id for customer_id in given if customer_id < FOLLOWED_BELOW]
        if not followed:
            return
        with self._lock:
            self._given.update(followed)
            noted = self._noted_next_block()
            after = self._block_of(max(max(followed), self._start(noted) - 1)) + 1
            if after > noted:
                self.bucket.put_json(keys.NEXT_ID_BLOCK, {"nextBlock": after})

    def _block_of(self, customer_id: int) -> int:
        return (customer_id - 1) // self.size

    def _noted_next_block(self) -> int:
        """The block the last reservation noted as next; -1 if none was ever noted."""
        noted = self.bucket.get_json(keys.NEXT_ID_BLOCK)
        return -1 if noted is None else int(noted["nextBlock"])

    def _start(self, noted: int) -> int:
        """The first id worth reserving: after the noted block, or after what is taken."""
        if noted >= 0:
            return noted * self.size + 1
        legacy = self.bucket.get_json(keys.LEGACY_NEXT_ID)
        return int(legacy["nextId"]) if legacy is not None else self._first_free()

    def _claim(self, block: int, claim: dict[str, str]) -> bool:
        key = keys.id_block(block)
        return self.bucket.put_json(key, claim, only_if_absent=True) is not None

    def _reserve(self) -> Iterator[int]:
        start = self._start(self._noted_next_block())
        block = self._block_of(start)
        claim = {"reservedAt": datetime.now(UTC).isoformat(timespec="milliseconds")}
        # A block another process won makes us try the next: each costs one create.
        while not self._claim(block, claim):
            block += 1
        # Unconditional: a racing writer may note a lower block, which costs a later
        # reservation one more try, never an id.
        self.bucket.put_json(keys.NEXT_ID_BLOCK, {"nextBlock": block + 1})
        first = max(start, block * self.size + 1)
        self._given = {given for given in self._given if given >= first}
        return iter(range(first, (block + 1) * self.size + 1))
