"""The OpenAPI 3.1 document of an HTTP function, served at ``GET /openapi.json``, generated
from its operations' declarations (``functions/http/operation.py``): a path an operation, its
parameters from its parameter models, its body and answers from their types, each schema
made by pydantic from the same types the handlers are given and return. A parameter is
described and read by one rule, a body by one type (``functions/http/bodies.py``), so the
description and the checks cannot drift apart; the answers are built by the handlers, so
``tests/unit/test_openapi.py`` runs schemathesis against both functions to hold what they
answer to what the document says. Refusals are ``Problem`` (``functions/http/problems.py``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from pydantic import TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode
from pydantic_core import CoreSchema

from functions.access import Role
from functions.http.operation import Api, Operation, Parameters, Reply
from functions.http.problems import Problem

Schema = dict[str, Any]
REF = "#/components/schemas/{model}"
# What any operation may answer besides what it declares: 401 and 403 unless it is public,
# 400 for a query parameter it does not take, 413 and 415 for a body it cannot read.
CHALLENGE = {"WWW-Authenticate": {"schema": {"type": "string"}}}
UNAUTHORIZED = Reply(
    "no valid bearer token: missing, malformed, unknown or revoked, `detail` says which"
    " (only when the function runs with BILLING_TOKEN or TOKENS_BUCKET)",
    headers=CHALLENGE,
)
FORBIDDEN = Reply(
    "the token's role does not allow it: `requiredRole` is the least it needs, `role` the token's",
    headers=CHALLENGE,
)
UNKNOWN_PARAMETER = Reply("a query parameter it does not take, or a value it refuses")
INTERNAL_ERROR = Reply("the function failed; its log says why")
BODY_REFUSALS = {413: Reply("the body is over 1 MiB"), 415: Reply("the body is not JSON")}


class _Schemas(GenerateJsonSchema):
    """pydantic's JSON Schema without the titles it makes up from names."""

    def field_title_should_be_set(self, schema: CoreSchema) -> bool:
        return False


def _untitled(schema: Schema) -> Schema:
    schema.pop("title", None)
    return schema


def _replies(operation: Operation) -> dict[int, Reply]:
    replies = dict(operation.replies)
    replies.setdefault(400, UNKNOWN_PARAMETER)
    if not operation.public:
        replies.setdefault(401, UNAUTHORIZED)
        replies.setdefault(403, FORBIDDEN)
    if operation.body is not None:
        for status, reply in BODY_REFUSALS.items():
            replies.setdefault(status, reply)
    replies.setdefault(500, INTERNAL_ERROR)
    return dict(sorted(replies.items()))


def _typed(operation: Operation) -> Iterator[tuple[Any, JsonSchemaMode]]:
    """The types of an operation's body and answers, and how each is described."""
    if operation.body is not None:
        yield operation.body.shape, "validation"
    for reply in _replies(operation).values():
        if reply.body is not None and not isinstance(reply.body, dict):
            yield reply.body, "serialization"


def _without_null(schema: Schema) -> Schema:
    """A query parameter is absent or a value: its schema without the ``null`` of ``X | None``."""
    branches = [branch for branch in schema.get("anyOf", ()) if branch != {"type": "null"}]
    if "anyOf" in schema and len(branches) == 1:
        rest = {key: value for key, value in schema.items() if key != "anyOf"}
        return {**branches[0], **rest}
    return schema


def _parameters(model: type[Parameters] | None, where: str) -> list[Schema]:
    if model is None:
        return []
    described = model.model_json_schema(by_alias=True, schema_generator=_Schemas, ref_template=REF)
    required = set(described.get("required", ()))
    parameters = []
    for name, schema in described["properties"].items():
        schema = _without_null(dict(schema))
        parameter: Schema = {"name": name, "in": where, "required": name in required}
        description = schema.pop("description", None)
        if "default" in schema and (default := schema.pop("default")) is not None:
            shown = json.dumps(default)
            description = f"{description} (default {shown})" if description else f"default {shown}"
        if description:
            parameter["description"] = description
        parameter["schema"] = schema
        parameters.append(parameter)
    return parameters


def _content(reply: Reply, schemas: dict[int, Schema]) -> Schema:
    answer: Schema = {"description": reply.description}
    if reply.headers:
        answer["headers"] = dict(reply.headers)
    if reply.links:
        answer["links"] = dict(reply.links)
    if reply.body is None:
        answer["content"] = {reply.content_type: {}}
    else:
        schema = reply.body if isinstance(reply.body, dict) else schemas[id(reply.body)]
        answer["content"] = {reply.content_type: {"schema": schema}}
    return answer


def _path_item(operation: Operation, schemas: dict[int, Schema]) -> Schema:
    item: Schema = {"operationId": operation.operation_id, "summary": operation.summary}
    role = operation.required_role
    described = [operation.description] if operation.description else []
    if role is None:
        item["security"] = []
        described.append("Public: no token needed.")
    else:
        # OpenAPI 3.1: a scheme other than OAuth's lists the role names it needs.
        item["security"] = [{"bearer": [role.value]}]
        item["x-required-role"] = role.value
        described.append(f"Needs a bearer token of the role {role.or_above}.")
    item["description"] = " ".join(described)
    parameters = [
        *_parameters(operation.path_parameters, "path"),
        *_parameters(operation.query, "query"),
        *_parameters(operation.headers, "header"),
    ]
    if parameters:
        item["parameters"] = parameters
    if operation.body is not None:
        content: Schema = {"schema": schemas[id(operation.body.shape)]}
        item["requestBody"] = {"required": True, "content": {"application/json": content}}
    item["responses"] = {
        str(status): _content(reply, schemas) for status, reply in _replies(operation).items()
    }
    return item


def document(api: Api) -> Schema:
    """The OpenAPI document of ``api``: its operations, their types' schemas in components."""
    typed = {id(shape): (shape, mode) for op in api.operations for shape, mode in _typed(op)}
    inputs: Sequence[tuple[int, JsonSchemaMode, TypeAdapter[Any]]] = [
        (key, mode, TypeAdapter(shape)) for key, (shape, mode) in typed.items()
    ]
    by_input, definitions = TypeAdapter.json_schemas(
        inputs, ref_template=REF, schema_generator=_Schemas
    )
    schemas = {key: schema for (key, _), schema in by_input.items()}
    paths: Schema = {}
    for operation in api.operations:
        method = operation.method.lower()
        paths.setdefault(operation.path, {})[method] = _path_item(operation, schemas)
    components = {name: _untitled(schema) for name, schema in definitions.get("$defs", {}).items()}
    problem = TypeAdapter(Problem).json_schema(schema_generator=_Schemas, ref_template=REF)
    components.setdefault("Problem", _untitled(problem))
    return {
        "openapi": "3.1.0",
        "info": {"title": api.title, "version": "1", "description": api.summary},
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "a named token (`billing tokens add NAME --role ROLE`) or"
                    " the BILLING_TOKEN the function runs with (an admin's). The roles go up:"
                    f" {' < '.join(role.value for role in Role)}; each operation names the"
                    " least it needs (`x-required-role`)",
                }
            },
            "schemas": dict(sorted(components.items())),
        },
    }
