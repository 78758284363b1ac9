"""A request body, declared once: one type (a TypedDict, a list of one, or a union of an
object and an array) that the OpenAPI document shows and pydantic validates, with
``Annotated`` rules for what JSON Schema says but cannot word (``Matching``: ids, periods;
``Checked``: a customer's fields). Every problem pydantic finds is worded here, each with
where it is in the body, as ``Parameters.read`` words a parameter's
(``functions/http/operation.py``); a list longer than its type takes is a 413 of its own.

What a type cannot say (a customer named twice in a run) is checked by the body's
``conflicts`` (``repeats`` finds an id named twice), and refused with the same locations.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from types import UnionType
from typing import Any, Generic, TypeVar, Union, get_args, get_origin

from pydantic import TypeAdapter, ValidationError

from functions.errors import REFUSED_VALUE, InvalidRequest, Location

T = TypeVar("T")
Problems = list[tuple[Location, str]]
# Unknown keys told one by one in an object; more are told as their count.
MAX_UNKNOWN_KEYS = 20


def where(location: Location, whole: str = "the request body") -> str:
    """A place in a body as a person reads it: ``"customerIdentifiers"[3]``, ``[2] "city"``;
    ``whole`` for the body itself."""
    shown = ""
    for step in location:
        shown += f"[{step}]" if isinstance(step, int) else f' "{step}"'
    return shown.strip() or whole


def _json_type(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    kinds = {dict: "an object", list: "an array", str: "a string", int: "a number"}
    return next((name for kind, name in kinds.items() if isinstance(value, kind)), "a number")


# What says a body or an item has the wrong shape (a usage line helps), not a value.
_SHAPE_ERRORS = {"missing", "extra_forbidden", "dict_type", "typed_dict_type", "list_type"}


def _worded(error: Any, fields: Iterable[str], whole: str) -> str:
    """What one of pydantic's errors means, in our words."""
    location: Location = tuple(error["loc"])
    kind, value, context = error["type"], error["input"], error.get("ctx") or {}
    at = where(location, whole)
    if kind == REFUSED_VALUE:
        return f"{at} {context['what']}"
    if kind == "missing":
        return f'{where(location[:-1], whole)} has no "{location[-1]}" field'
    if kind == "extra_forbidden":
        name = str(location[-1])
        close = difflib.get_close_matches(name, sorted(fields), n=1)
        hint = f'did you mean "{close[0]}"? ' if close else ""
        known = ", ".join(f'"{field}"' for field in sorted(fields))
        return f"unknown field {json.dumps(name)[:80]}; {hint}{whole} has {known}"
    if kind == "string_type":
        hint = f' (write it as "{value}")' if isinstance(value, int) else ""
        return f"{at} must be a string, got {json.dumps(value)[:60]}{hint}"
    if kind in ("dict_type", "typed_dict_type", "model_type"):
        return f"{at} must be a JSON object, not {_json_type(value)}"
    if kind == "list_type":
        return f"{at} must be an array, not {_json_type(value)}"
    if kind == "too_short":
        return f"{at} is empty; give at least {context.get('min_length', 1)}"
    return f"{at}: {error['msg']}"


def _odd_keys(value: Any, fields: set[str], at: Location = ()) -> Problems:
    """The keys no body has: more unknown keys in one object than ``MAX_UNKNOWN_KEYS`` (told
    at once, not each checked: a 1 MiB body holds 100,000 of them), and keys UTF-8 cannot
    encode (a lone surrogate), which pydantic reads as the object unreadable."""
    problems: Problems = []
    if isinstance(value, dict):
        unknown = [key for key in value if key not in fields]
        if len(unknown) > MAX_UNKNOWN_KEYS:
            names = ", ".join(json.dumps(key)[:40] for key in unknown[:5])
            return [(at, f"{where(at)} has {len(unknown)} unknown fields ({names}, ...)")]
        for key, item in value.items():
            try:
                key.encode()
            except UnicodeEncodeError:
                shown = key.encode("utf-8", "backslashreplace").decode()[:80]
                problems.append(((*at, shown), f"the field name {shown} holds a lone surrogate"))
                continue
            problems.extend(_odd_keys(item, fields, (*at, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            problems.extend(_odd_keys(item, fields, (*at, index)))
            if len(problems) > MAX_UNKNOWN_KEYS:
                break
    return problems


def checked(
    adapter: TypeAdapter[Any],
    value: Any,
    fields: set[str],
    whole: str = "the request body",
    usage: str = "",
) -> tuple[Any, Problems]:
    """``value`` as ``adapter``'s type, and no problem; or None and every problem it has,
    each with where it is (``whole``: what the value is called; ``usage``: what a body of
    the right shape is, said with a problem of the shape). A list over its bound is a 413
    (``InvalidRequest``), told on its own."""
    odd = _odd_keys(value, fields)
    if odd:
        return None, odd
    try:
        return adapter.validate_python(value), []
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
    for error in errors:
        if error["type"] == "too_long" and isinstance(error["input"], list):
            most = error["ctx"]["max_length"]
            raise InvalidRequest(
                f"{where(tuple(error['loc']), whole)} names {len(error['input'])} items; split"
                f" it into requests of at most {most}",
                status=413,
            )
    # A field missing because it was misspelled is told once, as the misspelling.
    misspelled = {
        (*error["loc"][:-1], close)
        for error in errors
        if error["type"] == "extra_forbidden"
        for close in difflib.get_close_matches(str(error["loc"][-1]), sorted(fields), n=1)
    }
    return None, [
        (
            tuple(error["loc"]),
            _worded(error, fields, whole)
            + (f"; {usage}" if usage and error["type"] in _SHAPE_ERRORS else ""),
        )
        for error in errors
        if not (error["type"] == "missing" and tuple(error["loc"]) in misspelled)
    ]


def _members(shape: Any) -> tuple[Any, ...]:
    return get_args(shape) if get_origin(shape) in (Union, UnionType) else (shape,)


def _is_array(member: Any) -> bool:
    origin = get_origin(member)
    if origin is not None and hasattr(member, "__metadata__"):  # Annotated[list[...], ...]
        return _is_array(get_args(member)[0])
    return origin is list


def field_names(shape: Any) -> set[str]:
    """Every field name a body of ``shape`` may have, at any depth (for "did you mean")."""
    # From the schema, not the Python type: the names the document shows, an alias included.
    names: set[str] = set()

    def visit(schema: Any) -> None:
        if isinstance(schema, dict):
            names.update(schema.get("properties", {}))
            for value in schema.values():
                visit(value)
        elif isinstance(schema, list):
            for value in schema:
                visit(value)

    visit(TypeAdapter(shape).json_schema())
    return names


def repeats(
    ids: Iterable[Any], problem: Callable[[int, str, int], tuple[Location, str]]
) -> Problems:
    """``problem(position, id, first)`` for each id of ``ids`` that stands at an earlier
    position ``first`` too; what is not a text is not compared (its type refuses it)."""
    first_at: dict[str, int] = {}
    found: Problems = []
    for position, value in enumerate(ids):
        if isinstance(value, str) and first_at.setdefault(value, position) != position:
            found.append(problem(position, value, first_at[value]))
    return found


def unchanged(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Body(Generic[T]):
    """A request body of the type ``shape`` (the document's, and the check's). ``make``
    turns the valid value into what the handler receives, refusing what a type cannot say;
    ``usage`` is said with a body of the wrong shape. A union is of an object and an array:
    a body is checked as the member of its JSON type."""

    shape: Any
    make: Callable[[Any], T] = unchanged
    usage: str = ""
    # make is given the body as sent (once valid), not as its type made it: an import is
    # known by the digest of what was sent, the same in every version.
    as_sent: bool = False
    # What a type cannot say of a body (a customer named twice), found in the body as sent
    # whatever else is wrong with it, so one answer tells every problem; alone, refused
    # with ``conflict_status``.
    conflicts: Callable[[Any], Problems] = lambda _body: []
    conflict_status: int = 400
    _adapters: dict[bool, TypeAdapter[Any]] = field(default_factory=dict, compare=False)

    @cached_property
    def fields(self) -> set[str]:
        return field_names(self.shape)

    def adapter(self, value: Any) -> TypeAdapter[Any]:
        """The adapter of the member of ``shape`` of ``value``'s JSON type."""
        is_array = isinstance(value, list)
        if is_array not in self._adapters:
            members = [m for m in _members(self.shape) if _is_array(m) == is_array]
            self._adapters[is_array] = TypeAdapter(members[0] if members else self.shape)
        return self._adapters[is_array]

    def read(self, value: Any) -> T:
        valid, problems = checked(self.adapter(value), value, self.fields, usage=self.usage)
        conflicts = self.conflicts(value)
        if problems or conflicts:
            status = 400 if problems else self.conflict_status
            raise InvalidRequest.of(problems + conflicts, status)
        return self.make(value if self.as_sent else valid)


@dataclass(frozen=True)
class Checked:
    """A rule a JSON Schema states but cannot word: ``Annotated[str, Checked(check,
    schema)]``. ``check(value)`` gives the value as kept, or raises ``InvalidRequest``
    saying what is wrong with it, without naming it (``has 201 characters...``): the
    refusal names where it is."""

    check: Callable[[Any], Any]
    schema: dict[str, Any]

    def __get_pydantic_core_schema__(self, _source: Any, _handler: Any) -> Any:
        from pydantic_core import PydanticCustomError, core_schema

        def read(value: Any) -> Any:
            try:
                return self.check(value)
            except InvalidRequest as exc:
                raise PydanticCustomError(REFUSED_VALUE, "{what}", {"what": str(exc)}) from None

        return core_schema.no_info_plain_validator_function(read)

    def __get_pydantic_json_schema__(self, _schema: Any, _handler: Any) -> dict[str, Any]:
        return dict(self.schema)
