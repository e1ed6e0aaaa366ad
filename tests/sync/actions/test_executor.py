"""Executing fixes against the sandboxes: the exact write, the re-check that stops stale fixes, refusals."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest
from sqlalchemy.engine import Engine

from sandbox.cli import RunningSandbox
from sync.actions import execute
from sync.clients.connectwise import ConnectWiseClient
from sync.clients.quickbooks import QuickBooksClient
from sync.models import LedgerEntry
from sync.reconcile import Finding
from sync.reconcile.text import money
from sync.records import DocumentLine, QBOCreditMemo, QBOInvoice
from sync.settings import FIX_KINDS
from tests.sandboxes import cw_client, qbo_client
from tests.sync.actions.helpers import (
    TOLERANCE,
    approved,
    count,
    cw_rows,
    events,
    findings_of,
    first,
    proposed,
    qbo_numbered,
    qbo_payments_linking,
    status_of,
    tiny_books,
    today,
)

Books = tuple[RunningSandbox, list[Finding], ConnectWiseClient, QuickBooksClient]


@pytest.fixture
def books(engine: Engine) -> Iterator[Books]:
    with tiny_books() as running, cw_client(running) as cw, qbo_client(running) as qbo:
        yield running, findings_of(engine, running), cw, qbo


def run(engine: Engine, action_id: int, books: Books) -> tuple[str, str]:
    _, _, cw, qbo = books
    action = execute(engine, action_id, cw=cw, qbo=qbo, actor="U1", tolerance=TOLERANCE)
    return action.status, action.result or ""


def test_each_fix_writes_exactly_what_it_describes_and_the_books_then_agree(engine: Engine, books: Books) -> None:
    running, findings, _, _ = books
    chosen = {kind: first(findings, kind) for kind in FIX_KINDS}
    before = {kind: _remote_state(running, finding) for kind, finding in chosen.items()}
    for kind, finding in chosen.items():
        action_id = approved(engine, finding)
        status, result = run(engine, action_id, books)
        assert status == "succeeded", result
        [event] = events(engine, action_id, "action.succeeded")
        assert event.detail == result
        assert "request_id" in (event.remote_ids or "")
        assert len(_remote_state(running, finding)) == len(before[kind]) + 1, kind
    backflow = chosen["backflow_payment"]
    assert backflow.fix is not None
    [row] = [r for r in cw_rows(running, backflow.fix.params["cw_invoice_id"]) if not r.get("credit")]
    assert row["amount"] == Decimal(backflow.fix.params["amount"])
    assert row["paymentDate"].startswith(backflow.fix.params["date"])
    [mirror] = qbo_numbered(running, "Invoice", "10300")
    assert (mirror["TotalAmt"], mirror["TxnDate"], mirror["CustomerRef"]["value"]) == (
        Decimal("1080.10"),
        "2026-11-02",
        "1",
    )
    [application] = qbo_payments_linking(running, chosen["apply_credit_memo"].qbo["id"])[-1:]
    assert application["TotalAmt"] == 0
    assert sorted(line["Amount"] for line in application["Line"]) == [Decimal("300.00")] * 2
    assert count(engine, LedgerEntry, status="done") == len(FIX_KINDS)
    keys = {finding.key for finding in findings_of(engine, running)}
    assert not keys & {finding.key for finding in chosen.values()}


def _remote_state(running: RunningSandbox, finding: Finding) -> list[object]:
    """The remote records a fix of ``finding`` adds to."""
    assert finding.fix is not None
    params = finding.fix.params
    if finding.fix.kind in ("backflow_payment", "apply_credit_in_cw"):
        return list(cw_rows(running, params["cw_invoice_id"]))
    if finding.fix.kind == "apply_credit_memo":
        return list(qbo_payments_linking(running, params["qbo_credit_memo_id"]))
    entity = "CreditMemo" if finding.fix.kind == "mirror_credit_memo" else "Invoice"
    return list(qbo_numbered(running, entity, params["number"]))


def test_a_success_reports_amounts_before_and_after(engine: Engine, books: Books) -> None:
    finding = first(books[1], "backflow_payment")
    assert finding.fix is not None
    date_, number = finding.fix.params["date"], finding.fix.params["number"]
    action_id = approved(engine, finding)
    run(engine, action_id, books)
    action = status_of(engine, action_id)
    assert (
        action.description == f"Record a {money(finding.amount)} payment dated {date_} on ConnectWise invoice {number}"
    )
    assert (action.result or "").startswith(
        f"Recorded{action.description[len('Record') :]} (payment id {action.remote_id}"
    )
    assert "carrying back QuickBooks payment" in (action.result or "")  # the QBO payment behind it (issue 9)
    assert action.executed_at is not None
    [event] = events(engine, action_id, "action.succeeded")
    assert event.amount_before == Decimal(finding.cw["balance"])
    assert event.amount_after == Decimal(finding.cw["balance"]) - finding.amount
    assert [e.verb for e in events(engine, action_id)][-2:] == ["action.executing", "action.succeeded"]


def test_a_payment_recorded_by_hand_meanwhile_supersedes_the_backflow(engine: Engine, books: Books) -> None:
    running, findings, cw, _ = books
    finding = first(findings, "backflow_payment")
    assert finding.fix is not None
    action_id = approved(engine, finding)
    invoice_id = int(finding.fix.params["cw_invoice_id"])
    cw.create_payment(invoice_id, finding.amount, today())  # someone clicks the button in CW after all
    status, result = run(engine, action_id, books)
    assert status == "superseded"
    assert "someone recorded the payment by hand, so Tally wrote nothing" in result
    assert len(cw_rows(running, invoice_id)) == 1
    assert [e.detail for e in events(engine, action_id, "action.superseded")] == [result]
    assert count(engine, LedgerEntry) == 0


def test_credit_applied_by_hand_in_quickbooks_supersedes_the_application(engine: Engine, books: Books) -> None:
    running, findings, _, qbo = books
    finding = first(findings, "apply_credit_memo")
    assert finding.fix is not None
    params = finding.fix.params
    action_id = approved(engine, finding)
    memo, invoice = qbo.get(QBOCreditMemo, params["qbo_credit_memo_id"]), qbo.get(QBOInvoice, params["qbo_invoice_id"])
    qbo.apply_credit_memo(memo, invoice, finding.amount)
    status, result = run(engine, action_id, books)
    assert status == "superseded"
    assert f"The balance of invoice {params['invoice']} in QuickBooks moved" in result
    assert len(qbo_payments_linking(running, params["qbo_credit_memo_id"])) == 1


def test_a_memo_whose_credit_was_used_elsewhere_supersedes_the_application(engine: Engine, books: Books) -> None:
    _, findings, _, qbo = books
    finding = first(findings, "apply_credit_memo")
    assert finding.fix is not None
    params = finding.fix.params
    action_id = approved(engine, finding)
    memo = qbo.get(QBOCreditMemo, params["qbo_credit_memo_id"])
    other = qbo.create_invoice("OTHER-1", memo.customer_id, today(), [DocumentLine(memo.remaining_credit)])
    qbo.apply_credit_memo(memo, other, memo.remaining_credit)
    status, result = run(engine, action_id, books)
    assert status == "superseded"
    assert f"Credit memo {params['credit_memo']} has only $0.00 of credit left in QuickBooks" in result


def test_a_mirror_created_meanwhile_supersedes_the_copy(engine: Engine, books: Books) -> None:
    running, findings, _, qbo = books
    finding = first(findings, "mirror_invoice")
    assert finding.fix is not None
    params = finding.fix.params
    action_id = approved(engine, finding)
    qbo.create_invoice(params["number"], params["qbo_customer_id"], today(), [DocumentLine(finding.amount)])
    status, result = run(engine, action_id, books)
    assert status == "superseded"
    assert f"QuickBooks now has invoice {params['number']}" in result
    assert len(qbo_numbered(running, "Invoice", params["number"])) == 1


def test_credit_applied_by_hand_in_connectwise_supersedes_the_application(engine: Engine, books: Books) -> None:
    running, findings, cw, _ = books
    finding = first(findings, "apply_credit_in_cw")
    assert finding.fix is not None
    params = finding.fix.params
    action_id = approved(engine, finding)
    invoice_id = int(params["cw_invoice_id"])
    before = len(cw_rows(running, invoice_id))
    cw.create_payment(invoice_id, finding.amount, today(), credit_memo_id=int(params["cw_credit_memo_id"]))
    status, result = run(engine, action_id, books)
    assert (status, "someone changed the credit by hand" in result) == ("superseded", True)
    assert len(cw_rows(running, invoice_id)) == before + 1


def test_a_refusal_fails_the_action_with_the_reason_and_writes_nothing(engine: Engine, books: Books) -> None:
    running, findings, _, _ = books
    finding = first(findings, "backflow_payment")
    assert finding.fix is not None
    action_id = approved(engine, finding)
    fault = {"fail_next": {"count": 1, "status": 400, "match": "^POST "}}
    httpx.post(f"{running.cw.url}/_sandbox/faults", json=fault).raise_for_status()
    status, result = run(engine, action_id, books)
    assert status == "failed"
    assert result.startswith("ConnectWise refused the payment on invoice id")
    assert result.endswith("Nothing was written.")
    assert cw_rows(running, finding.fix.params["cw_invoice_id"]) == []
    assert count(engine, LedgerEntry, status="refused") == 1  # turned down on its merits: held until the books change
    assert [e.detail for e in events(engine, action_id, "action.failed")] == [result]


def test_an_action_nobody_approved_is_not_executed(engine: Engine, books: Books) -> None:
    running, findings, _, _ = books
    finding = first(findings, "backflow_payment")
    assert finding.fix is not None
    action_id = proposed(engine, finding)
    assert run(engine, action_id, books)[0] == "proposed"
    assert cw_rows(running, finding.fix.params["cw_invoice_id"]) == []
    assert events(engine, action_id, "action.executing") == []


def test_executing_again_after_success_writes_nothing_more(engine: Engine, books: Books) -> None:
    running, findings, _, _ = books
    finding = first(findings, "mirror_credit_memo")
    assert finding.fix is not None
    action_id = approved(engine, finding)
    assert run(engine, action_id, books)[0] == "succeeded"
    assert run(engine, action_id, books)[0] == "succeeded"
    assert len(qbo_numbered(running, "CreditMemo", finding.fix.params["number"])) == 1
    assert len(events(engine, action_id, "action.succeeded")) == 1


def test_a_credit_removed_in_connectwise_meanwhile_is_not_copied_to_quickbooks(engine: Engine, books: Books) -> None:
    running, findings, cw, _ = books
    finding = first(findings, "apply_credit_memo")
    assert finding.fix is not None
    action_id = approved(engine, finding)
    invoice_id = int(finding.cw["id"])
    [row] = cw_rows(running, invoice_id)
    cw.delete_payment(invoice_id, row["id"])  # the credit was a mistake; someone took it off in ConnectWise
    status, result = run(engine, action_id, books)
    assert status == "superseded"
    assert result.startswith("ConnectWise now records $0.00 of credits on invoice 1037, not the $300.00 Tally saw")
    assert qbo_payments_linking(running, finding.fix.params["qbo_credit_memo_id"]) == []
