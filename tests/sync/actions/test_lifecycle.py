"""Approving and rejecting: who may, how often a person counts, two different approvers, final states."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import update
from sqlalchemy.engine import Engine

from sync.actions import ActionNotFoundError, approve, reject
from sync.db import session_scope
from sync.models import Action, Approval
from tests.sync.actions.helpers import IS_APPROVER, count, events, proposed, status_of, synthetic

SMALL = synthetic(
    "payment_not_synced",
    "backflow_payment",
    {"cw_invoice_id": "41", "number": "10041", "amount": "446.53", "date": "2026-01-07"},
    cw={"id": "41", "paid": "0.00"},
    qbo={"id": "40", "balance": "0.00"},
)
LARGE = synthetic(
    "invoice_missing_in_qbo",
    "mirror_invoice",
    {"cw_id": "740", "number": "10740", "amount": "9706.00", "qbo_customer_id": "54"},
    cw={"id": "740", "date": "2026-05-01"},
)


def test_someone_who_is_not_an_approver_is_refused_and_the_attempt_recorded(engine: Engine) -> None:
    action_id = proposed(engine, SMALL)
    outcome = approve(engine, action_id, approver="U99", is_approver=IS_APPROVER)
    assert not outcome.changed
    assert outcome.status == "proposed"
    assert "You may not approve fixes" in outcome.message
    [refusal] = events(engine, action_id, "action.approval_refused")
    assert refusal.actor == "U99"
    assert count(engine, Approval) == 0


def test_one_approval_is_enough_for_a_small_amount(engine: Engine) -> None:
    action_id = proposed(engine, SMALL)
    outcome = approve(engine, action_id, approver="U1", is_approver=IS_APPROVER)
    assert (outcome.status, outcome.changed, outcome.ready) == ("approved", True, True)
    assert outcome.message == "Approved by U1: Record a $446.53 payment dated 2026-01-07 on ConnectWise invoice 10041."
    [event] = events(engine, action_id, "action.approved")
    assert (event.actor, event.detail) == ("U1", "1 of 1 approvals")


def test_an_approver_counts_once(engine: Engine) -> None:
    action_id = proposed(engine, LARGE)
    approve(engine, action_id, approver="U1", is_approver=IS_APPROVER)
    again = approve(engine, action_id, approver="U1", is_approver=IS_APPROVER)
    assert not again.changed
    assert again.message.startswith("Already approved by you")
    assert (again.status, again.approvals, again.needed) == ("proposed", 1, 2)
    assert count(engine, Approval, action_id=action_id) == 1
    assert len(events(engine, action_id, "action.approved")) == 1


def test_a_large_amount_needs_two_different_approvers(engine: Engine) -> None:
    action_id = proposed(engine, LARGE)
    first = approve(engine, action_id, approver="U1", is_approver=IS_APPROVER)
    assert first.status == "proposed"
    assert "1 of 2 approvals" in first.message
    second = approve(engine, action_id, approver="U2", is_approver=IS_APPROVER)
    assert (second.status, second.approvals) == ("approved", 2)
    assert second.message.startswith("Approved by U1 and U2:")


def test_the_requester_cannot_be_the_only_approver_of_a_large_fix(engine: Engine) -> None:
    action_id = proposed(engine, LARGE, actor="U1")  # U1 asked for it with a slash command
    assert status_of(engine, action_id).requested_by == "U1"
    assert approve(engine, action_id, approver="U1", is_approver=IS_APPROVER).status == "proposed"
    assert approve(engine, action_id, approver="U1", is_approver=IS_APPROVER).status == "proposed"
    assert approve(engine, action_id, approver="U3", is_approver=IS_APPROVER).status == "approved"


def test_the_requester_may_approve_a_small_fix_alone(engine: Engine) -> None:
    action_id = proposed(engine, SMALL, actor="U1")
    assert approve(engine, action_id, approver="U1", is_approver=IS_APPROVER).ready


def test_a_double_click_racing_itself_counts_once(engine: Engine) -> None:
    action_id = proposed(engine, LARGE)
    start = threading.Barrier(6)

    def click() -> None:
        start.wait()
        approve(engine, action_id, approver="U1", is_approver=IS_APPROVER)

    threads = [threading.Thread(target=click) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert count(engine, Approval, action_id=action_id) == 1
    assert status_of(engine, action_id).status == "proposed"


def test_rejecting_closes_the_fix_and_later_clicks_only_hear_its_state(engine: Engine) -> None:
    action_id = proposed(engine, SMALL)
    refused = reject(engine, action_id, actor="U99", reason="no", is_approver=IS_APPROVER)
    assert (refused.status, refused.changed) == ("proposed", False)
    outcome = reject(engine, action_id, actor="U2", reason="the client paid by card", is_approver=IS_APPROVER)
    assert (outcome.status, outcome.changed) == ("rejected", True)
    assert outcome.message == "Rejected by U2: the client paid by card. Nothing was written."
    [event] = events(engine, action_id, "action.rejected")
    assert (event.actor, event.detail) == ("U2", "the client paid by card")
    late = approve(engine, action_id, approver="U1", is_approver=IS_APPROVER)
    assert (late.status, late.changed) == ("rejected", False)
    assert late.message == "This fix was rejected: Rejected by U2: the client paid by card"
    assert count(engine, Approval) == 0


@pytest.mark.parametrize(
    ("status", "answer"),
    [
        ("superseded", "This fix is no longer needed: "),
        ("succeeded", "This fix was already carried out: "),
        ("executing", "Tally is carrying this fix out right now."),
    ],
)
def test_approving_a_fix_past_approval_answers_with_its_state(engine: Engine, status: str, answer: str) -> None:
    action_id = proposed(engine, SMALL)
    with session_scope(engine) as session:
        session.execute(update(Action).where(Action.id == action_id).values(status=status, result="done by hand"))  # type: ignore[arg-type]
    outcome = approve(engine, action_id, approver="U1", is_approver=IS_APPROVER)
    assert (outcome.status, outcome.changed) == (status, False)
    assert outcome.message.startswith(answer)
    assert reject(engine, action_id, actor="U1", reason="x", is_approver=IS_APPROVER).status == status
    assert events(engine, action_id, "action.approved") == []


def test_an_unknown_action_is_named_in_a_sentence(engine: Engine) -> None:
    with pytest.raises(ActionNotFoundError, match="There is no fix number 404"):
        approve(engine, 404, approver="U1", is_approver=IS_APPROVER)
