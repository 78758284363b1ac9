"""The contract of a bucket (``functions/storage/objects.py``), the same cases against
``MemoryBucket`` (the behaviour tests' bucket) and the S3 ``Bucket`` on moto: a case that
passes on one only is a drift of the fake. Each asserts the values themselves (keys in their
order, bodies, metadata), not that the two agree, so it fails when both are wrong alike."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from functions.errors import StorageUnavailable
from functions.storage.bucket import Bucket
from functions.storage.memory_bucket import MemoryBucket, MemoryBuckets
from functions.storage.objects import Objects
from runtime.config import FunctionSettings
from tests.unit.harness import WrittenInPlace

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# Keys whose order tells byte order from the tempting wrong ones: "a/b" before "a0" ("/" is
# 0x2F, "0" 0x30), upper case before lower, and U+FF61 before U+1F600 in UTF-8 (EF.. < F0..)
# though after it in UTF-16 (FF61 > D83D, the emoji's first surrogate).
IN_ORDER = [
    "A",
    "a",
    "a/b",
    "a/b/c",
    "a0",
    "ab",
    "b",
    "z",
    "é",
    "€",
    "｡",  # U+FF61
    "😀",  # U+1F600
]
# U+FFFD and U+10000: after U+FF61 and before U+1F600 in UTF-8.
BETWEEN = ["\ufffd", "\U00010000"]


@pytest.fixture(params=["memory", "s3"])
def bucket(request: pytest.FixtureRequest, unit_settings: FunctionSettings) -> Objects:
    """An empty bucket of each implementation (moto's through the ``s3`` fixture)."""
    if request.param == "memory":
        return MemoryBucket(unit_settings.bills_bucket)
    s3: S3Client = request.getfixturevalue("s3")
    return Bucket(s3, unit_settings.bills_bucket)


def seed(bucket: Objects, keys: list[str], body: bytes = b"x") -> None:
    """Many objects quickly: on moto written into its store in place (what the API would
    leave, ``test_seeding.py``), in memory through ``put_bytes`` (as cheap)."""
    writer: Objects = (
        WrittenInPlace(bucket.client, bucket.name) if isinstance(bucket, Bucket) else bucket
    )
    for key in keys:
        writer.put_bytes(key, body, "text/plain")


def put(bucket: Objects, *keys: str) -> None:
    for key in keys:
        assert bucket.put_bytes(key, key.encode(), "text/plain") is not None


# Reads of what is not there.


def test_a_read_of_an_absent_object_answers_none(bucket: Objects) -> None:
    put(bucket, "there")
    assert bucket.metadata("absent") is None
    assert bucket.get_bytes("absent") is None
    assert bucket.get_json("absent") is None
    assert bucket.get_json_all(["absent", "also-absent"]) == [None, None]
    assert bucket.existing({"absent"}) == set()
    assert list(bucket.names("absent")) == []
    assert list(bucket.objects("absent")) == []
    assert list(bucket.folders("absent/")) == []
    assert list(bucket.files("absent/")) == []


def test_a_delete_of_an_absent_object_does_nothing(bucket: Objects) -> None:
    put(bucket, "kept")
    bucket.delete("absent")
    bucket.delete_many(["absent", "also-absent"])
    bucket.delete_many([])
    assert list(bucket.names()) == ["kept"]


# Writes.


def test_an_object_reads_back_as_written_with_its_etag(bucket: Objects) -> None:
    etag = bucket.put_bytes("bill.txt", b"a bill\n", "text/plain; charset=utf-8")
    assert etag == '"7d7ec8850b7cff614c76d13ca559aaaa"'  # the body's MD5, quoted, as S3's
    assert bucket.get_bytes("bill.txt") == b"a bill\n"
    assert bucket.metadata("bill.txt") == {}


def test_a_write_overwrites_unless_it_is_a_create(bucket: Objects) -> None:
    assert bucket.put_bytes("k", b"first", "text/plain") is not None
    assert bucket.put_bytes("k", b"second", "text/plain") is not None
    assert bucket.get_bytes("k") == b"second"
    assert bucket.put_bytes("k", b"third", "text/plain", only_if_absent=True) is None
    assert bucket.get_bytes("k") == b"second"


def test_a_create_succeeds_once_and_the_first_stays(bucket: Objects) -> None:
    first = bucket.put_bytes(
        "once", b"first", "text/plain", only_if_absent=True, metadata={"workflow-id": "w-1"}
    )
    assert first is not None
    again = bucket.put_bytes(
        "once", b"second", "text/plain", only_if_absent=True, metadata={"workflow-id": "w-2"}
    )
    assert again is None
    assert bucket.get_bytes("once") == b"first"
    assert bucket.metadata("once") == {"workflow-id": "w-1"}
    assert bucket.put_json("once.json", {"n": 1}, only_if_absent=True) is not None
    assert bucket.put_json("once.json", {"n": 2}, only_if_absent=True) is None
    assert bucket.get_json("once.json") == {"n": 1}


def test_a_deleted_object_can_be_created_again(bucket: Objects) -> None:
    assert bucket.put_bytes("k", b"first", "text/plain", only_if_absent=True) is not None
    bucket.delete("k")
    assert bucket.get_bytes("k") is None
    assert bucket.put_bytes("k", b"again", "text/plain", only_if_absent=True) is not None
    assert bucket.get_bytes("k") == b"again"


def test_metadata_round_trips_with_its_names_in_lower_case(bucket: Objects) -> None:
    written = {"workflow-id": "run-1-1", "Billed-At": "2026-12-06T10:00:00Z"}
    assert bucket.put_bytes("bill", b"b", "text/plain", metadata=written) is not None
    assert bucket.metadata("bill") == {
        "workflow-id": "run-1-1",
        "billed-at": "2026-12-06T10:00:00Z",
    }
    bucket.put_bytes("bill", b"b", "text/plain", metadata={"workflow-id": "run-2-1"})
    assert bucket.metadata("bill") == {"workflow-id": "run-2-1"}, "an overwrite replaces it"
    bucket.put_json("record.json", {"a": 1})
    assert bucket.metadata("record.json") == {}


def test_json_round_trips_compact_and_in_utf_8(bucket: Objects) -> None:
    value = {"name": "Zoë €", "n": [1, 2.5, None, True], "nested": {"k": "v"}}
    assert bucket.put_json("v.json", value) is not None
    assert bucket.get_json("v.json") == value
    assert bucket.get_bytes("v.json") == (
        b'{"name":"Zo\\u00eb \\u20ac","n":[1,2.5,null,true],"nested":{"k":"v"}}'
    )


def test_get_json_all_answers_in_the_keys_order_with_none_for_the_absent(
    bucket: Objects,
) -> None:
    for n in (3, 1, 2):
        bucket.put_json(f"r/{n}.json", {"n": n})
    keys = ["r/2.json", "r/absent.json", "r/3.json", "r/1.json", "r/2.json"]
    assert bucket.get_json_all(keys) == [{"n": 2}, None, {"n": 3}, {"n": 1}, {"n": 2}]
    assert bucket.get_json_all([]) == []


# Listings.


def test_keys_are_listed_in_utf_8_byte_order(bucket: Objects) -> None:
    put(bucket, *reversed(IN_ORDER), *BETWEEN)
    assert list(bucket.names()) == [*IN_ORDER[:-1], *BETWEEN, IN_ORDER[-1]]
    assert [key for key, _, _ in bucket.objects()] == list(bucket.names())


def test_unicode_keys_round_trip_and_list_by_their_prefix(bucket: Objects) -> None:
    put(bucket, "bills/Zoë/1", "bills/Zoë/2", "bills/Zoe/1", "bills/😀/1", "bills/Zoë")
    assert bucket.get_bytes("bills/Zoë/1") == "bills/Zoë/1".encode()
    assert list(bucket.names("bills/Zoë")) == ["bills/Zoë", "bills/Zoë/1", "bills/Zoë/2"]
    assert list(bucket.folders("bills/")) == ["bills/Zoe/", "bills/Zoë/", "bills/😀/"]
    assert list(bucket.names("bills/", "bills/Zoë/2")) == ["bills/😀/1"]


def test_a_prefix_lists_the_keys_that_start_with_it(bucket: Objects) -> None:
    put(bucket, *IN_ORDER)
    assert list(bucket.names("a")) == ["a", "a/b", "a/b/c", "a0", "ab"]
    assert list(bucket.names("a/")) == ["a/b", "a/b/c"]
    assert list(bucket.names("a/b")) == ["a/b", "a/b/c"], "a prefix that is also a key"
    assert list(bucket.names("a/b/c")) == ["a/b/c"]
    assert list(bucket.names("a/b/c/")) == []
    assert list(bucket.names("c")) == []
    assert [key for key, _, _ in bucket.objects("a/")] == ["a/b", "a/b/c"]


def test_start_after_lists_the_keys_after_it(bucket: Objects) -> None:
    put(bucket, *IN_ORDER)
    assert list(bucket.names("", "a0")) == ["ab", "b", "z", "é", "€", "｡", "😀"]
    assert list(bucket.names("a", "a/b")) == ["a/b/c", "a0", "ab"], "not the key itself"
    assert list(bucket.names("a", "a/")) == ["a/b", "a/b/c", "a0", "ab"], "between keys"
    assert list(bucket.names("a/", "0")) == ["a/b", "a/b/c"], "a start before the prefix"
    assert list(bucket.names("a", "b")) == [], "a start past the prefix"
    assert list(bucket.names("", "😀")) == [], "the last key"
    assert list(bucket.names("", "😀😀")) == [], "beyond the last key"
    assert list(bucket.names("", "\U0010ffff")) == [], "beyond any key"


def test_objects_have_their_size_and_time_to_the_second_in_utc(bucket: Objects) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    bucket.put_bytes("o/empty", b"", "text/plain")
    bucket.put_bytes("o/three", b"abc", "text/plain")
    bucket.put_bytes("o/unicode", "é".encode(), "text/plain")
    after = datetime.now(UTC)
    listed = list(bucket.objects("o/"))
    assert [(key, size) for key, _, size in listed] == [
        ("o/empty", 0),
        ("o/three", 3),
        ("o/unicode", 2),
    ]
    for _, modified, _ in listed:
        assert modified.utcoffset() == timedelta(0)
        assert modified.microsecond == 0
        assert before <= modified <= after


def test_folders_are_the_starts_of_keys_up_to_the_next_slash(bucket: Objects) -> None:
    put(bucket, "p/", "p/x/1", "p/x/2", "p/x/y/1", "p/y/1", "p/z", "p/z0/1", "p//1", "q/1", "r")
    assert list(bucket.folders("")) == ["p/", "q/"]
    assert list(bucket.folders("p/")) == ["p//", "p/x/", "p/y/", "p/z0/"]
    assert list(bucket.folders("p/x/")) == ["p/x/y/"]
    assert list(bucket.folders("p/x")) == ["p/x/"], "a prefix that is not a folder's"
    assert list(bucket.folders("p/z")) == ["p/z0/"]
    assert list(bucket.folders("p/x/1")) == []
    assert list(bucket.files("p/")) == ["p/", "p/z"], "a key equal to the prefix is a file"
    assert list(bucket.files("")) == ["r"]
    assert list(bucket.files("p/x/")) == ["p/x/1", "p/x/2"]


def test_folders_after_a_start_are_those_whose_own_names_sort_after_it(bucket: Objects) -> None:
    put(bucket, "p/x/1", "p/x/2", "p/y/1", "p/z/1")
    assert list(bucket.folders("p/", "p/x")) == ["p/x/", "p/y/", "p/z/"], "a folder's start"
    assert list(bucket.folders("p/", "p/x/")) == ["p/y/", "p/z/"], "the folder itself"
    # As S3 lists with a delimiter, a folder is left out whose name does not sort after
    # the start, though keys of it do (p/x/2 after p/x/1): what the stores never ask.
    assert list(bucket.folders("p/", "p/x/1")) == ["p/y/", "p/z/"]
    assert list(bucket.folders("p/", "p/z/")) == []
    assert list(bucket.folders("p/", "q")) == [], "beyond the last"
    assert list(bucket.folders("p/", "a")) == ["p/x/", "p/y/", "p/z/"], "before the prefix"


# More than a page of S3's (1,000 to a request).


def test_listings_go_on_past_a_thousand(bucket: Objects) -> None:
    many = [f"k/{n:05d}" for n in range(1500)]
    seed(bucket, [*many, "j", "l"])
    assert list(bucket.names("k/")) == many
    assert list(bucket.names("k/", "k/00999")) == many[1000:]
    assert list(bucket.names()) == ["j", *many, "l"]
    assert [(key, size) for key, _, size in bucket.objects("k/")] == [(key, 1) for key in many]


def test_folders_and_files_go_on_past_a_thousand(bucket: Objects) -> None:
    folders = [f"f/{n:04d}/" for n in range(1050)]
    files = [f"f/{n:04d}.txt" for n in range(1010)]
    # Every folder has a key, some two (listed once), one a folder of its own below.
    deeper = [folder + "b" for folder in folders[::50]] + [folders[999] + "g/1"]
    seed(bucket, [*(folder + "a" for folder in folders), *deeper, *files])
    assert list(bucket.folders("f/")) == folders
    assert list(bucket.folders("f/", "f/0999")) == folders[999:]
    assert list(bucket.files("f/")) == files
    assert list(bucket.folders(folders[999])) == [folders[999] + "g/"]


def test_existing_tells_which_keys_exist_few_or_many(bucket: Objects) -> None:
    there = [f"bills/run-1/customer-bill-{n}.txt" for n in range(0, 2400, 2)]  # even ones
    seed(bucket, [*there, "bills/run-0/x", "bills/run-2/x"])
    few = {f"bills/run-1/customer-bill-{n}.txt" for n in (1, 2, 3, 4, 2398, 2399)}
    assert bucket.existing(few) == {
        "bills/run-1/customer-bill-2.txt",
        "bills/run-1/customer-bill-4.txt",
        "bills/run-1/customer-bill-2398.txt",
    }
    numbers = range(0, 2400, 3)
    many = [f"bills/run-1/customer-bill-{n}.txt" for n in numbers]  # 800, 400 of them there
    expected = {key for n, key in zip(numbers, many, strict=True) if n % 2 == 0}
    assert len(expected) == 400
    assert bucket.existing(many) == expected
    with_others = [*many, "bills/run-0/x", "bills/run-3/x"]
    assert bucket.existing(with_others) == {*expected, "bills/run-0/x"}
    assert bucket.existing(set()) == set()


def test_delete_many_deletes_past_a_thousand(bucket: Objects) -> None:
    keys = [f"d/{n:04d}" for n in range(1100)]
    seed(bucket, [*keys, "kept"])
    bucket.delete_many([*keys[:1050], "d/absent"])
    assert list(bucket.names()) == [*keys[1050:], "kept"]
    bucket.delete_many(keys[1050:])
    assert list(bucket.names()) == ["kept"]
    assert bucket.put_bytes("d/0000", b"new", "text/plain", only_if_absent=True) is not None


# Concurrency.


def race(count: int, attempt: Callable[[int], str | None]) -> list[str | None]:
    """``attempt(n)`` from ``count`` threads at once; their answers in n's order."""
    ready = threading.Barrier(count)
    answers: list[str | None] = [None] * count

    def run(n: int) -> None:
        ready.wait()
        answers[n] = attempt(n)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_of_eight_concurrent_creates_of_one_key_exactly_one_wins() -> None:
    """S3 applies ``If-None-Match: *`` atomically, MemoryBucket under its lock; the threads
    switch every microsecond here, so a create that checked, then wrote, would lose. moto
    checks, then writes, without a lock (moto/s3/responses.py, ``put_object``): switching
    every 10 microseconds, 29 of 300 such races had two winners or more there (none of
    1,500 at Python's usual switching), so this case is one moto cannot keep and runs on
    memory alone."""
    bucket = MemoryBuckets()("bills")
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for round_ in range(50):
            key = f"once/{round_}"

            def create(n: int, key: str = key) -> str | None:
                return bucket.put_bytes(key, str(n).encode(), "text/plain", only_if_absent=True)

            answers = race(8, create)
            winners = [n for n, answer in enumerate(answers) if answer is not None]
            assert len(winners) == 1, answers
            assert bucket.get_bytes(key) == str(winners[0]).encode()
    finally:
        sys.setswitchinterval(interval)
    assert len(list(bucket.names("once/"))) == 50


def test_concurrent_writes_and_deletes_leave_the_listing_whole(bucket: Objects) -> None:
    def work(n: int) -> str | None:
        for m in range(20):
            bucket.put_bytes(f"c/{n}/{m:02d}", b"x", "text/plain")
        bucket.delete_many([f"c/{n}/{m:02d}" for m in range(0, 20, 2)])
        return None

    race(8, work)
    assert list(bucket.names("c/")) == [f"c/{n}/{m:02d}" for n in range(8) for m in range(1, 20, 2)]
    assert list(bucket.folders("c/")) == [f"c/{n}/" for n in range(8)]


def test_a_listing_is_taken_a_thousand_at_a_time_as_it_is_read(bucket: Objects) -> None:
    """What is written or deleted while a listing is read shows as S3 shows it: a page
    (1,000 keys) is as it was when asked for, the next goes on from its last key."""
    keys = [f"k/{n:04d}" for n in range(1100)]
    seed(bucket, keys)
    listing = bucket.names("k/")
    assert next(listing) == keys[0]
    bucket.delete_many(keys[500:])
    bucket.put_bytes("k/0999a", b"x", "text/plain")
    assert list(listing) == [*keys[1:1000], "k/0999a"]


def test_an_empty_key_is_refused(bucket: Objects) -> None:
    """No object has the key "": S3's API refuses it (boto3 before sending)."""
    for call in (
        lambda: bucket.put_bytes("", b"x", "text/plain"),
        lambda: bucket.put_json("", {}, only_if_absent=True),
        lambda: bucket.get_bytes(""),
        lambda: bucket.metadata(""),
        lambda: bucket.delete(""),
        lambda: bucket.delete_many(["a", ""]),
        lambda: bucket.existing({"a", ""}),
        lambda: bucket.get_json_all(["a", ""]),
    ):
        with pytest.raises(StorageUnavailable):
            call()
    assert list(bucket.names()) == []


def test_versions_are_in_key_order_and_change_with_the_object(bucket: Objects) -> None:
    for key in ("tokens/b", "tokens/a", "other/c"):
        bucket.put_bytes(key, b"1", "text/plain")
    first = dict(bucket.versions("tokens/"))
    assert list(first) == ["tokens/a", "tokens/b"] and all(first.values())
    bucket.put_bytes("tokens/b", b"2", "text/plain")
    second = dict(bucket.versions("tokens/"))
    assert second["tokens/a"] == first["tokens/a"], "untouched: the same version"
    assert second["tokens/b"] != first["tokens/b"], "rewritten: another"
