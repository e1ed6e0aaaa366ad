"""Real time over loopback: the sandboxes push, ``tally web`` listens, and the alert reaches Slack with no scheduled
check running (no ``tally clock`` at all).

- a payment made through the QuickBooks sandbox's API → its webhook → one incremental check → the alert, with the
  Approve button, in the sandbox Slack;
- a credit memo applied through the ConnectWise sandbox's API → its callback → the alert;
- a forged QuickBooks webhook (bad signature) and a replayed one (good signature, news already had) start nothing.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlmodel import col

from bot.slack.app import web_client
from bot.slack.jobs import check_and_announce
from sync.clients.errors import ValidationError
from sync.cw_callbacks import ensure_callback, remove_callbacks
from sync.db import session_scope
from sync.models import FindingRecord
from sync.notifications import sources
from sync.settings import Settings
from sync.wiring import clients
from tests.e2e.test_scheduled import Deployment, deployment, free_port, signed, stop, wait_for
from tests.sandbox.qbo_fixtures import QBO, payment
from tests.sandboxes import cw_client

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


def open_qbo_invoices(qbo: QBO, skip: set[str] = frozenset()) -> list[dict[str, Any]]:  # type: ignore[assignment]
    """Open QuickBooks invoices no finding in ``skip`` names."""
    invoices = qbo.query("select * from Invoice maxresults 1000")["Invoice"]
    return [
        inv
        for inv in invoices
        if Decimal(str(inv["Balance"])) > 0
        and inv.get("DocNumber")
        and not any(str(inv["DocNumber"]) in key for key in skip)
    ]


def baseline(deployment: Deployment) -> set[str]:
    """Run one check in the test (as a first sweep would) so later alerts are news; return the open finding keys."""
    settings = Settings(**deployment.env)  # type: ignore[arg-type]
    factory = functools.partial(clients, settings, deployment.engine)
    result = check_and_announce(settings, deployment.engine, factory, web_client(settings), actor="baseline")
    return {finding.key for finding in result.findings}


def apply_a_credit_memo(deployment: Deployment, skip: set[str]) -> str:
    """Apply an open ConnectWise credit memo to an open invoice of the same company; return the invoice number."""
    with cw_client(deployment.running) as cw:
        invoices = list(cw.iter_invoices())
        memos = [inv for inv in invoices if inv.is_credit_memo and inv.balance > 0]
        for memo in memos:
            targets = [
                inv
                for inv in invoices
                if not inv.is_credit_memo
                and inv.company_id == memo.company_id
                and inv.balance >= memo.balance
                and not any(inv.number in key for key in skip)
            ]
            for target in targets:
                try:
                    cw.create_payment(target.id, memo.balance, datetime.now(UTC).date(), credit_memo_id=memo.id)
                except ValidationError:
                    continue
                return target.number
    raise AssertionError("no credit memo to apply in these books")


def check_count(deployment: Deployment) -> int:
    return len(deployment.checks("check.completed"))


@pytest.mark.slow
def test_a_quickbooks_payment_reaches_slack_with_its_approve_button(live: Deployment) -> None:
    known = baseline(live)
    qbo = QBO(live.running.qbo, realm=live.running.app.realm_id)
    try:
        invoice = open_qbo_invoices(qbo, known)[0]
        balance = Decimal(str(invoice["Balance"]))
        started = time.monotonic()
        qbo.create("Payment", payment(invoice["CustomerRef"]["value"], balance, ("Invoice", invoice["Id"], balance)))
    finally:
        qbo.close()
    row = wait_for(lambda: finding_of(live, invoice["DocNumber"]), timeout=30, what="the payment's alert")
    assert APPROVE in buttons(message(live, row)), message(live, row)
    assert time.monotonic() - started < 15  # bench/realtime.py measures this over 20 payments
    wait_for(lambda: sources(live.engine)["qbo"].checks >= 1, what="the webhook's check to be counted")
    assert live.checks("check.completed")[-1].actor == "scheduler"  # the web process's check (no clock runs)


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


@pytest.mark.slow
def test_a_connectwise_credit_application_reaches_slack_through_its_callback(live: Deployment) -> None:
    with cw_client(live.running) as cw:
        entries = wait_for(cw.list_callbacks, what="tally web to register its callback")
    (entry,) = entries
    assert entry["url"] == f"{live.url}/cw/callbacks?recordId="
    assert (entry["type"], entry["level"]) == ("invoice", "owner")
    known = baseline(live)
    checks_before = check_count(live)
    number = apply_a_credit_memo(live, known)
    row = wait_for(lambda: finding_of(live, number), timeout=30, what="the credit application's alert")
    assert row.kind == "credit_not_applied_in_qbo"
    assert number in str(message(live, row)["text"])
    wait_for(lambda: check_count(live) > checks_before, what="the callback's check to be recorded")
    wait_for(lambda: sources(live.engine)["cw"].checks >= 1, what="the callback's check to be counted")


@pytest.mark.slow
def test_a_restarted_web_process_keeps_one_callback(live: Deployment) -> None:
    with cw_client(live.running) as cw:
        wait_for(cw.list_callbacks, what="the first registration")
        registration = ensure_callback(cw, live.url)  # what a second web process (or a restart) does
        assert registration.created is False
        assert len(cw.list_callbacks()) == 1
        assert remove_callbacks(cw, live.url) == [registration.entry["id"]]
        assert cw.list_callbacks() == []


@pytest.mark.slow
def test_forged_and_repeated_connectwise_callbacks_change_nothing(live: Deployment) -> None:
    baseline(live)
    checks_before, posted = check_count(live), len(live.posts())
    forged = {
        "MessageId": "forged-1",
        "Action": "updated",
        "Type": "invoice",
        "ID": 1,
        "Entity": json.dumps({"id": 1, "balance": 0, "total": 999999}),
    }
    answer = httpx.post(f"{live.url}/cw/callbacks?recordId=1", json=forged)
    assert answer.status_code == 200
    wait_for(lambda: check_count(live) > checks_before, what="the check the callback asked for")
    time.sleep(1)
    assert len(live.posts()) == posted  # what the body claimed was not believed: the books did not change
    for _ in range(3):
        assert httpx.post(f"{live.url}/cw/callbacks?recordId=1", json=forged).status_code == 200
    source = sources(live.engine)["cw"]
    assert source.ignored >= 3  # the same MessageId again changes nothing
