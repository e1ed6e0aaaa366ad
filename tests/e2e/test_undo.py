"""Undo over loopback: every kind of fix carried out, then undone, and both sandboxes back as they were.

The books are read back through the sandboxes' own APIs (ConnectWise invoices and their payment rows, QuickBooks
documents and payments), the way an auditor would: a voided QuickBooks document stays, with every amount zero,
and counts as gone.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import col

from bot.digest.blocks import activity_blocks
from bot.digest.data import gather_digest
from sandbox.cli import RunningSandbox
from sync.actions import approve, execute, offer_undo
from sync.clients.connectwise import ConnectWiseClient
from sync.clients.quickbooks import QuickBooksClient
from sync.db import session_scope
from sync.models import Action, LedgerEntry, utcnow
from sync.reconcile import Finding
from tests.e2e.world import World, buttons, tally_world, text_of
from tests.sandboxes import cw_client, qbo_client
from tests.sync.actions.helpers import (
    IS_APPROVER,
    TOLERANCE,
    approved,
    events,
    findings_of,
    first,
    proposed,
    settings,
    status_of,
    tiny_books,
)

Books = tuple[RunningSandbox, list[Finding], ConnectWiseClient, QuickBooksClient]
FIX_KINDS = ("backflow_payment", "apply_credit_in_cw", "apply_credit_memo", "mirror_invoice", "mirror_credit_memo")


@pytest.fixture
def books(engine: Engine) -> Iterator[Books]:
    with tiny_books() as running, cw_client(running) as cw, qbo_client(running) as qbo:
        yield running, findings_of(engine, running), cw, qbo


def state(running: RunningSandbox) -> dict[str, Any]:
    """Both books as their APIs show them: CW invoices with their rows; QBO live documents and payments."""
    with cw_client(running) as cw, qbo_client(running) as qbo:
        invoices = {
            doc.number: (doc.payments, doc.credits, doc.balance, len(cw.list_payments(doc.id)))
            for doc in cw.iter_invoices()
        }
        documents = {
            (type(doc).__name__, doc.doc_number): (doc.total, doc.balance)
            for doc in [*qbo.iter_invoices(), *qbo.iter_credit_memos()]
            if not (doc.private_note or "").startswith("Voided")
        }
        payments = sorted(
            (payment.total, tuple(sorted((line.amount, tuple(line.links)) for line in payment.lines)))
            for payment in qbo.iter_payments()
            if payment.lines
        )
        return {"cw": invoices, "qbo": documents, "payments": payments}


def undo_of(engine: Engine, fix_id: int, *, actor: str = "U1") -> int:
    offer = offer_undo(engine, fix_id, settings=settings(), actor=actor)
    assert offer.action is not None, offer.sentence
    assert offer.action.id is not None
    return offer.action.id


def approve_all_needed(engine: Engine, action_id: int) -> None:
    for approver in ("U1", "U2"):
        if approve(engine, action_id, approver=approver, is_approver=IS_APPROVER).ready:
            return
    raise AssertionError("the undo did not become approved")


def ledger_rows(engine: Engine, action_id: int) -> int:
    with session_scope(engine) as session:
        statement = select(func.count()).select_from(LedgerEntry).where(col(LedgerEntry.action_id) == action_id)
        return int(session.execute(statement).scalar_one())


@pytest.mark.parametrize("fix_kind", FIX_KINDS)
def test_an_undone_fix_leaves_both_books_as_they_were_before_it(engine: Engine, books: Books, fix_kind: str) -> None:
    running, findings, cw, qbo = books
    finding = first(findings, fix_kind)
    before = state(running)
    fix_id = approved(engine, finding)
    fix = execute(engine, fix_id, cw=cw, qbo=qbo, actor="U1", tolerance=TOLERANCE)
    assert fix.status == "succeeded", fix.result
    assert state(running) != before  # the fix really wrote something
    undo_id = undo_of(engine, fix_id)
    undo = status_of(engine, undo_id)
    assert (undo.kind, undo.undoes_action_id, undo.status) == (f"undo_{fix_kind}", fix_id, "proposed")
    verb = "Void" if fix_kind.startswith("mirror") else "Delete"
    assert undo.description.startswith(verb), undo.description
    approve_all_needed(engine, undo_id)
    done = execute(engine, undo_id, cw=cw, qbo=qbo, actor="U1", tolerance=TOLERANCE)
    assert done.status == "succeeded", done.result
    assert state(running) == before
    assert ledger_rows(engine, undo_id) == 1
    assert len(events(engine, undo_id, "action.succeeded")) == 1
    assert [event.detail for event in events(engine, fix_id, "action.undo_proposed")] == [
        f"Undo #{undo_id} proposed: {undo.description}"
    ]
    again = offer_undo(engine, fix_id, settings=settings(), actor="U1")  # an undone fix is not undone twice
    assert again.action is None
    assert f"already undone by #{undo_id}" in again.sentence
    assert finding.key in {item.key for item in findings_of(engine, running)}  # the finding comes back


def test_a_backflow_undo_is_stated_like_a_fix(engine: Engine, books: Books) -> None:
    _running, findings, cw, qbo = books
    fix_id = approved(engine, first(findings, "backflow_payment"))
    fix = execute(engine, fix_id, cw=cw, qbo=qbo, actor="U1", tolerance=TOLERANCE)
    undo = status_of(engine, undo_of(engine, fix_id))
    day = fix.description.split("dated ")[1].split(" ")[0]
    assert undo.description == (
        f"Delete the $1,234.50 payment dated {day} that Tally recorded on ConnectWise invoice 10231"
    )
    assert undo.amount == Decimal("1234.50")


def test_an_undo_is_superseded_when_a_payment_now_depends_on_the_mirrored_invoice(engine: Engine, books: Books) -> None:
    running, findings, cw, qbo = books
    fix_id = approved(engine, first(findings, "mirror_invoice"))
    fix = execute(engine, fix_id, cw=cw, qbo=qbo, actor="U1", tolerance=TOLERANCE)
    assert fix.status == "succeeded", fix.result
    undo_id = undo_of(engine, fix_id)
    approve_all_needed(engine, undo_id)
    company = running.qbo.service.store.company(running.app.realm_id)  # type: ignore[attr-defined]
    invoice = company.row("Invoice", fix.remote_id)
    line = {"Amount": Decimal("80.10"), "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}
    company.create(
        "Payment", {"CustomerRef": invoice["CustomerRef"], "TotalAmt": Decimal("80.10"), "Line": [line]}
    )  # the customer paid part of the copy, recorded by hand in QuickBooks
    before = state(running)
    done = execute(engine, undo_id, cw=cw, qbo=qbo, actor="U1", tolerance=TOLERANCE)
    assert done.status == "superseded"
    assert "$80.10 has been paid or credited against it" in (done.result or "")
    assert "Tally wrote nothing" in (done.result or "")
    assert state(running) == before
    assert ledger_rows(engine, undo_id) == 0


def test_an_undo_is_superseded_when_the_connectwise_payment_was_edited_by_hand(engine: Engine, books: Books) -> None:
    running, findings, cw, qbo = books
    fix_id = approved(engine, first(findings, "backflow_payment"))
    fix = execute(engine, fix_id, cw=cw, qbo=qbo, actor="U1", tolerance=TOLERANCE)
    undo_id = undo_of(engine, fix_id)
    approve_all_needed(engine, undo_id)
    store = running.cw.service.store  # type: ignore[attr-defined]
    invoice_id = int(status_of(engine, fix_id).params.split('"cw_invoice_id": "')[1].split('"')[0])
    store.delete_payment(invoice_id, int(fix.remote_id or 0))  # someone removed it by hand
    before = state(running)
    done = execute(engine, undo_id, cw=cw, qbo=qbo, actor="U1", tolerance=TOLERANCE)
    assert done.status == "superseded"
    assert "is no longer on ConnectWise invoice 10231" in (done.result or "")
    assert state(running) == before


def test_two_approvers_clicking_approve_on_the_same_undo_at_once_make_one_reverse_write(
    engine: Engine, books: Books
) -> None:
    _running, findings, cw, qbo = books
    fix_id = approved(engine, first(findings, "backflow_payment"))
    execute(engine, fix_id, cw=cw, qbo=qbo, actor="U1", tolerance=TOLERANCE)
    barrier = threading.Barrier(2)

    def ask(user: str) -> int:
        barrier.wait()
        return undo_of(engine, fix_id, actor=user)

    with ThreadPoolExecutor(2) as pool:
        asked = set(pool.map(ask, ("U1", "U2")))
    assert len(asked) == 1  # two people asking for the undo at once get the same one
    (undo_id,) = asked

    def click(user: str) -> str:
        barrier.wait()
        if approve(engine, undo_id, approver=user, is_approver=IS_APPROVER).ready:
            return execute(engine, undo_id, cw=cw, qbo=qbo, actor=user, tolerance=TOLERANCE).status
        return status_of(engine, undo_id).status

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(click, ("U1", "U2")))
    assert status_of(engine, undo_id).status == "succeeded"
    assert ledger_rows(engine, undo_id) == 1
    assert len(events(engine, undo_id, "action.succeeded")) == 1


def test_an_undo_above_the_threshold_needs_two_different_people(engine: Engine, books: Books) -> None:
    _running, findings, cw, qbo = books
    big = next(f for f in findings if f.fix and f.fix.kind == "mirror_invoice" and f.amount > 5000)
    fix_id = approved(engine, big)
    assert execute(engine, fix_id, cw=cw, qbo=qbo, actor="U1", tolerance=TOLERANCE).status == "succeeded"
    undo_id = undo_of(engine, fix_id)
    assert status_of(engine, undo_id).approvals_needed == 2
    first_click = approve(engine, undo_id, approver="U1", is_approver=IS_APPROVER)
    assert not first_click.ready
    assert not approve(engine, undo_id, approver="U1", is_approver=IS_APPROVER).changed
    assert approve(engine, undo_id, approver="U2", is_approver=IS_APPROVER).ready


def test_undo_is_not_offered_after_the_period_or_for_a_fix_that_did_not_run(engine: Engine, books: Books) -> None:
    _running, findings, cw, qbo = books
    waiting = proposed(engine, first(findings, "apply_credit_memo"))
    assert (
        "was not carried out (it is proposed)" in offer_undo(engine, waiting, settings=settings(), actor="U1").sentence
    )
    fix_id = approved(engine, first(findings, "backflow_payment"))
    execute(engine, fix_id, cw=cw, qbo=qbo, actor="U1", tolerance=TOLERANCE)
    late = offer_undo(engine, fix_id, settings=settings(TALLY_UNDO_FOR="0s"), actor="U1")
    assert late.action is None
    assert "TALLY_UNDO_FOR" in late.sentence


def test_after_an_undo_the_fix_is_proposed_again_but_never_approved_by_policy(engine: Engine, books: Books) -> None:
    running, findings, cw, qbo = books
    finding = first(findings, "backflow_payment")
    fix_id = approved(engine, finding)
    execute(engine, fix_id, cw=cw, qbo=qbo, actor="U1", tolerance=TOLERANCE)
    undo_id = undo_of(engine, fix_id)
    approve_all_needed(engine, undo_id)
    assert execute(engine, undo_id, cw=cw, qbo=qbo, actor="U1", tolerance=TOLERANCE).status == "succeeded"
    back = first(findings_of(engine, running), "backflow_payment")
    again = proposed(engine, back, TALLY_AUTO_APPROVE="backflow_payment<=5000")
    assert again not in (fix_id, undo_id)
    assert status_of(engine, again).status == "proposed"  # a person undid it on purpose: a person decides


# -- from Slack: the Undo button on an alert, and /tally undo N ------------------------------------------------------
@pytest.fixture
def world(engine: Engine, database_url: str) -> Iterator[World]:
    with tally_world(engine, database_url) as running:
        yield running


def _executed_backflow(world: World) -> Action:
    world.check()
    fix = world.actions(kind="backflow_payment", status="proposed")[0]
    world.driver.click(world.alert(fix.finding_key), "tally_approve", user="U0ANA")
    world.wait(lambda: world.action(fix.id or 0).status == "succeeded")
    world.wait(lambda: "tally_undo" in [b["action_id"] for b in buttons(world.alert(fix.finding_key))])
    return world.action(fix.id or 0)


def test_undo_from_the_alert_proposes_the_reverse_write_and_approve_carries_it_out(world: World) -> None:
    fix = _executed_backflow(world)
    invoice_id = int(json.loads(fix.params)["cw_invoice_id"])
    with world.cw() as cw:
        paid = cw.get_invoice(invoice_id).payments
        rows = len(cw.list_payments(invoice_id))
    (undo_button,) = [b for b in buttons(world.alert(fix.finding_key)) if b["action_id"] == "tally_undo"]
    assert undo_button["confirm"]["text"]["text"].startswith("Tally proposes the reverse of: Record a ")

    world.driver.click(world.alert(fix.finding_key), "tally_undo", user="U0BEN")
    (undo,) = world.wait(lambda: world.actions(undoes_action_id=fix.id))
    world.wait(lambda: f"Undo #{undo.id}" in text_of(world.alert(fix.finding_key)))
    alert = world.alert(fix.finding_key)
    assert undo.description in text_of(alert)
    assert [b["value"] for b in buttons(alert) if b["action_id"] == "tally_approve"] == [str(undo.id)]

    world.driver.click(alert, "tally_approve", user="U0ANA")
    world.wait(lambda: world.action(undo.id or 0).status == "succeeded")
    with world.cw() as cw:
        assert cw.get_invoice(invoice_id).payments == paid - fix.amount
        assert len(cw.list_payments(invoice_id)) == rows - 1
    world.wait(lambda: "Deleted the" in text_of(world.alert(fix.finding_key)))
    assert "tally_undo" not in [b["action_id"] for b in buttons(world.alert(fix.finding_key))]
    world.check()  # the payment is missing again: the finding comes back, for a person to decide
    again = world.wait(lambda: world.actions(finding_key=fix.finding_key, status="proposed"))
    assert again[0].kind == "backflow_payment"


def test_slash_undo_answers_with_the_reverse_write_and_its_buttons(world: World) -> None:
    fix = _executed_backflow(world)
    world.driver.command(f"undo {fix.id}", user="U0BEN")
    told = world.wait(lambda: [m for m in world.slack.ephemerals("U0BEN") if "Proposed undo" in text_of(m)])
    (undo,) = world.actions(undoes_action_id=fix.id)
    assert undo.description in text_of(told[-1])
    assert [b["value"] for b in buttons(told[-1]) if b["action_id"] == "tally_approve"] == [str(undo.id)]
    world.driver.command(f"undo {fix.id}", user="U0ANA")  # asked twice: the same undo, not a second one
    world.wait(lambda: [m for m in world.slack.ephemerals("U0ANA") if "already proposed" in text_of(m)])
    assert len(world.actions(undoes_action_id=fix.id)) == 1
    world.driver.command("undo ten", user="U0ANA")
    world.wait(lambda: [m for m in world.slack.ephemerals("U0ANA") if "needs the number of a fix" in text_of(m)])


def test_history_links_the_undo_and_the_fix_and_the_digest_counts_undos(engine: Engine, books: Books) -> None:
    _running, findings, cw, qbo = books
    fix_id = approved(engine, first(findings, "backflow_payment"))
    execute(engine, fix_id, cw=cw, qbo=qbo, actor="U1", tolerance=TOLERANCE)
    undo_id = undo_of(engine, fix_id)
    approve_all_needed(engine, undo_id)
    execute(engine, undo_id, cw=cw, qbo=qbo, actor="U1", tolerance=TOLERANCE)
    fix_trail = [event.verb for event in events(engine, fix_id)]
    assert fix_trail[-2:] == ["action.undo_proposed", "action.undone"]
    (undone,) = events(engine, fix_id, "action.undone")
    assert (undone.detail or "").startswith(f"Undone by #{undo_id}: Deleted the $1,234.50 payment")
    (proposal,) = events(engine, undo_id, "action.proposed")
    assert (proposal.detail or "").endswith(f"(undoes fix #{fix_id})")
    (done,) = events(engine, undo_id, "action.succeeded")
    assert json.loads(done.remote_ids or "{}")["undoes_action_id"] == str(fix_id)
    now = utcnow()
    digest = gather_digest(engine, settings(), day=now.date(), now=now)
    text = json.dumps(activity_blocks(digest))
    assert "Fixes undone: 1 ($1,234.50)" in text
    assert "Payments carried back to ConnectWise: 1 ($1,234.50)" in text


def test_slash_explain_names_the_fix_and_the_undo_that_reversed_it(world: World) -> None:
    fix = _executed_backflow(world)
    number = json.loads(fix.params)["number"]
    world.driver.command(f"undo {fix.id}", user="U0BEN")
    (undo,) = world.wait(lambda: world.actions(undoes_action_id=fix.id))
    world.driver.command(f"explain {number}", user="U0BEN")
    shown = world.wait(lambda: [m for m in world.slack.ephemerals("U0BEN") if "side by side" in text_of(m)])
    text = text_of(shown[-1])
    assert f"Fix #{fix.id} (succeeded)" in text
    assert f"Undo #{undo.id} of fix #{fix.id} (proposed)" in text


def test_an_undo_of_a_mirrored_credit_memo_whose_credit_was_used_is_superseded(engine: Engine, books: Books) -> None:
    running, findings, cw, qbo = books
    fix_id = approved(engine, first(findings, "mirror_credit_memo"))
    fix = execute(engine, fix_id, cw=cw, qbo=qbo, actor="U1", tolerance=TOLERANCE)
    assert fix.status == "succeeded", fix.result
    undo_id = undo_of(engine, fix_id)
    approve_all_needed(engine, undo_id)
    company = running.qbo.service.store.company(running.app.realm_id)  # type: ignore[attr-defined]
    memo = company.row("CreditMemo", fix.remote_id)
    invoice = next(row for row in company.rows["Invoice"].values() if row.get("DocNumber") == "1037")
    lines = [
        {"Amount": Decimal("20.00"), "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]},
        {"Amount": Decimal("20.00"), "LinkedTxn": [{"TxnId": memo["Id"], "TxnType": "CreditMemo"}]},
    ]
    company.create("Payment", {"CustomerRef": memo["CustomerRef"], "TotalAmt": Decimal(0), "Line": lines})
    before = state(running)
    done = execute(engine, undo_id, cw=cw, qbo=qbo, actor="U1", tolerance=TOLERANCE)
    assert done.status == "superseded"
    assert "$20.00 of its credit has been applied" in (done.result or "")
    assert state(running) == before
    assert ledger_rows(engine, undo_id) == 0
