"""The identifiers the functions share: customer ids, run ids, workflow ids, and how each
stands in an S3 key."""

from __future__ import annotations

import hashlib
import json
import math
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from functions.errors import REFUSED_VALUE, InvalidRequest, MalformedMessage
from functions.wire.billing_period import PERIOD_FORMS, BillingPeriod

_SAFE_KEY = re.compile(r"[A-Za-z0-9._-]{1,120}")
# What a customer id may be: it becomes part of S3 keys and bill names as it is.
CUSTOMER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
CUSTOMER_ID_RULE = "1 to 64 letters, digits, '-' or '_', starting with a letter or digit"


@dataclass(frozen=True)
class Matching:
    """Metadata of a text in a JSON body: ``Annotated[str, Matching(pattern, what)]``;
    pydantic (imported by the HTTP operations only) checks it, refusing a text it does not
    match as not ``what``, and the OpenAPI document shows the pattern."""

    pattern: re.Pattern[str]
    what: str = "the pattern's"

    def __get_pydantic_core_schema__(self, _source: Any, _handler: Any) -> Any:
        from pydantic_core import PydanticCustomError, core_schema

        def check(text: str) -> str:
            if self.pattern.fullmatch(text) is None:
                shown = repr(text[:80])
                raise PydanticCustomError(
                    REFUSED_VALUE, "{what}", {"what": f"is {shown}, which is not {self.what}"}
                )
            return text

        return core_schema.no_info_after_validator_function(check, core_schema.str_schema())

    def __get_pydantic_json_schema__(self, schema: Any, handler: Any) -> Any:
        described = handler(schema)
        described["pattern"] = f"^{self.pattern.pattern}$"
        return described


CustomerIdText = Annotated[str, Matching(CUSTOMER_ID, f"a customer id ({CUSTOMER_ID_RULE})")]


def is_customer_id(text: str) -> bool:
    return CUSTOMER_ID.fullmatch(text) is not None


def safe_key(text: str) -> str:
    """``text`` if it can stand in an S3 key and a file name as is, else a stable digest."""
    if _SAFE_KEY.fullmatch(text) and text not in {".", ".."}:
        return text
    return "h" + hashlib.sha256(text.encode()).hexdigest()[:40]


class RunId(str):
    """A billing run's id, ``run-<UTC start, yyyymmddTHHMMSS>-<8 hex digits>``: it sorts by
    the run's start and is unique without coordination; the run's workflows are
    ``<run id>-<n>``. The one place that says what a run id is: a ``str``, so the stores
    take it as they take any name, and a value of this type has been checked."""

    # [0-9], not \d: Python's \d takes every script's digits, the document's (ECMAScript's) not.
    PATTERN = re.compile(r"run-[0-9]{8}T[0-9]{6}-[0-9a-f]{8}")
    EXAMPLE = "run-20261127T200347-1f2e3d4c"
    _OF_WORKFLOW = re.compile(rf"({PATTERN.pattern})-[1-9][0-9]*")

    def __new__(cls, text: str) -> RunId:
        if not cls.is_one(text):
            raise InvalidRequest(f"{text[:80]!r} is not a run id (like {cls.EXAMPLE})")
        return super().__new__(cls, text)

    @classmethod
    def is_one(cls, text: str) -> bool:
        return cls.PATTERN.fullmatch(text) is not None

    @classmethod
    def new(cls, at: datetime) -> RunId:
        """A new run's id, for a run started ``at`` (UTC)."""
        return cls(f"run-{at:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}")

    @classmethod
    def of_workflow(cls, workflow: str) -> RunId | None:
        """The run a workflow id names (``<run id>-<n>``); None for another's workflow."""
        found = cls._OF_WORKFLOW.fullmatch(workflow)
        return str.__new__(cls, found.group(1)) if found else None

    @property
    def stamp(self) -> str:
        """When the run started, ``yyyymmddHHMMSS``."""
        return self[4:12] + self[13:19]


@dataclass(frozen=True, slots=True)
class WorkflowId:
    """A workflow id exactly as it came on the wire: a JSON string or number.

    The lab's coordinator sends numbers (milliseconds plus a random fraction), the
    lab text shows strings; both must be echoed back unchanged as ``qaIdentifier``.
    """

    wire: str | int | float

    @classmethod
    def from_wire(cls, value: object, field: str) -> WorkflowId:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise MalformedMessage(
                f'"{field}" must be a JSON string or number, got {json.dumps(value)}'
            )
        if isinstance(value, float) and not math.isfinite(value):
            raise MalformedMessage(f'"{field}" must be a finite number')
        if isinstance(value, str) and not value.strip():
            raise MalformedMessage(f'"{field}" must not be empty')
        return cls(value)

    @property
    def text(self) -> str:
        return self.wire if isinstance(self.wire, str) else json.dumps(self.wire)

    @property
    def key(self) -> str:
        """The id as it appears in S3 keys. A number and its text name the same workflow."""
        return safe_key(self.text)

    @property
    def run_id(self) -> RunId | None:
        """The billing run this workflow is part of; None for one no run of ours started
        (the lab's coordinator's, say)."""
        return RunId.of_workflow(self.text)


RunIdText = Annotated[str, Matching(RunId.PATTERN, f"a run id (like {RunId.EXAMPLE})")]
BillingPeriodText = Annotated[
    str, Matching(BillingPeriod.PATTERN, f"a billing period; {PERIOD_FORMS}")
]
