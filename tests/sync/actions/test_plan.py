"""Fixes planned for the books as a whole (issue 9, rules 1-5), executed against the loopback sandboxes.

Each test types one situation into both sandboxes, reconciles it, approves what Tally proposes, executes it, and
looks at what the sandboxes hold afterwards: nothing refused, both systems agreeing on the documents touched.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy.engine import Engine

from sync.actions import approve, execute, propose
from sync.actions.lifecycle import supersede, transition
from sync.db import session_scope
from sync.models import Action, FindingRecord
from sync.reconcile import Finding
from tests.sandboxes import cw_client, qbo_client
from tests.sync.actions.handmade import Hand, handmade
from tests.sync.actions.helpers import IS_APPROVER, TOLERANCE, count, findings_of, settings, store


def about(findings: list[Finding], number: str) -> list[Finding]:
    """The findings naming document ``number``."""
    return [finding for finding in findings if number in finding.documents]


def approve_and_run(engine: Engine, hand: Hand, finding: Finding) -> Action:
    """Store the finding, propose its fix, approve it and execute it; return the action as it ends."""
    store(engine, finding)
    with session_scope(engine, write_lock=True) as session:
        record = session.get(FindingRecord, finding.key)
        assert record is not None
        action = propose(session, record, settings=settings(), actor="scheduler")
        assert action is not None
        assert action.id is not None
        action_id = action.id
    assert approve(engine, action_id, approver="U1", is_approver=IS_APPROVER).ready
    with cw_client(hand.running) as cw, qbo_client(hand.running) as qbo:
        return execute(engine, action_id, cw=cw, qbo=qbo, actor="U1", tolerance=TOLERANCE)


def credit_and_payment(hand: Hand) -> int:
    """Invoice 2001 ($1,000): CW applied CM2002 ($200) but recorded no cash; QBO took $800 cash, no credit."""
    invoice, memo = hand.cw_doc("2001", "1000.00"), hand.cw_doc("CM2002", "200.00", "CreditMemo")
    hand.cw_pay(invoice, "200.00", memo=memo)
    q_invoice = hand.qbo_doc("Invoice", "2001", "1000.00")
    hand.qbo_doc("CreditMemo", "CM2002", "200.00")
    hand.qbo_pay("800.00", (q_invoice, "Invoice", "800.00"))
    return invoice


# -- rule 4: fixes compose ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("credit_first", [True, False])
def test_a_credit_and_the_remaining_payment_on_one_invoice_both_land_in_either_order(
    engine: Engine, credit_first: bool
) -> None:
    with handmade() as hand:
        invoice = credit_and_payment(hand)
        found = about(findings_of(engine, hand.running), "2001")
        kinds = {finding.fix.kind: finding for finding in found if finding.fix}
        assert set(kinds) == {"apply_credit_memo", "backflow_payment"}
        order = ["apply_credit_memo", "backflow_payment"]
        for kind in order if credit_first else reversed(order):
            action = approve_and_run(engine, hand, kinds[kind])
            assert action.status == "succeeded", action.result
        assert hand.cw_invoice(invoice)["balance"] == Decimal("0.00")
        assert about(findings_of(engine, hand.running), "2001") == []


# -- rules 2 and 3: caps and tolerance on writes -------------------------------------------------------------------
def test_a_payment_a_tax_penny_above_the_cw_balance_closes_the_invoice_and_is_not_refused(engine: Engine) -> None:
    with handmade() as hand:
        invoice = hand.cw_doc("3001", "100.00")
        q_invoice = hand.qbo_doc("Invoice", "3001", "100.03")  # the tax rounded the other way in QuickBooks
        hand.qbo_pay("100.03", (q_invoice, "Invoice", "100.03"))
        (finding,) = about(findings_of(engine, hand.running), "3001")
        assert finding.fix is not None
        assert finding.fix.params["amount"] == "100.00"
        assert "closes the ConnectWise invoice" in finding.explanation
        action = approve_and_run(engine, hand, finding)
        assert action.status == "succeeded", action.result
        assert hand.cw_invoice(invoice)["balance"] == Decimal("0.00")


def test_a_backflow_is_capped_at_what_an_invoice_edited_after_payment_can_take(engine: Engine) -> None:
    with handmade() as hand:
        invoice = hand.cw_doc("3101", "900.00")  # lowered in ConnectWise after QuickBooks was paid in full
        q_invoice = hand.qbo_doc("Invoice", "3101", "1000.00")
        hand.qbo_pay("1000.00", (q_invoice, "Invoice", "1000.00"))
        backflow = next(f for f in about(findings_of(engine, hand.running), "3101") if f.fix)
        assert backflow.fix is not None
        assert backflow.fix.params["amount"] == "900.00"
        assert "$1,000.00 more paid" in backflow.explanation
        assert "only $900.00 open" in backflow.explanation
        assert approve_and_run(engine, hand, backflow).status == "succeeded"
        assert hand.cw_invoice(invoice)["balance"] == Decimal("0.00")


def test_a_backflow_leaves_room_for_the_credit_tally_is_about_to_apply_in_cw(engine: Engine) -> None:
    with handmade() as hand:
        invoice, memo = hand.cw_doc("3201", "1000.00"), hand.cw_doc("CM3202", "300.00", "CreditMemo")
        del memo
        q_invoice = hand.qbo_doc("Invoice", "3201", "1050.00")  # QBO added $50 after the sync
        q_memo = hand.qbo_doc("CreditMemo", "CM3202", "300.00")
        hand.qbo_pay("0", (q_invoice, "Invoice", "300.00"), (q_memo, "CreditMemo", "300.00"))
        hand.qbo_pay("750.00", (q_invoice, "Invoice", "750.00"))
        found = {f.fix.kind: f for f in about(findings_of(engine, hand.running), "3201") if f.fix}
        assert found["apply_credit_in_cw"].fix is not None
        assert found["apply_credit_in_cw"].fix.params["amount"] == "300.00"
        backflow = found["backflow_payment"].fix
        assert backflow is not None
        assert backflow.params["amount"] == "700.00"
        for kind in ("backflow_payment", "apply_credit_in_cw"):
            assert approve_and_run(engine, hand, found[kind]).status == "succeeded"
        assert hand.cw_invoice(invoice)["balance"] == Decimal("0.00")


# -- rule 1: no write when the systems contradict ------------------------------------------------------------------
def test_a_memo_applied_to_different_invoices_in_each_system_gets_no_write(engine: Engine) -> None:
    with handmade() as hand:
        first, second = hand.cw_doc("4001", "500.00"), hand.cw_doc("4002", "500.00")
        memo = hand.cw_doc("CM4003", "200.00", "CreditMemo")
        del second
        hand.cw_pay(first, "200.00", memo=memo)
        hand.qbo_doc("Invoice", "4001", "500.00")
        q_second = hand.qbo_doc("Invoice", "4002", "500.00")
        q_memo = hand.qbo_doc("CreditMemo", "CM4003", "200.00")
        hand.qbo_pay("0", (q_second, "Invoice", "200.00"), (q_memo, "CreditMemo", "200.00"))
        found = about(findings_of(engine, hand.running), "CM4003")
        assert {f.kind for f in found} == {"credit_not_applied_in_qbo", "credit_not_applied_in_cw"}
        for finding in found:
            assert finding.fix is None
            assert "would use the memo twice" in finding.explanation


def test_a_company_tally_cannot_check_gets_no_writes(engine: Engine) -> None:
    with handmade() as hand:
        hand.cw.create_company({"identifier": "Zed", "name": "Zed Widgets", "accountNumber": "ZED01"})
        hand.cw_doc("5001", "250.00", company="Zed")
        q_invoice = hand.qbo_doc("Invoice", "5001", "250.00")  # under Acme's customer: Zed has none
        hand.qbo_pay("250.00", (q_invoice, "Invoice", "250.00"))
        found = about(findings_of(engine, hand.running), "5001")
        assert found
        assert all(finding.fix is None for finding in found)
        assert any("cannot be checked" in finding.explanation for finding in found)


# -- rule 5: a spent fix is not proposed again unchanged -----------------------------------------------------------
def test_a_superseded_fix_is_not_proposed_again_until_the_books_change(engine: Engine) -> None:
    with handmade() as hand:
        invoice = hand.cw_doc("6001", "400.00")
        q_invoice = hand.qbo_doc("Invoice", "6001", "400.00")
        hand.qbo_pay("150.00", (q_invoice, "Invoice", "150.00"))
        (finding,) = about(findings_of(engine, hand.running), "6001")
        store(engine, finding)
        with session_scope(engine, write_lock=True) as session:
            record = session.get(FindingRecord, finding.key)
            assert record is not None
            action = propose(session, record, settings=settings(), actor="scheduler")
            assert action is not None
            assert action.id is not None
            first_id = action.id
            transition(session, first_id, source=("proposed",), target="executing")  # as the executor claims it
        supersede(engine, first_id, "ConnectWise was busy, so Tally wrote nothing.", actor="U1")
        with session_scope(engine, write_lock=True) as session:
            record = session.get(FindingRecord, finding.key)
            assert record is not None
            again = propose(session, record, settings=settings(), actor="scheduler")
            assert again is not None
            assert again.id == first_id
            assert again.status == "superseded"
        assert count(engine, Action) == 1
        hand.qbo_pay("50.00", (q_invoice, "Invoice", "50.00"))  # the books changed: the fix is right again
        (changed,) = about(findings_of(engine, hand.running), "6001")
        store(engine, changed)
        with session_scope(engine, write_lock=True) as session:
            record = session.get(FindingRecord, changed.key)
            assert record is not None
            fresh = propose(session, record, settings=settings(), actor="scheduler")
            assert fresh is not None
            assert fresh.id != first_id
            assert fresh.amount == Decimal("200.00")
        del invoice


# -- rule 6: no second copy of a document --------------------------------------------------------------------------
@pytest.mark.parametrize(("qbo_number", "total", "day"), [("07001-a", "640.00", "2026-10-15"), ("X-1", "640.00", None)])
def test_a_look_alike_in_quickbooks_is_reported_and_never_mirrored(
    engine: Engine, qbo_number: str, total: str, day: str | None
) -> None:
    with handmade() as hand:
        hand.cw_doc("7001", "640.00")
        hand.qbo_doc("Invoice", qbo_number, total, day=day or "2026-11-02")
        (finding,) = about(findings_of(engine, hand.running), "7001")
        assert finding.kind == "invoice_missing_in_qbo"
        assert finding.fix is None
        assert f"QuickBooks invoice {qbo_number}" in finding.explanation
        assert "a person must confirm" in finding.explanation
        assert not any(f.kind == "orphan_in_qbo" for f in findings_of(engine, hand.running))


def test_the_recheck_searches_live_quickbooks_for_a_look_alike_before_mirroring(engine: Engine) -> None:
    with handmade() as hand:
        hand.cw_doc("7101", "310.00")
        (finding,) = about(findings_of(engine, hand.running), "7101")
        assert finding.fix is not None
        hand.qbo_doc("Invoice", "7101-B", "310.00")  # someone typed the copy while the fix waited
        action = approve_and_run(engine, hand, finding)
        assert action.status == "superseded"
        assert "7101-B" in (action.result or "")
        assert len([d for d in hand.qbo.all("Invoice") if "7101" in d.get("DocNumber", "")]) == 1
