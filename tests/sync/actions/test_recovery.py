"""Writes whose answer was lost: a dropped connection, a process killed mid-flight, a write that never landed."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.engine import Engine

from sandbox.cli import RunningSandbox
from sync.actions import execute, settle
from sync.clients.connectwise import ConnectWiseClient
from sync.clients.quickbooks import QuickBooksClient
from sync.db import session_scope
from sync.models import Action, LedgerEntry, utcnow
from sync.reconcile import Finding
from tests.sandboxes import cw_client, qbo_client
from tests.sync.actions.helpers import (
    TOLERANCE,
    approved,
    child_execute_then_crash,
    count,
    cw_rows,
    endpoints,
    events,
    findings_of,
    first,
    proposed,
    qbo_numbered,
    qbo_payments_linking,
    status_of,
    tiny_books,
)

Books = tuple[RunningSandbox, list[Finding], ConnectWiseClient, QuickBooksClient]
NOW = timedelta(0)


class Crash(Exception):
    """Stands in for the process dying between the remote write and Tally's commit."""


@pytest.fixture
def books(engine: Engine) -> Iterator[Books]:
    with tiny_books() as running, cw_client(running) as cw, qbo_client(running) as qbo:
        yield running, findings_of(engine, running), cw, qbo


def fault(server_url: str, **settings: object) -> None:
    httpx.post(f"{server_url}/_sandbox/faults", json=settings).raise_for_status()


def dropped_all(server_url: str) -> bool:
    """Whether the sandbox used up its connection drops (the fault really happened)."""
    return bool(httpx.get(f"{server_url}/_sandbox/faults").json()["drop_next"]["count"] == 0)


def test_a_dropped_answer_from_connectwise_is_settled_by_looking(engine: Engine, books: Books) -> None:
    running, findings, cw, qbo = books
    action_id = approved(engine, first(findings, "backflow_payment"))
    fault(running.cw.url, drop_next={"count": 1, "match": "^POST .*/payments"})
    action = execute(engine, action_id, cw=cw, qbo=qbo, actor="U1", tolerance=TOLERANCE)
    assert action.status == "succeeded", action.result
    assert dropped_all(running.cw.url)
    [row] = cw_rows(running, 1)
    assert action.remote_id == str(row["id"])
    assert count(engine, LedgerEntry, status="done") == 1
    assert len(events(engine, action_id, "action.succeeded")) == 1


def test_a_dropped_answer_from_quickbooks_is_replayed_not_duplicated(engine: Engine, books: Books) -> None:
    running, findings, cw, qbo = books
    action_id = approved(engine, first(findings, "mirror_invoice"))
    fault(running.qbo.url, drop_next={"count": 1, "match": "^POST .*/invoice"})
    action = execute(engine, action_id, cw=cw, qbo=qbo, actor="U1", tolerance=TOLERANCE)
    assert action.status == "succeeded", action.result
    assert dropped_all(running.qbo.url)
    assert len(qbo_numbered(running, "Invoice", "10300")) == 1


@pytest.mark.parametrize(("fix_kind", "number"), [("backflow_payment", "10231"), ("mirror_invoice", "10300")])
def test_a_process_killed_after_the_write_is_settled_without_writing_again(
    engine: Engine, database_url: str, books: Books, fix_kind: str, number: str
) -> None:
    running, findings, cw, qbo = books
    action_id = approved(engine, first(findings, fix_kind))
    child = multiprocessing.get_context("spawn").Process(
        target=child_execute_then_crash, args=(endpoints(running, database_url), action_id)
    )
    child.start()
    child.join(timeout=60)
    assert child.exitcode == 1
    assert status_of(engine, action_id).status == "executing"
    assert count(engine, LedgerEntry, status="pending") == 1
    assert settle(engine, cw=cw, qbo=qbo).written == [action_id]  # found: settled at once, whatever its age
    action = status_of(engine, action_id)
    assert action.status == "succeeded"
    assert number in (action.result or "")
    written = cw_rows(running, 1) if fix_kind == "backflow_payment" else qbo_numbered(running, "Invoice", number)
    assert len(written) == 1
    assert action.remote_id == str(written[0].get("id", written[0].get("Id")))
    [event] = events(engine, action_id, "action.succeeded")
    assert event.actor == "recovery"
    assert settle(engine, cw=cw, qbo=qbo).written == []


@pytest.mark.parametrize("fix_kind", ["apply_credit_memo", "apply_credit_in_cw", "mirror_credit_memo"])
def test_every_kind_of_write_can_be_found_again(engine: Engine, books: Books, fix_kind: str) -> None:
    running, findings, cw, qbo = books
    finding = first(findings, fix_kind)
    action_id = approved(engine, finding)

    def crash() -> None:
        raise Crash

    with pytest.raises(Crash):
        execute(engine, action_id, cw=cw, qbo=qbo, actor="U1", tolerance=TOLERANCE, after_remote_write=crash)
    assert settle(engine, cw=cw, qbo=qbo, older_than=NOW).written == [action_id]
    assert status_of(engine, action_id).status == "succeeded"
    assert finding.fix is not None
    if fix_kind == "apply_credit_memo":
        assert len(qbo_payments_linking(running, finding.fix.params["qbo_credit_memo_id"])) == 1
    elif fix_kind == "apply_credit_in_cw":
        assert len(cw_rows(running, finding.fix.params["cw_invoice_id"])) == 1
    else:
        assert len(qbo_numbered(running, "CreditMemo", "CM10301")) == 1


def test_a_write_that_never_landed_is_unsure_until_it_could_no_longer_land_then_fails_safely(
    engine: Engine, books: Books
) -> None:
    running, findings, cw, qbo = books
    finding = first(findings, "backflow_payment")
    action_id = approved(engine, finding)
    fault(running.cw.url, fail_next={"count": 6, "status": 503, "match": "^POST "})
    action = execute(engine, action_id, cw=cw, qbo=qbo, actor="U1", tolerance=TOLERANCE)
    assert action.status == "unsure"  # a 503 may come from a gateway after ConnectWise saved the payment
    assert (action.result or "").startswith("Tally is checking whether the write landed.")
    assert httpx.get(f"{running.cw.url}/_sandbox/faults").json()["fail_next"]["count"] == 5  # sent once
    assert settle(engine, cw=cw, qbo=qbo).waiting == [action_id]  # not there, but it may still land
    late = utcnow() + cw.write_window
    assert settle(engine, cw=cw, qbo=qbo, now=late).not_written == [action_id]
    action = status_of(engine, action_id)
    assert action.status == "failed"
    assert "was not written" in (action.result or "")
    assert (action.result or "").endswith("It is safe to approve again when the next check proposes it.")
    assert cw_rows(running, 1) == []
    assert count(engine, LedgerEntry, status="failed") == 1
    fault(running.cw.url, fail_next=0)
    again = approved(engine, finding)
    assert again != action_id
    assert execute(engine, again, cw=cw, qbo=qbo, actor="U1", tolerance=TOLERANCE).status == "succeeded"
    assert len(cw_rows(running, 1)) == 1


def test_an_action_left_executing_before_any_write_is_failed_by_the_sweep(engine: Engine, books: Books) -> None:
    _, findings, cw, qbo = books
    action_id = proposed(engine, first(findings, "backflow_payment"))
    with session_scope(engine) as session:  # as if a process claimed it and died while re-checking
        session.execute(update(Action).where(Action.id == action_id).values(status="executing"))  # type: ignore[arg-type]
    assert settle(engine, cw=cw, qbo=qbo).not_written == []
    assert settle(engine, cw=cw, qbo=qbo, older_than=NOW).not_written == [action_id]
    action = status_of(engine, action_id)
    assert action.status == "failed"
    assert (action.result or "").startswith("Tally stopped before writing anything")


def test_a_system_that_cannot_be_read_leaves_the_write_pending_until_it_can(engine: Engine, books: Books) -> None:
    running, findings, cw, qbo = books
    action_id = approved(engine, first(findings, "backflow_payment"))

    def crash() -> None:
        raise Crash

    with pytest.raises(Crash):
        execute(engine, action_id, cw=cw, qbo=qbo, actor="U1", tolerance=TOLERANCE, after_remote_write=crash)
    fault(running.cw.url, fail_next={"count": 6, "status": 503})
    assert settle(engine, cw=cw, qbo=qbo, older_than=NOW).unsure == [action_id]
    assert (status_of(engine, action_id).status, count(engine, LedgerEntry, status="pending")) == ("executing", 1)
    assert settle(engine, cw=cw, qbo=qbo, older_than=NOW).written == [action_id]
    assert len(cw_rows(running, 1)) == 1
