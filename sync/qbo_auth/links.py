"""Connect links: the only way into the web process's QuickBooks connect flow.

``/tally connect`` (admins only) gives the admin, ephemerally, ``{TALLY_PUBLIC_URL}/qbo/connect?link=<token>``:

1. ``issue``: a random token, valid ``LINK_TTL`` (10 minutes), bound to that admin; audited
   ``qbo.connect_link_issued``.
2. ``open``: the first request with the token claims it (one conditional ``UPDATE``, so two racing browsers cannot
   both win), records the OAuth ``state`` it starts and a secret for the browser's cookie; audited
   ``qbo.connect_link_opened``. Unknown, expired or already used: ``LinkRefused`` (403), audited
   ``qbo.connect_link_refused``.
3. ``finish``: Intuit's redirect comes back with that ``state``; it is honoured once, within ``LINK_TTL`` of the
   opening, and only in the browser holding the cookie (RFC 6749 §10.12: bind the state to the user-agent,
   https://datatracker.ietf.org/doc/html/rfc6749#section-10.12). Anything else: ``LinkRefused`` (403), audited.

Only SHA-256 hashes of the token, the state and the cookie are stored.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from sync import audit
from sync.db import session_scope
from sync.models import QBOConnectLink, utcnow

LINK_TTL = timedelta(minutes=10)
AGAIN = "Run `/tally connect` in Slack again and use the new link it gives you."


class LinkRefused(Exception):
    """A connect link or callback Tally will not honour; ``sentence`` is the page the browser shows."""

    def __init__(self, sentence: str, why: str) -> None:
        self.sentence = sentence
        self.why = why
        super().__init__(sentence)


@dataclass(frozen=True)
class Opened:
    """A link just opened: who it belongs to, and the secret the browser keeps in a cookie."""

    link_id: int
    admin: str
    browser_secret: str


@dataclass(frozen=True)
class Finishing:
    """A callback Tally honours: the link it belongs to and the admin the connection is made for."""

    link_id: int
    admin: str


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _minutes(ttl: timedelta) -> int:
    return int(ttl.total_seconds() // 60)


class ConnectLinks:
    """Issue, open and finish connect links in the database (every process sees the same links)."""

    def __init__(self, engine: Engine, *, ttl: timedelta = LINK_TTL, now: Callable[[], datetime] = utcnow) -> None:
        self.engine = engine
        self.ttl = ttl
        self.now = now

    def issue(self, admin: str, *, at: datetime | None = None) -> str:
        """Make a link token for ``admin`` (valid ``ttl`` from ``at``, default now); audited."""
        token = secrets.token_urlsafe(32)
        created = at or self.now()
        with session_scope(self.engine) as session:
            row = QBOConnectLink(
                token_hash=_hash(token), admin=admin, created_at=created, expires_at=created + self.ttl
            )
            session.add(row)
            session.flush()
            audit.record(
                session,
                actor=admin,
                verb="qbo.connect_link_issued",
                subject=f"qbo_link:{row.id}",
                detail=f"valid until {(created + self.ttl).isoformat(timespec='seconds')}",
            )
        return token

    def open(self, token: str | None, *, state: str) -> Opened:
        """Claim the link for the OAuth ``state`` about to start; ``LinkRefused`` unless unused and unexpired."""
        now = self.now()
        if not token:
            raise self._refuse(
                None,
                "no link",
                "This page opens only through a link `/tally connect` gives a Tally "
                f"admin in Slack, valid for {_minutes(self.ttl)} minutes and once. {AGAIN}",
            )
        browser_secret = secrets.token_urlsafe(32)
        with session_scope(self.engine) as session:
            claimed = session.execute(
                update(QBOConnectLink)
                .where(col(QBOConnectLink.token_hash) == _hash(token))
                .where(col(QBOConnectLink.opened_at).is_(None))
                .where(col(QBOConnectLink.expires_at) > now)
                .values(opened_at=now, state_hash=_hash(state), browser_hash=_hash(browser_secret))
            )
            row = session.exec(select(QBOConnectLink).where(QBOConnectLink.token_hash == _hash(token))).first()
            if claimed.rowcount == 1 and row is not None and row.id is not None:  # type: ignore[attr-defined]
                audit.record(session, actor=row.admin, verb="qbo.connect_link_opened", subject=f"qbo_link:{row.id}")
                return Opened(row.id, row.admin, browser_secret)
        if row is None:
            raise self._refuse(None, "unknown link", f"That connect link is not one Tally gave out. {AGAIN}")
        if row.opened_at is not None:
            raise self._refuse(
                row, "link already used", f"That connect link was already used; each works once. {AGAIN}"
            )
        raise self._refuse(
            row, "link expired", f"That connect link expired: links last {_minutes(self.ttl)} minutes. {AGAIN}"
        )

    def finish(self, state: str | None, browser_secret: str | None) -> Finishing:
        """Honour Intuit's redirect once: the state a link started, back in the browser that opened it, in time."""
        now = self.now()
        row = None
        if state:
            with session_scope(self.engine) as session:
                row = session.exec(select(QBOConnectLink).where(QBOConnectLink.state_hash == _hash(state))).first()
        if row is None or row.id is None or row.opened_at is None:
            raise self._refuse(
                None,
                "callback without a link",
                "This QuickBooks sign-in did not start from a Tally connect link, so it was ignored and nothing "
                f"changed. {AGAIN} (If you started it with `tally qbo connect` in a terminal, paste this page's "
                "address there.)",
            )
        if row.finished_at is not None:
            raise self._refuse(row, "callback already used", f"This sign-in was already finished once. {AGAIN}")
        if not browser_secret or not secrets.compare_digest(_hash(browser_secret), row.browser_hash or ""):
            raise self._refuse(
                row,
                "callback in another browser",
                "This QuickBooks sign-in was started from a connect link in another browser, so it was ignored and "
                f"nothing changed. Finish it in the browser where you opened the link, or: {AGAIN}",
            )
        if now - row.opened_at > self.ttl:
            raise self._refuse(
                row,
                "callback too late",
                f"This sign-in took longer than {_minutes(self.ttl)} "
                f"minutes, so it was ignored and nothing changed. {AGAIN}",
            )
        with session_scope(self.engine) as session:
            done = session.execute(
                update(QBOConnectLink)
                .where(col(QBOConnectLink.id) == row.id)
                .where(col(QBOConnectLink.finished_at).is_(None))
                .values(finished_at=now)
            )
        if done.rowcount != 1:  # type: ignore[attr-defined]
            raise self._refuse(row, "callback already used", f"This sign-in was already finished once. {AGAIN}")
        return Finishing(row.id, row.admin)

    def connected(self, finishing: Finishing, realm_id: str) -> None:
        """Record the company connected through the link (audited ``qbo.connected`` by the admin)."""
        with session_scope(self.engine) as session:
            row = session.get(QBOConnectLink, finishing.link_id)
            if row is not None:
                row.realm_id = realm_id
                session.add(row)
            audit.record(
                session,
                actor=finishing.admin,
                verb="qbo.connected",
                subject=f"qbo_link:{finishing.link_id}",
                detail=f"QuickBooks company {realm_id}",
            )

    def refused_connection(self, finishing: Finishing, sentence: str) -> None:
        """Record a connection the callback refused after the link checked out (e.g. another company)."""
        with session_scope(self.engine) as session:
            audit.record(
                session,
                actor=finishing.admin,
                verb="qbo.connect_refused",
                subject=f"qbo_link:{finishing.link_id}",
                detail=sentence,
            )

    def _refuse(self, row: QBOConnectLink | None, why: str, sentence: str) -> LinkRefused:
        with session_scope(self.engine) as session:
            audit.record(
                session,
                actor=row.admin if row is not None else "web",
                verb="qbo.connect_link_refused",
                subject=f"qbo_link:{row.id}" if row is not None else "qbo_link",
                detail=why,
            )
        return LinkRefused(sentence, why)
