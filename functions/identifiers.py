"""The identifiers the functions share: customer ids, run ids, workflow ids, and how each
stands in an S3 key."""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass

from functions.errors import MalformedMessage

_SAFE_KEY = re.compile(r"[A-Za-z0-9._-]{1,120}")
# What a customer id may be: it becomes part of S3 keys and bill names as it is.
CUSTOMER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
CUSTOMER_ID_RULE = "1 to 64 letters, digits, '-' or '_', starting with a letter or digit"
# Our coordinator's run ids; a run's workflows are ``<run id>-<n>``.
RUN_ID = re.compile(r"run-\d{8}T\d{6}-[0-9a-f]{8}")
_WORKFLOW_OF_RUN = re.compile(rf"({RUN_ID.pattern})-[1-9]\d*")


def is_customer_id(text: str) -> bool:
    return CUSTOMER_ID.fullmatch(text) is not None


def is_run_id(text: str) -> bool:
    return RUN_ID.fullmatch(text) is not None


def safe_key(text: str) -> str:
    """``text`` if it can stand in an S3 key and a file name as is, else a stable digest."""
    if _SAFE_KEY.fullmatch(text) and text not in {".", ".."}:
        return text
    return "h" + hashlib.sha256(text.encode()).hexdigest()[:40]


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
    def run_id(self) -> str | None:
        """The billing run this workflow is part of; None for one no run of ours started
        (the lab's coordinator's, say)."""
        found = _WORKFLOW_OF_RUN.fullmatch(self.text)
        return found.group(1) if found else None
