"""Writing into the cache: bulk upserts that work on SQLite and PostgreSQL, and change counting."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlmodel import SQLModel

from sync.clients.errors import IncompleteReadError
from sync.models import SyncCursor

Progress = Callable[[str, int, int | None], None]


def no_progress(stream: str, advanced: int, total: int | None) -> None:
    """Ignore progress."""


@dataclass
class StreamReport:
    """What one stream changed in the cache."""

    created: int = 0
    updated: int = 0
    deleted: int = 0
    api_calls: int = 0
    seen: dict[str, int] = field(default_factory=dict)  # records read, per entity
    warnings: list[str] = field(default_factory=list)  # sentences a person must read (also logged as warnings)

    @property
    def changed(self) -> int:
        """Rows created, updated or deleted."""
        return self.created + self.updated + self.deleted

    def add(self, other: StreamReport) -> None:
        """Fold ``other`` into this report."""
        self.created += other.created
        self.updated += other.updated
        self.deleted += other.deleted
        self.api_calls += other.api_calls
        for entity, count in other.seen.items():
            self.seen[entity] = self.seen.get(entity, 0) + count
        self.warnings += [warning for warning in other.warnings if warning not in self.warnings]


def table_of(model: type[SQLModel]) -> Table:
    """The SQLAlchemy table behind a SQLModel class."""
    return cast(Table, model.__table__)  # type: ignore[attr-defined]


def upsert(session: Session, model: type[SQLModel], rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` or overwrite the rows with the same primary key."""
    if not rows:
        return
    table = table_of(model)
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    keys = [column.name for column in table.primary_key.columns]
    updates = {column.name: insert.excluded[column.name] for column in table.columns if column.name not in keys}
    statement = insert.on_conflict_do_update(index_elements=keys, set_=updates)
    session.execute(statement, list(rows))


def existing_versions(
    session: Session,
    model: type[SQLModel],
    ids: Iterable[Any],
    *,
    key: str = "id",
    version: str = "last_updated",
) -> dict[Any, Any]:
    """Return ``{id: last_updated}`` for the ids already cached, in chunks the databases accept."""
    table = table_of(model)
    found: dict[Any, Any] = {}
    id_list = list(ids)
    for start in range(0, len(id_list), 500):
        chunk = id_list[start : start + 500]
        statement = select(table.c[key], table.c[version]).where(table.c[key].in_(chunk))
        found.update({row[0]: row[1] for row in session.execute(statement)})
    return found


def count_changes(
    report: StreamReport,
    before: dict[Any, Any],
    rows: Sequence[dict[str, Any]],
    *,
    key: str = "id",
    version: str = "last_updated",
) -> None:
    """Count ``rows`` as created or updated against the versions cached ``before``."""
    for row in rows:
        if row[key] not in before:
            report.created += 1
        elif before[row[key]] != row[version]:
            report.updated += 1


def delete_ids(session: Session, model: type[SQLModel], ids: Iterable[Any], *, key: str = "id") -> int:
    """Delete the rows with these ids; return how many were named."""
    table = table_of(model)
    id_list = list(ids)
    for start in range(0, len(id_list), 500):
        session.execute(delete(table).where(table.c[key].in_(id_list[start : start + 500])))
    return len(id_list)


def cached_ids(session: Session, model: type[SQLModel], *, key: str = "id") -> set[Any]:
    """Return every cached id of ``model``."""
    table = table_of(model)
    return {row[0] for row in session.execute(select(table.c[key]))}


def read_cursor(session: Session, stream: str) -> datetime | None:
    """Return how far ``stream`` was read, or None if never."""
    cursor = session.get(SyncCursor, stream)
    return cursor.position if cursor is not None else None


def write_cursor(session: Session, stream: str, position: datetime) -> None:
    """Advance ``stream`` to ``position`` (in the caller's transaction, with the data it covers)."""
    upsert(session, SyncCursor, [{"stream": stream, "position": position, "updated_at": datetime.now(UTC)}])


def check_complete(*, system: str, what: str, read: int, before: int, after: int) -> None:
    """Raise ``IncompleteReadError`` when a full read saw fewer records than were there throughout it.

    ``before``/``after`` are the system's counts taken around the read: a record there at both ends had to be
    read, so fewer than ``min(before, after)`` means a page lost rows. Records created or deleted during the read
    move one count only, and never make this fail.
    """
    counted = min(before, after)
    if read < counted:
        raise IncompleteReadError(system=system, what=what, read=read, counted=counted)
