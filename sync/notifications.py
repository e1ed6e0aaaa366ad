"""Notifications from QuickBooks (webhooks) and ConnectWise (callbacks): what they name, which are news, and the
coalescing that turns a burst of them into one incremental check.

A notification is only ever a hint that something changed: the check it starts reads the books through the APIs
(the incremental sync), so what a notification body says about amounts is never believed. What Tally keeps of it:

- ``NotificationSeen``: per document, the newest ``lastUpdated`` a QuickBooks notification named; a notification
  whose every document is no newer than that (a duplicate, a replay, news older than news already had) is ignored.
  ConnectWise callbacks carry a random ``MessageId``; a repeated one is ignored.
- ``NotificationSource``: per system, how many arrived, how many were ignored, when the last came and how many
  checks they started (``tally status`` and the digest's health show it).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlmodel import col

from sync.db import session_scope
from sync.models import NotificationSeen, NotificationSource, utcnow

log = logging.getLogger(__name__)

QBO, CW = "qbo", "cw"
SYSTEM_NAMES = {QBO: "QuickBooks", CW: "ConnectWise"}
WATCHED_QBO = frozenset({"Invoice", "CreditMemo", "Payment", "Customer"})  # what reconciliation reads from QBO
KEEP_SEEN = timedelta(days=2)  # past this, a repeat is caught by the sync's own cursors anyway
_CE_NAMES = {"invoice": "Invoice", "creditmemo": "CreditMemo", "payment": "Payment", "customer": "Customer"}


@dataclass(frozen=True)
class Notice:
    """One document a notification named."""

    system: str  # QBO | CW
    entity: str  # "Payment", "Invoice"... (QBO) or the callback type, e.g. "invoice" (CW)
    id: str
    operation: str = ""
    stamp: datetime | None = None  # the document's lastUpdated (QBO only; CW bodies are unsigned)
    message_id: str | None = None

    @property
    def key(self) -> str:
        """The ``NotificationSeen`` key of this notice."""
        if self.system == CW and self.message_id:
            return f"msg:{self.message_id}"
        return f"{self.entity}:{self.id}"


def _when(text: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def qbo_notices(payload: Any, realm_id: str | None = None) -> list[Notice]:
    """The documents a QuickBooks webhook names, legacy or CloudEvents body; other realms' are dropped.

    Legacy: ``{"eventNotifications": [{"realmId", "dataChangeEvent": {"entities": [{"name", "id", "operation",
    "lastUpdated"}]}}]}`` (https://developer.intuit.com/app/developer/qbo/docs/develop/webhooks). CloudEvents: an
    array of ``{"id", "type": "qbo.<entity>.<verb>.v1", "time", "intuitentityid", "intuitaccountid"}``
    (https://blogs.intuit.com/2025/11/12/upcoming-change-to-webhooks-payload-structure/).
    """
    found: list[Notice] = []
    if isinstance(payload, dict):
        for notification in payload.get("eventNotifications") or []:
            if not isinstance(notification, dict) or (realm_id and str(notification.get("realmId")) != realm_id):
                continue
            for entity in (notification.get("dataChangeEvent") or {}).get("entities") or []:
                if isinstance(entity, dict) and entity.get("name") and entity.get("id") is not None:
                    found.append(
                        Notice(
                            QBO,
                            str(entity["name"]),
                            str(entity["id"]),
                            str(entity.get("operation", "")),
                            _when(entity.get("lastUpdated")),
                        )
                    )
    elif isinstance(payload, list):
        for event in payload:
            if not isinstance(event, dict) or (realm_id and str(event.get("intuitaccountid")) != realm_id):
                continue
            parts = str(event.get("type", "")).split(".")
            if len(parts) < 3 or event.get("intuitentityid") is None:
                continue
            name = _CE_NAMES.get(parts[1], parts[1].capitalize())
            found.append(
                Notice(QBO, name, str(event["intuitentityid"]), parts[2], _when(event.get("time")), event.get("id"))
            )
    return found


def cw_notice(payload: Any, record_id: str | None) -> Notice | None:
    """The record a ConnectWise callback names: ``ID`` (or the ``recordId`` ConnectWise appends to the URL).

    Body keys ``MessageId, Action, Type, ID, Entity`` as ConnectWise delivers them (the developer guide's
    callbacks page; a captured delivery in https://github.com/amp-labs/connectors). ``Entity`` is ignored: the
    body is not signed in a way Tally checks, so only what the check re-reads from the API counts.
    """
    body = payload if isinstance(payload, dict) else {}
    raw = body.get("ID", record_id)
    try:
        record = str(int(str(raw)))
    except ValueError:
        return None
    message = body.get("MessageId")
    return Notice(
        CW,
        str(body.get("Type") or "invoice").lower(),
        record,
        str(body.get("Action") or ""),
        message_id=str(message)[:100] if message else None,
    )


def _source(session: Session, system: str) -> NotificationSource:
    row = session.get(NotificationSource, system)
    if row is None:
        row = NotificationSource(system=system)
        session.add(row)
    return row


def news(engine: Engine, system: str, notices: Iterable[Notice], *, now: datetime | None = None) -> list[Notice]:
    """Record one notification's notices; return those that are news (not repeats or older than known)."""
    now = now or utcnow()
    notices = list(notices)
    fresh: list[Notice] = []
    for attempt in range(3):  # two web processes may insert the same key at once: the loser looks again
        fresh = []
        try:
            with session_scope(engine, write_lock=True) as session:
                for notice in notices:
                    seen = session.get(NotificationSeen, (system, notice.key))
                    if seen is None:
                        session.add(NotificationSeen(system=system, key=notice.key, stamp=notice.stamp, seen_at=now))
                        session.flush()
                        fresh.append(notice)
                    elif notice.stamp is not None and (seen.stamp is None or notice.stamp > seen.stamp):
                        seen.stamp, seen.seen_at = notice.stamp, now
                        fresh.append(notice)
                source = _source(session, system)
                source.received += 1
                source.last_received_at = now
                if not fresh:
                    source.ignored += 1
                session.execute(delete(NotificationSeen).where(col(NotificationSeen.seen_at) < now - KEEP_SEEN))
            return fresh
        except IntegrityError:
            if attempt == 2:
                raise
    return fresh


def ignored(engine: Engine, system: str, *, now: datetime | None = None) -> None:
    """Count a notification Tally received but did not act on (e.g. over the caller's rate)."""
    now = now or utcnow()
    with session_scope(engine, write_lock=True) as session:
        source = _source(session, system)
        source.received += 1
        source.ignored += 1
        source.last_received_at = now


def checked(engine: Engine, systems: Iterable[str], *, now: datetime | None = None) -> None:
    """Count one check the notifications of ``systems`` started."""
    now = now or utcnow()
    with session_scope(engine, write_lock=True) as session:
        for system in sorted(set(systems)):
            source = _source(session, system)
            source.checks += 1
            source.last_check_at = now


def sources(engine: Engine) -> dict[str, NotificationSource]:
    """What each system pushed so far (systems that never pushed are absent)."""
    with session_scope(engine) as session:
        rows = session.execute(select(NotificationSource)).scalars().all()
        return {row.system: NotificationSource(**row.model_dump()) for row in rows}


def source_sentence(system: str, row: NotificationSource | None, zone: Any = None) -> str:
    """One line for ``status`` and the digest, e.g. "QuickBooks: last notification 14:02, 12 received, 3 checks"."""
    name = SYSTEM_NAMES.get(system, system)
    if row is None or row.last_received_at is None:
        return f"{name}: no notification received yet (the scheduled check still sweeps)"
    last = row.last_received_at.astimezone(zone) if zone is not None else row.last_received_at
    return (
        f"{name}: last notification {last:%Y-%m-%d %H:%M:%S}, {row.received} received "
        f"({row.ignored} ignored), {row.checks} checks started"
    )


class CallerLimit:
    """At most ``per_minute`` actions per caller in any minute (a sliding window)."""

    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._seen: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def allow(self, caller: str) -> bool:
        """Count one action by ``caller``; tell whether it is within the limit."""
        now = self._clock()
        with self._lock:
            recent = [moment for moment in self._seen.get(caller, []) if now - moment < 60.0]
            if len(recent) >= self.per_minute:
                self._seen[caller] = recent
                return False
            recent.append(now)
            self._seen[caller] = recent
            if len(self._seen) > 10_000:  # forget idle callers
                self._seen = {key: value for key, value in self._seen.items() if value and now - value[-1] < 60.0}
            return True


class Coalescer:
    """Collect notices; ``quiet`` seconds after the last (at most ``max_wait`` after the first) run ``run`` once.

    One run at a time: notices arriving during a run wait for the next one, so a burst costs one check plus at most
    one more for what arrived while it ran.
    """

    def __init__(self, run: Callable[[list[Notice]], None], *, quiet: float, max_wait: float) -> None:
        self._run = run
        self.quiet = quiet
        self.max_wait = max(max_wait, quiet)
        self._pending: list[Notice] = []
        self._first = self._last = 0.0
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.runs = 0
        self.running = False

    def add(self, notices: Iterable[Notice]) -> None:
        """Queue notices; return at once."""
        notices = list(notices)
        if not notices:
            return
        with self._cond:
            now = time.monotonic()
            if not self._pending:
                self._first = now
            self._last = now
            self._pending.extend(notices)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="tally-realtime", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def stop(self) -> None:
        """End the thread after the run it may be in."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()

    @property
    def busy(self) -> bool:
        """Tell whether notices wait or a run is going on."""
        with self._cond:
            return bool(self._pending) or self.running

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._stopping:
                    if self._pending:
                        now = time.monotonic()
                        due = min(self._last + self.quiet, self._first + self.max_wait)
                        if now >= due:
                            break
                        self._cond.wait(due - now)
                    else:
                        self._cond.wait()
                if self._stopping:
                    return
                batch, self._pending = self._pending, []
                self.running = True
            try:
                self._run(batch)
            except Exception:  # a background thread has no caller: log; the scheduled sweep catches up
                log.exception("the check started by notifications failed")
            finally:
                with self._cond:
                    self.running = False
                    self.runs += 1


class Listener:
    """What the web process does with notifications: keep the news, coalesce it, run one check per burst."""

    def __init__(
        self,
        engine: Engine,
        check: Callable[[], object],
        *,
        realm_id: str | None,
        quiet: timedelta,
        max_wait: timedelta,
        callback_rate: int,
    ) -> None:
        self.engine = engine
        self.realm_id = realm_id
        self._check = check
        self.coalescer = Coalescer(self._run, quiet=quiet.total_seconds(), max_wait=max_wait.total_seconds())
        self.limit = CallerLimit(callback_rate)

    def qbo(self, payload: Any) -> list[Notice]:
        """A verified QuickBooks webhook: queue the documents it names that are news."""
        notices = [notice for notice in qbo_notices(payload, self.realm_id) if notice.entity in WATCHED_QBO]
        fresh = news(self.engine, QBO, notices)
        self.coalescer.add(fresh)
        return fresh

    def cw(self, payload: Any, record_id: str | None, caller: str) -> list[Notice]:
        """A ConnectWise callback (unsigned): within the caller's rate, queue the record it names if news."""
        notice = cw_notice(payload, record_id)
        if notice is None or not self.limit.allow(caller):
            log.info("ConnectWise callback from %s ignored (%s)", caller, "no record id" if notice else "over rate")
            ignored(self.engine, CW)
            return []
        fresh = news(self.engine, CW, [notice])
        self.coalescer.add(fresh)
        return fresh

    def stop(self) -> None:
        """Stop the coalescing thread."""
        self.coalescer.stop()

    def _run(self, batch: list[Notice]) -> None:
        systems = {notice.system for notice in batch}
        log.info(
            "%d notifications (%s): one incremental check",
            len(batch),
            ", ".join(SYSTEM_NAMES[system] for system in sorted(systems)),
        )
        try:
            self._check()
        finally:
            checked(self.engine, systems)
