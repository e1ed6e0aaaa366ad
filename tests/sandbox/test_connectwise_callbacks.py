"""ConnectWise callbacks from the sandbox: ``/system/callbacks`` with its validation errors, and the POSTs an invoice
change, a payment and a credit application cause (record id appended to the URL, the documented body)."""

from __future__ import annotations

import json
import time
from typing import Any

from tests.sandbox.cw_fixtures import CW, cw, seed_company, seed_invoice
from tests.sandbox.receiver import receiver
from tests.sandbox.test_connectwise_payments import pay

__all__ = ["cw"]


def entry(url: str, **fields: Any) -> dict[str, Any]:
    return {"url": url, "objectId": 1, "type": "invoice", "level": "owner", "description": "Tally", **fields}


def test_entries_are_validated_listed_and_deleted(cw: CW) -> None:
    bad = cw.client.post("/system/callbacks", json=entry("not a url", level="board"))
    assert bad.status_code == 400
    assert bad.json()["code"] == "InvalidObject"
    assert [(e["code"], e["field"], e["message"]) for e in bad.json()["errors"]] == [
        ("InvalidField", "url", "Invalid URL"),
        (
            "InvalidObject",
            "level",
            "Unrecognized level for type, see documentation for supported levels for each type",
        ),
    ]
    missing = cw.client.post("/system/callbacks", json={"url": "https://x.example/cb?recordId="})
    assert {e["field"] for e in missing.json()["errors"]} == {"objectId", "type", "level"}
    created = cw.client.post("/system/callbacks", json=entry("https://x.example/cb?recordId="))
    assert created.status_code == 201
    body = created.json()
    assert (body["type"], body["level"], body["objectId"], body["inactiveFlag"]) == ("invoice", "owner", 1, False)
    again = cw.client.post("/system/callbacks", json=entry("https://x.example/cb?recordId=", type="Invoice"))
    assert again.status_code == 400
    assert again.json()["errors"][0]["code"] == "ObjectExists"
    assert [e["id"] for e in cw.client.get("/system/callbacks").json()] == [body["id"]]
    assert cw.client.delete(f"/system/callbacks/{body['id']}").status_code == 204
    gone = cw.client.delete(f"/system/callbacks/{body['id']}")
    assert gone.status_code == 404
    assert gone.json()["code"] == "NotFound"
    assert cw.client.get("/system/callbacks").json() == []


def test_a_credit_application_calls_back_for_the_invoice_and_the_memo(cw: CW) -> None:
    company = seed_company(cw.store)
    invoice = seed_invoice(cw.store, company, "5012", "1080.00")
    memo = seed_invoice(cw.store, company, "CM77", "100.00", "CreditMemo")
    with receiver() as got:
        created = cw.client.post("/system/callbacks", json=entry(f"{got.url}/cw/callbacks?recordId="))
        assert created.status_code == 201
        assert pay(cw, invoice, "100.00", credit=memo).status_code == 201
        received = got.wait(2)
    paths = sorted(r.path for r in received)
    assert paths == sorted([f"/cw/callbacks?recordId={invoice}", f"/cw/callbacks?recordId={memo}"])
    bodies = {json.loads(r.body)["ID"]: json.loads(r.body) for r in received}
    assert bodies[invoice]["Action"] == "updated"
    assert bodies[invoice]["Type"] == "invoice"
    assert bodies[invoice]["CallbackObjectRecId"] == created.json()["id"]
    assert json.loads(bodies[invoice]["Entity"])["credits"] == 100
    assert bodies[invoice]["MessageId"] != bodies[memo]["MessageId"]


def test_nothing_is_sent_without_an_entry(cw: CW) -> None:
    company = seed_company(cw.store)
    with receiver() as got:
        seed_invoice(cw.store, company, "5012", "10.00")
        pay(cw, seed_invoice(cw.store, company, "5013", "10.00"), "5.00")
        time.sleep(0.4)
        assert got.received == []
