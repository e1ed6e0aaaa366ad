"""The audit trail: append-only events for every finding change, proposal, approval, rejection and write.

Who: a person (a Slack user id ``U…``, whether they came through Slack or a terminal login mapped by
``TALLY_OPERATORS``), ``scheduler``, or ``cli:<login>`` for a terminal login mapped to nobody; ``channel`` says
how they came (``slack`` / ``cli``). The database refuses updates and deletes
on ``audit_event`` (triggers in the initial migration), so the trail cannot be edited after the fact.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from sync.models import AuditEvent, utcnow


def record(
    session: Session,
    *,
    actor: str,
    verb: str,
    subject: str,
    amount_before: Decimal | None = None,
    amount_after: Decimal | None = None,
    remote_ids: Mapping[str, str] | None = None,
    detail: str | None = None,
    at: datetime | None = None,
    channel: str | None = None,
) -> AuditEvent:
    """Append one event in the caller's transaction (it commits with the change it describes)."""
    event = AuditEvent(
        at=at or utcnow(),
        actor=actor,
        verb=verb,
        subject=subject,
        amount_before=amount_before,
        amount_after=amount_after,
        remote_ids=json.dumps(dict(remote_ids), sort_keys=True) if remote_ids else None,
        detail=detail,
        channel=channel or None,
    )
    session.add(event)
    return event


def history(session: Session, *, subject: str | None = None, limit: int = 100) -> Sequence[AuditEvent]:
    """Return the newest events first, optionally for one subject (``finding:<key>`` / ``action:<id>``)."""
    statement = select(AuditEvent).order_by(col(AuditEvent.id).desc()).limit(limit)
    if subject is not None:
        statement = statement.where(col(AuditEvent.subject) == subject)
    return list(session.execute(statement).scalars())
