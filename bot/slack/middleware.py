"""Cross-cutting concerns as bolt middleware: Tally's services in the context, who may approve, who may connect.

- ``inject(tally)`` (global) puts the ``Tally`` services into ``context["tally"]`` for every listener.
- ``approvers_only`` (listener) lets approvers through; anyone else is audited (through ``sync.actions``, which
  records ``action.approval_refused``) and stopped with ``NotAllowedError``.
- who may run which subcommand (read, act, connect) is ``bot.slack.roles``, checked by the slash command's
  ``command_roles`` middleware.

Who approves: ``TALLY_APPROVERS`` plus the members of ``TALLY_APPROVER_GROUP``, read with
``usergroups.users.list`` and cached in ``slack_approver_cache`` for ``GROUP_TTL`` so a click is not slowed by Slack.
Admins: ``TALLY_ADMINS``, or the approvers when it is empty.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from slack_bolt import BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.engine import Engine

from bot.slack.errors import NotAllowedError
from bot.slack.ids import ActionId, CallbackId
from bot.slack.notify import Notifier
from sync.actions import approve, reject
from sync.cache.store import upsert
from sync.db import session_scope
from sync.models import SlackApproverCache, utcnow
from sync.settings import Settings
from sync.wiring import Clients

if TYPE_CHECKING:
    from bot.slack.roles import Roles

log = logging.getLogger(__name__)

GROUP_TTL = timedelta(minutes=10)
GROUP_TIMEOUT = 2  # seconds: the lookup runs before the ack, inside Slack's 3 s; on a timeout the cache is used
Next = Callable[[], None]


class Approvers:
    """Who may approve fixes and who may connect QuickBooks."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        client: WebClient,
        *,
        ttl: timedelta = GROUP_TTL,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.engine = engine
        # Its own client: a short timeout and no waiting out rate limits (the stale list is better than no ack).
        self.client = WebClient(token=client.token, base_url=client.base_url, timeout=GROUP_TIMEOUT)
        self.ttl = ttl
        self.now = now

    def is_approver(self, user: str) -> bool:
        """Tell whether ``user`` (a Slack user id) may approve or reject fixes."""
        if user in self.settings.approvers:
            return True
        group = self.settings.approver_group
        return bool(group) and user in self.members(str(group))

    def is_admin(self, user: str) -> bool:
        """Tell whether ``user`` may connect QuickBooks (``TALLY_ADMINS``; the approvers when that is empty)."""
        if self.settings.admins:
            return user in self.settings.admins
        return self.is_approver(user)

    def members(self, group: str) -> frozenset[str]:
        """The group's members: cached, else asked of Slack (a stale list when Slack cannot answer)."""
        with session_scope(self.engine) as session:
            row = session.get(SlackApproverCache, group)
            cached = frozenset(json.loads(row.members)) if row is not None else None
            fresh = row is not None and row.fetched_at is not None and self.now() - row.fetched_at < self.ttl
        if cached is not None and fresh:
            return cached
        try:
            users = [str(user) for user in self.client.usergroups_users_list(usergroup=group)["users"]]
        except (SlackApiError, OSError) as exc:
            log.warning("could not read approver group %s: %s", group, _why(exc))
            return cached or frozenset()
        with session_scope(self.engine) as session:
            row_values = {"usergroup": group, "members": json.dumps(sorted(users)), "fetched_at": self.now()}
            upsert(session, SlackApproverCache, [row_values])
        return frozenset(users)


def _why(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error"))
    return type(exc).__name__


@dataclass(eq=False)
class Tally:
    """The services every listener needs; shared, never copied (bolt deep-copies the context for lazy listeners)."""

    settings: Settings
    engine: Engine
    clients: Callable[[], AbstractContextManager[Clients]]
    client: WebClient
    notifier: Notifier
    approvers: Approvers
    roles: Roles  # who may read, act and connect (bot.slack.roles)

    def __deepcopy__(self, memo: dict[int, Any]) -> Tally:
        return self


def tally_of(context: BoltContext) -> Tally:
    """The services ``inject`` put into the context."""
    found = context.get("tally")
    if not isinstance(found, Tally):
        raise RuntimeError("Tally's middleware did not run: build the app with bot.slack.app.create_app")
    return found


def inject(tally: Tally) -> Callable[..., None]:
    """Global middleware putting ``tally`` into every request's context."""

    def tally_context(context: BoltContext, next: Next) -> None:
        context["tally"] = tally
        next()

    return tally_context


def decided_ids(body: dict[str, Any]) -> list[int]:
    """The action ids a click or a reject modal is about (button value, or the modal's private_metadata)."""
    if body.get("type") == "view_submission":
        raw = str(body.get("view", {}).get("private_metadata", ""))
    else:
        raw = str((body.get("actions") or [{}])[0].get("value", ""))
    return [int(part) for part in raw.split(",") if part.strip().isdigit()]


def _is_reject(body: dict[str, Any]) -> bool:
    if body.get("type") == "view_submission":
        return str(body.get("view", {}).get("callback_id")) == CallbackId.REJECT_REASON
    return str((body.get("actions") or [{}])[0].get("action_id")) == ActionId.REJECT


def approvers_only(context: BoltContext, body: dict[str, Any], next: Next) -> None:
    """Let approvers through; audit anyone else's attempt and stop it with the sentence they will read."""
    tally = tally_of(context)
    user = context.user_id or ""
    if tally.approvers.is_approver(user):
        next()
        return
    deny: Callable[[str], bool] = lambda _who: False  # noqa: E731 - the refusal path of sync.actions audits it
    sentence = "Only approvers can decide fixes."
    for action_id in decided_ids(body):
        if _is_reject(body):
            outcome = reject(tally.engine, action_id, actor=user, reason="", is_approver=deny)
        else:
            outcome = approve(tally.engine, action_id, approver=user, is_approver=deny)
        sentence = outcome.message
    raise NotAllowedError(sentence)
