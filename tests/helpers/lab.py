"""The lab's messages as its services write them, and a new customer as its CRM takes one."""

from __future__ import annotations

LAB_WORKFLOW = {
    "workflow-type": "bill-generation",
    "workflow-id": 1616523703935.42,
    "create-time": "2021-03-23T18:21:43.935Z",
    "payload": {"customerIdentifier": "1"},
}


def workflow(workflow_id: str | float, customer: str = "1") -> dict[str, object]:
    """A bill-generation workflow's JSON as the lab's coordinator writes it."""
    return {**LAB_WORKFLOW, "workflow-id": workflow_id, "payload": {"customerIdentifier": customer}}


# A new customer's fields, as a client of the CRM sends them (POST /customers).
ADA = {
    "firstName": "Ada",
    "lastName": "Lovelace",
    "city": "Delft",
    "connectionId": "1",
    "connectionMandate": "0",
}
