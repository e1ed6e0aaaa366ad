"""QuickBooks webhooks from the sandbox: batched, signed, in both body formats, retried, duplicated on request."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from sandbox.quickbooks.webhooks import Change, legacy, signature
from sandbox.web import SandboxServer
from tests.sandbox.qbo_fixtures import QBO, admin, payment, running_qbo
from tests.sandbox.receiver import Receiver, receiver

VERIFIER = "00faeec4-08d0-4996-bb37-698ae19f0149"


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    with running_qbo() as running:
        yield running


@pytest.fixture
def qbo(server: SandboxServer) -> Iterator[QBO]:
    client = QBO(server)
    yield client
    client.close()


@pytest.fixture
def hook(server: SandboxServer) -> Iterator[Receiver]:
    with receiver() as got:
        admin(
            server,
            "webhooks",
            {"url": f"{got.url}/qbo/webhooks", "verifier": VERIFIER, "delay_seconds": 0.2, "retry_seconds": [0.1, 0.2]},
        )
        yield got


def test_the_signature_matches_intuits_published_vector() -> None:
    body = (
        b'{"eventNotifications":[{"realmId":"1269959970","dataChangeEvent":{"entities":[{"name":"Vendor","id":"40",'
        b'"operation":"Update","lastUpdated":"2016-10-05T03:09:04.000Z"},{"name":"Customer","id":"43",'
        b'"operation":"Create","lastUpdated":"2016-10-05T03:07:04.000Z"}]}}]}'
    )
    assert signature(body, VERIFIER) == "6q+xGyMirJupwKTh2/WBl2NcdxzxqdIbk3sneKTxLWM="
    vendor = Change("1269959970", "Vendor", "40", "Update", "2016-10-05T03:09:04.000Z")
    customer = Change("1269959970", "Customer", "43", "Create", "2016-10-05T03:07:04.000Z")
    assert legacy([vendor, customer]) == body


def test_changes_made_together_arrive_as_one_signed_legacy_notification(qbo: QBO, hook: Receiver) -> None:
    customer = qbo.customer("Webhook Birds")
    invoice = qbo.invoice(customer, "120")
    qbo.create("Payment", payment(customer, "120", ("Invoice", invoice["Id"], "120")))
    (got,) = hook.wait(1)
    time.sleep(0.4)
    assert len(hook.received) == 1  # one batch for the three changes
    assert got.path == "/qbo/webhooks"
    assert got.headers["intuit-signature"] == signature(got.body, VERIFIER)
    (notification,) = json.loads(got.body)["eventNotifications"]
    assert notification["realmId"] == qbo.realm
    entities = notification["dataChangeEvent"]["entities"]
    assert [(e["name"], e["operation"]) for e in entities] == [
        ("Customer", "Create"),
        ("Invoice", "Create"),
        ("Payment", "Create"),
    ]
    assert entities[1]["id"] == invoice["Id"]
    assert entities[1]["lastUpdated"] == invoice["MetaData"]["LastUpdatedTime"]


def test_voids_and_deletes_are_sent_and_cloudevents_on_request(server: SandboxServer, qbo: QBO, hook: Receiver) -> None:
    admin(server, "webhooks", {"format": "cloudevents"})
    customer = qbo.customer("Void Birds")
    invoice = qbo.invoice(customer, "40")
    hook.wait(1)
    qbo.ok(qbo.post("/invoice", {"Id": invoice["Id"], "SyncToken": invoice["SyncToken"]}, operation="void"))
    received = hook.wait(2)
    events = json.loads(received[1].body)
    assert [e["type"] for e in events] == ["qbo.invoice.voided.v1"]
    assert events[0]["intuitentityid"] == invoice["Id"]
    assert events[0]["intuitaccountid"] == qbo.realm
    assert events[0]["specversion"] == "1.0"
    assert received[1].headers["intuit-signature"] == signature(received[1].body, VERIFIER)


def test_a_refused_notification_is_retried_until_answered_200(server: SandboxServer, qbo: QBO, hook: Receiver) -> None:
    hook.statuses = [500, 503]
    qbo.customer("Retry Birds")
    received = hook.wait(3)
    assert received[0].body == received[1].body == received[2].body
    (delivery,) = admin(server, "webhooks")["deliveries"]
    assert delivery["statuses"] == [500, 503, 200]
    assert delivery["delivered"] is True


def test_duplicates_and_out_of_order_on_request(server: SandboxServer, qbo: QBO, hook: Receiver) -> None:
    admin(server, "webhooks", {"duplicate": True, "out_of_order": True})
    first = qbo.customer("First Birds")
    time.sleep(0.5)
    second = qbo.customer("Second Birds")
    received = hook.wait(2)
    ids = [json.loads(r.body)["eventNotifications"][0]["dataChangeEvent"]["entities"][0]["id"] for r in received]
    assert ids[:2] == [first, first]  # the first batch is held until the second is due, then sent twice
    time.sleep(0.6)
    assert second not in ids  # still held: the next batch would release it
