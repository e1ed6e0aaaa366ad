"""Everyone clicks at once: threads and separate processes race to approve and execute one fix; it is written once."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from sandbox.cli import RunningSandbox
from sync.actions import approve, execute
from sync.clients.connectwise import ConnectWiseClient
from sync.clients.quickbooks import QuickBooksClient
from sync.models import Approval, LedgerEntry
from sync.reconcile import Finding
from tests.sandboxes import cw_client, qbo_client
from tests.sync.actions.helpers import (
    APPROVERS,
    IS_APPROVER,
    TOLERANCE,
    child_race,
    count,
    cw_rows,
    endpoints,
    events,
    findings_of,
    first,
    proposed,
    qbo_numbered,
    status_of,
    tiny_books,
)

Books = tuple[RunningSandbox, list[Finding], ConnectWiseClient, QuickBooksClient]


@pytest.fixture
def books(engine: Engine) -> Iterator[Books]:
    with tiny_books() as running, cw_client(running) as cw, qbo_client(running) as qbo:
        yield running, findings_of(engine, running), cw, qbo


def race_threads(engine: Engine, books: Books, action_id: int) -> None:
    """Every approver approves and executes ``action_id`` at the same moment, each on its own thread."""
    _, _, cw, qbo = books
    start = threading.Barrier(len(APPROVERS))
    errors: list[BaseException] = []

    def click(approver: str) -> None:
        try:
            start.wait(timeout=30)
            approve(engine, action_id, approver=approver, is_approver=IS_APPROVER)
            execute(engine, action_id, cw=cw, qbo=qbo, actor=approver, tolerance=TOLERANCE)
        except BaseException as exc:  # surfaced below: a thread's failure must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=click, args=(approver,)) for approver in APPROVERS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []


def assert_once(engine: Engine, action_id: int) -> None:
    assert status_of(engine, action_id).status == "succeeded"
    assert len(events(engine, action_id, "action.executing")) == 1
    assert len(events(engine, action_id, "action.succeeded")) == 1
    assert count(engine, LedgerEntry, action_id=action_id) == 1


def test_threads_racing_on_one_payment_write_it_once(engine: Engine, books: Books) -> None:
    running, findings, _, _ = books
    action_id = proposed(engine, first(findings, "backflow_payment"))
    race_threads(engine, books, action_id)
    assert len(cw_rows(running, 1)) == 1
    assert_once(engine, action_id)
    assert count(engine, Approval, action_id=action_id) == 1


def test_threads_racing_on_a_dual_approval_mirror_need_two_and_write_once(engine: Engine, books: Books) -> None:
    running, findings, _, _ = books
    finding = next(f for f in findings if f.key == "invoice_missing_in_qbo:10400")
    action_id = proposed(engine, finding)
    assert status_of(engine, action_id).approvals_needed == 2
    race_threads(engine, books, action_id)
    assert len(qbo_numbered(running, "Invoice", "10400")) == 1
    assert_once(engine, action_id)
    assert count(engine, Approval, action_id=action_id) == 2


def test_two_processes_racing_write_once(engine: Engine, database_url: str, books: Books) -> None:
    running, findings, _, _ = books
    action_id = proposed(engine, first(findings, "backflow_payment"))
    spawn = multiprocessing.get_context("spawn")
    barrier = spawn.Barrier(2)
    where = endpoints(running, database_url)
    children = [
        spawn.Process(target=child_race, args=(where, action_id, approver, barrier)) for approver in ("U1", "U2")
    ]
    for child in children:
        child.start()
    for child in children:
        child.join(timeout=60)
    assert [child.exitcode for child in children] == [0, 0]
    assert len(cw_rows(running, 1)) == 1
    assert_once(engine, action_id)
