"""The database layer: migrations match the models, money and time round-trip exactly on both engines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel, select

from sync.db import session_scope
from sync.models import CWInvoice


def test_migrations_create_exactly_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert diff == []


def test_money_and_times_round_trip_exactly(engine: Engine) -> None:
    eastern = timezone(timedelta(hours=-5))
    with session_scope(engine) as session:
        session.add(
            CWInvoice(
                id=1,
                number="10231",
                number_key="10231",
                type="Standard",
                total=Decimal("1080.10"),
                balance=Decimal("0.01"),
                last_updated=datetime(2026, 11, 20, 9, 30, tzinfo=eastern),
            )
        )
    with session_scope(engine) as session:
        row = session.exec(select(CWInvoice)).one()
    assert row.total == Decimal("1080.10")
    assert isinstance(row.total, Decimal)
    assert row.balance == Decimal("0.01")
    assert row.last_updated == datetime(2026, 11, 20, 14, 30, tzinfo=UTC)
    assert row.last_updated is not None
    assert row.last_updated.tzinfo is not None


def test_naive_times_are_refused(engine: Engine) -> None:
    with pytest.raises(Exception, match="naive datetime"), session_scope(engine) as session:
        session.add(CWInvoice(id=2, number="1", number_key="1", type="Standard", last_updated=datetime(2026, 1, 1)))  # noqa: DTZ001


def test_the_audit_trail_is_append_only_in_the_database(engine: Engine) -> None:
    from sqlalchemy import text

    from sync.models import AuditEvent, utcnow

    with session_scope(engine) as session:
        session.add(AuditEvent(at=utcnow(), actor="cli:ana", verb="action.approved", subject="action:1"))
    for statement in ("UPDATE audit_event SET actor = 'mallory'", "DELETE FROM audit_event"):
        with pytest.raises(Exception, match="append-only"), session_scope(engine) as session:
            session.execute(text(statement))
    with session_scope(engine) as session:
        assert session.execute(text("SELECT actor FROM audit_event")).scalar_one() == "cli:ana"
