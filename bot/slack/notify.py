"""Alerts in the channel: each finding posted once, and every alert kept showing the current truth.

- ``announce(result)`` after a check posts every open finding that has no message yet. The finding row is
  claimed first (``slack_ts = "posting:<epoch>"`` with a conditional UPDATE), so two processes announcing at once
  cannot both post it; a claim older than ``CLAIM_TTL`` (a process died mid-post) may be taken over. More than
  ``summary_above`` at once become one summary ("Approve all N") with the alerts in its thread.
- It then updates in place (``chat.update``) every alert whose finding or fix changed: what the check reported
  as updated, resolved or reopened, plus whatever the audit trail shows happened since the previous announce
  (approvals from the CLI, executions by the scheduler, fixes superseded by hand).
- ``redraw_restated()`` redraws the alerts whose fix was restated (a new version) where Slack could not be
  reached, such as ``tally check`` in a terminal; the processes run it on their settle schedule.
- ``refresh_action(id)`` / ``refresh_finding(key)`` redraw one alert from the database; a per-alert lock keeps
  two threads from writing an older state over a newer one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from sqlmodel import col

from bot.slack.blocks.common import Message
from bot.slack.blocks.findings import ActionView, finding_message, summary_message
from bot.slack.listeners.binding import channel_message, remember
from sync.actions import approvers_of
from sync.actions.undo import can_undo
from sync.cache.store import read_cursor, write_cursor
from sync.checks import CheckResult, latest_actions
from sync.db import session_scope
from sync.delivery import (
    CHANNEL_REFUSALS,
    Refusal,
    owe_redraw,
    owed_redraws,
    record_delivered,
    record_refusal,
    redrawn,
    refusal,
)
from sync.findings import open_findings
from sync.models import Action, AuditEvent, FindingRecord, utcnow
from sync.settings import Settings

log = logging.getLogger(__name__)

SUMMARY_ABOVE = 5
POSTING = "posting:"
CLAIM_TTL = timedelta(minutes=10)
CURSOR = "slack.alerts"  # a SyncCursor row: the audit trail has been shown in Slack up to here
LOOKBACK = timedelta(minutes=2)  # events committed a little after they were stamped are still seen
QUIET_VERBS = ("finding.opened", "action.proposed")  # posted with the alert itself
LIVE = ("proposed", "approved", "executing", "unsure")

Item = tuple[FindingRecord, ActionView | None]

_locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
_locks_guard = threading.Lock()


def _lock(key: str) -> threading.Lock:
    with _locks_guard:
        return _locks[key]


def has_message(ts: str | None) -> bool:
    """Tell whether a stored ts is a posted message (not empty, not a claim)."""
    return bool(ts) and not str(ts).startswith(POSTING)


def view_of(session: Session, action: Action | None, settings: Settings | None = None) -> ActionView | None:
    """An action with its approvers, as alerts show it (with ``settings``: whether it offers Undo)."""
    if action is None or action.id is None:
        return None
    approvers = tuple(dict.fromkeys(approvers_of(session, action.id)))
    undoes = view_of(session, session.get(Action, action.undoes_action_id)) if action.undoes_action_id else None
    offers = settings is not None and action.status == "succeeded" and can_undo(session, action, settings=settings)
    return ActionView(action, approvers, undoes=undoes, can_undo=offers)


@dataclass
class Announced:
    """What one announce did in the channel."""

    posted: list[str] = field(default_factory=list)  # finding keys posted
    updated: list[str] = field(default_factory=list)  # finding keys whose alert was redrawn
    summary_ts: str | None = None
    unposted: list[str] = field(default_factory=list)  # new findings Slack did not take (posted by the next pass)
    owed: list[str] = field(default_factory=list)  # alerts whose redraw failed (redrawn by the next pass)
    refused: Refusal | None = None  # the channel refuses Tally's posts: nothing was posted there


class Notifier:
    """Posts and keeps up to date the alerts in ``settings.channel``."""

    def __init__(
        self, settings: Settings, engine: Engine, client: WebClient, *, summary_above: int = SUMMARY_ABOVE
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.client = client
        self.summary_above = summary_above

    # -- after a check -------------------------------------------------------------------------------------
    def announce(self, result: CheckResult) -> Announced:
        """Post the findings not yet posted, then redraw the alerts of everything that changed."""
        started, done = utcnow(), Announced()
        channel = self.settings.channel
        if not channel:
            log.warning("TALLY_CHANNEL is not set: findings are not posted to Slack")
            return done
        done.summary_ts = self._post_new(channel, done)
        changes = result.changes
        keys = {*changes.updated, *changes.resolved, *changes.reopened} | self._changed_since() | self._unattached()
        with session_scope(self.engine) as session:
            keys |= owed_redraws(session)  # redraws an earlier pass could not make: Slack has them now or owes them
        for key in sorted(keys - set(done.posted)):
            if self.refresh_finding(key):
                done.updated.append(key)
            elif self._owed(key):
                done.owed.append(key)
        if done.updated:
            record_delivered(self.engine, channel)
        # The cursor may move on: whatever was not shown is queued (unposted findings have no message yet, failed
        # redraws sit in slack_redraw), so the next pass shows it.
        with session_scope(self.engine) as session:
            write_cursor(session, CURSOR, started)
            done.refused = refusal(session, channel)
        if done.refused is not None:
            log.warning("%s", done.refused.sentence())
        return done

    def redraw_owed(self) -> list[str]:
        """Redraw the alerts an earlier pass could not (the clock calls it between checks); return those still owed."""
        with session_scope(self.engine) as session:
            keys = owed_redraws(session)
        return [key for key in sorted(keys) if not self.refresh_finding(key) and self._owed(key)]

    def _owed(self, key: str) -> bool:
        with session_scope(self.engine) as session:
            return key in owed_redraws(session)

    def _refused(self, channel: str, exc: Exception) -> bool:
        """Remember a refusal by the channel itself (not a rate limit or an outage); True if it was one."""
        code = _code(exc)
        if code in CHANNEL_REFUSALS:
            record_refusal(self.engine, channel, code)
            return True
        return False

    def _post_new(self, channel: str, done: Announced) -> str | None:
        with session_scope(self.engine) as session:
            waiting = [row.key for row in open_findings(session) if not has_message(row.slack_ts)]
        claims = {key: claim for key in waiting if (claim := self._claim(key, channel)) is not None}
        if not claims:
            return None
        items = self._items(list(claims))
        summary_ts = None
        if len(items) > self.summary_above:
            try:
                summary_ts = self._post(channel, summary_message(items), thread_ts=None)
            except SLACK_FAILURES as exc:
                log.warning("could not post the summary of %d findings: %s", len(items), _code(exc))
                self._refused(channel, exc)
                for key, claim in claims.items():
                    self._release(key, claim)
                done.unposted += list(claims)
                return None
            with session_scope(self.engine, write_lock=True) as session:  # its "Approve all" is for these fixes only
                remember(
                    session, channel_message(channel, summary_ts), [v.action.id for _, v in items if v is not None]
                )
        for finding, view in items:
            if done.unposted and done.refused is not None:  # the channel refuses: do not knock once per finding
                self._release(finding.key, claims[finding.key])
                done.unposted.append(finding.key)
                continue
            error = self._post_one(channel, finding, view, claims[finding.key], summary_ts)
            if error is None:
                done.posted.append(finding.key)
                continue
            done.unposted.append(finding.key)
            if error in CHANNEL_REFUSALS:
                done.refused = Refusal(channel, error, utcnow())
        if done.posted or summary_ts:
            record_delivered(self.engine, channel)
        return summary_ts

    def _claim(self, key: str, channel: str) -> str | None:
        now = time.time()
        claim, stale = f"{POSTING}{int(now):012d}", f"{POSTING}{int(now - CLAIM_TTL.total_seconds()):012d}"
        free = or_(
            col(FindingRecord.slack_ts).is_(None),
            (col(FindingRecord.slack_ts).like(f"{POSTING}%")) & (col(FindingRecord.slack_ts) < stale),
        )
        statement = (
            update(FindingRecord)
            .where(col(FindingRecord.key) == key, col(FindingRecord.status) == "open", free)
            .values(slack_channel=channel, slack_ts=claim)
        )
        with session_scope(self.engine, write_lock=True) as session:
            won = session.connection().execute(statement).rowcount == 1
        return claim if won else None

    def _release(self, key: str, claim: str) -> None:
        statement = (
            update(FindingRecord)
            .where(col(FindingRecord.key) == key, col(FindingRecord.slack_ts) == claim)
            .values(slack_channel=None, slack_ts=None)
        )
        with session_scope(self.engine, write_lock=True) as session:
            session.connection().execute(statement)

    def _items(self, keys: list[str]) -> list[Item]:
        with session_scope(self.engine) as session:
            actions = latest_actions(session, keys)
            rows = [session.get(FindingRecord, key) for key in keys]
            items = [(row, view_of(session, actions.get(row.key), self.settings)) for row in rows if row is not None]
        return sorted(items, key=lambda item: (-item[0].amount, item[0].key))

    def _post_one(
        self, channel: str, finding: FindingRecord, view: ActionView | None, claim: str, thread: str | None
    ) -> str | None:
        """Post one alert; None when it went through, else Slack's error (the claim is released: posted later)."""
        try:
            ts = self._post(channel, finding_message(finding, view), thread_ts=thread)
        except SLACK_FAILURES as exc:
            log.warning("could not post finding %s: %s", finding.key, _code(exc))
            self._refused(channel, exc)
            self._release(finding.key, claim)
            return _code(exc)
        with session_scope(self.engine, write_lock=True) as session:
            session.connection().execute(
                update(FindingRecord)
                .where(col(FindingRecord.key) == finding.key, col(FindingRecord.slack_ts) == claim)
                .values(slack_channel=channel, slack_ts=ts)
            )
            if view is not None:
                _link(session, view.action.id, channel, ts)
        return None

    def _post(self, channel: str, message: Message, *, thread_ts: str | None) -> str:
        answer = self.client.chat_postMessage(channel=channel, thread_ts=thread_ts, **message.payload())
        return str(answer["ts"])

    # -- what changed since the last announce ---------------------------------------------------------------
    def _changed_since(self) -> set[str]:
        """Finding keys whose alert may show something outdated, read from the audit trail."""
        with session_scope(self.engine) as session:
            since = read_cursor(session, CURSOR)
            if since is None:
                return set()
            statement = select(col(AuditEvent.subject)).where(
                col(AuditEvent.at) > since - LOOKBACK, col(AuditEvent.verb).not_in(QUIET_VERBS)
            )
            subjects = set(session.execute(statement).scalars())
            keys = {s.removeprefix("finding:") for s in subjects if s.startswith("finding:")}
            ids = [int(s.removeprefix("action:")) for s in subjects if s.startswith("action:")]
            if ids:
                found = select(col(Action.finding_key)).where(col(Action.id).in_(ids))
                keys |= set(session.execute(found).scalars())
        return keys

    def _unattached(self) -> set[str]:
        """Findings with an alert whose live fix is not shown on it yet (proposed again after a rejection)."""
        statement = (
            select(col(Action.finding_key))
            .join(FindingRecord, col(FindingRecord.key) == col(Action.finding_key))
            .where(
                col(Action.status).in_(LIVE), col(Action.slack_ts).is_(None), col(FindingRecord.slack_ts).is_not(None)
            )
        )
        with session_scope(self.engine) as session:
            return set(session.execute(statement).scalars())

    def redraw_restated(self) -> list[str]:
        """Redraw every alert still showing an old version of its fix (restated by a check run anywhere, e.g. the
        terminal, which cannot reach Slack); the web, worker and clock call this on their settle schedule."""
        try:
            keys = sorted(self._unattached())
        except Exception:  # the database is what failed; the next run tries again
            log.warning("could not look for restated fixes", exc_info=True)
            return []
        return [key for key in keys if self.refresh_finding(key)]

    # -- redrawing one alert ----------------------------------------------------------------------------------
    def refresh_action(self, action_id: int) -> bool:
        """Redraw the alert of an action's finding after an approval, rejection or execution."""
        with session_scope(self.engine) as session:
            action = session.get(Action, action_id)
            key = action.finding_key if action is not None else None
        return self.refresh_finding(key) if key else False

    def refresh_finding(self, key: str) -> bool:
        """Redraw one finding's alert as the database has it now; False if it has none (or Slack refused)."""
        with _lock(key):
            with session_scope(self.engine) as session:
                finding = session.get(FindingRecord, key)
                if finding is None or not has_message(finding.slack_ts) or not finding.slack_channel:
                    return False
                channel, ts = finding.slack_channel, str(finding.slack_ts)
                action = latest_actions(session, [key]).get(key)
                if action is not None and action.slack_ts is None:
                    _link(session, action.id, channel, ts)
                message = finding_message(finding, view_of(session, action, self.settings))
            try:
                self.client.chat_update(channel=channel, ts=ts, **message.payload())
            except SLACK_FAILURES as exc:  # after the rate-limit retries, or no answer: owed
                log.warning("could not update the alert of %s: %s; the next pass redraws it", key, _code(exc))
                self._refused(channel, exc)
                owe_redraw(self.engine, key, _code(exc))
                return False
            redrawn(self.engine, key)
        return True


def _link(session: Session, action_id: int | None, channel: str, ts: str) -> None:
    """Remember that an action is shown on the alert at ``channel``/``ts``."""
    if action_id is None:
        return
    session.connection().execute(
        update(Action).where(col(Action.id) == action_id).values(slack_channel=channel, slack_ts=ts)
    )


# An error answer from Slack, or none at all (a dropped connection or a timeout: urllib's errors are OSErrors).
# Either way the alert is posted or redrawn by a later pass, never dropped.
SLACK_FAILURES = (SlackApiError, OSError)


def _code(exc: Exception) -> str:
    """Slack's error code (or the kind of connection failure), without the request (which may carry a token)."""
    if not isinstance(exc, SlackApiError):
        return type(exc).__name__
    return str(exc.response.get("error", "unknown")) if exc.response is not None else "unknown"
