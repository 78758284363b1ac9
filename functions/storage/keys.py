"""Every S3 key the functions write, and the inverse of each: what a key says back.

Three buckets: the bills (``BILLS_BUCKET``), the jobs and runs (``JOBS_BUCKET``), the CRM's
customers (``CUSTOMERS_BUCKET``); and, when set, a fourth of the named tokens
(``TOKENS_BUCKET``). A workflow stands in a key as ``WorkflowId.key`` (its text,
or a digest of it where the text could not stand in a key). A run's workflows are
``<run id>-<n>``, so everything a run leaves shares a prefix. docs/storage.md says who
writes, reads and deletes each key.
"""

from __future__ import annotations

import hashlib
from urllib.parse import quote

from functions.wire.identifiers import RunId, WorkflowId, safe_key

# -- the bills bucket: the lab engine's names, under the run ---------------------------

BILL_FILE_PREFIX = "customer-bill-"
BILL_FILE_SUFFIX = ".txt"
OUTSIDE_RUN_PREFIX = "wf-"


def run_folder(workflow_id: WorkflowId) -> str:
    """The run's id, or ``wf-<workflow>`` for a workflow that belongs to no run of ours
    (the lab's coordinator's). The folder of its bill, and of its waiting job."""
    return workflow_id.run_id or f"{OUTSIDE_RUN_PREFIX}{workflow_id.key}"


def workflow_prefix(folder: str) -> str:
    """What the keys of a run folder's workflows start with: ``run_folder`` reversed."""
    if folder.startswith(OUTSIDE_RUN_PREFIX):
        return folder.removeprefix(OUTSIDE_RUN_PREFIX)
    return f"{folder}-"


def bill_file(customer_id: str) -> str:
    """``customer-bill-<customerId>.txt``, the lab engine's file name for a bill."""
    return f"{BILL_FILE_PREFIX}{safe_key(customer_id)}{BILL_FILE_SUFFIX}"


def customer_of_bill(name: str) -> str | None:
    """The customer (as it stands in keys) a bill's name or file names; None if not a bill."""
    file = name.rpartition("/")[2]
    if not (file.startswith(BILL_FILE_PREFIX) and file.endswith(BILL_FILE_SUFFIX)):
        return None
    return file.removeprefix(BILL_FILE_PREFIX).removesuffix(BILL_FILE_SUFFIX) or None


def bill_name(customer_id: str, workflow_id: WorkflowId, folder: str | None = None) -> str:
    """``<folder>/customer-bill-<customerId>.txt``, created once: a customer's one bill of
    the folder. The folder is the workflow's billing period (``2026-12``) if its run bills
    one; else the run its lineage began with (a retry's bills are named under it); else
    its own run (``run_folder``): a run's bills share its prefix."""
    return bill_in(folder or run_folder(workflow_id), customer_id)


def bill_in(folder: str, customer_id: str) -> str:
    """``<folder>/customer-bill-<customerId>.txt``: the customer's bill of a folder."""
    return f"{folder}/{bill_file(customer_id)}"


def bills_of_run(folder: str) -> str:
    """The prefix of the bills of a run's folder: its period's, its lineage's or its own."""
    return f"{folder}/"


# -- the jobs bucket: runs, idempotency keys, waiting, asked and failed jobs ------------

RUNS = "runs/"
IDEMPOTENCY = "idempotency/"
WAITING = "waiting/"
ASKED = "asked/"
FAILED = "failed/"
PERIOD_FAILURES = "period-failures/"
LEGACY_PENDING = "pending/"  # one object per job, as versions before the batches kept it


def run_record(run_id: str) -> str:
    return f"{RUNS}{safe_key(run_id)}.json"


def run_of_record(key: str) -> str:
    return key.removeprefix(RUNS).removesuffix(".json")


RUNS_NEWEST_FIRST = "runs-newest-first/"
CANCELLED = "cancelled/"
RETRIES = "retries/"
_LATEST_STAMP = 99_999_999_999_999  # yyyymmddHHMMSS counted down, so that S3 lists newest first


def run_listing(run_id: str) -> str:
    """``runs-newest-first/<99999999999999 - yyyymmddHHMMSS>-<run id>.json``: S3 lists keys
    in ascending order only, so the run's start, counted down, comes first."""
    stamp = int(RunId(run_id).stamp)
    return f"{RUNS_NEWEST_FIRST}{_LATEST_STAMP - stamp:014d}-{run_id}.json"


def run_of_listing(key: str) -> str:
    return key.removeprefix(RUNS_NEWEST_FIRST)[15:].removesuffix(".json")


def listing_started_by(moment: str) -> str:
    """Where a newest-first listing starts to find the runs started at or before ``moment``
    (``yyyymmddHHMMSS``): after every key of a later start."""
    return f"{RUNS_NEWEST_FIRST}{_LATEST_STAMP - int(moment):014d}-"


def stamp_of_listing(key: str) -> str:
    """The start (``yyyymmddHHMMSS``) a listing key names."""
    return f"{_LATEST_STAMP - int(key.removeprefix(RUNS_NEWEST_FIRST)[:14]):014d}"


def cancellation(run_id: str) -> str:
    """``cancelled/<run id>.json``: the run was cancelled, and when."""
    return f"{CANCELLED}{safe_key(run_id)}.json"


def retries_of(run_id: str) -> str:
    return f"{RETRIES}{safe_key(run_id)}/"


def retry(parent_run_id: str, child_run_id: str) -> str:
    """``retries/<run id>/<retry's run id>.json``: the run's failures were retried by another."""
    return f"{retries_of(parent_run_id)}{safe_key(child_run_id)}.json"


def retry_of_key(key: str) -> str:
    return key.rpartition("/")[2].removesuffix(".json")


RETRY_SLOTS = "retry-slots/"


def retry_slots_of(run_id: str) -> str:
    return f"{RETRY_SLOTS}{safe_key(run_id)}/"


def retry_slot(run_id: str, number: int) -> str:
    """``retry-slots/<run id>/<n>.json``: retry n of the run, created once, holding the
    customers it retries."""
    return f"{retry_slots_of(run_id)}{number:06d}.json"


TICKS = "ticks/"
OPEN_TICKS = "ticks-open/"


def open_tick(tick: str) -> str:
    """``ticks-open/<digest of the tick's name>.json``: a tick begun and not ended."""
    return f"{OPEN_TICKS}{hashlib.sha256(tick.encode()).hexdigest()[:32]}.json"


def tick_page(tick: str, number: int) -> str:
    """``ticks/<digest of the tick's name>/<n>.json``: page n of a scheduled tick, created
    once; the digest keeps a zone's ``/`` and the name's spaces out of the key."""
    return f"{TICKS}{hashlib.sha256(tick.encode()).hexdigest()[:32]}/{number:06d}.json"


def idempotency_claim(idempotency_key: str) -> str:
    """Named by a digest, which keeps any text a client sends out of the key. It has no
    inverse on purpose: the claim's body names its run."""
    return f"{IDEMPOTENCY}{hashlib.sha256(idempotency_key.encode()).hexdigest()}.json"


def waiting_jobs_of(folder: str) -> str:
    """The prefix of the batch objects of a run folder's waiting jobs."""
    return f"{WAITING}{folder}/"


def waiting_batch(folder: str, first_workflow_key: str, unique: str = "") -> str:
    """``waiting/<run>/<first workflow>[-<unique>].json``: the jobs one batch wrote."""
    suffix = f"-{unique}" if unique else ""
    return f"{WAITING}{folder}/{first_workflow_key}{suffix}.json"


def folder_of_batch(key: str) -> str:
    return key.removeprefix(WAITING).rpartition("/")[0]


def asked_question(workflow_key: str, attempt: int) -> str:
    """``asked/<workflow>/<n>.json``: question n of a job, asked again by the sweep."""
    return f"{ASKED}{workflow_key}/{attempt}.json"


def parse_asked(key: str) -> tuple[str, int] | None:
    """(workflow key, attempt) of an ``asked_question`` key; None for any other key."""
    workflow_key, _, name = key.removeprefix(ASKED).rpartition("/")
    attempt = name.removesuffix(".json")
    return (workflow_key, int(attempt)) if workflow_key and attempt.isdigit() else None


def failed_job(workflow_key: str) -> str:
    """``failed/<workflow>.json``: why a job ended without a bill."""
    return f"{FAILED}{workflow_key}.json"


def workflow_of_failure(key: str) -> str:
    return key.removeprefix(FAILED).removesuffix(".json")


def period_failures(period: str) -> str:
    """The prefix of a billing period's failures."""
    return f"{PERIOD_FAILURES}{period}/"


def period_failure(period: str, customer_id: str) -> str:
    """``period-failures/<period>/<customer>.json``: why the customer's latest workflow of
    the period ended without a bill (the period's books read it)."""
    return f"{period_failures(period)}{safe_key(customer_id)}.json"


def customer_of_period_failure(key: str) -> str:
    """The customer (as it stands in keys) a ``period_failure`` key names."""
    return key.rpartition("/")[2].removesuffix(".json")


def legacy_pending_job(workflow_key: str) -> str:
    return f"{LEGACY_PENDING}{workflow_key}.json"


# -- the customers bucket: customers in id order, blocks of new ids ---------------------

CUSTOMERS = "customers/"
ID_BLOCKS = "ids/blocks/"
NEXT_ID_BLOCK = "ids/next-block.json"
LEGACY_NEXT_ID = "ids/next-customer-id.json"  # where versions before the blocks went on


def customer(customer_id: str) -> str:
    """``customers/<length, two digits>/<shard>/<id>.json``. S3 lists keys in byte order;
    the length first makes that order 1, 2, ..., 9, 10 rather than 1, 10, 2. The shard is
    the id less its last three characters (``_`` for shorter ids): at most a thousand
    numeric ids a shard, so a listing of one is cheap on any S3 server."""
    name = safe_key(customer_id)
    return f"{CUSTOMERS}{len(name):02d}/{name[:-3] or '_'}/{name}.json"


def customer_id_of(key: str) -> str | None:
    """The id a ``customer`` key names; None for a key of another layout."""
    name = key.rpartition("/")[2].removesuffix(".json")
    return name if customer(name) == key else None


IMPORTS = "imports/"


def import_plan(digest: str) -> str:
    """``imports/<digest of the request>.json``: the ids an import gives its new customers,
    fixed before any is written, so that the import asked again writes the same."""
    return f"{IMPORTS}{digest}.json"


CUSTOMER_NAMES = "names/"
NAMES_INDEXED = "ids/names-indexed.json"  # written once every customer has its name keys


def name_words(*names: str) -> list[str]:
    """The words a customer is found by: each word of its names, case folded, once."""
    return sorted({word.casefold() for name in names for word in name.split()})


# A word stands in a name key by its start, percent-encoded, at most this long: the key
# stays far below S3's 1,024 bytes and the 255 bytes a path part may have on S3Proxy's file
# store, whatever the word. A search for a longer start lists the keys of this much of it
# and reads the customers to keep those that match.
NAME_KEY_WORD_BYTES = 120


def name_prefix(word_start: str) -> str:
    """The prefix of every name key of a word that starts with ``word_start`` (case
    folded): percent-encoding keeps a word's start the start of its key, and it is cut
    only between two encoded characters' bytes (``%E2|%82``, never ``%E|2``)."""
    encoded = quote(word_start.casefold(), safe="")
    if len(encoded) > NAME_KEY_WORD_BYTES:
        encoded = encoded[:NAME_KEY_WORD_BYTES]
        escape = encoded.rfind("%", len(encoded) - 2)
        encoded = encoded[:escape] if escape >= 0 else encoded
    return f"{CUSTOMER_NAMES}{encoded}"


def customer_name(word: str, customer_id: str) -> str:
    """``names/<word>/<id>``, an empty object: S3's key order is the words' order, so the
    customers whose name has a word starting with some text are one listing away."""
    return f"{name_prefix(word)}/{safe_key(customer_id)}"


def customer_id_of_name(key: str) -> str:
    return key.rpartition("/")[2]


def legacy_customer(customer_id: str) -> str:
    """``customers/<id>.json``, as versions before the ordered keys kept a customer."""
    return f"{CUSTOMERS}{safe_key(customer_id)}.json"


def id_block(number: int) -> str:
    return f"{ID_BLOCKS}{number:012d}.json"


def id_block_number(key: str) -> int:
    return int(key.removeprefix(ID_BLOCKS).removesuffix(".json"))


# -- the tokens bucket: one record a named token, by its name ----------------------------

TOKENS = "tokens/"


def token_record(name: str) -> str:
    """``tokens/<name>.json``: a named token's record (its digest, never the token). A name
    is lower-case letters, digits and ``._-`` (``functions/access.py``), so it stands in the
    key as it is, and the keys' order is the names'."""
    return f"{TOKENS}{name}.json"


def name_of_token_record(key: str) -> str:
    return key.removeprefix(TOKENS).removesuffix(".json")


TOKEN_REVOCATIONS = "token-revocations/"


def token_revocation(name: str) -> str:
    """``token-revocations/<name>.json``: who revoked the token when, created once, so that
    of two revokes at once one is the revoke and the other repeats it."""
    return f"{TOKEN_REVOCATIONS}{name}.json"


# -- the audit trail, in the tokens' bucket ---------------------------------------------

AUDIT_LOG = "audit/log/"
AUDIT_OUTCOMES = "audit/outcome/"
AUDIT_BY_RUN = "audit/by-run/"
AUDIT_BY_WHO = "audit/by-who/"
_LATEST_MILLIS = 9_999_999_999_999  # milliseconds since 1970 counted down: newest first


def audit_entry_id(epoch_millis: int, request_id: str) -> str:
    """An audit record's id: its time counted down, so that S3 lists the newest first."""
    return f"{_LATEST_MILLIS - epoch_millis:013d}-{request_id}"


def audit_ids_from(epoch_millis: int) -> str:
    """Where a listing starts to find the records made at or before ``epoch_millis``: after
    every id of a later one."""
    return f"{_LATEST_MILLIS - epoch_millis - 1:013d}-~"


def millis_of_audit_id(entry_id: str) -> int:
    return _LATEST_MILLIS - int(entry_id[:13])


def audit_entry(entry_id: str) -> str:
    """``audit/log/<id>.json``: who asked what, and when (with its outcome if refused)."""
    return f"{AUDIT_LOG}{entry_id}.json"


def audit_outcome(entry_id: str) -> str:
    """``audit/outcome/<id>.json``: what came of the request, once it was answered."""
    return f"{AUDIT_OUTCOMES}{entry_id}.json"


def audit_of_run(run_id: str) -> str:
    return f"{AUDIT_BY_RUN}{safe_key(run_id)}/"


def audit_by(who: str) -> str:
    # A JWT's subject may hold any character: percent-encoded, it holds no "/".
    return f"{AUDIT_BY_WHO}{quote(who, safe='')}/"


def audit_id_of(key: str) -> str:
    return key.rpartition("/")[2].removesuffix(".json")
