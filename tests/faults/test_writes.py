"""Faults between Tally and the books, over real loopback HTTP: every write lands once, or not at all, and Tally says
which only after it has looked.

Each case counts the writes in both sandboxes through their APIs before and after. The sandbox plays the readings
research verified: a 502/503/504 can follow a saved write (a gateway's timeout ran out first), and QuickBooks
answers a repeated ``requestid`` with the first answer instead of creating again (Intuit, B-REQID).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import col

from sandbox.cli import RunningSandbox
from sync.actions import approve, execute, settle
from sync.actions.recovery import settles_at
from sync.clients.connectwise import ConnectWiseClient
from sync.clients.quickbooks import QuickBooksClient
from sync.db import session_scope
from sync.models import LedgerEntry, utcnow
from sync.reconcile import Finding
from tests.faults.books import READ_TIMEOUT, counts, fault, short_clients
from tests.sync.actions.helpers import (
    IS_APPROVER,
    TOLERANCE,
    approved,
    events,
    findings_of,
    first,
    proposed,
    status_of,
    tiny_books,
)

Books = tuple[RunningSandbox, list[Finding], ConnectWiseClient, QuickBooksClient]
CHECKING = "Tally is checking whether the write landed."
HOLD = 2.0  # seconds a held write waits before it lands: past the read timeout, inside the landing window


@pytest.fixture
def books(engine: Engine) -> Iterator[Books]:
    with tiny_books() as running, short_clients(running) as (cw, qbo):
        yield running, findings_of(engine, running), cw, qbo


def server_of(running: RunningSandbox, system: str) -> str:
    return running.cw.url if system == "cw" else running.qbo.url


def settle_after(engine: Engine, action_id: int) -> float:
    """Seconds until the action's write can no longer land."""
    with session_scope(engine) as session:
        entry = session.execute(select(LedgerEntry).where(col(LedgerEntry.action_id) == action_id)).scalars().one()
        return (settles_at(entry) - utcnow()).total_seconds()


@pytest.mark.parametrize(
    ("fix_kind", "system", "match", "status", "written"),
    [
        ("backflow_payment", "cw", "^POST .*/payments$", 502, (1, 0)),
        ("backflow_payment", "cw", "^POST .*/payments$", 503, (1, 0)),
        ("backflow_payment", "cw", "^POST .*/payments$", 504, (1, 0)),
        ("apply_credit_in_cw", "cw", "^POST .*/payments$", 502, (1, 0)),
        ("mirror_invoice", "qbo", "^POST .*/invoice$", 502, (0, 1)),
        ("mirror_invoice", "qbo", "^POST .*/invoice$", 504, (0, 1)),
        ("mirror_credit_memo", "qbo", "^POST .*/creditmemo$", 503, (0, 1)),
        ("apply_credit_memo", "qbo", "^POST .*/payment$", 502, (0, 1)),
        ("apply_credit_memo", "qbo", "^POST .*/payment$", 504, (0, 1)),
    ],
)
def test_a_gateway_error_after_the_write_was_saved_leaves_exactly_one_write(
    engine: Engine, books: Books, fix_kind: str, system: str, match: str, status: int, written: tuple[int, int]
) -> None:
    running, findings, cw, qbo = books
    action_id = approved(engine, first(findings, fix_kind))
    before = counts(running)
    fault(server_of(running, system), gateway_next={"count": 1, "status": status, "match": match})
    action = execute(engine, action_id, cw=cw, qbo=qbo, actor="U1", tolerance=TOLERANCE)
    assert fault(server_of(running, system))["gateway_next"]["count"] == 0  # the gateway error was really sent
    assert counts(running).minus(before) == written
    assert action.status == "succeeded", action.result  # found by looking (CW) or replayed by requestid (QBO)
    assert "Nothing was written" not in (action.result or "")
    assert settle(engine, cw=cw, qbo=qbo).written == []  # nothing left to settle, nothing sent again
    assert counts(running).minus(before) == written
    assert len(events(engine, action_id, "action.succeeded")) == 1


def test_an_answer_held_past_the_timeout_after_the_payment_was_saved_is_found_at_once(
    engine: Engine, books: Books
) -> None:
    running, findings, cw, qbo = books
    action_id = approved(engine, first(findings, "backflow_payment"))
    before = counts(running)
    fault(running.cw.url, hold_next={"count": 1, "seconds": HOLD, "commit": "first", "match": "^POST "})
    action = execute(engine, action_id, cw=cw, qbo=qbo, actor="U1", tolerance=TOLERANCE)
    assert action.status == "succeeded", action.result
    assert [event.verb for event in events(engine, action_id)][-2:] == ["action.unsure", "action.succeeded"]
    assert counts(running).minus(before) == (1, 0)


def test_a_payment_that_lands_after_the_timeout_is_waited_for_and_found_never_sent_again(
    engine: Engine, books: Books
) -> None:
    running, findings, cw, qbo = books
    finding = first(findings, "backflow_payment")
    action_id = approved(engine, finding)
    before = counts(running)
    fault(running.cw.url, hold_next={"count": 1, "seconds": HOLD, "commit": "after", "match": "^POST "})
    started = time.monotonic()
    action = execute(engine, action_id, cw=cw, qbo=qbo, actor="U1", tolerance=TOLERANCE)
    assert time.monotonic() - started < HOLD  # Tally gave up waiting before the payment landed
    assert action.status == "unsure"
    assert (action.result or "").startswith(CHECKING)
    assert counts(running).minus(before) == (0, 0)  # not there yet...
    assert settle(engine, cw=cw, qbo=qbo).waiting == [action_id]  # ...and too early to call it unwritten
    assert proposed(engine, finding) == action_id  # a check meanwhile proposes no second payment
    again = approve(engine, action_id, approver="U2", is_approver=IS_APPROVER)
    assert (again.changed, again.message.startswith(CHECKING)) == (False, True)
    deadline = time.monotonic() + 10
    while counts(running).minus(before) == (0, 0) and time.monotonic() < deadline:
        time.sleep(0.1)  # the sandbox saves the held payment
    assert settle_after(engine, action_id) > 0  # it landed inside the window Tally waits
    assert settle(engine, cw=cw, qbo=qbo).written == [action_id]
    assert status_of(engine, action_id).status == "succeeded"
    assert counts(running).minus(before) == (1, 0)


def test_a_quickbooks_mirror_whose_first_attempt_lands_late_is_made_once(engine: Engine, books: Books) -> None:
    running, findings, cw, qbo = books
    action_id = approved(engine, first(findings, "mirror_invoice"))
    before = counts(running)
    fault(running.qbo.url, hold_next={"count": 1, "seconds": HOLD, "commit": "after", "match": "^POST .*/invoice$"})
    action = execute(engine, action_id, cw=cw, qbo=qbo, actor="U1", tolerance=TOLERANCE)
    assert action.status == "succeeded", action.result  # the retry carried the same requestid
    time.sleep(HOLD)  # let the held first attempt land: QuickBooks replays the first answer for its requestid
    assert counts(running).minus(before) == (0, 1)


def test_a_write_that_never_lands_is_called_unwritten_only_after_it_could_no_longer_land(
    engine: Engine, books: Books
) -> None:
    running, findings, cw, qbo = books
    finding = first(findings, "apply_credit_in_cw")
    action_id = approved(engine, finding)
    before = counts(running)
    fault(running.cw.url, timeout_next={"count": 1, "seconds": READ_TIMEOUT * 3, "match": "^POST "})
    action = execute(engine, action_id, cw=cw, qbo=qbo, actor="U1", tolerance=TOLERANCE)
    assert action.status == "unsure"
    assert "Nothing was written" not in (action.result or "")
    assert settle(engine, cw=cw, qbo=qbo).not_written == []
    time.sleep(max(0.0, settle_after(engine, action_id)) + 0.05)
    assert settle(engine, cw=cw, qbo=qbo).not_written == [action_id]
    action = status_of(engine, action_id)
    assert action.status == "failed"
    assert "was not written: Tally lost the answer, waited until the write could no longer land" in (
        action.result or ""
    )
    assert counts(running).minus(before) == (0, 0)
    assert proposed(engine, finding) != action_id  # now, and only now, it may be proposed again


def test_a_refusal_that_proves_nothing_ran_fails_at_once_and_says_so(engine: Engine, books: Books) -> None:
    running, findings, cw, qbo = books
    action_id = approved(engine, first(findings, "backflow_payment"))
    before = counts(running)
    fault(running.cw.url, fail_next={"count": 2, "status": 429, "match": "^POST "})  # throttled, not run, twice
    action = execute(engine, action_id, cw=cw, qbo=qbo, actor="U1", tolerance=TOLERANCE)
    assert action.status == "failed"
    assert (action.result or "").endswith("Nothing was written.")
    assert counts(running).minus(before) == (0, 0)
