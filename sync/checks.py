"""A check: sync both systems into the cache, reconcile, remember the findings, propose the fixes.

This is the one job the scheduler, the Slack ``check`` command and ``tally check`` all run.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from sqlmodel import col

from sync.actions import execute, propose, settle
from sync.cache import SyncReport, run_sync
from sync.cache.snapshot import load_snapshot
from sync.cache.store import Progress, no_progress, read_cursor, write_cursor
from sync.clients.connectwise import ConnectWiseClient
from sync.clients.quickbooks import QuickBooksClient
from sync.db import session_scope
from sync.explain import explain_causes
from sync.findings import FindingChanges, as_finding, store_findings
from sync.models import Action, Approval, CustomerLink, FindingRecord, SyncCursor, utcnow
from sync.reconcile import Finding, Policy, reconcile
from sync.reconcile.engine import next_change
from sync.reconcile.model import Snapshot
from sync.settings import Settings

LIVE = ("proposed", "approved", "executing", "unsure")


@dataclass
class CheckResult:
    """What a check found and changed."""

    findings: list[Finding]
    changes: FindingChanges
    sync: SyncReport | None
    actions: dict[str, Action] = field(default_factory=dict)  # finding key -> its live (or latest) action
    at: datetime = field(default_factory=utcnow)


def policy_of(settings: Settings, now: datetime) -> Policy:
    """The reconciliation policy from settings."""
    return Policy(now=now, tolerance=settings.tolerance, grace=settings.sync_grace)


def run_check(
    engine: Engine,
    settings: Settings,
    *,
    cw: ConnectWiseClient | None,
    qbo: QuickBooksClient | None,
    actor: str,
    full: bool = False,
    now: datetime | None = None,
    progress: Progress = no_progress,
) -> CheckResult:
    """Sync (unless no clients are given: reconcile the cache as it is), reconcile, store, propose."""
    if cw and qbo:
        settle(engine, cw=cw, qbo=qbo, actor=actor)  # writes a crashed process left unsure, settled by looking
    report = (
        run_sync(engine, cw, qbo, full=full, progress=progress, cw_workers=settings.cw_concurrency)
        if cw and qbo
        else None
    )
    now = now or utcnow()
    with session_scope(engine) as session:
        snapshot = load_snapshot(session, customer_map=stored_mapping(session))
        books = _books_fingerprint(snapshot, settings)
        if not full:
            quiet = _quiet_result(session, books, now=now, report=report)
            if quiet is not None:
                return quiet
    policy = policy_of(settings, now)
    findings = reconcile(snapshot, policy)
    with session_scope(engine) as session:
        findings = explain_causes(session, findings)  # the real cause, where Tally's own records show it
    with session_scope(engine, write_lock=True) as session:
        changes = store_findings(session, findings, now=now, actor=actor)
        rows = {row.key: row for row in session.execute(select(FindingRecord)).scalars()}
        for finding in findings:
            if finding.fix is not None:
                propose(session, rows[finding.key], settings=settings, actor=actor)
        actions = latest_actions(session, [finding.key for finding in findings])
        # Remembered with the findings, in their transaction: the books and fixes these findings are true for,
        # and until when (the next grace period to run out).
        _remember_quiet(session, _quiet_stream(session, books), next_change(snapshot, policy) or _FOREVER)
    if cw and qbo:
        for key, action in list(actions.items()):
            if action.status == "approved" and action.id is not None:  # approved by policy (TALLY_AUTO_APPROVE)
                actions[key] = execute(engine, action.id, cw=cw, qbo=qbo, actor=actor, tolerance=settings.tolerance)
    return CheckResult(findings=findings, changes=changes, sync=report, actions=actions, at=now)


_FOREVER = datetime(9999, 1, 1, tzinfo=UTC)
_QUIET = "check.quiet:"


# The shortcut "nothing changed, reuse the stored findings" keys on what the findings were computed from, never on
# what this check's own sync saw: a separate ``tally sync``, an interrupted full sync or an offline check changes
# the cache without this check's sync reporting a change, and a fix that failed, was settled as unwritten or was
# approved changes what should be proposed without the books moving at all.


def _books_fingerprint(snapshot: Snapshot, settings: Settings) -> str:
    """A digest of every cached row reconciliation reads, the confirmed mappings, and the settings it obeys."""
    digest = hashlib.blake2b(digest_size=16)
    policy = (
        settings.tolerance,
        settings.sync_grace,
        settings.dual_approval_above,
        sorted(settings.auto_approve.items()),
    )
    digest.update(repr(policy).encode())
    digest.update(repr(sorted(snapshot.customer_map.items())).encode())
    for rows in (
        snapshot.cw_companies,
        snapshot.cw_docs,
        snapshot.cw_credits,
        snapshot.qbo_customers,
        snapshot.qbo_docs,
        snapshot.qbo_payments,
    ):
        digest.update(b"\x00")
        for row in rows:
            digest.update(repr(row).encode())
    return digest.hexdigest()


def _fixes_fingerprint(session: Session) -> str:
    """Where every fix stands: any proposal, approval, failure or settling moves an action's ``updated_at``."""
    count, last_id, last_change = session.execute(
        select(func.count(col(Action.id)), func.max(col(Action.id)), func.max(col(Action.updated_at)))
    ).one()
    approvals = session.execute(select(func.count(col(Approval.id)), func.max(col(Approval.id)))).one()
    return f"{count}:{last_id}:{last_change.isoformat() if last_change else '-'}:{approvals[0]}:{approvals[1]}"


def _quiet_stream(session: Session, books: str) -> str:
    """The cursor naming how long the last reconcile stays true while the cache and the fixes stay as they are."""
    fixes = hashlib.blake2b(_fixes_fingerprint(session).encode(), digest_size=8).hexdigest()
    return f"{_QUIET}{books}:{fixes}"


def _remember_quiet(session: Session, stream: str, until: datetime) -> None:
    session.execute(delete(SyncCursor).where(col(SyncCursor.stream).startswith(_QUIET)))
    write_cursor(session, stream, until)


def _quiet_result(session: Session, books: str, *, now: datetime, report: SyncReport | None) -> CheckResult | None:
    """The cache and the fixes are as the last reconcile left them and no grace period ran out: reuse its answer."""
    until = read_cursor(session, _quiet_stream(session, books))
    if until is None or until <= now:
        return None
    rows = session.execute(select(FindingRecord).where(col(FindingRecord.status) == "open")).scalars().all()
    findings = sorted((as_finding(row) for row in rows), key=lambda finding: (finding.kind, finding.key))
    actions = latest_actions(session, [finding.key for finding in findings])
    return CheckResult(findings=findings, changes=FindingChanges(), sync=report, actions=actions, at=now)


def stored_mapping(session: Session) -> dict[int, str]:
    """CW company → QBO customer mappings a person confirmed."""
    return {row.cw_company_id: row.qbo_customer_id for row in session.execute(select(CustomerLink)).scalars()}


def latest_actions(session: Session, keys: list[str]) -> dict[str, Action]:
    """The newest action of each finding key (a live one when there is one)."""
    found: dict[str, Action] = {}
    statement = select(Action).where(col(Action.finding_key).in_(keys)).order_by(col(Action.id))
    for action in session.execute(statement).scalars():
        current = found.get(action.finding_key)
        if current is None or current.status not in LIVE or action.status in LIVE:
            found[action.finding_key] = action
    return found


def finding_json(finding: Finding, action: Action | None) -> dict[str, Any]:
    """One finding as ``tally check --json`` prints it (docs/json.md: amounts are strings)."""
    return {
        "kind": finding.kind,
        "key": finding.key,
        "invoice_number": finding.invoice_number,
        "customer": finding.customer,
        "cw": finding.cw,
        "qbo": finding.qbo,
        "amount": str(finding.amount),
        "explanation": finding.explanation,
        "action": {"id": action.id, "kind": action.kind, "status": action.status} if action else None,
    }


def check_json(result: CheckResult) -> dict[str, Any]:
    """The whole ``tally check --json`` object."""
    by_kind: dict[str, dict[str, Any]] = {}
    for finding in result.findings:
        entry = by_kind.setdefault(finding.kind, {"count": 0, "amount": Decimal("0.00")})
        entry["count"] += 1
        entry["amount"] += finding.amount
    return {
        "findings": [finding_json(f, result.actions.get(f.key)) for f in result.findings],
        "summary": {
            "checked_at": result.at.isoformat(),
            "open": len(result.findings),
            "new": len(result.changes.new),
            "resolved": len(result.changes.resolved),
            "fixable": sum(1 for f in result.findings if f.fix is not None),
            "by_kind": {kind: {"count": v["count"], "amount": str(v["amount"])} for kind, v in sorted(by_kind.items())},
        },
    }


def dumps(result: CheckResult) -> str:
    """Serialise a check for scripts."""
    return json.dumps(check_json(result), indent=2)
