"""Issue 9 rules 9-10: explanations name the real cause Tally can see, and a backflow names its QuickBooks payments."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import col

from sync.actions import approve, execute
from sync.checks import CheckResult, run_check
from sync.db import session_scope
from sync.explain import explain_document
from sync.models import AuditEvent
from sync.reconcile import Finding
from tests.sandboxes import cw_client, qbo_client
from tests.sync.actions.handmade import Hand, handmade
from tests.sync.actions.helpers import IS_APPROVER, TOLERANCE, settings

SETTINGS = settings(TALLY_SYNC_GRACE="0")


@contextmanager
def books() -> Iterator[Hand]:
    with handmade() as hand:
        yield hand


def check(engine: Engine, hand: Hand) -> CheckResult:
    with cw_client(hand.running) as cw, qbo_client(hand.running) as qbo:
        return run_check(engine, SETTINGS, cw=cw, qbo=qbo, actor="scheduler")


def finding(result: CheckResult, kind: str, number: str) -> Finding:
    return next(f for f in result.findings if f.kind == kind and number in f.documents)


def fix_it(engine: Engine, hand: Hand, result: CheckResult, kind: str, number: str) -> int:
    action = result.actions[finding(result, kind, number).key]
    assert action.id is not None
    assert approve(engine, action.id, approver="U1", is_approver=IS_APPROVER).ready
    with cw_client(hand.running) as cw, qbo_client(hand.running) as qbo:
        done = execute(engine, action.id, cw=cw, qbo=qbo, actor="U1", tolerance=TOLERANCE)
    assert done.status == "succeeded", done.result
    return action.id


@pytest.mark.parametrize("how", ["voided", "deleted"])
def test_a_payment_voided_or_deleted_after_tally_carried_it_back_is_named_with_the_fix(
    engine: Engine, how: str
) -> None:
    with books() as hand:
        hand.cw_doc("9101", "500.00")
        q_invoice = hand.qbo_doc("Invoice", "9101", "500.00")
        payment = hand.qbo_pay("500.00", (q_invoice, "Invoice", "500.00"))
        fix = fix_it(engine, hand, check(engine, hand), "payment_not_synced", "9101")
        with session_scope(engine) as session:
            succeeded = (
                session.execute(select(AuditEvent).where(col(AuditEvent.verb) == "action.succeeded")).scalars().one()
            )
        assert json.loads(succeeded.remote_ids or "{}")["qbo_payment_ids"] == payment  # rule 10: traceable
        assert f"carrying back QuickBooks payment {payment}" in (succeeded.detail or "")
        (side_by_side,) = explain_document(engine, "9101").carried
        assert side_by_side.endswith(f"(${500:,.2f}, fix #{fix}) carries back QuickBooks payment {payment}")
        current = hand.qbo.get("Payment", payment)
        (hand.qbo.void if how == "voided" else hand.qbo.delete)("Payment", current)
        said = finding(check(engine, hand), "payment_only_in_cw", "9101").explanation
        assert (
            f"QuickBooks payment {payment}, which Tally carried back to ConnectWise with fix #{fix}, was {how}" in said
        )


def test_a_copy_tally_mirrored_whose_source_was_deleted_in_cw_is_not_called_typed_by_hand(engine: Engine) -> None:
    with books() as hand:
        invoice = hand.cw_doc("9201", "75.00")
        fix = fix_it(engine, hand, check(engine, hand), "invoice_missing_in_qbo", "9201")
        hand.cw.delete_invoice(invoice)
        said = finding(check(engine, hand), "orphan_in_qbo", "9201").explanation
        assert f"a copy Tally mirrored itself (fix #{fix})" in said
        assert "deleted in ConnectWise" in said
        assert "typed by hand" not in said


def test_a_cw_invoice_re_opened_after_it_was_copied_is_named_as_re_opened(engine: Engine) -> None:
    with books() as hand:
        invoice = hand.cw_doc("9301", "60.00")
        hand.qbo_doc("Invoice", "9301", "60.00")
        assert not check(engine, hand).findings
        hand.cw.patch_invoice(invoice, [{"op": "replace", "path": "status", "value": {"name": "New"}}])
        said = finding(check(engine, hand), "orphan_in_qbo", "9301").explanation
        assert "re-opened in ConnectWise (it is no longer closed)" in said
        assert "typed by hand" not in said


@pytest.mark.parametrize("how", ["voided", "deleted"])
def test_a_qbo_copy_voided_or_deleted_in_quickbooks_is_named(engine: Engine, how: str) -> None:
    with books() as hand:
        hand.cw_doc("9401", "90.00")
        copy = hand.qbo_doc("Invoice", "9401", "90.00")
        assert not check(engine, hand).findings
        (hand.qbo.void if how == "voided" else hand.qbo.delete)("Invoice", hand.qbo.get("Invoice", copy))
        said = finding(check(engine, hand), "invoice_missing_in_qbo", "9401").explanation
        assert f"Its QuickBooks copy (Id {copy}) was {how} in QuickBooks" in said


def test_a_document_tally_never_saw_a_source_for_is_still_typed_by_hand(engine: Engine) -> None:
    with books() as hand:
        hand.qbo_doc("Invoice", "9501", "33.00")
        said = finding(check(engine, hand), "orphan_in_qbo", "9501").explanation
        assert "typed by hand in QuickBooks" in said
