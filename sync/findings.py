"""Findings as Tally remembers them: reported once, updated in place, resolved when the books agree again.

``store_findings`` takes what the engine found in this check and brings the ``finding`` table in line: new keys
open (audited ``finding.opened``), known keys are updated in place (``finding.updated`` when the amount or the
explanation moved), open keys no longer found are resolved — by the action that fixed them when one succeeded,
else because the books agree (someone fixed it by hand) — and resolved keys found again reopen.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from sync.audit import record
from sync.models import Action, FindingRecord
from sync.reconcile.model import Finding, FixSpec


@dataclass
class FindingChanges:
    """What one check changed in the findings table."""

    opened: list[str] = field(default_factory=list)
    reopened: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)

    @property
    def new(self) -> list[str]:
        """Keys that need telling people about (opened or reopened)."""
        return [*self.opened, *self.reopened]


def _values(finding: Finding) -> dict[str, Any]:
    return {
        "kind": finding.kind,
        "customer": finding.customer,
        "documents": json.dumps(list(finding.documents)),
        "amount": finding.amount,
        "explanation": finding.explanation,
        "cw": json.dumps(finding.cw, sort_keys=True),
        "qbo": json.dumps(finding.qbo, sort_keys=True),
        "fix_kind": finding.fix.kind if finding.fix else None,
        "fix_params": json.dumps(finding.fix.params, sort_keys=True) if finding.fix else None,
    }


def store_findings(session: Session, findings: Sequence[Finding], *, now: datetime, actor: str) -> FindingChanges:
    """Bring the stored findings in line with this check's findings (in the caller's transaction)."""
    changes = FindingChanges()
    rows = {row.key: row for row in session.execute(select(FindingRecord)).scalars()}
    current = {finding.key for finding in findings}
    for finding in findings:
        row = rows.get(finding.key)
        values = _values(finding)
        if row is None:
            session.add(FindingRecord(key=finding.key, status="open", first_seen=now, last_seen=now, **values))
            record(
                session,
                actor=actor,
                verb="finding.opened",
                subject=f"finding:{finding.key}",
                amount_after=finding.amount,
                detail=finding.explanation,
                at=now,
            )
            changes.opened.append(finding.key)
            continue
        before = row.amount
        moved = row.amount != finding.amount or row.explanation != finding.explanation
        for name, value in values.items():
            setattr(row, name, value)
        row.last_seen = now
        if row.status == "resolved":
            row.status, row.resolved_at, row.resolved_by = "open", None, None
            record(
                session,
                actor=actor,
                verb="finding.reopened",
                subject=f"finding:{finding.key}",
                amount_after=finding.amount,
                detail=finding.explanation,
                at=now,
            )
            changes.reopened.append(finding.key)
        elif moved:
            record(
                session,
                actor=actor,
                verb="finding.updated",
                subject=f"finding:{finding.key}",
                amount_before=before,
                amount_after=finding.amount,
                detail=finding.explanation,
                at=now,
            )
            changes.updated.append(finding.key)
    for key, row in rows.items():
        if row.status == "open" and key not in current:
            _resolve(session, row, now=now, actor=actor)
            changes.resolved.append(key)
    return changes


def _resolve(session: Session, row: FindingRecord, *, now: datetime, actor: str) -> None:
    fixed_by = session.execute(
        select(col(Action.id))
        .where(col(Action.finding_key) == row.key, col(Action.status) == "succeeded")
        .where(col(Action.undoes_action_id).is_(None))  # an undo puts the disagreement back; it fixes nothing
        .order_by(col(Action.id).desc())
    ).first()
    row.status, row.resolved_at = "resolved", now
    row.resolved_by = f"action:{fixed_by[0]}" if fixed_by else "the books agree"
    how = f"fixed by Tally (action {fixed_by[0]})" if fixed_by else "the books agree again (fixed by hand)"
    _supersede_pending(session, row.key, now=now, actor=actor)
    record(
        session,
        actor=actor,
        verb="finding.resolved",
        subject=f"finding:{row.key}",
        amount_before=row.amount,
        amount_after=None,
        detail=how,
        at=now,
    )


def open_findings(session: Session, *, kind: str | None = None) -> list[FindingRecord]:
    """Return the open findings, largest amount first."""
    statement = select(FindingRecord).where(col(FindingRecord.status) == "open")
    if kind is not None:
        statement = statement.where(col(FindingRecord.kind) == kind)
    return sorted(session.execute(statement).scalars(), key=lambda row: (-row.amount, row.key))


def _supersede_pending(session: Session, key: str, *, now: datetime, actor: str) -> None:
    """A fix still waiting for approval is no longer needed once the books agree."""
    waiting = select(Action).where(col(Action.finding_key) == key, col(Action.status).in_(("proposed", "approved")))
    for action in session.execute(waiting).scalars():
        action.status, action.updated_at = "superseded", now
        action.result = "The books agree again without it (someone fixed it by hand)."
        record(
            session,
            actor=actor,
            verb="action.superseded",
            subject=f"action:{action.id}",
            amount_before=action.amount,
            detail=action.result,
            at=now,
        )


def as_finding(row: FindingRecord) -> Finding:
    """A stored finding, back as the engine's record (for a check that had nothing new to reconcile)."""
    fix = FixSpec(row.fix_kind, json.loads(row.fix_params)) if row.fix_kind and row.fix_params else None
    return Finding(
        kind=row.kind,
        key=row.key,
        documents=tuple(json.loads(row.documents)),
        customer=row.customer,
        amount=row.amount,
        explanation=row.explanation,
        cw=json.loads(row.cw),
        qbo=json.loads(row.qbo),
        fix=fix,
    )
