"""``QBOAuth``: a valid QuickBooks access token whenever the API client asks, and the connect flow."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine

from sync.crypto import TokenCipher, UndecryptableError
from sync.models import QBOConnection, utcnow
from sync.qbo_auth import errors
from sync.qbo_auth.errors import (
    QuickBooksAuthError,
    QuickBooksConnectError,
    QuickBooksMisconfigured,
    QuickBooksNeedsReconnect,
    QuickBooksOtherCompany,
)
from sync.qbo_auth.health import ConnectionHealth, ConnectionState, health_of
from sync.qbo_auth.intuit import IntuitTokens, InvalidGrant, TokenGrant
from sync.qbo_auth.redirect import new_state, read_redirect
from sync.qbo_auth.store import CONNECTED, NEEDS_RECONNECT, ConnectionStore
from sync.settings import Settings

log = logging.getLogger(__name__)

WARN_WITHIN = timedelta(days=14)


class QBOAuth:
    """The QuickBooks token source: tokens live only in the ``qbo_connection`` row, refreshed under lock."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        *,
        now: Callable[[], datetime] = utcnow,
        refresh_margin: timedelta = timedelta(minutes=5),
        warn_within: timedelta = WARN_WITHIN,
        token_timeout: float = 20.0,
    ) -> None:
        self._settings = settings
        self._now = now
        self._margin = refresh_margin
        self._warn_within = warn_within
        self._cipher = TokenCipher(settings.secret_key)
        self._store = ConnectionStore(engine, self._cipher, realm_id=settings.qbo_realm_id or None)  # empty: unset
        self._intuit = IntuitTokens(settings, timeout=token_timeout)
        self._refreshing = threading.Lock()  # one refresher per process; the row lock covers the others

    # -- the TokenSource protocol ----------------------------------------------------------------------

    def access_token(self) -> str:
        """Return a valid access token, refreshing it when it expires within the refresh margin."""
        return self._usable(self._live_row(), rejected=None) or self._refresh(rejected=None)

    def refresh_after_401(self, rejected: str) -> str:
        """Return a new access token after QuickBooks refused ``rejected``; refresh unless another did."""
        return self._usable(self._live_row(), rejected=rejected) or self._refresh(rejected=rejected)

    # -- connecting --------------------------------------------------------------------------------------

    def new_state(self) -> str:
        """A state only this Tally can have issued (valid an hour), made without asking Intuit anything."""
        return new_state(self._cipher, now=self._now())

    def authorization_url(self, state: str | None = None) -> tuple[str, str]:
        """Return the URL an admin opens to connect a company, and its state (Tally-signed unless given)."""
        state = state or new_state(self._cipher, now=self._now())
        return self._intuit.authorization_url(state), state

    def connect_from_redirect(self, url: str, state: str | None = None) -> ConnectionHealth:
        """Finish connecting from the URL Intuit redirected the browser to (code, state and realmId)."""
        code, realm_id = read_redirect(url, expected_state=state, cipher=self._cipher, now=self._now())
        return self.connect_with_code(code, realm_id)

    def connect_with_code(self, code: str, realm_id: str) -> ConnectionHealth:
        """Trade an authorization code for tokens and store them as the company's connection."""
        self._same_company(realm_id)
        now = self._now()
        try:
            grant = self._intuit.exchange_code(code, realm_id, now=now)
        except InvalidGrant:
            raise QuickBooksConnectError(
                "QuickBooks refused the authorization code (invalid_grant): a code works once and only for a "
                "few minutes. Run `tally qbo connect` again and use the new link."
            ) from None
        self._store.save_connection(realm_id=realm_id, grant=grant, reason=self._warning(grant, now), now=now)
        log.info("QuickBooks company %s connected", realm_id)
        return self.status()

    def _same_company(self, realm_id: str) -> None:
        """Refuse a company other than QBO_REALM_ID, or than the one connected first: never replace it silently."""
        pinned = self._settings.qbo_realm_id
        if pinned and pinned != realm_id:
            raise QuickBooksOtherCompany(
                f"You chose QuickBooks company {realm_id}, but QBO_REALM_ID is {pinned}: connect that "
                "company, or change QBO_REALM_ID."
            )
        current = None if pinned else self._store.read()
        if current is not None and current.realm_id != realm_id:
            raise QuickBooksOtherCompany(
                f"You chose QuickBooks company {realm_id}, but Tally is connected to company {current.realm_id} "
                "and will not replace it: sign in to that company, or, to switch on purpose, set QBO_REALM_ID "
                f"to {realm_id} and connect again."
            )

    def disconnect(self) -> ConnectionHealth:
        """Revoke the grant at Intuit and forget the tokens; reconnecting is then required."""
        with self._refreshing, self._store.locked() as (session, row):
            if row is not None and row.refresh_token is not None:
                # Already dead, or unreadable: either way nothing is left at Intuit that Tally could use.
                with contextlib.suppress(InvalidGrant, UndecryptableError):
                    self._intuit.revoke(self._cipher.decrypt(row.refresh_token))
                row.access_token = row.refresh_token = None
                row.access_expires_at = row.refresh_expires_at = None
                row.state, row.reason = NEEDS_RECONNECT, errors.disconnected(self._now())
                row.generation += 1
                row.updated_at = self._now()
                session.add(row)
                log.info("QuickBooks company %s disconnected (generation %s)", row.realm_id, row.generation)
        return self.status()

    def status(self) -> ConnectionHealth:
        """Describe the connection for ``/tally status`` and ``tally qbo status``."""
        try:
            row = self._store.read() or self._bootstrap()
        except QuickBooksMisconfigured as exc:
            return ConnectionHealth(ConnectionState.NOT_CONNECTED, exc.sentence)
        return health_of(row, cipher=self._cipher, now=self._now(), warn_within=self._warn_within)

    def close(self) -> None:
        """Close the HTTP session to Intuit (a later call opens a new one)."""
        self._intuit.close()

    # -- internals ----------------------------------------------------------------------------------------

    def _live_row(self) -> QBOConnection:
        row = self._store.read() or self._bootstrap()
        if row is None:
            raise QuickBooksNeedsReconnect(errors.not_connected())
        if row.state != CONNECTED:
            raise QuickBooksNeedsReconnect(row.reason or errors.not_connected())
        return row

    def _bootstrap(self) -> QBOConnection | None:
        token = self._settings.qbo_refresh_token
        if token is None or not token.get_secret_value().strip():
            return None
        if not self._settings.qbo_realm_id:
            raise QuickBooksMisconfigured(
                "QBO_REFRESH_TOKEN is set but QBO_REALM_ID is not: set the company id the token belongs to, "
                "or run `tally qbo connect` instead."
            )
        log.info("QuickBooks company %s: starting from QBO_REFRESH_TOKEN", self._settings.qbo_realm_id)
        return self._store.bootstrap(
            realm_id=self._settings.qbo_realm_id, refresh_token=token.get_secret_value().strip(), now=self._now()
        )

    def _usable(self, row: QBOConnection, *, rejected: str | None) -> str | None:
        """Return the row's access token if it is valid beyond the margin and not the rejected one."""
        if row.access_token is None or row.access_expires_at is None:
            return None
        # A token that lives less than twice the margin (a test server's 60 s) is used for half its life.
        lifetime = row.access_expires_at - (row.updated_at or row.access_expires_at)
        margin = min(self._margin, lifetime / 2) if lifetime > timedelta(0) else self._margin
        if row.access_expires_at - margin <= self._now():
            return None
        try:
            token = self._cipher.decrypt(row.access_token)
        except UndecryptableError:
            return None  # the refresh below reports it
        return None if token == rejected else token

    def _refresh(self, *, rejected: str | None) -> str:
        with self._refreshing:
            outcome = self._refresh_locked(rejected=rejected)
        if isinstance(outcome, QuickBooksAuthError):
            raise outcome
        return outcome

    def _refresh_locked(self, *, rejected: str | None) -> str | QuickBooksAuthError:
        """Refresh under the row lock; failures are returned so the state they set still commits."""
        with self._store.locked() as (session, row):
            if row is None or row.refresh_token is None:
                return QuickBooksNeedsReconnect(errors.not_connected())
            if row.state != CONNECTED:
                return QuickBooksNeedsReconnect(row.reason or errors.not_connected())
            token = self._usable(row, rejected=rejected)
            if token is not None:  # another process or thread refreshed while this one waited for the lock
                log.debug("QuickBooks company %s: using generation %s", row.realm_id, row.generation)
                return token
            outcome = self._spend(row, row.refresh_token)
            session.add(row)
            return outcome

    def _spend(self, row: QBOConnection, sealed_refresh_token: str) -> str | QuickBooksAuthError:
        """Trade the row's refresh token for new tokens and put them (or the refusal) on the row."""
        now = self._now()
        try:
            grant = self._intuit.refresh(self._cipher.decrypt(sealed_refresh_token), now=now)
        except UndecryptableError:
            return QuickBooksNeedsReconnect(errors.undecryptable())
        except InvalidGrant as exc:
            sentence = errors.refused(exc.error)
            row.state, row.reason, row.updated_at = NEEDS_RECONNECT, sentence, now
            log.warning("QuickBooks company %s: refresh refused (%s)", row.realm_id, exc.error)
            return QuickBooksNeedsReconnect(sentence)
        except QuickBooksAuthError as exc:
            return exc
        self._store.store_grant(row, grant, reason=self._warning(grant, now), now=now)
        log.info("QuickBooks company %s: tokens refreshed (generation %s)", row.realm_id, row.generation)
        return grant.access_token

    def _warning(self, grant: TokenGrant, now: datetime) -> str | None:
        expires = grant.refresh_expires_at
        if expires is None or expires - now > self._warn_within:
            return None
        log.warning("QuickBooks authorization expires on %s: reconnect before then", expires.date())
        return errors.expiring(expires, now)
