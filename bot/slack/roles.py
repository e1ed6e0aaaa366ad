"""Who may see and start what in Slack: viewers read, approvers act, admins connect; everyone else is refused.

==========  ===============================================================  ==========================================
need        commands                                                         who
==========  ===============================================================  ==========================================
read        ``status``, ``ar``, ``history``, ``explain``, ``actions``,        viewers (``TALLY_VIEWERS``), approvers,
            ``payments``, ``credits``, ``mirror`` (the previews)              admins; with ``TALLY_OPEN_READING=true``
                                                                              also every full member (not guests)
act         ``check``, ``digest``, ``map``, ``undo``                         approvers (``TALLY_APPROVERS``,
                                                                              ``TALLY_APPROVER_GROUP``) and admins
connect     ``connect``, ``doctor``                                          admins (``TALLY_ADMINS``, else approvers)
everyone    ``help`` (and usage help for a mistyped command)                 anyone: it shows nothing of the books
act         any subcommand not in ``NEEDS`` (a new one is closed until       approvers and admins
            someone decides who may run it)
==========  ===============================================================  ==========================================

Buttons and the reject modal need an approver (``approvers_only`` in ``bot.slack.middleware``). A refusal is an
ephemeral sentence in the command's own answer and an ``access.refused`` event in the audit trail (the slash
command's ``command_roles`` middleware in ``bot.slack.listeners.commands``).

Guests: Slack's ``users.info`` marks them ``is_restricted`` (multi-channel) or ``is_ultra_restricted``
(single-channel), https://api.slack.com/types/user. It is asked only when reading is open and the person is in no
list; the answer is kept ``MEMBER_TTL``. When Slack cannot say, the person is treated as a guest (refused): a
controller would rather have a colleague retry than a guest see the ledger. Someone listed by id in a role has it,
guest or not: an admin put them there.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack.middleware import GROUP_TIMEOUT, Approvers
from sync.models import utcnow
from sync.settings import Settings

log = logging.getLogger(__name__)

MEMBER_TTL = timedelta(minutes=10)


class Need(StrEnum):
    """What a command needs of the person who runs it."""

    READ = "read"
    ACT = "act"
    CONNECT = "connect"


NEEDS: dict[str, Need] = {
    "status": Need.READ,
    "ar": Need.READ,
    "history": Need.READ,
    "explain": Need.READ,
    "actions": Need.READ,
    "payments": Need.READ,
    "credits": Need.READ,
    "mirror": Need.READ,
    "check": Need.ACT,
    "digest": Need.ACT,
    "connect": Need.CONNECT,
    "doctor": Need.CONNECT,  # it shows how the systems are set up: for the people who set them up
    "map": Need.ACT,  # confirming a customer mapping changes what Tally may write
    "undo": Need.ACT,  # and an approver, which the command checks itself
}

REFUSALS = {
    Need.READ: (
        "Sorry, Tally shows balances and the audit trail only to the people it is set up for (viewers, approvers "
        "and admins). Ask a Tally admin to add you to TALLY_VIEWERS if you need to see them."
    ),
    Need.ACT: (
        "Sorry, only Tally's approvers and admins can start a check or post the digest. "
        "Ask one of them, or a Tally admin to add you to TALLY_APPROVERS."
    ),
    Need.CONNECT: (
        "Only Tally's admins can connect QuickBooks or run the doctor (TALLY_ADMINS, or the approvers when none are "
        "set). Ask one of them to run this."
    ),
}


class Roles:
    """Answers "may this Slack user do that?" from settings, the approver group and, for open reading, Slack."""

    def __init__(
        self,
        settings: Settings,
        approvers: Approvers,
        client: WebClient,
        *,
        ttl: timedelta = MEMBER_TTL,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.approvers = approvers
        # Its own client: asked before the ack, so a short timeout and no waiting out rate limits.
        self.client = WebClient(token=client.token, base_url=client.base_url, timeout=GROUP_TIMEOUT)
        self.ttl = ttl
        self.now = now
        self._members: dict[str, tuple[bool, datetime]] = {}
        self._lock = threading.Lock()

    def may(self, user: str, need: Need) -> bool:
        """Tell whether ``user`` may run a command needing ``need``."""
        if not user:
            return False
        if need is Need.CONNECT:
            return self.approvers.is_admin(user)
        if need is Need.ACT:
            return self.approvers.is_approver(user) or self.approvers.is_admin(user)
        if user in self.settings.viewers or self.may(user, Need.ACT):
            return True
        return self.settings.open_reading and self.is_full_member(user)

    def is_full_member(self, user: str) -> bool:
        """Whether ``user`` is a workspace member who is not a guest (nor a bot, nor deactivated)."""
        with self._lock:
            cached = self._members.get(user)
        if cached is not None and self.now() - cached[1] < self.ttl:
            return cached[0]
        try:
            found: dict[str, Any] = self.client.users_info(user=user)["user"]
        except (SlackApiError, OSError) as exc:
            why = exc.response.get("error") if isinstance(exc, SlackApiError) else type(exc).__name__
            log.warning("could not tell whether %s is a guest (%s): treated as one", user, why)
            return cached[0] if cached is not None else False
        guest = bool(found.get("is_restricted") or found.get("is_ultra_restricted"))
        member = not (guest or found.get("is_bot") or found.get("deleted"))
        with self._lock:
            self._members[user] = (member, self.now())
        return member
