"""A check end to end: findings remembered once, updated in place, resolved by Tally or by hand; fixes proposed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import col

from sandbox.cli import RunningSandbox
from sync.actions import approve, approver_check, execute
from sync.checks import check_json, run_check
from sync.db import session_scope
from sync.models import Action, AuditEvent, FindingRecord, utcnow
from sync.settings import Settings
from tests.sandboxes import cw_client, qbo_client, sandbox


@pytest.fixture
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    with sandbox("small", seed=9) as running:
        yield running


def settings_for(running: RunningSandbox, database_url: str, **extra: str) -> Settings:
    return Settings(**{**running.env(), "DATABASE_URL": database_url, "TALLY_APPROVERS": "cli:ana,cli:ben", **extra})  # type: ignore[arg-type]


def rows(engine: Engine) -> dict[str, FindingRecord]:
    with session_scope(engine) as session:
        return {row.key: row for row in session.execute(select(FindingRecord)).scalars()}


def verbs(engine: Engine, subject: str) -> list[str]:
    with session_scope(engine) as session:
        statement = select(AuditEvent.verb).where(col(AuditEvent.subject) == subject).order_by(col(AuditEvent.id))
        return list(session.execute(statement).scalars())


def test_a_check_reports_the_planted_truth_once_and_proposes_every_fix(
    engine: Engine, database_url: str, world: RunningSandbox
) -> None:
    settings = settings_for(world, database_url)
    with cw_client(world) as cw, qbo_client(world) as qbo:
        first = run_check(engine, settings, cw=cw, qbo=qbo, actor="scheduler")
        second = run_check(engine, settings, cw=cw, qbo=qbo, actor="scheduler")
    planted = {(f["kind"], f["key"]) for f in world.books.manifest.to_dict()["findings"]}
    assert {(f.kind, f.key) for f in first.findings} == planted
    assert len(first.changes.opened) == len(planted)
    assert second.changes.new == []  # reported once, not again
    assert second.changes.updated == []
    fixable = {f.key for f in first.findings if f.fix is not None}
    assert set(second.actions) >= fixable
    assert {a.status for k, a in second.actions.items() if k in fixable} == {"proposed"}
    document = check_json(second)
    assert document["summary"]["open"] == len(planted)
    one = document["findings"][0]
    assert set(one) >= {"kind", "key", "invoice_number", "customer", "cw", "qbo", "amount", "action"}
    assert isinstance(one["amount"], str)
    Decimal(one["amount"])


def test_fixed_findings_resolve_by_tally_and_by_hand(engine: Engine, database_url: str, world: RunningSandbox) -> None:
    settings = settings_for(world, database_url)
    with cw_client(world) as cw, qbo_client(world) as qbo:
        first = run_check(engine, settings, cw=cw, qbo=qbo, actor="scheduler")
        backflows = [a for a in first.actions.values() if a.kind == "backflow_payment" and a.approvals_needed == 1]
        by_tally, by_hand = backflows[0], backflows[1]
        assert by_tally.id is not None
        approve(engine, by_tally.id, approver="cli:ana", is_approver=approver_check(settings))
        execute(engine, by_tally.id, cw=cw, qbo=qbo, actor="cli:ana", tolerance=settings.tolerance)
        params = json.loads(by_hand.params)
        cw.create_payment(int(params["cw_invoice_id"]), Decimal(params["amount"]), utcnow().date())
        third = run_check(engine, settings, cw=cw, qbo=qbo, actor="scheduler")
    stored = rows(engine)
    assert by_tally.finding_key in third.changes.resolved
    assert stored[by_tally.finding_key].resolved_by == f"action:{by_tally.id}"
    assert stored[by_hand.finding_key].status == "resolved"
    assert stored[by_hand.finding_key].resolved_by == "the books agree"
    assert verbs(engine, f"finding:{by_hand.finding_key}") == ["finding.opened", "finding.resolved"]
    with session_scope(engine) as session:
        hand_action = session.get(Action, by_hand.id)
        assert hand_action is not None
        assert hand_action.status == "superseded"  # never executed: the books agreed without it
        assert hand_action.result is not None
        assert "by hand" in hand_action.result


def test_a_finding_whose_amount_moves_is_updated_in_place(engine: Engine, database_url: str) -> None:
    with sandbox("small", seed=10) as running, cw_client(running) as cw, qbo_client(running) as qbo:
        settings = settings_for(running, database_url)
        first = run_check(engine, settings, cw=cw, qbo=qbo, actor="scheduler")
        partial = next(f for f in first.findings if f.kind == "payment_not_synced" and f.amount > Decimal("20"))
        cw.create_payment(int(partial.cw["id"]), Decimal("10.00"), utcnow().date())
        second = run_check(engine, settings, cw=cw, qbo=qbo, actor="scheduler")
    assert partial.key in second.changes.updated
    assert rows(engine)[partial.key].amount == partial.amount - Decimal("10.00")
    assert verbs(engine, f"finding:{partial.key}") == ["finding.opened", "finding.updated"]
    assert second.actions[partial.key].amount == partial.amount - Decimal("10.00")


def test_nothing_changed_reuses_the_findings_until_a_grace_period_ends(engine: Engine, database_url: str) -> None:
    with sandbox("small", seed=14) as running, cw_client(running) as cw, qbo_client(running) as qbo:
        settings = settings_for(running, database_url)
        first = run_check(engine, settings, cw=cw, qbo=qbo, actor="scheduler")
        seen = {key: row.last_seen for key, row in rows(engine).items()}
        quiet = run_check(engine, settings, cw=cw, qbo=qbo, actor="scheduler")
        assert [(f.key, f.amount, f.fix) for f in quiet.findings] == [(f.key, f.amount, f.fix) for f in first.findings]
        # not reconciled again: a reconcile would have stamped every finding as seen now
        assert {key: row.last_seen for key, row in rows(engine).items()} == seen
        in_grace = next(
            n["documents"][0] for n in running.books.manifest.to_dict()["not_findings"] if n["reason"] == "in_grace"
        )
        later = run_check(engine, settings, cw=cw, qbo=qbo, actor="scheduler", now=utcnow() + settings.sync_grace)
    assert f"invoice_missing_in_qbo:{in_grace}" in later.changes.opened
    assert all(row.last_seen != seen.get(key) for key, row in rows(engine).items() if row.status == "open")
