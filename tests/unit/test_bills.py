from __future__ import annotations

from pathlib import Path

from functions.storage.keys import bill_name
from functions.triggered.bills import render_bill
from functions.wire.identifiers import WorkflowId
from functions.wire.messages import Customer
from tests.unit.harness import NOW

# A copy of a bill the lab's own engine wrote.
LAB_BILL = (Path(__file__).resolve().parents[1] / "data" / "customer-bill-1.txt").read_text()
JOHN = Customer("1", "John", "Doe", "Eindhoven", "8179", "2")


def test_bill_text_is_the_labs() -> None:
    assert render_bill(JOHN, WorkflowId(1616523703935), NOW) == LAB_BILL


RUN = "run-20261128T001500-0a1b2c3d"


def test_a_runs_bills_lie_under_the_run_id_named_by_customer() -> None:
    assert bill_name("1", WorkflowId(f"{RUN}-1")) == f"{RUN}/customer-bill-1.txt"
    assert bill_name("7", WorkflowId(f"{RUN}-12")) == f"{RUN}/customer-bill-7.txt"
    assert WorkflowId(f"{RUN}-12").run_id == RUN


def test_a_workflow_of_no_run_gets_a_folder_of_its_own() -> None:
    # The lab's coordinator sends numbers; a hand-made workflow may be any text.
    lab = bill_name("1", WorkflowId(1616523703935.123))
    assert lab == "wf-1616523703935.123/customer-bill-1.txt"
    assert WorkflowId(1616523703935.123).run_id is None
    assert bill_name("1", WorkflowId("run-x-1")) == "wf-run-x-1/customer-bill-1.txt"
    assert bill_name("1", WorkflowId("a/../b")).startswith("wf-h")  # a digest, never a path
    assert bill_name("1", WorkflowId(f"{RUN}-0")) != f"{RUN}/customer-bill-1.txt"
