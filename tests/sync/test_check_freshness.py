"""Every check reflects the books as they are (issue 8 §6), over real loopback HTTP.

The shortcut "nothing changed, reuse the stored findings" must key on what the cache holds and where the fixes
stand, not on what the check's own sync saw: after a separate ``tally sync``, an interrupted full sync, an offline
check, a fix that failed or was settled as unwritten, or a grace period running out, the next check reconciles and
proposes what is right. When truly nothing changed it still takes the shortcut.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from decimal import Decimal

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.engine import Engine
from sqlmodel import col

from sandbox.cli import RunningSandbox
from sync.actions import approve, execute
from sync.cache import run_sync
from sync.checks import CheckResult, run_check
from sync.clients.connectwise import ConnectWiseClient
from sync.clients.quickbooks import QuickBooksClient
from sync.db import session_scope
from sync.models import Action, AuditEvent, FindingRecord, LedgerEntry, SyncCursor, utcnow
from sync.settings import Settings
from tests.faults.books import READ_TIMEOUT, counts, fault, short_clients
from tests.sandboxes import cw_client, qbo_client, sandbox, served
from tests.sync.actions.helpers import IS_APPROVER, settings, tiny_books

PAYMENT = "payment_not_synced:10231"  # $1,234.50 paid in QuickBooks, nothing in ConnectWise (tiny books)
World = tuple[RunningSandbox, ConnectWiseClient, QuickBooksClient, Settings]


@pytest.fixture
def world() -> Iterator[World]:
    with tiny_books() as running, short_clients(running) as (cw, qbo):
        yield running, cw, qbo, settings()


def check(engine: Engine, world: World, **options: object) -> CheckResult:
    _, cw, qbo, config = world
    return run_check(engine, config, cw=cw, qbo=qbo, actor="scheduler", **options)  # type: ignore[arg-type]


def finding(engine: Engine, key: str) -> FindingRecord:
    with session_scope(engine) as session:
        row = session.get(FindingRecord, key)
        assert row is not None
        return row


def live_actions(engine: Engine, key: str) -> list[Action]:
    with session_scope(engine) as session:
        statement = select(Action).where(col(Action.finding_key) == key, col(Action.status) == "proposed")
        return list(session.execute(statement).scalars())


def pay_by_hand(cw: ConnectWiseClient, result: CheckResult) -> None:
    """Someone records the missing payment in ConnectWise themselves."""
    action = result.actions[PAYMENT]
    params = json.loads(action.params)
    cw.create_payment(int(params["cw_invoice_id"]), Decimal(params["amount"]), utcnow().date())


def test_a_separate_sync_is_reconciled_by_the_next_check(engine: Engine, world: World) -> None:
    _, cw, qbo, _ = world
    first = check(engine, world)
    assert finding(engine, PAYMENT).status == "open"
    pay_by_hand(cw, first)
    run_sync(engine, cw, qbo)  # `tally sync`: the cache now holds the payment; the check's own sync will see nothing
    second = check(engine, world)
    assert second.sync is not None
    assert second.sync.changed == 0
    assert PAYMENT in second.changes.resolved
    assert finding(engine, PAYMENT).resolved_by == "the books agree"
    assert live_actions(engine, PAYMENT) == []  # the fix is not offered for what was fixed by hand


def test_an_interrupted_full_sync_is_reconciled_by_the_next_check(engine: Engine, world: World) -> None:
    running, cw, qbo, _ = world
    first = check(engine, world)
    pay_by_hand(cw, first)
    fault(running.qbo.url, fail_next={"count": 50, "status": 500})  # QuickBooks down: the full sync dies half-way
    with pytest.raises(Exception):  # noqa: B017, PT011 - whichever error the client raises, the sync stops
        run_sync(engine, cw, qbo, full=True)
    fault(running.qbo.url, fail_next={"count": 0})
    second = check(engine, world)  # ConnectWise's half was committed: this sync sees nothing new
    assert PAYMENT in second.changes.resolved


def test_an_offline_check_and_the_next_online_check_agree_with_the_cache(engine: Engine, world: World) -> None:
    _, cw, qbo, config = world
    first = check(engine, world)
    pay_by_hand(cw, first)
    run_sync(engine, cw, qbo)
    offline = run_check(engine, config, cw=None, qbo=None, actor="cli:ana")
    assert PAYMENT in offline.changes.resolved
    online = check(engine, world)
    assert PAYMENT not in {f.key for f in online.findings}
    assert online.changes.new == []


def test_a_fix_that_failed_is_proposed_again_while_the_books_are_quiet(engine: Engine, world: World) -> None:
    running, cw, qbo, config = world
    first = check(engine, world)
    action = first.actions[PAYMENT]
    assert action.id is not None
    assert approve(engine, action.id, approver="U1", is_approver=IS_APPROVER).ready
    before = counts(running)
    fault(running.cw.url, fail_next={"count": 2, "status": 429, "match": "^POST "})  # refused twice: nothing ran
    done = execute(engine, action.id, cw=cw, qbo=qbo, actor="U1", tolerance=config.tolerance)
    assert done.status == "failed"
    second = check(engine, world)
    again = second.actions[PAYMENT]
    assert again.id != action.id
    assert again.status == "proposed"
    assert again.amount == action.amount
    assert counts(running).minus(before) == (0, 0)


def test_a_fix_settled_as_unwritten_is_proposed_again(engine: Engine, world: World) -> None:
    running, cw, qbo, config = world
    first = check(engine, world)
    action = first.actions[PAYMENT]
    assert action.id is not None
    assert approve(engine, action.id, approver="U1", is_approver=IS_APPROVER).ready
    before = counts(running)
    fault(running.cw.url, timeout_next={"count": 1, "seconds": READ_TIMEOUT * 3, "match": "^POST "})
    assert execute(engine, action.id, cw=cw, qbo=qbo, actor="U1", tolerance=config.tolerance).status == "unsure"
    unsure = check(engine, world)  # too early to call it unwritten: nothing is proposed over an unsure write
    assert unsure.actions[PAYMENT].id == action.id
    assert unsure.actions[PAYMENT].status == "unsure"
    with session_scope(engine) as session:
        entry = session.execute(select(LedgerEntry).where(col(LedgerEntry.action_id) == action.id)).scalars().one()
        assert entry.settle_after is not None
        wait = (entry.settle_after - utcnow()).total_seconds()
    time.sleep(max(0.0, wait) + 0.1)
    second = check(engine, world)  # settles it as not written (it looked), then proposes the fix again
    with session_scope(engine) as session:
        old = session.get(Action, action.id)
        assert old is not None
        assert old.status == "failed"
    again = second.actions[PAYMENT]
    assert again.id != action.id
    assert again.status == "proposed"
    assert counts(running).minus(before) == (0, 0)


def test_a_grace_period_running_out_is_reconciled(engine: Engine, world: World) -> None:
    check(engine, world)
    seen = finding(engine, PAYMENT).last_seen
    later = check(engine, world, now=utcnow() + settings().sync_grace)
    assert finding(engine, PAYMENT).last_seen != seen  # reconciled at the later time, not reused
    assert "invoice_missing_in_qbo:10300" in later.changes.opened  # its grace ran out: reported now


def _reconcile_stamps(engine: Engine) -> int:
    with session_scope(engine) as session:
        return int(session.execute(select(func.count(col(AuditEvent.id)))).scalar_one())


def test_when_nothing_changed_the_shortcut_still_applies(engine: Engine, database_url: str) -> None:
    with sandbox("small", seed=14) as running, cw_client(running) as cw, qbo_client(running) as qbo:
        config = settings(TALLY_APPROVERS="cli:ana")
        run_check(engine, config, cw=cw, qbo=qbo, actor="scheduler")
        seen = {row.key: row.last_seen for row in _all(engine)}
        events = _reconcile_stamps(engine)

        calls, started = served(running), time.perf_counter()
        quiet = run_check(engine, config, cw=cw, qbo=qbo, actor="scheduler")
        quiet_seconds, quiet_calls = time.perf_counter() - started, served(running) - calls
        assert {row.key: row.last_seen for row in _all(engine)} == seen  # not reconciled: nothing stamped
        assert _reconcile_stamps(engine) == events

        with session_scope(engine) as session:  # forget the shortcut: the same check, reconciling
            session.execute(delete(SyncCursor).where(col(SyncCursor.stream).startswith("check.quiet:")))
        calls, started = served(running), time.perf_counter()
        full = run_check(engine, config, cw=cw, qbo=qbo, actor="scheduler")
        full_seconds, full_calls = time.perf_counter() - started, served(running) - calls
    assert [f.key for f in quiet.findings] == [f.key for f in full.findings]
    assert quiet_calls == full_calls  # the sync is the same; only the reconcile is saved
    print(f"quiet check {quiet_seconds:.3f}s ({quiet_calls} calls), reconciling check {full_seconds:.3f}s")


def _all(engine: Engine) -> list[FindingRecord]:
    with session_scope(engine) as session:
        return list(session.execute(select(FindingRecord)).scalars())
