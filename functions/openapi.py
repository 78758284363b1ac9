"""The OpenAPI 3.1 descriptions of the HTTP functions, served at ``GET /openapi.json``.

Built from the same constants the functions validate with, so the description and
the checks cannot drift apart; ``tests/unit/test_openapi.py`` runs schemathesis
against both functions to hold the implementation to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from functions.coordinator import FIELD, MAX_CUSTOMERS_PER_RUN, MAX_IDEMPOTENCY_KEY
from functions.crm_api import (
    CUSTOMERS_PAGE,
    EDITABLE,
    IDS_PAGE,
    MAX_CUSTOMERS_PER_IMPORT,
    MAX_FIELD_LENGTH,
    MAX_NAME_SEARCH,
    MAX_SEARCH_CURSOR,
    SEARCH_CURSOR,
)
from functions.identifiers import CUSTOMER_ID, RUN_ID
from functions.messages import Customer
from functions.run_list import DEFAULT_PAGE, MOST_A_PAGE
from functions.runs import MAX_RUN_SIZE, RUN_STATES, STATES
from functions.web import Route

Schema = dict[str, Any]

CUSTOMER_ID_SCHEMA: Schema = {"type": "string", "pattern": f"^{CUSTOMER_ID.pattern}$"}
RUN_ID_SCHEMA: Schema = {"type": "string", "pattern": f"^{RUN_ID.pattern}$"}
# A customer's field: printable text (no control character, no lone surrogate) with some
# that is not white space; the lab sends every field as a string, but a finite number is
# taken too, and kept as its text.
_UNPRINTABLE = "\\x00-\\x1f\\x7f-\\x9f"  # lone surrogates too, which a pattern cannot say
FIELD_VALUE: Schema = {
    "oneOf": [
        {
            "type": "string",
            "maxLength": MAX_FIELD_LENGTH,
            "pattern": f"^[^{_UNPRINTABLE}]*[^\\s{_UNPRINTABLE}][^{_UNPRINTABLE}]*$",
        },
        {"type": "number"},  # finite: a JSON number Python reads as infinity is refused
    ]
}
WORKFLOW_ID: Schema = {"type": ["string", "number"]}
SCHEDULE_TICK: Schema = {
    "type": "string",
    "description": "the billing schedule's tick that started the run, as its zone's clock"
    " showed it: 2026-12-01T06:00 Europe/Amsterdam",
}


# A date, or a date and time, as run filters take them: every day a calendar has (29 February
# aside), a time with or without seconds, and a zone or none.
_DAY = (
    r"((0[13578]|1[02])-(0[1-9]|[12]\d|3[01])|(0[469]|11)-(0[1-9]|[12]\d|30)"
    r"|02-(0[1-9]|1\d|2[0-8]))"
)
_ZONE = r"(Z|[+-]([01]\d|2[0-3]):[0-5]\d)"
MOMENT_PATTERN = rf"^20\d\d-{_DAY}(T([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?{_ZONE}?)?$"
# A retry's: the run its lineage began with, under whose folder its bills are named.
LINEAGE_SCHEMA: Schema = {
    **RUN_ID_SCHEMA,
    "description": "a retry's: the run its lineage began with, whose folder holds its bills",
}


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: Schema, description: str) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> Schema:
    return _json(_ref("Error"), description)


def _json_body(schema: str) -> Schema:
    return {"required": True, "content": {"application/json": {"schema": _ref(schema)}}}


COMMON_SCHEMAS: dict[str, Schema] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "string", "description": "what was wrong, what to do"}},
    },
}
UNAUTHORIZED = {
    "description": "no valid bearer token (only when the function runs with BILLING_TOKEN)",
    "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
    "content": {"application/json": {"schema": _ref("Error")}},
}
BODY_REFUSALS = {
    "401": UNAUTHORIZED,
    "413": _error("the body is over 1 MiB"),
    "415": _error("the body is not JSON"),
}
# The operations every HTTP function offers besides its own (runtime/http.py).
SELF_OPERATIONS: dict[str, Schema] = {
    "getOpenApi": {
        "summary": "This description",
        "security": [],
        "responses": {"200": _json({"type": "object"}, "the OpenAPI document")},
    },
    "getConsole": {
        "summary": "The web console's page (the coordinator's); its data comes from the API",
        "security": [],
        "responses": {"200": {"description": "HTML", "content": {"text/html": {}}}},
    },
    "getConsoleAsset": {
        "summary": "A script or style sheet of the web console",
        "security": [],
        "parameters": [
            {"name": "asset", "in": "path", "required": True, "schema": {"type": "string"}}
        ],
        "responses": {
            "200": {"description": "the file", "content": {"text/javascript": {}}},
            "404": _error("the console has no such file"),
        },
    },
    "getMetrics": {
        "summary": "Prometheus metrics",
        "security": [],
        "responses": {
            "200": {
                "description": "the text exposition format",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            }
        },
    },
}


@dataclass(frozen=True)
class Description:
    title: str
    summary: str
    operations: dict[str, Schema]  # by operation id
    schemas: dict[str, Schema]


def coordinator() -> Description:
    run_request = {
        "type": "object",
        "required": [FIELD],
        "properties": {
            FIELD: {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_CUSTOMERS_PER_RUN,
                "uniqueItems": True,
                "items": CUSTOMER_ID_SCHEMA,
            }
        },
    }
    accepted: Schema = {
        "type": "object",
        "required": ["runId", "workflows"],
        "properties": {
            "runId": RUN_ID_SCHEMA,
            "workflows": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["customerIdentifier", "workflowId"],
                    "properties": {
                        "customerIdentifier": CUSTOMER_ID_SCHEMA,
                        "workflowId": {"type": "string"},
                    },
                },
            },
        },
    }
    status: Schema = {
        "type": "object",
        "required": ["runId", "createTime", "published", "total", "counts", "done", "state"],
        "properties": {
            "runId": RUN_ID_SCHEMA,
            "createTime": {"type": "string"},
            "published": {"type": "boolean"},
            "state": {"enum": list(RUN_STATES)},
            "retryOf": RUN_ID_SCHEMA,
            "lineage": LINEAGE_SCHEMA,
            "scheduledFor": SCHEDULE_TICK,
            "retries": {"type": "array", "items": RUN_ID_SCHEMA},
            "cancelledAt": {"type": "string"},
            "next": {
                "type": ["integer", "null"],
                "description": "with a limit: the `after` of the next page of customers",
            },
            "total": {"type": "integer"},
            "counts": {
                "type": "object",
                "required": list(STATES),
                "properties": {state: {"type": "integer"} for state in STATES},
            },
            "done": {"type": "boolean", "description": "nothing pending any more"},
            "customers": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["customerIdentifier", "workflowId", "state"],
                    "properties": {
                        "customerIdentifier": CUSTOMER_ID_SCHEMA,
                        "workflowId": WORKFLOW_ID,
                        "state": {"enum": list(STATES)},
                        "bill": {"type": "string", "description": "the bill's S3 key"},
                        "reason": {"type": "string", "description": "why it failed"},
                        "asked": {"type": "boolean", "description": "the CRM was asked"},
                    },
                },
            },
        },
    }
    operations: dict[str, Schema] = {
        "startRun": {
            "summary": "Start a billing run: one bill-generation workflow per customer",
            "parameters": [
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "description": "a repeated request with the key returns the first run",
                    "schema": {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": MAX_IDEMPOTENCY_KEY,
                        "pattern": "^[\\x20-\\x7e]+$",
                    },
                }
            ],
            "requestBody": _json_body("RunRequest"),
            "responses": {
                "202": {
                    **_json(_ref("RunAccepted"), "every workflow is on workflow-queue"),
                    "headers": {"Idempotent-Replayed": {"schema": {"enum": ["true"]}}},
                },
                "400": _error("the body is not a run request"),
                "401": UNAUTHORIZED,
                "413": _error("the body is over 1 MiB or names too many customers"),
                "415": _error("the body is not JSON"),
                "422": _error("the Idempotency-Key started a run for other customers"),
                "503": _error("Kafka or S3 is unavailable; nothing was published"),
            },
        },
        "getBill": {
            "summary": "The text of a run's bill for a customer, as the bill object holds it",
            "parameters": [
                {"name": "runId", "in": "path", "required": True, "schema": RUN_ID_SCHEMA},
                {
                    "name": "customerId",
                    "in": "path",
                    "required": True,
                    "schema": CUSTOMER_ID_SCHEMA,
                },
            ],
            "responses": {
                "200": {
                    "description": "the bill",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                },
                "400": _error("not a run id, or not a customer id"),
                "401": UNAUTHORIZED,
                "404": _error("the run has no bill for the customer"),
                "503": _error("S3 is unavailable"),
            },
        },
        "getRun": {
            "summary": "How far a run is: counts, and each customer's bill or failure",
            "parameters": [
                {"name": "runId", "in": "path", "required": True, "schema": RUN_ID_SCHEMA},
                {
                    "name": "state",
                    "in": "query",
                    "required": False,
                    "description": "list only the customers in this state",
                    "schema": {"enum": list(STATES)},
                },
                {
                    "name": "customers",
                    "in": "query",
                    "required": False,
                    "description": "false: the counts only, without a read per failure",
                    "schema": {"enum": ["true", "false"]},
                },
                {
                    "name": "after",
                    "in": "query",
                    "required": False,
                    "description": "the customers after the run's n-th (the `next` of the page"
                    " before)",
                    "schema": {"type": "integer", "minimum": 0, "maximum": MAX_RUN_SIZE},
                },
                {
                    "name": "limit",
                    "in": "query",
                    "required": False,
                    "description": "customers a page; `next` is then the cursor of the next"
                    " page, null on the last (every customer unless given)",
                    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_RUN_SIZE},
                },
            ],
            "responses": {
                "200": _json(_ref("RunStatus"), "the run's progress"),
                "400": _error("not a run id, or an unknown state"),
                "401": UNAUTHORIZED,
                "404": _error("there is no such run"),
                "503": _error("S3 is unavailable"),
            },
        },
    }
    run_path_id = {"name": "runId", "in": "path", "required": True, "schema": RUN_ID_SCHEMA}
    moment = {
        "type": "string",
        "description": "ISO 8601: 2026-12-01 or 2026-12-01T08:00:00Z (UTC unless it says);"
        " the server takes the years 2000 to 9998",
        "pattern": MOMENT_PATTERN,
    }
    operations["listRuns"] = {
        "summary": "The runs, newest first, a page at a time",
        "parameters": [
            {
                "name": "limit",
                "in": "query",
                "required": False,
                "schema": {"type": "integer", "minimum": 1, "maximum": MOST_A_PAGE},
                "description": f"runs a page, {DEFAULT_PAGE} unless given",
            },
            {
                "name": "after",
                "in": "query",
                "required": False,
                "schema": RUN_ID_SCHEMA,
                "description": "the cursor: the last run of the page before (`next`)",
            },
            {
                "name": "state",
                "in": "query",
                "required": False,
                "schema": {"enum": list(RUN_STATES)},
            },
            {"name": "since", "in": "query", "required": False, "schema": moment},
            {"name": "until", "in": "query", "required": False, "schema": moment},
        ],
        "responses": {
            "200": {
                **_json(_ref("RunList"), "a page of runs; `next` is the cursor of the next"),
                "headers": {"Link": {"schema": {"type": "string"}}},
            },
            "400": _error("a bad limit, cursor, state or time"),
            "401": UNAUTHORIZED,
            "503": _error("S3 is unavailable"),
        },
    }
    operations["retryRun"] = {
        "summary": "Start a run of the run's failed customers (the same run if asked again)",
        "parameters": [run_path_id],
        "responses": {
            "202": {
                **_json(_ref("RunAccepted"), "the retry, whose `retryOf` is the run"),
                "headers": {"Idempotent-Replayed": {"schema": {"enum": ["true"]}}},
            },
            "400": _error("not a run id"),
            "401": UNAUTHORIZED,
            "404": _error("there is no such run"),
            "409": _error("the run has no failed customer"),
            "503": _error("Kafka or S3 is unavailable; nothing was published"),
        },
    }
    operations["cancelRun"] = {
        "summary": "Cancel a run: its bills stay, its pending customers fail as cancelled",
        "parameters": [run_path_id],
        "responses": {
            "202": _json(_ref("RunStatus"), "the run, cancelled, with its counts"),
            "400": _error("not a run id"),
            "401": UNAUTHORIZED,
            "404": _error("there is no such run"),
            "409": _error("the run is done; nothing to cancel"),
            "503": _error("S3 is unavailable"),
        },
    }
    listed_run = {
        "type": "object",
        "required": ["runId", "createTime", "total", "counts", "state"],
        "properties": {
            "runId": RUN_ID_SCHEMA,
            "createTime": {"type": "string"},
            "total": {"type": "integer"},
            "counts": status["properties"]["counts"],
            "state": {"enum": list(RUN_STATES)},
            "retryOf": RUN_ID_SCHEMA,
            "lineage": LINEAGE_SCHEMA,
            "scheduledFor": SCHEDULE_TICK,
        },
    }
    schemas: dict[str, Schema] = {
        "RunRequest": run_request,
        "RunAccepted": {
            **accepted,
            "properties": {
                **accepted["properties"],
                "retryOf": RUN_ID_SCHEMA,
                "lineage": LINEAGE_SCHEMA,
            },
        },
        "RunStatus": status,
        "RunList": {
            "type": "object",
            "required": ["runs", "next"],
            "properties": {
                "runs": {"type": "array", "items": listed_run},
                "next": {"oneOf": [RUN_ID_SCHEMA, {"type": "null"}]},
            },
        },
    }
    return Description(
        "Billing run coordinator",
        "Starts billing runs on Kafka and follows them in S3.",
        operations,
        schemas,
    )


def crm() -> Description:
    customer = {
        "type": "object",
        "required": list(Customer.WIRE_FIELDS),
        "properties": {name: {"type": "string"} for name in Customer.WIRE_FIELDS},
    }
    fields: Schema = {name: FIELD_VALUE for name in EDITABLE}
    changes = {
        "type": "object",
        "additionalProperties": False,
        "properties": {"customerId": {}, **fields},
    }
    new_customer = {**changes, "required": list(EDITABLE)}
    imported_customer = {
        **new_customer,
        "properties": {
            **fields,
            "customerId": CUSTOMER_ID_SCHEMA,
        },
    }
    customer_path_id = {
        "name": "customerId",
        "in": "path",
        "required": True,
        "schema": CUSTOMER_ID_SCHEMA,
    }

    def paging(sizes: tuple[int, int], what: str) -> list[Schema]:
        default, most = sizes
        return [
            {
                "name": "after",
                "in": "query",
                "required": False,
                "description": f"the cursor: the last id of the page before; {what} after it",
                "schema": CUSTOMER_ID_SCHEMA,
            },
            {
                "name": "limit",
                "in": "query",
                "required": False,
                "description": f"the page's size (default {default})",
                "schema": {"type": "integer", "minimum": 1, "maximum": most},
            },
        ]

    next_page = {
        "Link": {
            "description": 'the next page, `<...?after=<id>&limit=N>; rel="next"`; absent on'
            " the last",
            "schema": {"type": "string"},
        }
    }
    operations: dict[str, Schema] = {
        "getCustomers": {
            "summary": "One customer (with customerId; after and limit are then not used),"
            " or a page of customers in id order",
            "parameters": [
                {
                    "name": "customerId",
                    "in": "query",
                    "required": False,
                    "schema": CUSTOMER_ID_SCHEMA,
                },
                *paging(CUSTOMERS_PAGE, "the customers"),
            ],
            "responses": {
                "200": {
                    **_json(
                        {"oneOf": [_ref("Customer"), {"type": "array", "items": _ref("Customer")}]},
                        "the customer, or a page of customers",
                    ),
                    "headers": next_page,
                },
                "400": _error("not a customer id, or a limit out of range"),
                "401": UNAUTHORIZED,
                "404": _error("there is no such customer"),
                "503": _error("S3 is unavailable"),
            },
        },
        "getCustomerIds": {
            "summary": "A page of customer ids in id order, one S3 request per 1,000",
            "parameters": paging(IDS_PAGE, "the ids"),
            "responses": {
                "200": {
                    **_json({"type": "array", "items": CUSTOMER_ID_SCHEMA}, "a page of ids"),
                    "headers": next_page,
                },
                "400": _error("not a customer id, or a limit out of range"),
                "401": UNAUTHORIZED,
                "503": _error("S3 is unavailable"),
            },
        },
        "searchCustomers": {
            "summary": "Customers a word of whose first or last name starts with `name`,"
            " any case, in the words' order: one listing and a read per customer shown",
            "parameters": [
                {
                    "name": "name",
                    "in": "query",
                    "required": True,
                    "schema": {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": MAX_NAME_SEARCH,
                        "pattern": r"\S",
                    },
                },
                {
                    "name": "after",
                    "in": "query",
                    "required": False,
                    "description": "the cursor the `Link` of the page before gave",
                    "schema": {
                        "type": "string",
                        "maxLength": MAX_SEARCH_CURSOR,
                        "pattern": f"^{SEARCH_CURSOR.pattern}$",
                    },
                },
                paging(CUSTOMERS_PAGE, "the customers")[1],
            ],
            "responses": {
                "200": {
                    **_json({"type": "array", "items": _ref("Customer")}, "a page of customers"),
                    "headers": next_page,
                },
                "400": _error("no name, or a limit out of range"),
                "401": UNAUTHORIZED,
                "503": _error("S3 is unavailable"),
            },
        },
        "createCustomer": {
            "summary": "Create a customer under a new id; or import a list of customers",
            "description": "A list is imported whole or not at all: an item with a customerId"
            " is stored under it (replacing the customer there), the others get new ids."
            f" At most {MAX_CUSTOMERS_PER_IMPORT} customers a request.",
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "oneOf": [
                                _ref("NewCustomer"),
                                {
                                    "type": "array",
                                    "minItems": 1,
                                    "maxItems": MAX_CUSTOMERS_PER_IMPORT,
                                    "items": _ref("ImportedCustomer"),
                                },
                            ]
                        }
                    }
                },
            },
            "responses": {
                "201": _json(
                    {"oneOf": [_ref("Customer"), {"type": "array", "items": _ref("Customer")}]},
                    "the customer created, or the customers imported, in order",
                ),
                "400": _error("a field is missing or not a non-empty string (nothing imported)"),
                "422": _error("a list names a customerId twice (nothing imported)"),
                **BODY_REFUSALS,
                "413": _error(
                    f"the body is over 1 MiB, or lists over {MAX_CUSTOMERS_PER_IMPORT} customers"
                ),
                "503": _error("S3 is unavailable"),
            },
        },
        "updateCustomer": {
            "summary": "Change the given fields of a customer",
            "parameters": [customer_path_id],
            "requestBody": _json_body("CustomerChanges"),
            "responses": {
                "200": _json(_ref("Customer"), "the customer as changed"),
                "400": _error("not a customer id, or a field that cannot be set"),
                "404": _error("there is no such customer"),
                **BODY_REFUSALS,
                "503": _error("S3 is unavailable"),
            },
        },
    }
    schemas: dict[str, Schema] = {
        "Customer": customer,
        "NewCustomer": new_customer,
        "ImportedCustomer": imported_customer,
        "CustomerChanges": changes,
    }
    return Description(
        "CRM", "The CRM's customers, as the lab's CRM offers them.", operations, schemas
    )


DESCRIPTIONS = {"coordinator": coordinator(), "crm": crm()}


def document(function: str, routes: Sequence[Route]) -> Schema:
    """The OpenAPI document of ``function``: its paths are its routes, each with the
    operation described here under the route's operation id."""
    described = DESCRIPTIONS[function]
    paths: Schema = {}
    for route in routes:
        operation = (
            described.operations.get(route.operation_id) or SELF_OPERATIONS[route.operation_id]
        )
        paths.setdefault(route.path, {})[route.method.lower()] = {
            "operationId": route.operation_id,
            **operation,
        }
    return {
        "openapi": "3.1.0",
        "info": {"title": described.title, "version": "1", "description": described.summary},
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {**COMMON_SCHEMAS, **described.schemas},
        },
    }


def query_parameters(function: str, operation_id: str) -> tuple[str, ...]:
    """The query parameters an operation takes; any other is refused."""
    operation = DESCRIPTIONS[function].operations.get(operation_id) or SELF_OPERATIONS[operation_id]
    return tuple(p["name"] for p in operation.get("parameters", ()) if p["in"] == "query")
