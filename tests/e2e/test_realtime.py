"""Real time over loopback: the sandboxes push, ``tally web`` listens, and the alert reaches Slack with no scheduled
check running (no ``tally clock`` at all).

- a payment made through the QuickBooks sandbox's API → its webhook → one incremental check → the alert, with the
  Approve button, in the sandbox Slack;
- a credit memo applied through the ConnectWise sandbox's API → its callback → the alert;
- a forged QuickBooks webhook (bad signature) and a replayed one (good signature, news already had) start nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlmodel import col

from sync.db import session_scope
from sync.models import FindingRecord
from sync.notifications import sources
from tests.e2e.test_scheduled import Deployment, deployment, free_port, signed, stop, wait_for
from tests.sandbox.qbo_fixtures import QBO, payment

__all__ = ["deployment"]  # the fixture, imported for pytest
APPROVE = "tally_approve"


@pytest.fixture
def live(deployment: Deployment) -> Iterator[Deployment]:
    """``tally web`` with TALLY_PUBLIC_URL set and the QuickBooks sandbox sending it webhooks."""
    port = free_port()
    deployment.url = f"http://127.0.0.1:{port}"
    deployment.running.qbo_webhooks(url=f"{deployment.url}/qbo/webhooks", delay_seconds=0.5)
    process = deployment.start(
        "web", "web", "--host", "127.0.0.1", "--port", str(port), TALLY_PUBLIC_URL=deployment.url
    )

    def healthy() -> bool:
        assert process.poll() is None, deployment.log("web")
        try:
            return httpx.get(f"{deployment.url}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_for(healthy, what="tally web to answer /healthz")
        yield deployment
    finally:
        code = stop(process)
    assert code == 0, deployment.log("web")


def finding_of(deployment: Deployment, number: str) -> FindingRecord | None:
    """The open finding naming document ``number`` that has an alert."""
    with session_scope(deployment.engine) as session:
        rows = session.execute(select(FindingRecord).where(col(FindingRecord.status) == "open")).scalars().all()
        for row in rows:
            if number in json.loads(row.documents) and row.slack_ts and not row.slack_ts.startswith("posting"):
                return row
    return None


def message(deployment: Deployment, row: FindingRecord) -> dict[str, Any]:
    found = deployment.running.slack.service.store.message(str(row.slack_channel), str(row.slack_ts))  # type: ignore[attr-defined]
    assert found is not None
    return dict(found)


def buttons(found: dict[str, Any]) -> list[str]:
    ids = []
    for block in found.get("blocks") or []:
        for element in [*(block.get("elements") or []), block.get("accessory") or {}]:
            if isinstance(element, dict) and element.get("type") == "button":
                ids.append(str(element.get("action_id")))
    return ids


def open_qbo_invoice(qbo: QBO) -> dict[str, Any]:
    """An open QuickBooks invoice Tally has no finding about yet."""
    invoices = qbo.query("select * from Invoice maxresults 1000")["Invoice"]
    open_ones = [inv for inv in invoices if Decimal(str(inv["Balance"])) > 0 and inv.get("DocNumber")]
    return open_ones[len(open_ones) // 2]


def check_count(deployment: Deployment) -> int:
    return len(deployment.checks("check.completed"))


@pytest.mark.slow
def test_a_quickbooks_payment_reaches_slack_with_its_approve_button(live: Deployment) -> None:
    qbo = QBO(live.running.qbo, realm=live.running.app.realm_id)
    try:
        invoice = open_qbo_invoice(qbo)
        balance = Decimal(str(invoice["Balance"]))
        started = time.monotonic()
        qbo.create("Payment", payment(invoice["CustomerRef"]["value"], balance, ("Invoice", invoice["Id"], balance)))
    finally:
        qbo.close()
    row = wait_for(lambda: finding_of(live, invoice["DocNumber"]), timeout=30, what="the payment's alert")
    assert APPROVE in buttons(message(live, row)), message(live, row)
    assert time.monotonic() - started < 30  # a cold first check is a full sync; bench/realtime.py times warm ones
    qbo_source = sources(live.engine)["qbo"]
    assert qbo_source.received >= 1
    assert qbo_source.checks >= 1
    assert live.checks("check.completed")[0].actor == "scheduler"  # the web process's check, not a clock's


@pytest.mark.slow
def test_forged_and_replayed_webhooks_start_nothing(live: Deployment) -> None:
    realm = live.running.app.realm_id
    body = json.dumps(
        {
            "eventNotifications": [
                {
                    "realmId": realm,
                    "dataChangeEvent": {
                        "entities": [
                            {
                                "name": "Payment",
                                "id": "77",
                                "operation": "Create",
                                "lastUpdated": "2026-01-01T00:00:00Z",
                            }
                        ]
                    },
                }
            ]
        }
    ).encode()
    forged = httpx.post(f"{live.url}/qbo/webhooks", content=body, headers=signed(body, "a-guess"))
    assert forged.status_code == 401
    accepted = httpx.post(f"{live.url}/qbo/webhooks", content=body, headers=signed(body, live.running.webhook_verifier))
    assert accepted.status_code == 200
    wait_for(lambda: check_count(live) == 1, what="the first webhook's check")
    wait_for(lambda: sources(live.engine)["qbo"].checks == 1, what="the check to be counted")
    posted = len(live.posts())
    for _ in range(3):  # the same notification again: a replay, or Intuit's duplicate
        replay = httpx.post(
            f"{live.url}/qbo/webhooks", content=body, headers=signed(body, live.running.webhook_verifier)
        )
        assert replay.status_code == 200
    time.sleep(4)  # longer than TALLY_REALTIME_QUIET
    assert check_count(live) == 1
    assert len(live.posts()) == posted
    source = sources(live.engine)["qbo"]
    assert (source.received, source.ignored, source.checks) == (4, 3, 1)
