"""Post the daily digest once per channel and local day, however many clocks or runs try.

The ``digest_post`` row for (channel, day) is claimed *before* anything is posted; its unique constraint decides
which run posts. The winner records each message's ``ts`` as it goes and marks the row ``posted``. A run that
fails marks it ``failed``; a later run (the clock's catch-up, or the next start) takes a failed row, or a
``posting`` row older than ``STALE_CLAIM`` (its process died), and posts only the messages still missing.

``force=True`` (the ``/tally digest`` command) posts now even when today's digest is already out, and still
records: with no row yet it claims the day like a scheduled run (so the scheduled digest does not repeat it), and
with a row it appends the new messages' ``ts`` to it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from bot.digest.blocks import digest_messages
from bot.digest.data import gather_digest
from bot.slack.blocks.common import Message
from sync.db import session_scope
from sync.delivery import CHANNEL_REFUSALS, record_delivered, record_refusal
from sync.models import DigestPost, utcnow
from sync.settings import Settings

log = logging.getLogger(__name__)

STALE_CLAIM = timedelta(minutes=10)


@dataclass
class Claim:
    """The right to post (channel, day): the row, and the ``ts`` of messages an earlier attempt already posted."""

    row_id: int
    done: list[str] = field(default_factory=list)  # already posted: skip this many messages
    kept: list[str] = field(default_factory=list)  # a forced repeat keeps the earlier digest's ts too
    repeat: bool = False  # forced over an existing row: a failure leaves that row's state alone


def digest_day(settings: Settings, now: datetime) -> date:
    """The local day a digest posted at ``now`` belongs to (it reports the day before)."""
    return now.astimezone(settings.zone).date()


def post_digest(
    *, settings: Settings, engine: Engine, client: WebClient, now: datetime | None = None, force: bool = False
) -> list[str]:
    """Post today's digest to ``TALLY_CHANNEL`` unless it is already out; return the ``ts`` posted by this call."""
    if not settings.channel:
        raise ValueError("TALLY_CHANNEL is not set: name the channel the digest goes to, e.g. TALLY_CHANNEL=C0123")
    now = now or utcnow()
    day = digest_day(settings, now)
    claim = claim_day(engine, channel=settings.channel, day=day, now=now, force=force)
    if claim is None:
        log.info("digest for %s in %s is already posted (or being posted); nothing to do", day, settings.channel)
        return []
    try:
        messages = digest_messages(gather_digest(engine, settings, day=day - timedelta(days=1), now=now))
        return _post(engine, client, settings.channel, messages, claim)
    except SlackApiError as exc:
        code = str(exc.response.get("error", "")) if exc.response is not None else ""
        if code in CHANNEL_REFUSALS:  # status and the next digest say so, with the remedy
            record_refusal(engine, settings.channel, code, now=now)
        log.exception("posting the digest for %s to %s failed", day, settings.channel)
        raise
    except Exception:
        log.exception("posting the digest for %s to %s failed", day, settings.channel)
        raise


def claim_day(engine: Engine, *, channel: str, day: date, now: datetime, force: bool = False) -> Claim | None:
    """Claim (channel, day) for posting; ``None`` when it is posted, or being posted by a live run."""
    where = (col(DigestPost.channel) == channel, col(DigestPost.day) == day)
    with session_scope(engine) as session:
        known = session.execute(select(col(DigestPost.id)).where(*where)).first() is not None
    if not known:  # look first: the catch-up job asks every 15 minutes, and a refused INSERT is logged by PostgreSQL
        try:
            with session_scope(engine) as session:
                row = DigestPost(channel=channel, day=day, status="posting", at=now)
                session.add(row)
                session.flush()
                assert row.id is not None
                return Claim(row.id)
        except IntegrityError:
            pass  # another run claimed this day between the look and the insert
    return _reclaim(engine, where, now=now, force=force)


def _reclaim(engine: Engine, where: tuple[Any, ...], *, now: datetime, force: bool) -> Claim | None:
    """Take an existing day's row: a forced repeat always, a failed or stale attempt once, anything else never."""
    with session_scope(engine, write_lock=True) as session:
        row = session.execute(select(DigestPost).where(*where).with_for_update()).scalars().one()
        assert row.id is not None
        earlier = json.loads(row.message_ts or "[]")
        if force:
            return Claim(row.id, kept=earlier, repeat=True)
        stale = row.status == "posting" and row.at is not None and now - row.at >= STALE_CLAIM
        if row.status != "failed" and not stale:
            return None
        taken = session.connection().execute(
            update(DigestPost)
            .where(col(DigestPost.id) == row.id, col(DigestPost.status) == row.status, col(DigestPost.at) == row.at)
            .values(status="posting", at=now)
        )
        log.warning("digest for %s in %s: taking over a %s attempt", row.day, row.channel, row.status)
        return Claim(row.id, done=earlier) if taken.rowcount == 1 else None


def _post(engine: Engine, client: WebClient, channel: str, messages: list[Message], claim: Claim) -> list[str]:
    """Post the messages still missing, recording each ``ts`` as soon as Slack returns it."""
    posted: list[str] = []
    try:
        for message in messages[len(claim.done) :]:
            response = client.chat_postMessage(channel=channel, **message.payload())
            posted.append(str(response["ts"]))
            _record(engine, claim, posted, status=None)
    except Exception:
        _record(engine, claim, posted, status="failed")
        raise
    _record(engine, claim, posted, status="posted")
    if posted:
        record_delivered(engine, channel)
    return posted


def _record(engine: Engine, claim: Claim, posted: list[str], *, status: str | None) -> None:
    """Store the ``ts`` posted so far, and ``status`` when given (a failed forced repeat keeps the row's)."""
    values: dict[str, object] = {"message_ts": json.dumps([*claim.kept, *claim.done, *posted])}
    if status is not None and not (claim.repeat and status == "failed"):
        values["status"] = status
    with session_scope(engine) as session:
        session.connection().execute(update(DigestPost).where(col(DigestPost.id) == claim.row_id).values(**values))
