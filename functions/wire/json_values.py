"""JSON from outside (a request's body, a record's value), read strictly: what Python cannot
hold as a value is refused like any text that is not JSON, never raised as something else."""

from __future__ import annotations

import json
from typing import Any


def loads(raw: bytes | str) -> Any:
    """The JSON value of ``raw``; a ValueError saying why it cannot be one: not JSON, not
    UTF-8, ``NaN`` or ``Infinity`` (JSON has neither), an integer of more digits than Python
    converts (4,300), or nesting deeper than the interpreter's stack."""
    try:
        return json.loads(raw, parse_constant=_refused_constant)
    except RecursionError:
        raise ValueError("it nests too deeply to be read") from None


def _refused_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")
