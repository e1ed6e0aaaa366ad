"""Whether Tally's alerts reach their channel (issue 8 §7): refusals remembered with their remedy, redraws owed.

The Slack app records here what Slack answered; ``status``, the digest's health and the person who ran a command
read it back, so nothing claims the findings were posted when the channel refused them. No Slack import: these are
rows and sentences.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from sqlmodel import col

from sync.cache.store import upsert
from sync.db import session_scope
from sync.models import SlackChannelHealth, SlackRedraw, utcnow

# The answers that mean the channel itself refuses the bot (https://api.slack.com/methods/chat.postMessage#errors,
# https://api.slack.com/methods/chat.update#errors): retrying will not help until a person acts.
CHANNEL_REFUSALS = frozenset({"not_in_channel", "channel_not_found", "is_archived"})


@dataclass(frozen=True)
class Refusal:
    """The alert channel refusing Tally's posts: since when, Slack's code, and what to do about it."""

    channel: str
    error: str
    since: datetime | None

    def sentence(self, channel_label: str | None = None) -> str:
        """What happened and the remedy, e.g. "... (not_in_channel): invite @tally to #finance"."""
        where = channel_label or self.channel
        return f"Slack refuses Tally's alerts in {where} ({self.error}): {remedy(self.error, where)}."


def remedy(error: str, where: str) -> str:
    """What a person does about a refused channel."""
    if error == "not_in_channel":
        return f"invite @tally to {where} (type `/invite @tally` in the channel)"
    if error == "is_archived":
        return f"{where} is archived: unarchive it, or set TALLY_CHANNEL to another channel and invite @tally there"
    if error == "channel_not_found":
        return f"Tally cannot see {where}: check TALLY_CHANNEL, and if the channel is private, invite @tally to it"
    return f"check that @tally may post in {where}"


def record_refusal(engine: Engine, channel: str, error: str, *, now: datetime | None = None) -> None:
    """Remember that ``channel`` refused a post (keeping since when it does)."""
    now = now or utcnow()
    with session_scope(engine, write_lock=True) as session:
        row = session.get(SlackChannelHealth, channel)
        since = row.refused_at if row is not None and row.error is not None and row.refused_at else now
        delivered = row.delivered_at if row is not None else None
        values = {"channel": channel, "error": error, "refused_at": since, "delivered_at": delivered}
        upsert(session, SlackChannelHealth, [values])


def record_delivered(engine: Engine, channel: str, *, now: datetime | None = None) -> None:
    """Remember that a post or update in ``channel`` went through (a refusal is over)."""
    values = {"channel": channel, "error": None, "refused_at": None, "delivered_at": now or utcnow()}
    with session_scope(engine, write_lock=True) as session:
        upsert(session, SlackChannelHealth, [values])


def refusal(session: Session, channel: str | None) -> Refusal | None:
    """The refusal ``channel`` is in now, if any."""
    if not channel:
        return None
    row = session.get(SlackChannelHealth, channel)
    if row is None or row.error is None:
        return None
    return Refusal(channel, row.error, row.refused_at)


def owe_redraw(engine: Engine, key: str, error: str, *, now: datetime | None = None) -> None:
    """Queue the alert of ``key`` for the next notify pass (its post or update failed after the retries)."""
    with session_scope(engine, write_lock=True) as session:
        row = session.get(SlackRedraw, key)
        if row is None:
            session.add(SlackRedraw(finding_key=key, attempts=1, error=error, since=now or utcnow()))
        else:
            row.attempts += 1
            row.error = error


def redrawn(engine: Engine, key: str) -> None:
    """The alert of ``key`` shows the current state: nothing owed."""
    with session_scope(engine, write_lock=True) as session:
        session.execute(delete(SlackRedraw).where(col(SlackRedraw.finding_key) == key))


def owed_redraws(session: Session) -> set[str]:
    """Finding keys whose alert is owed a redraw."""
    return set(session.execute(select(col(SlackRedraw.finding_key))).scalars())


def owed_count(session: Session) -> int:
    """How many alerts wait for a redraw."""
    return int(session.execute(select(func.count()).select_from(SlackRedraw)).scalar_one())


def delivery_line(engine: Engine, channel: str | None, *, channel_label: str | None = None) -> str | None:
    """A sentence on alerts that did not reach the channel (a refusal and its remedy, redraws owed); None if all did."""
    with session_scope(engine) as session:
        refused, owed = refusal(session, channel), owed_count(session)
    parts = []
    if refused is not None:
        since = f" since {refused.since:%Y-%m-%d %H:%M} UTC" if refused.since else ""
        parts.append(f"{refused.sentence(channel_label)} Alerts are not posted{since}.")
    if owed:
        parts.append(f"{owed} alerts could not be redrawn yet; the next check redraws them.")
    return " ".join(parts) or None
