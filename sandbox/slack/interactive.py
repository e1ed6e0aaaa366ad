"""What Slack hands an app for one interaction and takes back later: trigger ids, response_urls, opened modals.

These registries hold no lock of their own; ``SlackStore`` guards them with its lock.
"""

from __future__ import annotations

import copy
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sandbox.slack.errors import SlackError

TRIGGER_TTL = timedelta(seconds=3)  # research §3: "The trigger_id must be used within 3 s"
RESPONSE_URL_TTL = timedelta(minutes=30)  # research §2: 30 min, at most 5 calls (approximate)
RESPONSE_URL_USES = 5


@dataclass
class Trigger:
    """One trigger id: who it was issued to, when, and whether an app exchanged it."""

    user: str
    issued_at: datetime
    used: bool = False


@dataclass
class ResponseOrigin:
    """What a response_url answers for: the user and channel, and the clicked message if any."""

    token: str
    user: str
    channel: str
    minted_at: datetime
    message_ts: str | None = None
    is_ephemeral: bool = False
    uses: int = 0


class Triggers:
    """Trigger ids issued by the driver and exchanged once by ``views.open``."""

    def __init__(self) -> None:
        self._issued: dict[str, Trigger] = {}
        self._seq = 0

    def issue(self, user: str, now: datetime) -> str:
        """Return a fresh trigger id for ``user``, shaped like Slack's ``13345224609.738474920.8088930838d88f008e0``."""
        self._seq += 1
        trigger_id = f"{self._seq:011d}.{int(now.timestamp())}.{secrets.token_hex(10)}"
        self._issued[trigger_id] = Trigger(user=user, issued_at=now)
        return trigger_id

    def take(self, trigger_id: str, now: datetime) -> str:
        """Exchange ``trigger_id`` once within 3 s and return its user."""
        trigger = self._issued.get(trigger_id)
        if trigger is None:
            # The shape Slack documents for a trigger id it never issued (slack-api-ref views.open example).
            raise SlackError("invalid_arguments", messages=["invalid `trigger_id`"])
        if trigger.used or now - trigger.issued_at > TRIGGER_TTL:
            raise SlackError("expired_trigger_id")  # [U] also for a reused id; Slack's code for that is undocumented
        trigger.used = True
        return trigger.user


class ResponseUrls:
    """response_url tokens: 30 minutes, five uses."""

    def __init__(self) -> None:
        self._origins: dict[str, ResponseOrigin] = {}

    def mint(self, *, user: str, channel: str, now: datetime, message_ts: str | None, is_ephemeral: bool) -> str:
        """Register a new token and return it."""
        token = secrets.token_urlsafe(18)
        self._origins[token] = ResponseOrigin(token, user, channel, now, message_ts, is_ephemeral)
        return token

    def check(self, token: str, now: datetime) -> ResponseOrigin:
        """Return the origin of a usable ``token``; 404 ``expired_url`` / ``used_url`` otherwise."""
        # [U] Slack's texts and statuses for these are not documented precisely; 404 + these codes are plausible.
        origin = self._origins.get(token)
        if origin is None:
            raise SlackError("no_such_url", status=404)
        if now - origin.minted_at > RESPONSE_URL_TTL:
            raise SlackError("expired_url", status=404)
        if origin.uses >= RESPONSE_URL_USES:
            raise SlackError("used_url", status=404)
        return origin


class Views:
    """Modals opened by the app, by view id."""

    def __init__(self) -> None:
        self._views: dict[str, dict[str, Any]] = {}
        self._users: dict[str, str] = {}
        self._closed: set[str] = set()
        self._seq = 0

    def open(self, view: dict[str, Any], *, user: str, identity: dict[str, str], now: datetime) -> dict[str, Any]:
        """Store ``view`` as opened for ``user`` and return Slack's view object."""
        external_id = view.get("external_id") or ""
        if external_id and any(v.get("external_id") == external_id for v in self._views.values()):
            raise SlackError("duplicate_external_id")
        self._seq += 1
        view_id = f"V0SANDBOX{self._seq:03d}"
        stored = self._shape(view, view_id=view_id, root=view_id, identity=identity, now=now)
        self._views[view_id] = stored
        self._users[view_id] = user
        return copy.deepcopy(stored)

    def update(
        self, view: dict[str, Any], *, view_id: str | None, external_id: str | None, hash_: str | None, now: datetime
    ) -> dict[str, Any]:
        """Replace an open view found by id or external id, honouring ``hash``."""
        current = self._find(view_id, external_id)
        if hash_ and hash_ != current["hash"]:
            raise SlackError("hash_conflict")
        identity = {"team_id": current["team_id"], "app_id": current["app_id"], "bot_id": current["bot_id"]}
        stored = self._shape(view, view_id=current["id"], root=current["root_view_id"], identity=identity, now=now)
        stored["state"] = current["state"]
        self._views[current["id"]] = stored
        return copy.deepcopy(stored)

    def close(self, view_id: str) -> None:
        """Mark a view closed (the app acked its submission without keeping it open)."""
        self._closed.add(view_id)

    def get(self, view_id: str) -> dict[str, Any] | None:
        """Return the current view object, or ``None``."""
        view = self._views.get(view_id)
        return copy.deepcopy(view) if view is not None else None

    def user(self, view_id: str) -> str | None:
        """Return the user a view was opened for."""
        return self._users.get(view_id)

    def all(self, *, open_only: bool = False) -> list[dict[str, Any]]:
        """Return every view (or the still-open ones), oldest first."""
        return [copy.deepcopy(v) for k, v in self._views.items() if not (open_only and k in self._closed)]

    def _find(self, view_id: str | None, external_id: str | None) -> dict[str, Any]:
        for stored in self._views.values():
            if (view_id and stored["id"] == view_id) or (external_id and stored["external_id"] == external_id):
                if stored["id"] in self._closed:
                    break
                return stored
        raise SlackError("not_found")

    @staticmethod
    def _shape(
        view: dict[str, Any], *, view_id: str, root: str, identity: dict[str, str], now: datetime
    ) -> dict[str, Any]:
        shaped: dict[str, Any] = {
            "id": view_id,
            "team_id": identity["team_id"],
            "type": "modal",
            "private_metadata": "",
            "callback_id": "",
            "external_id": "",
            "clear_on_close": False,
            "notify_on_close": False,
        }
        shaped.update(copy.deepcopy(view))
        shaped.update(
            state={"values": {}},
            hash=f"{int(now.timestamp())}.{secrets.token_hex(4)}",
            root_view_id=root,
            previous_view_id=None,
            app_id=identity["app_id"],
            app_installed_team_id=identity["team_id"],
            bot_id=identity["bot_id"],
        )
        return shaped


# -- view_submission state ---------------------------------------------------------------------------------------
# Which key of an input's state holds the answer; everything else keeps its text in ``value``.
_STATE_KEYS = {
    "static_select": "selected_option",
    "external_select": "selected_option",
    "radio_buttons": "selected_option",
    "datepicker": "selected_date",
    "timepicker": "selected_time",
    "users_select": "selected_user",
    "conversations_select": "selected_conversation",
    "channels_select": "selected_channel",
}


def state_values(view: dict[str, Any], values: dict[str, dict[str, str]]) -> dict[str, dict[str, Any]]:
    """Build ``view.state.values`` for ``values[block_id][action_id]`` filled into ``view``'s input blocks.

    Every input appears (unfilled ones empty), as Slack sends them; an unknown block/action raises ``LookupError``
    and an empty required input raises ``ValueError``, because Slack's client would not let the user submit.
    """
    inputs = {
        (str(block.get("block_id")), str(block["element"].get("action_id"))): block
        for block in view.get("blocks", [])
        if block.get("type") == "input" and isinstance(block.get("element"), dict)
    }
    for block_id, actions in values.items():
        for action_id in actions:
            if (block_id, action_id) not in inputs:
                raise LookupError(f"no input {block_id}/{action_id} in view {view.get('id')}")
    state: dict[str, dict[str, Any]] = {}
    for (block_id, action_id), block in inputs.items():
        given = values.get(block_id, {}).get(action_id)
        if not given and not block.get("optional"):
            raise ValueError(f"required input {block_id}/{action_id} is empty; Slack would not submit the modal")
        state.setdefault(block_id, {})[action_id] = _input_state(block["element"], given or None)
    return state


def _input_state(element: dict[str, Any], given: str | None) -> dict[str, Any]:
    kind = str(element.get("type"))
    key = _STATE_KEYS.get(kind, "value")
    if key != "selected_option" or given is None:
        return {"type": kind, key: given}
    for option in element.get("options", []):
        if option.get("value") == given:
            return {"type": kind, key: copy.deepcopy(option)}
    raise LookupError(f"no option {given!r} in {element.get('action_id')}")
