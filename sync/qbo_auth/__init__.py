"""The QuickBooks OAuth lifecycle: connect, keep a valid access token, say plainly when an admin must act.

Tokens live only in the ``qbo_connection`` row, encrypted with TALLY_SECRET_KEY. Intuit rotates refresh tokens
and kills the old one, so every refresh happens under a lock on that row and commits the new tokens before the
lock is released; a process that waited for the lock re-reads the row and uses the token the winner stored.

Modules::

    service.py    QBOAuth: access_token(), refresh_after_401(), the connect flow, status()
    intuit.py     the intuit-oauth AuthClient, built once, its failures mapped once
    store.py      the locked row
    redirect.py   the signed OAuth state and the redirect URL
    health.py     ConnectionHealth for /tally status and ``tally qbo status``
    errors.py     the errors below and their sentences
    links.py      the single-use, ten-minute connect links ``/tally connect`` gives an admin (web flow)

Errors (``sentence`` is what an admin reads; none carries a token)::

    QuickBooksAuthError               no usable access token
    ├── QuickBooksNeedsReconnect      refused (invalid_grant), disconnected, expired, unreadable, never made
    ├── QuickBooksAuthUnavailable     Intuit's token service unreachable or failing; later can succeed
    ├── QuickBooksMisconfigured       a QBO_* setting missing or refused (invalid_client)
    └── QuickBooksConnectError        finishing a connection failed (spent code, bad state, wrong company)
        └── QuickBooksOtherCompany    another company than QBO_REALM_ID or the one connected first
"""

from __future__ import annotations

from sync.qbo_auth.errors import (
    QuickBooksAuthError,
    QuickBooksAuthUnavailable,
    QuickBooksConnectError,
    QuickBooksMisconfigured,
    QuickBooksNeedsReconnect,
    QuickBooksOtherCompany,
)
from sync.qbo_auth.health import ConnectionHealth, ConnectionState
from sync.qbo_auth.service import WARN_WITHIN, QBOAuth

__all__ = [
    "WARN_WITHIN",
    "ConnectionHealth",
    "ConnectionState",
    "QBOAuth",
    "QuickBooksAuthError",
    "QuickBooksAuthUnavailable",
    "QuickBooksConnectError",
    "QuickBooksMisconfigured",
    "QuickBooksNeedsReconnect",
    "QuickBooksOtherCompany",
]
