"""Undo under the faults of the trust issue: a gateway error after the reverse write was saved, and the executing
process killed between the reverse write and Tally's commit. Either way the reverse write happens at most once, and
the books end as they were before the fix (read back through both sandboxes' APIs).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from sandbox.cli import RunningSandbox
from sync.actions import execute, offer_undo, settle
from sync.clients.connectwise import ConnectWiseClient
from sync.clients.quickbooks import QuickBooksClient
from sync.models import LedgerEntry, utcnow
from sync.reconcile import Finding
from tests.e2e.test_undo import approve_all_needed, ledger_rows, state, undo_of
from tests.faults.books import fault, short_clients
from tests.sync.actions.helpers import (
    TOLERANCE,
    approved,
    child_execute_then_crash,
    count,
    endpoints,
    events,
    findings_of,
    first,
    settings,
    status_of,
    tiny_books,
)

Books = tuple[RunningSandbox, list[Finding], ConnectWiseClient, QuickBooksClient]


@pytest.fixture
def books(engine: Engine) -> Iterator[Books]:
    with tiny_books() as running, short_clients(running) as (cw, qbo):
        yield running, findings_of(engine, running), cw, qbo


def server_of(running: RunningSandbox, system: str) -> str:
    return running.cw.url if system == "cw" else running.qbo.url


def executed_with_undo(engine: Engine, books: Books, fix_kind: str) -> tuple[int, int]:
    """Carry out the fix for ``fix_kind``, propose its undo and approve it; return (fix id, undo id)."""
    _running, findings, cw, qbo = books
    fix_id = approved(engine, first(findings, fix_kind))
    assert execute(engine, fix_id, cw=cw, qbo=qbo, actor="U1", tolerance=TOLERANCE).status == "succeeded"
    undo_id = undo_of(engine, fix_id)
    approve_all_needed(engine, undo_id)
    return fix_id, undo_id


@pytest.mark.parametrize(
    ("fix_kind", "system", "match", "status"),
    [
        ("backflow_payment", "cw", r"^DELETE .*/payments/\d+$", 502),
        ("apply_credit_in_cw", "cw", r"^DELETE .*/payments/\d+$", 504),
        ("apply_credit_memo", "qbo", "^POST .*/payment$", 502),
        ("mirror_invoice", "qbo", "^POST .*/invoice$", 503),
        ("mirror_credit_memo", "qbo", "^POST .*/creditmemo$", 504),
    ],
)
def test_a_gateway_error_after_the_reverse_write_was_saved_leaves_it_done_once(
    engine: Engine, books: Books, fix_kind: str, system: str, match: str, status: int
) -> None:
    running, _findings, cw, qbo = books
    before = state(running)
    _fix_id, undo_id = executed_with_undo(engine, books, fix_kind)
    fault(server_of(running, system), gateway_next={"count": 1, "status": status, "match": match})
    undo = execute(engine, undo_id, cw=cw, qbo=qbo, actor="U1", tolerance=TOLERANCE)
    assert fault(server_of(running, system))["gateway_next"]["count"] == 0  # the gateway error was really sent
    assert undo.status == "succeeded", undo.result  # found by looking (CW) or replayed by requestid (QBO)
    assert "Nothing was written" not in (undo.result or "")
    assert state(running) == before
    assert settle(engine, cw=cw, qbo=qbo).written == []  # nothing left to settle, nothing sent again
    assert state(running) == before
    assert ledger_rows(engine, undo_id) == 1
    assert len(events(engine, undo_id, "action.succeeded")) == 1


@pytest.mark.slow
@pytest.mark.parametrize("fix_kind", ["backflow_payment", "apply_credit_memo", "mirror_invoice"])
def test_a_process_killed_between_the_reverse_write_and_its_commit_is_settled_by_looking(
    engine: Engine, database_url: str, books: Books, fix_kind: str
) -> None:
    running, _findings, cw, qbo = books
    before = state(running)
    _fix_id, undo_id = executed_with_undo(engine, books, fix_kind)
    child = multiprocessing.get_context("spawn").Process(
        target=child_execute_then_crash, args=(endpoints(running, database_url), undo_id)
    )
    child.start()
    child.join(timeout=60)
    assert child.exitcode == 1
    assert status_of(engine, undo_id).status == "executing"
    assert count(engine, LedgerEntry, status="pending") == 1
    assert state(running) == before  # the reverse write landed; Tally's database does not know yet
    assert settle(engine, cw=cw, qbo=qbo).written == [undo_id]
    assert status_of(engine, undo_id).status == "succeeded"
    assert settle(engine, cw=cw, qbo=qbo).written == []
    assert state(running) == before
    [event] = events(engine, undo_id, "action.succeeded")
    assert event.actor == "recovery"


def test_a_connectwise_payment_found_by_looking_is_not_offered_for_undo(engine: Engine, books: Books) -> None:
    running, findings, cw, qbo = books
    fix_id = approved(engine, first(findings, "backflow_payment"))
    fault(running.cw.url, gateway_next={"count": 1, "status": 502, "match": "^POST .*/payments$"})
    assert execute(engine, fix_id, cw=cw, qbo=qbo, actor="U1", tolerance=TOLERANCE).status == "succeeded"
    offer = offer_undo(engine, fix_id, settings=settings(), actor="U1")
    assert offer.action is None
    assert "cannot be certain it is its own" in offer.sentence


def test_a_quickbooks_mirror_whose_first_answer_was_lost_is_still_offered_for_undo(
    engine: Engine, books: Books
) -> None:
    running, findings, cw, qbo = books
    before = state(running)
    fix_id = approved(engine, first(findings, "mirror_invoice"))
    fault(running.qbo.url, gateway_next={"count": 1, "status": 502, "match": "^POST .*/invoice$"})
    assert execute(engine, fix_id, cw=cw, qbo=qbo, actor="U1", tolerance=TOLERANCE).status == "succeeded"
    undo_id = undo_of(engine, fix_id)
    approve_all_needed(engine, undo_id)
    assert execute(engine, undo_id, cw=cw, qbo=qbo, actor="U1", tolerance=TOLERANCE).status == "succeeded"
    assert state(running) == before


def test_a_reverse_write_that_never_landed_is_called_unwritten_only_after_it_could_no_longer_land(
    engine: Engine, books: Books
) -> None:
    running, _findings, cw, qbo = books
    fix_id, undo_id = executed_with_undo(engine, books, "backflow_payment")
    after_fix = state(running)
    fault(running.cw.url, fail_next={"count": 6, "status": 503, "match": r"^DELETE .*/payments/\d+$"})
    undo = execute(engine, undo_id, cw=cw, qbo=qbo, actor="U1", tolerance=TOLERANCE)
    assert undo.status == "unsure"  # a 503 may come after ConnectWise deleted the row: look, never guess
    assert settle(engine, cw=cw, qbo=qbo).waiting == [undo_id]
    late = utcnow() + cw.write_window
    assert settle(engine, cw=cw, qbo=qbo, now=late).not_written == [undo_id]
    failed = status_of(engine, undo_id)
    assert failed.status == "failed"
    assert (failed.result or "").endswith(f"Ask for the undo of fix #{fix_id} again if it is still wanted.")
    assert state(running) == after_fix  # the payment Tally recorded is still there, once
    fault(running.cw.url, fail_next=0)
    again = offer_undo(engine, fix_id, settings=settings(), actor="U2")  # a failed undo may be asked for again
    assert again.created
    assert again.action is not None
    assert again.action.id != undo_id
