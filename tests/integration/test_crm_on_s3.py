"""The CRM on the real S3 server, where moto cannot judge: one import sent by clients of
four CRM processes at once stores each customer once, and a name whose key is made of dots
is stored and found."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

from functions.http.web import HttpRequest
from runtime.config import StackSettings
from runtime.services import Services
from tests.helpers.in_process import function_settings, post, serving
from tests.helpers.lab import ADA


def test_one_import_sent_by_eight_clients_at_once_stores_each_customer_once(
    settings: StackSettings,
) -> None:
    """HELD: four CRM processes, eight clients sending the same list at once."""
    crms = [serving("crm", Services(function_settings(settings))) for _ in range(4)]
    items = [ADA | {"city": f"city-{n}"} for n in range(20)]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda n: post(crms[n % 4], "/customers", items), range(8)))
    assert {a.status for a in answers} == {201}, [a.body for a in answers]
    assert len({json.dumps(a.body) for a in answers}) == 1, "every client told the same ids"
    listed = crms[0](HttpRequest("GET", "/", {"limit": "500"}), lambda: b"").body
    cities = [c["city"] for c in listed if c["lastName"] == "Lovelace"]
    assert sorted(cities) == sorted(i["city"] for i in items), "each new customer once"


def test_a_name_of_dots_is_stored_and_found_on_the_s3_server(settings: StackSettings) -> None:
    """HELD: keys.name_prefix leaves "." alone (quote(safe="")), so a first name ".."
    makes the key ``names/../<id>``; S3Proxy's file store keeps and lists it as it is."""
    crm = serving("crm", Services(function_settings(settings)))
    created = post(crm, "/customers", ADA | {"firstName": ".."})
    assert created.status == 201, created.body
    found = crm(HttpRequest("GET", "/customer-search", {"name": ".."}), lambda: b"")
    assert found.status == 200, found.body
    assert [c["customerId"] for c in found.body] == [created.body["customerId"]]
