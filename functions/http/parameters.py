"""The values an HTTP operation takes in its path, query and headers, each read one way a
type: a rule says which text it takes (its JSON Schema, for the OpenAPI document) and turns
the text into the typed value, or refuses it with a 400 that names the parameter and what
it takes. So no query value reaches ``int()`` or ``datetime`` unchecked.

A rule is pydantic metadata on an operation's parameter model (``functions/http/operation.py``):
``limit: Annotated[int, WholeNumber(1, 100)] = 20``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler, ValidationInfo
from pydantic_core import PydanticCustomError, core_schema

from functions.errors import InvalidRequest
from functions.wire.billing_period import PERIOD_FORMS, BillingPeriod
from functions.wire.dates import DAY, LEAP_YEAR, YEAR, YEARS
from functions.wire.identifiers import CUSTOMER_ID, CUSTOMER_ID_RULE, RunId

Schema = dict[str, Any]
_DIGITS = re.compile(r"[0-9]{1,9}")  # ASCII only: str.isdigit() takes "²", int() does not
# A date, or a date and time, as the document describes the times a filter takes and the
# server takes them (datetime.fromisoformat takes more: week dates, fractions, a space for
# the T): every day of those years' calendars, with or without seconds, a zone or none.
_ZONE = r"(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"
MOMENT_PATTERN = (
    rf"^({YEAR}-{DAY}|{LEAP_YEAR}-02-29)"
    rf"(T([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?{_ZONE}?)?$"
)
_MOMENT = re.compile(MOMENT_PATTERN)


# A character str.strip() keeps, spelled out: a schema's `\S` means another set in each
# regex engine (ECMAScript's, Rust's, Python's disagree on \x1c-\x1f, \x85 and \ufeff),
# so the document names the characters the server strips.
NOT_BLANK = r"[^\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"


# A customer's field: no control character, and a character that is neither that nor blank.
_CONTROL = r"\x00-\x1f\x7f-\x9f"
_PRINTED = r"[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
FIELD_TEXT = rf"^[^{_CONTROL}]*{_PRINTED}[^{_CONTROL}]*$"


# The error type of a value a rule refused, its words in the error's ``ctx["detail"]``:
# pydantic goes on to the other parameters, so a refusal names every problem.
REFUSED = "refused"


def shown(text: str) -> str:
    return repr(text[:80])


class Rule:
    """How a parameter's text is read: ``parse(name, text)``, and what it takes (``schema``)."""

    def parse(self, name: str, text: str) -> Any:
        raise NotImplementedError

    def schema(self) -> Schema:
        raise NotImplementedError

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        def read(value: Any, info: ValidationInfo) -> Any:
            if not isinstance(value, str):
                return value  # a default, already typed
            names = info.context or {}
            name = names.get(info.field_name, info.field_name or "value")
            try:
                return self.parse(name, value)
            except InvalidRequest as exc:
                raise PydanticCustomError(REFUSED, "{detail}", {"detail": str(exc)}) from None

        return core_schema.with_info_plain_validator_function(read)

    def __get_pydantic_json_schema__(
        self, _schema: core_schema.CoreSchema, _handler: GetJsonSchemaHandler
    ) -> Schema:
        return self.schema()


@dataclass(frozen=True)
class WholeNumber(Rule):
    """From ``least`` to ``most``, in ASCII digits."""

    least: int
    most: int

    def parse(self, name: str, text: str) -> int:
        if _DIGITS.fullmatch(text) is None or not self.least <= int(text) <= self.most:
            raise InvalidRequest(
                f"{name} must be a whole number from {self.least} to {self.most}, got {shown(text)}"
            )
        return int(text)

    def schema(self) -> Schema:
        return {"type": "integer", "minimum": self.least, "maximum": self.most}


@dataclass(frozen=True)
class OneOf(Rule):
    choices: Sequence[str]

    def parse(self, name: str, text: str) -> str:
        if text not in self.choices:
            raise InvalidRequest(f"{name}={shown(text)}; use one of {', '.join(self.choices)}")
        return text

    def schema(self) -> Schema:
        return {"enum": list(self.choices)}


@dataclass(frozen=True)
class Flag(Rule):
    """``true`` or ``false``."""

    def parse(self, name: str, text: str) -> bool:
        if text not in ("true", "false"):
            raise InvalidRequest(f"{name}={shown(text)}; use true or false")
        return text == "true"

    def schema(self) -> Schema:
        return {"enum": ["true", "false"]}


@dataclass(frozen=True)
class Moment(Rule):
    """An ISO 8601 date or time (UTC unless it names its zone) of a year in ``YEARS``, in UTC."""

    def parse(self, name: str, text: str) -> datetime:
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise InvalidRequest(
                f"{name}={shown(text)} is not a time; use ISO 8601, like 2026-12-01 or"
                " 2026-12-01T08:00:00Z"
            ) from None
        first, last = YEARS
        if not first <= parsed.year <= last:
            raise InvalidRequest(
                f"{name}={shown(text)} is outside the times a run can have; give a year from"
                f" {first} to {last}"
            )
        if _MOMENT.fullmatch(text) is None:
            raise InvalidRequest(
                f"{name}={shown(text)}: give a date, 2026-12-01, or a date and time to the"
                " minute or second and a zone or none, 2026-12-01T08:00:00Z or"
                " 2026-12-01T09:00+01:00 (no fraction, no week date)"
            )
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)

    def schema(self) -> Schema:
        return {
            "type": "string",
            "pattern": MOMENT_PATTERN,
            "description": "ISO 8601: 2026-12-01 or 2026-12-01T08:00:00Z (UTC unless it says);"
            f" the years {YEARS[0]} to {YEARS[1]}",
        }


@dataclass(frozen=True)
class Text(Rule):
    """Text of at most ``most`` characters that ``pattern`` matches whole, at least ``least``
    of them once stripped (``strip``: of what ``NOT_BLANK`` leaves out), made into its type
    by ``make``; ``refusal`` words a refusal, with ``{name}`` and ``{value}`` in it."""

    pattern: re.Pattern[str]
    refusal: str
    most: int
    least: int = 0
    strip: bool = False
    make: Callable[[str], Any] = str
    schema_pattern: str | None = None  # the document's, when it differs from ``pattern``
    examples: tuple[str, ...] = ()  # for the document (and schemathesis's examples phase)

    def parse(self, name: str, text: str) -> Any:
        # The bound is the text's as sent, as the document's maxLength is.
        value = text.strip() if self.strip else text
        if (
            not self.least <= len(value)
            or len(text) > self.most
            or self.pattern.fullmatch(value) is None
        ):
            raise InvalidRequest(self.refusal.format(name=name, value=shown(value)))
        return self.make(value)

    def schema(self) -> Schema:
        schema: Schema = {"type": "string", "maxLength": self.most}
        if self.least:
            schema["minLength"] = self.least
        schema["pattern"] = self.schema_pattern or f"^{self.pattern.pattern}$"
        if self.examples:
            schema["examples"] = list(self.examples)
        return schema


RUN_ID = Text(
    RunId.PATTERN,
    f"{{name}}={{value}} is not a run id (like {RunId.EXAMPLE})",
    40,
    make=RunId,
    examples=(RunId.EXAMPLE,),
)
CUSTOMER_ID_TEXT = Text(
    CUSTOMER_ID,
    f"{{name}}={{value}} is not a customer id ({CUSTOMER_ID_RULE})",
    64,
    examples=("1",),
)
BILLING_PERIOD = Text(
    BillingPeriod.PATTERN,
    f"{{name}}={{value}} is not a billing period; {PERIOD_FORMS}",
    10,
    make=BillingPeriod,
    examples=(BillingPeriod.EXAMPLE,),
)
