"""One HTTP operation, declared once beside its handler: its method and path, its typed path,
query, header and body parameters, and what it answers with each status. The handler
receives the parsed values (``path=``, ``query=``, ``headers=``, ``body=``) and returns a
typed ``HttpResponse``; the router dispatches by the declarations (``runtime/routing.py``)
and the OpenAPI document is generated from them (``functions/http/openapi.py``).

Each operation states who may call it: ``public=True`` (anyone, without a token: it tells
nothing about customers or runs), or the least ``role`` a caller needs
(``functions/access.py``). The router, the document and the tests read the one table the
declarations make; an operation that states neither needs ``admin``, and a unit test holds
every operation to stating it. ``caller=True`` gives the handler the caller too
(``caller=``), so that what it does can name who asked.

Parameters are pydantic models whose fields are read by the rules of
``functions/http/parameters.py``; a body is a type pydantic describes and checks
(``functions/http/bodies.py``); answers are types pydantic describes (TypedDicts, as the
handlers build them: they cost nothing to make and ``json.dumps`` sends them as they are);
the unit tier checks every answer against its declared type (``Operation.answers_checked``).
A request is refused for every problem of its parts at once (``functions/http/problems.py``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property, partial
from typing import Any, ClassVar, Generic, TypeVar, get_type_hints

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError
from pydantic.alias_generators import to_camel

from functions.access import ANYBODY, Caller, Role
from functions.errors import ConfigurationError, InvalidRequest, Location
from functions.http.bodies import Body, unchanged
from functions.http.parameters import REFUSED
from functions.http.problems import MEDIA_TYPE as PROBLEM_TYPE
from functions.http.problems import Problem
from functions.http.web import HttpRequest, HttpResponse

T = TypeVar("T")


class Parameters(BaseModel):
    """An operation's path, query or header parameters: each field one parameter, named on
    the wire by its alias (camelCase unless given), read by its rule."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        extra="forbid",
        frozen=True,
        validate_by_name=True,
        use_attribute_docstrings=True,
    )

    @classmethod
    @cache
    def wire_names(cls) -> dict[str, str]:
        """Each field's name on the wire, by its name here."""
        return {name: info.alias or name for name, info in cls.model_fields.items()}

    @classmethod
    def read(cls, given: Mapping[str, str]) -> Any:
        """The parameters ``given`` (by wire name), each read by its rule; refused with every
        problem, each located by its parameter's name: a value its rule refuses, a required
        one missing."""
        names = cls.wire_names()
        try:
            return cls.model_validate(given, context=names)
        except ValidationError as exc:
            problems = [cls._problem(names, error) for error in exc.errors(include_url=False)]
            raise InvalidRequest.of(problems) from None

    @classmethod
    def _problem(cls, names: dict[str, str], error: Any) -> tuple[Location, str]:
        name = str(error["loc"][0]) if error["loc"] else "value"
        if error["type"] == REFUSED:  # a rule's own words (functions/http/parameters.py)
            return (name,), str(error["ctx"]["detail"])
        if error["type"] == "missing":
            field = next(info for key, info in cls.model_fields.items() if names[key] == name)
            what = f": {field.description}" if field.description else ""
            return (name,), f"{name} is required{what}"
        # a parameter of a type without a rule
        return (name,), f"{name}={error['input']!r}: {error['msg']}"


Cursor = TypeVar("Cursor")


class Paged(Parameters, Generic[Cursor]):
    """The query of a listing, one page at a time: the items after ``after`` (from the first
    without it), ``limit`` at most. Each listing gives ``after`` its type and ``limit`` its
    bounds and default (``WholeNumber`` of functions/http/parameters.py)."""

    after: Cursor | None = None
    """the cursor: where the page before ended (its `next`, or the after of its `Link`)"""
    limit: int
    """the page's size"""


@dataclass(frozen=True)
class Reply:
    """One answer of an operation: what it means, its body's type (a type pydantic
    describes, or a JSON Schema as a dict; None: whatever ``media_type`` holds), the headers
    it may carry and the operations it leads to."""

    description: str
    body: Any = Problem
    media_type: str | None = None  # JSON: application/problem+json for a Problem
    headers: Mapping[str, Any] = field(default_factory=dict)  # header objects, by name
    # OpenAPI links: the operations its answer leads to, and where their parameters are in
    # it (what schemathesis's stateful phase follows).
    links: Mapping[str, Any] = field(default_factory=dict)

    @property
    def content_type(self) -> str:
        if self.media_type is not None:
            return self.media_type
        return PROBLEM_TYPE if self.body is Problem else "application/json"


Handler = Callable[..., HttpResponse[Any]]


@dataclass(frozen=True, eq=False)  # known by identity: the router keys its rules by it
class Operation:
    """One operation: ``handle(context, [path=, query=, headers=, body=, caller=])``."""

    method: str
    path: str  # an OpenAPI path template: /runs/{runId}
    operation_id: str
    summary: str
    handle: Handler
    replies: Mapping[int, Reply]
    path_parameters: type[Parameters] | None = None
    query: type[Parameters] | None = None
    headers: type[Parameters] | None = None
    body: Body[Any] | None = None
    description: str | None = None
    # Answered without a bearer token: it tells nothing about customers or runs.
    public: bool = False
    # The least role a caller needs (unless public); None: not stated, so admin's.
    role: Role | None = None
    # The handler is given the caller (``caller=``).
    caller: bool = False
    # Set by the unit tier (tests/unit/conftest.py): every answer a handler makes is then
    # validated against its declared type, as FastAPI validates responses.
    answers_checked: ClassVar[bool] = False

    def __post_init__(self) -> None:
        if self.public and self.role is not None:
            raise ConfigurationError(
                f"{self.operation_id} is public and needs the role {self.role}; it is one or"
                " the other"
            )
        _check_handler(self)

    @property
    def required_role(self) -> Role | None:
        """The least role a caller needs; None for a public operation."""
        if self.public:
            return None
        return self.role or Role.ADMIN

    @property
    def changes_state(self) -> bool:
        """Whether a call may change state (anything but a read of a public or known path):
        the runtime audits each call of it (``runtime/auditing.py``)."""
        return not self.public and self.method not in ("GET", "HEAD", "OPTIONS")

    @cached_property
    def query_names(self) -> tuple[str, ...]:
        """The query parameters it takes: its own, then a page's."""
        names = self.query.wire_names().values() if self.query else ()
        return tuple(sorted(names, key=lambda name: name in Paged.model_fields))

    def call(
        self,
        request: HttpRequest,
        context: object,
        path_values: Mapping[str, str],
        caller: Caller = ANYBODY,
    ) -> HttpResponse[Any]:
        """Read the request's parameters and body as declared, and answer it; a request
        refused is refused for every problem in its parts, each located in its part.
        ``caller``: who asked (the runtime checked that it may)."""
        readers: list[tuple[str, str, Callable[[], Any]]] = []
        if self.path_parameters is not None:
            readers.append(("path", "path", partial(self.path_parameters.read, path_values)))
        if self.query is not None:
            readers.append(("query", "query", partial(self.query.read, request.query)))
        if self.headers is not None:
            given = {
                name: request.headers[name.lower()]
                for name in self.headers.wire_names().values()
                if name.lower() in request.headers
            }
            readers.append(("headers", "header", partial(self.headers.read, given)))
        if self.body is not None:
            body = self.body
            readers.append(("body", "body", lambda: body.read(request.json())))
        arguments: dict[str, Any] = {}
        problems: list[tuple[Location, str]] = []
        for argument, part, read in readers:
            try:
                arguments[argument] = read()
            except InvalidRequest as exc:
                if exc.status != 400:  # too large, not JSON, a conflict: told on its own
                    located = tuple(exc.located(part))
                    raise InvalidRequest(str(exc), exc.status, exc.headers, located) from None
                problems.extend(exc.located(part))
        if problems:
            raise InvalidRequest.of(problems)
        if self.caller:
            arguments["caller"] = caller
        response = self.handle(context, **arguments)
        if Operation.answers_checked:
            self._check_answer(response)
        return response

    def _check_answer(self, response: HttpResponse[Any]) -> None:
        reply = self.replies.get(response.status)
        if reply is None:
            raise AssertionError(f"{self.operation_id} answered {response.status}, undeclared")
        if reply.body is None or isinstance(reply.body, dict):
            return
        try:
            _adapter(reply.body).validate_python(response.body, strict=True)
        except ValidationError as exc:
            raise AssertionError(
                f"{self.operation_id} answered {response.status} with a body its declaration"
                f" ({reply.body}) does not take: {exc}"
            ) from None


@cache
def _adapter(shape: Any) -> TypeAdapter[Any]:
    return TypeAdapter(shape)


def _check_handler(operation: Operation) -> None:
    """A handler takes its context, then the parts its declaration reads and no other, each
    typed as declared: a mismatch stops the import, not a request in production."""
    parts = {
        "path": operation.path_parameters,
        "query": operation.query,
        "headers": operation.headers,
        "body": operation.body,
    }
    declared = {name for name, part in parts.items() if part is not None}
    if operation.caller:
        declared.add("caller")
    given = list(inspect.signature(operation.handle).parameters)[1:]  # after the context
    name = f"{operation.operation_id} ({getattr(operation.handle, '__qualname__', '?')})"
    if sorted(given) != sorted(declared):
        raise ConfigurationError(
            f"{name} takes {given} after its context, but its declaration gives"
            f" {sorted(declared)}; make the handler's parameters and the declaration agree"
        )
    try:
        hints = get_type_hints(operation.handle)
    except NameError:  # a type named only for the type checker: the names agree, at least
        return
    body = operation.body
    typed: dict[str, Any] = {key: part for key, part in parts.items() if key != "body"}
    if operation.caller:
        typed["caller"] = Caller
    if body is not None and body.make is not unchanged:
        typed["body"] = get_type_hints(body.make).get("return")
    for key, declared_type in typed.items():
        if declared_type is not None and key in hints and hints[key] != declared_type:
            raise ConfigurationError(
                f"{name} types {key} as {hints[key]}, but its declaration reads"
                f" {declared_type}; make them agree"
            )


@dataclass
class Api:
    """An HTTP function's operations, in the order its document shows them."""

    title: str
    summary: str
    operations: list[Operation] = field(default_factory=list)

    def operation(
        self, method: str, path: str, operation_id: str, **declared: Any
    ) -> Callable[[Handler], Handler]:
        """Declare the function below as the operation ``operation_id``."""

        def declare(handle: Handler) -> Handler:
            self.operations.append(Operation(method, path, operation_id, handle=handle, **declared))
            return handle

        return declare

    def with_operations(self, *more: Operation) -> Api:
        return Api(self.title, self.summary, [*self.operations, *more])
