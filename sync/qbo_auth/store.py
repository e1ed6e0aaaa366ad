"""The ``qbo_connection`` row: the only place QuickBooks tokens live, encrypted, newest refresh token always.

Refreshes run under a lock on the row so two processes never spend the same refresh token: ``SELECT ... FOR
UPDATE`` on PostgreSQL, the database write lock (``BEGIN IMMEDIATE``) on SQLite, where ``FOR UPDATE`` renders
as nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from sync.crypto import TokenCipher
from sync.db import session_scope
from sync.models import QBOConnection
from sync.qbo_auth.errors import QuickBooksOtherCompany
from sync.qbo_auth.intuit import TokenGrant

CONNECTED = "connected"
NEEDS_RECONNECT = "needs_reconnect"


class ConnectionStore:
    """Read, lock and write the connection row of the configured realm (or the only row there is)."""

    def __init__(self, engine: Engine, cipher: TokenCipher, *, realm_id: str | None) -> None:
        self.engine = engine
        self.cipher = cipher
        self.realm_id = realm_id

    def read(self) -> QBOConnection | None:
        """Return the connection row as committed now, unlocked."""
        with session_scope(self.engine) as session:
            return self._find(session, lock=False)

    @contextmanager
    def locked(self) -> Iterator[tuple[Session, QBOConnection | None]]:
        """Lock the row for a read-modify-write; changes commit when the block ends without an exception."""
        with session_scope(self.engine, write_lock=True) as session:
            yield session, self._find(session, lock=True)

    def bootstrap(self, *, realm_id: str, refresh_token: str, now: datetime) -> QBOConnection:
        """Create the row from a configured refresh token unless a row exists (another process may race)."""
        try:
            with session_scope(self.engine, write_lock=True) as session:
                if self._find(session, lock=True) is None:
                    row = QBOConnection(realm_id=realm_id, state=CONNECTED, updated_at=now)
                    row.refresh_token = self.cipher.encrypt(refresh_token)
                    session.add(row)
        except IntegrityError:
            pass  # PostgreSQL: another process inserted the same realm first; its row is as good
        stored = self.read()
        assert stored is not None
        return stored

    def save_connection(self, *, realm_id: str, grant: TokenGrant, reason: str | None, now: datetime) -> None:
        """Store a new grant for ``realm_id``; ``QuickBooksOtherCompany`` if another company is connected already."""
        for attempt in range(2):
            try:
                with session_scope(self.engine, write_lock=True) as session:
                    self._upsert(session, realm_id=realm_id, grant=grant, reason=reason, now=now)
                return
            except IntegrityError:
                if attempt:  # PostgreSQL: a concurrent bootstrap inserted the realm; update it instead
                    raise

    def store_grant(self, row: QBOConnection, grant: TokenGrant, *, reason: str | None, now: datetime) -> None:
        """Put ``grant`` on ``row`` encrypted, mark it connected and bump the generation."""
        row.access_token = self.cipher.encrypt(grant.access_token)
        row.access_expires_at = grant.access_expires_at
        row.refresh_token = self.cipher.encrypt(grant.refresh_token)
        row.refresh_expires_at = grant.refresh_expires_at
        row.state = CONNECTED
        row.reason = reason
        row.generation = (row.generation or 0) + 1
        row.updated_at = now

    def _upsert(self, session: Session, *, realm_id: str, grant: TokenGrant, reason: str | None, now: datetime) -> None:
        if self.realm_id is None:  # Tally talks to one company: the first connected stays (under the lock)
            other = session.exec(select(QBOConnection).where(col(QBOConnection.realm_id) != realm_id)).first()
            if other is not None:
                raise QuickBooksOtherCompany(
                    f"You chose QuickBooks company {realm_id}, but Tally is connected to company {other.realm_id} "
                    "and will not replace it."
                )
        statement = select(QBOConnection).where(QBOConnection.realm_id == realm_id).with_for_update()
        row = session.exec(statement).first() or QBOConnection(realm_id=realm_id)
        self.store_grant(row, grant, reason=reason, now=now)
        session.add(row)

    def _find(self, session: Session, *, lock: bool) -> QBOConnection | None:
        statement = select(QBOConnection)
        if self.realm_id is not None:
            statement = statement.where(QBOConnection.realm_id == self.realm_id)
        statement = statement.order_by(col(QBOConnection.id)).limit(1)
        if lock:
            statement = statement.with_for_update()
        return session.exec(statement).first()
