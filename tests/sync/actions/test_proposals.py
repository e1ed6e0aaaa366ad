"""Proposing fixes: exact wording, one live action per finding, amounts that move, and auto-approval."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from sync.actions import approve, propose, reject
from sync.db import session_scope
from sync.models import Action, Approval, FindingRecord, utcnow
from sync.reconcile import Finding
from tests.sync.actions.helpers import IS_APPROVER, count, events, proposed, settings, status_of, store, synthetic

BACKFLOW = synthetic(
    "payment_not_synced",
    "backflow_payment",
    {"cw_invoice_id": "41", "number": "10231", "amount": "1234.50", "date": "2026-11-20"},
    cw={"id": "41", "paid": "0.00", "balance": "1234.50"},
    qbo={"id": "40", "balance": "0.00", "paid": "1234.50"},
)
APPLY = synthetic(
    "credit_not_applied_in_qbo",
    "apply_credit_memo",
    {
        "qbo_credit_memo_id": "68",
        "qbo_invoice_id": "67",
        "amount": "300.00",
        "credit_memo": "CM1039",
        "invoice": "1037",
    },
    key="credit_not_applied_in_qbo:CM1039:1037",
    qbo={"id": "67", "balance": "300.00"},
)
MIRROR = synthetic(
    "invoice_missing_in_qbo",
    "mirror_invoice",
    {"cw_id": "231", "number": "10231", "amount": "1080.10", "qbo_customer_id": "16"},
    cw={"id": "231", "total": "1080.10", "date": "2026-11-02"},
)


@pytest.mark.parametrize(
    ("finding", "sentence"),
    [
        (BACKFLOW, "Record a $1,234.50 payment dated 2026-11-20 on ConnectWise invoice 10231"),
        (
            APPLY,
            "Apply $300.00 of credit memo CM1039 to invoice 1037 in QuickBooks (a zero-total payment linking both)",
        ),
        (MIRROR, "Create invoice 10231 in QuickBooks for Acme Co: $1,080.10 dated 2026-11-02"),
    ],
)
def test_the_description_states_the_exact_write(engine: Engine, finding: Finding, sentence: str) -> None:
    action = status_of(engine, proposed(engine, finding))
    assert action.description == sentence
    assert action.status == "proposed"
    assert action.amount == finding.amount
    [event] = events(engine, action.id or 0, "action.proposed")
    assert (event.actor, event.detail, event.amount_after) == ("scheduler", sentence, finding.amount)


def test_proposing_again_returns_the_live_action(engine: Engine) -> None:
    first_id = proposed(engine, BACKFLOW)
    assert proposed(engine, BACKFLOW, actor="U1") == first_id
    assert count(engine, Action) == 1
    assert len(events(engine, first_id, "action.proposed")) == 1


def test_the_database_refuses_a_second_live_action_for_one_finding(engine: Engine) -> None:
    action = status_of(engine, proposed(engine, BACKFLOW))
    now = utcnow()
    with pytest.raises(IntegrityError), session_scope(engine) as session:
        session.add(Action(finding_key=action.finding_key, kind=action.kind, created_at=now, updated_at=now))


def moved(finding: Finding, amount: str) -> Finding:
    """The same finding with its amount moved."""
    assert finding.fix is not None
    params = dict(finding.fix.params, amount=amount)
    return synthetic(finding.kind, finding.fix.kind, params, key=finding.key, cw=finding.cw, qbo=finding.qbo)


def test_a_moved_amount_while_proposed_is_a_new_proposal_and_the_old_one_points_at_it(engine: Engine) -> None:
    action_id = proposed(engine, BACKFLOW)
    new_id = proposed(engine, moved(BACKFLOW, "6000.00"))
    assert new_id != action_id
    action, old = status_of(engine, new_id), status_of(engine, action_id)
    assert (action.amount, action.approvals_needed, action.version) == (Decimal("6000.00"), 2, 2)
    assert action.description == "Record a $6,000.00 payment dated 2026-11-20 on ConnectWise invoice 10231"
    assert (old.status, old.replaced_by, old.amount) == ("superseded", new_id, Decimal("1234.50"))
    [superseded] = events(engine, action_id, "action.superseded")
    assert (superseded.amount_before, superseded.amount_after) == (Decimal("1234.50"), Decimal("6000.00"))


def test_the_same_write_restated_keeps_its_id_and_its_approvals(engine: Engine) -> None:
    action_id = proposed(engine, moved(BACKFLOW, "6000.00"))
    assert approve(engine, action_id, approver="U1", is_approver=IS_APPROVER).approvals == 1
    assert proposed(engine, moved(BACKFLOW, "6000.00")) == action_id
    assert count(engine, Approval, action_id=action_id) == 1


def test_an_approved_fix_keeps_the_amount_people_approved(engine: Engine) -> None:
    action_id = proposed(engine, BACKFLOW)
    assert approve(engine, action_id, approver="U1", is_approver=IS_APPROVER).ready
    assert proposed(engine, moved(BACKFLOW, "999.00")) == action_id
    assert status_of(engine, action_id).amount == Decimal("1234.50")  # the re-check before writing catches it


def test_after_a_rejection_the_next_proposal_is_a_new_action(engine: Engine) -> None:
    action_id = proposed(engine, BACKFLOW)
    reject(engine, action_id, actor="U2", reason="the client disputes it", is_approver=IS_APPROVER)
    assert proposed(engine, BACKFLOW) != action_id
    assert count(engine, Action) == 2


def test_approvals_given_for_the_old_amount_do_not_carry_over(engine: Engine) -> None:
    action_id = proposed(engine, moved(BACKFLOW, "6000.00"))
    assert approve(engine, action_id, approver="U1", is_approver=IS_APPROVER).approvals == 1
    new_id = proposed(engine, moved(BACKFLOW, "7000.00"))
    assert count(engine, Approval, action_id=new_id) == 0
    old_click = approve(engine, action_id, approver="U2", is_approver=IS_APPROVER)
    assert (old_click.status, old_click.changed) == ("superseded", False)
    assert old_click.message.startswith("This fix changed from $6,000.00 to $7,000.00 — see the updated alert")
    outcome = approve(engine, new_id, approver="U2", is_approver=IS_APPROVER)
    assert (outcome.status, outcome.approvals) == ("proposed", 1)


def test_findings_without_a_fix_or_already_resolved_get_no_action(engine: Engine) -> None:
    orphan = synthetic("orphan_in_qbo", None, {"number": "Q-7"})
    store(engine, orphan)
    store(engine, MIRROR)
    with session_scope(engine, write_lock=True) as session:
        record = session.get(FindingRecord, orphan.key)
        resolved = session.get(FindingRecord, MIRROR.key)
        assert record is not None
        assert resolved is not None
        resolved.status = "resolved"
        assert propose(session, record, settings=settings(), actor="scheduler") is None
        assert propose(session, resolved, settings=settings(), actor="scheduler") is None
    assert count(engine, Action) == 0


def test_amounts_above_the_threshold_ask_for_two_approvals(engine: Engine) -> None:
    assert status_of(engine, proposed(engine, BACKFLOW, TALLY_DUAL_APPROVAL_ABOVE="1000")).approvals_needed == 2
    assert status_of(engine, proposed(engine, APPLY, TALLY_DUAL_APPROVAL_ABOVE="1000")).approvals_needed == 1


def test_auto_approval_approves_covered_fixes_at_once_and_says_so(engine: Engine) -> None:
    action_id = proposed(engine, APPLY, TALLY_AUTO_APPROVE="apply_credit_memo<=500")
    action = status_of(engine, action_id)
    assert action.status == "approved"
    [event] = events(engine, action_id, "action.auto_approved")
    assert event.actor == "scheduler"
    assert "up to $500.00" in (event.detail or "")


def test_auto_approval_leaves_larger_amounts_and_other_kinds_to_people(engine: Engine) -> None:
    assert status_of(engine, proposed(engine, APPLY, TALLY_AUTO_APPROVE="apply_credit_memo<=299")).status == "proposed"
    assert status_of(engine, proposed(engine, MIRROR, TALLY_AUTO_APPROVE="apply_credit_memo<=5000")).status == (
        "proposed"
    )


def test_params_remember_what_the_books_said(engine: Engine) -> None:
    params = json.loads(status_of(engine, proposed(engine, BACKFLOW)).params)
    assert params == {
        "amount": "1234.50",
        "customer": "Acme Co",
        "cw_invoice_id": "41",
        "cw_paid": "0.00",
        "date": "2026-11-20",
        "number": "10231",
        "qbo_balance": "0.00",
        "qbo_invoice_id": "40",
    }
