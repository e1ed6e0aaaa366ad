"""How the QuickBooks connection is doing, in one value for ``/tally status`` and ``tally qbo status``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sync.crypto import TokenCipher, UndecryptableError
from sync.models import QBOConnection
from sync.qbo_auth import errors
from sync.qbo_auth.store import NEEDS_RECONNECT


class ConnectionState(StrEnum):
    """The connection's condition, worst last."""

    CONNECTED = "connected"
    EXPIRING = "expiring"  # works, but the refresh token dies within the warning window
    NOT_CONNECTED = "not_connected"
    NEEDS_RECONNECT = "needs_reconnect"


@dataclass(frozen=True)
class ConnectionHealth:
    """The connection's state, the sentence a person reads, and the times behind it (UTC)."""

    state: ConnectionState
    sentence: str
    realm_id: str | None = None
    access_expires_at: datetime | None = None
    refresh_expires_at: datetime | None = None
    warn_reconnect_by: datetime | None = None  # set while EXPIRING: reconnect before this time

    @property
    def ok(self) -> bool:
        """Tell whether Tally can get access tokens without an admin's help."""
        return self.state in (ConnectionState.CONNECTED, ConnectionState.EXPIRING)


def health_of(
    row: QBOConnection | None, *, cipher: TokenCipher, now: datetime, warn_within: timedelta
) -> ConnectionHealth:
    """Judge ``row`` at ``now``."""
    if row is None:
        return ConnectionHealth(ConnectionState.NOT_CONNECTED, errors.not_connected())
    state, sentence = _judge(row, cipher=cipher, now=now)
    warn_by = None
    if state is ConnectionState.CONNECTED and row.refresh_expires_at is not None:
        if row.refresh_expires_at - now <= warn_within:
            state, sentence = ConnectionState.EXPIRING, errors.expiring(row.refresh_expires_at, now)
            warn_by = row.refresh_expires_at
        else:
            sentence = errors.connected(row.realm_id, row.refresh_expires_at)
    return ConnectionHealth(
        state=state,
        sentence=sentence,
        realm_id=row.realm_id,
        access_expires_at=row.access_expires_at,
        refresh_expires_at=row.refresh_expires_at,
        warn_reconnect_by=warn_by,
    )


def _judge(row: QBOConnection, *, cipher: TokenCipher, now: datetime) -> tuple[ConnectionState, str]:
    if row.state == NEEDS_RECONNECT:
        return ConnectionState.NEEDS_RECONNECT, row.reason or errors.not_connected()
    if row.refresh_token is None:
        return ConnectionState.NOT_CONNECTED, errors.not_connected()
    try:
        cipher.decrypt(row.refresh_token)
    except UndecryptableError:
        return ConnectionState.NEEDS_RECONNECT, errors.undecryptable()
    if row.refresh_expires_at is not None and row.refresh_expires_at <= now:
        return ConnectionState.NEEDS_RECONNECT, errors.expired(row.refresh_expires_at)
    return ConnectionState.CONNECTED, errors.connected(row.realm_id, row.refresh_expires_at)
