"""A click is honoured only for the fixes its message shows (issue 8 §2).

Tally remembers which fixes each message it sends shows with buttons:

- an alert: the actions linked to it (``Action.slack_channel`` / ``slack_ts``, set when it is posted or redrawn);
- a summary ("Approve all N") and an ephemeral preview: ``shown_action`` rows, keyed ``<channel>:<ts>`` for the
  summary and ``preview:<token>`` for the preview (its ts never reaches Tally; the token rides in its block ids);
- a Home tab: ``shown_action`` rows keyed ``home:<user>`` (the fixes it shows that person with buttons).

On a click, every action id in the button must belong to the message it was clicked in; otherwise nothing is
approved or written, the attempt is audited, and the person is told to use the fix's own alert.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from sqlmodel import col, select

from bot.slack.blocks.previews import preview_shown
from sync import audit
from sync.db import session_scope
from sync.models import Action, ShownAction, utcnow


def channel_message(channel: str, ts: str) -> str:
    """The key of a message in a channel."""
    return f"{channel}:{ts}"


def preview_message_key(token: str) -> str:
    """The key of an ephemeral preview."""
    return f"preview:{token}"


def home_message_key(user: str) -> str:
    """The key of one person's Home tab (it shows the fixes waiting for their approval)."""
    return f"home:{user}"


def new_preview_token() -> str:
    """A fresh token for one rendering of a preview."""
    return secrets.token_hex(6)


def remember(session: Session, message: str, action_ids: Iterable[int | None]) -> None:
    """Record that ``message`` shows these fixes (in the caller's transaction)."""
    now = utcnow()
    for action_id in dict.fromkeys(i for i in action_ids if i is not None):
        if session.get(ShownAction, (message, action_id)) is None:
            session.add(ShownAction(message=message, action_id=action_id, at=now))


def remember_preview(engine: Engine, token: str, action_ids: Iterable[int | None]) -> None:
    """Record the fixes one preview shows."""
    with session_scope(engine, write_lock=True) as session:
        remember(session, preview_message_key(token), action_ids)


def clicked_message(body: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    """Where a click came from: (channel, message ts, preview token)."""
    container = body.get("container") or {}
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
    ts = container.get("message_ts") or (body.get("message") or {}).get("ts")
    block_id = str((body.get("actions") or [{}])[0].get("block_id", ""))
    return (str(channel) if channel else None), (str(ts) if ts else None), preview_shown(block_id)


def strangers(engine: Engine, body: dict[str, Any], action_ids: list[int]) -> list[int]:
    """The ids among ``action_ids`` that the clicked message does not show (empty: the click is bound)."""
    channel, ts, token = clicked_message(body)
    keys = [preview_message_key(token)] if token else []
    if (body.get("container") or {}).get("type") == "view" and (body.get("view") or {}).get("type") == "home":
        keys.append(home_message_key(str((body.get("user") or {}).get("id", ""))))
    if channel and ts:
        keys.append(channel_message(channel, ts))
    if not keys or not action_ids:
        return list(action_ids)
    with session_scope(engine) as session:
        shown = set(
            session.execute(
                select(col(ShownAction.action_id)).where(
                    col(ShownAction.message).in_(keys), col(ShownAction.action_id).in_(action_ids)
                )
            ).scalars()
        )
        if channel and ts and not token:
            linked = select(col(Action.id)).where(
                col(Action.id).in_(action_ids), col(Action.slack_channel) == channel, col(Action.slack_ts) == ts
            )
            shown |= {i for i in session.execute(linked).scalars() if i is not None}
    return [action_id for action_id in action_ids if action_id not in shown]


def refuse(engine: Engine, user: str, action_ids: list[int], strangers_: list[int]) -> str:
    """Audit a click carrying fixes its message does not show; return the sentence for the person."""
    with session_scope(engine) as session:
        for action_id in strangers_:
            audit.record(
                session,
                actor=user,
                channel="slack",
                verb="action.click_refused",
                subject=f"action:{action_id}",
                detail="the button's message does not show this fix",
            )
    named = ", ".join(f"#{i}" for i in strangers_)
    return (
        f"This button is not for fix {named}: a click counts only for the fixes its own message shows, so nothing "
        "was approved or written. Use the fix's own alert, or run the preview again."
    )
