from __future__ import annotations

from pathlib import Path

from functions.bills import bill_name, render_bill
from functions.messages import Customer, WorkflowId
from tests.unit.conftest import NOW

# A copy of the lab's own bill, ../shared/seed/customer-bill-1.txt.
LAB_BILL = (Path(__file__).resolve().parents[1] / "data" / "customer-bill-1.txt").read_text()
JOHN = Customer("1", "John", "Doe", "Eindhoven", "8179", "2")


def test_bill_text_is_the_labs() -> None:
    assert render_bill(JOHN, WorkflowId(1616523703935), NOW) == LAB_BILL


def test_bill_name_names_customer_and_workflow() -> None:
    name = bill_name("1", WorkflowId("run-x-1"))
    assert name.startswith("customer-bill-1")
    assert name.endswith(".txt")
    assert "run-x-1" in name
    assert bill_name("1", WorkflowId("run-x-2")) != name
