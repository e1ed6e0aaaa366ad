"""Slack's side towards an app under test, over real HTTP: signed slash commands, button clicks, modal submissions.

The driver only does what a person in Slack could: it clicks buttons that are in a message the sandbox holds (as
that message looks now), submits modals the app opened through ``views.open``, and refuses a submission with a
required input left empty (Slack's client would not send it). Trigger ids and response_urls it sends are minted by
the sandbox store, so ``views.open`` and response_url posts made by the app land in the same store.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlencode

import httpx

from sandbox.slack.errors import SlackError
from sandbox.slack.interactive import state_values
from sandbox.slack.server import SlackService
from sandbox.slack.store import Call, Message, SlackWorkspace
from sandbox.web import SandboxServer

T = TypeVar("T")
USER_AGENT = "Slackbot 1.0 (+https://api.slack.com/robots)"


def sign(secret: str, timestamp: str, body: str) -> str:
    """Return Slack's ``X-Slack-Signature`` for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256).hexdigest()
    return f"v0={digest}"


def find_button(message: Message, action_id: str) -> tuple[str, dict[str, Any]]:
    """Return ``(block_id, button)`` for the button ``action_id`` in ``message``'s blocks, or raise ``LookupError``."""
    for index, block in enumerate(message.get("blocks") or []):
        block_id = str(block.get("block_id") or f"sandbox-block-{index}")  # Slack fills in a block_id when absent
        candidates = block.get("elements", []) if block.get("type") == "actions" else [block.get("accessory")]
        for element in candidates:
            if isinstance(element, dict) and element.get("type") == "button" and element.get("action_id") == action_id:
                return block_id, element
    raise LookupError(f"no button {action_id!r} in message {message.get('ts')} of {message.get('channel')}")


class SlackDriver:
    """Send what Slack would send to ``{app_url}/slack/events``, with ids minted by the sandbox ``server``."""

    def __init__(
        self,
        app_url: str,
        *,
        server: SandboxServer,
        workspace: SlackWorkspace | None = None,
        events_path: str = "/slack/events",
    ) -> None:
        service = server.service
        if not isinstance(service, SlackService):
            raise TypeError("SlackDriver needs a server started by serve_slack")
        self.url = f"{app_url.rstrip('/')}{events_path}"
        self.server = server
        self.store = service.store
        self.workspace = workspace or self.store.workspace
        self._http = httpx.Client(timeout=10.0)

    def close(self) -> None:
        """Close the HTTP client."""
        self._http.close()

    def __enter__(self) -> SlackDriver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what a person does ----------------------------------------------------------------------------------
    def command(
        self,
        text: str,
        *,
        user: str = "U0ANA",
        channel: str = "C0FINANCE",
        command: str = "/tally",
        timestamp: float | None = None,
        secret: str | None = None,
    ) -> httpx.Response:
        """Run a slash command; an ack body the app answers with is shown in the store as Slack would show it."""
        form = self.command_form(text, user=user, channel=channel, command=command)
        response = self._post(urlencode(form), timestamp=timestamp, secret=secret)
        if response.status_code == 200 and response.content:
            self.store.record_ack(user, form["channel_id"], _ack_payload(response))
        return response

    def command_form(self, text: str, *, user: str, channel: str, command: str) -> dict[str, str]:
        """The fields Slack sends for a slash command (a form over HTTP, the envelope's payload in Socket Mode)."""
        workspace = self.workspace
        channel_id = self.store.channel_id(channel)
        return {
            "token": workspace.verification_token,
            "team_id": workspace.team_id,
            "team_domain": workspace.team_domain,
            "channel_id": channel_id,
            "channel_name": workspace.channel_name(channel_id),
            "user_id": user,
            "user_name": workspace.users.get(user, user),
            "command": command,
            "text": text,
            "api_app_id": workspace.app_id,
            "is_enterprise_install": "false",
            "response_url": self.store.mint_response_url(self.server.url, user=user, channel=channel_id),
            "trigger_id": self.store.issue_trigger(user),
        }

    def click(
        self, message: Message, action_id: str, *, user: str = "U0ANA", value: str | None = None
    ) -> httpx.Response:
        """Click button ``action_id`` in ``message`` as it looks now in the store; raise ``LookupError`` if absent."""
        payload = self.click_payload(message, action_id, user=user, value=value)
        return self._post(urlencode({"payload": json.dumps(payload)}))

    def click_payload(self, message: Message, action_id: str, *, user: str, value: str | None) -> dict[str, Any]:
        """The ``block_actions`` payload of a click on a button ``user`` can see now; ``LookupError`` if absent."""
        current = self.store.message(message["channel"], message["ts"])
        if current is None:
            raise LookupError(f"message {message['ts']} in {message['channel']} is not (or no longer) shown")
        if current.get("is_ephemeral") and current.get("recipient") != user:
            raise LookupError(f"{user} cannot see ephemeral message {message['ts']}")
        block_id, button = find_button(current, action_id)
        return self._block_actions(current, block_id, button, user=user, value=value)

    def open_home(self, user: str = "U0ANA") -> httpx.Response:
        """Open the app's Home tab as ``user``: Slack sends the ``app_home_opened`` event (Events API envelope)."""
        workspace = self.workspace
        event: dict[str, Any] = {
            "type": "app_home_opened",
            "user": user,
            "channel": f"D{user[1:]}",
            "tab": "home",
            "event_ts": f"{time.time():.6f}",
        }
        current = self.store.home(user)
        if current is not None:
            event["view"] = current
        envelope = {
            "token": workspace.verification_token,
            "team_id": workspace.team_id,
            "api_app_id": workspace.app_id,
            "event": event,
            "type": "event_callback",
            "event_id": f"Ev{time.time_ns()}",
            "event_time": int(time.time()),
        }
        return self._post(json.dumps(envelope), content_type="application/json")

    def click_home(self, action_id: str, *, user: str = "U0ANA", value: str | None = None) -> httpx.Response:
        """Click button ``action_id`` (with ``value``, if several) on ``user``'s Home tab as it looks now."""
        view = self.store.home(user)
        if view is None:
            raise LookupError(f"{user} has no Home tab")
        for index, block in enumerate(view.get("blocks") or []):
            block_id = str(block.get("block_id") or f"sandbox-block-{index}")
            candidates = block.get("elements", []) if block.get("type") == "actions" else [block.get("accessory")]
            for button in candidates:
                if not (isinstance(button, dict) and button.get("action_id") == action_id):
                    continue
                if value is not None and button.get("value") != value:
                    continue
                action = {
                    "action_id": action_id,
                    "block_id": block_id,
                    "text": button.get("text"),
                    "type": "button",
                    "value": button.get("value"),
                    "action_ts": f"{time.time():.6f}",
                }
                payload = {
                    **self._identity(user),
                    "type": "block_actions",
                    "container": {"type": "view", "view_id": view["id"]},
                    "trigger_id": self.store.issue_trigger(user),
                    "view": view,
                    "actions": [action],
                }  # a Home tab click carries no channel, message or response_url
                return self._post(urlencode({"payload": json.dumps(payload)}))
        raise LookupError(f"no button {action_id!r} on {user}'s Home tab")

    def submit_view(
        self, view: dict[str, Any], values: dict[str, dict[str, str]], *, user: str | None = None
    ) -> httpx.Response:
        """Submit an open modal with ``values[block_id][action_id]``; the app's answer closes or updates it."""
        view_id = str(view["id"])
        if view_id not in {open_view["id"] for open_view in self.store.open_views}:
            raise LookupError(f"view {view_id} is not open")
        current = self.store.view(view_id)
        assert current is not None
        user = user or self.store.view_user(view_id) or "U0ANA"
        submitted = copy.deepcopy(current)
        submitted["state"] = {"values": state_values(current, values)}
        payload = {
            **self._identity(user),
            "type": "view_submission",
            "trigger_id": self.store.issue_trigger(user),
            "view": submitted,
            "response_urls": [],
        }
        response = self._post(urlencode({"payload": json.dumps(payload)}))
        self._after_submission(view_id, response)
        return response

    # -- waiting for the app's asynchronous work -------------------------------------------------------------
    def wait_for(self, predicate: Callable[[], T], timeout: float = 5.0, interval: float = 0.01) -> T:
        """Poll ``predicate`` until it returns something truthy and return it; ``TimeoutError`` otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if result:
                return result
            if time.monotonic() >= deadline:
                raise TimeoutError(f"nothing satisfied the condition within {timeout} s")
            time.sleep(interval)

    def wait_for_calls(self, method: str, count: int = 1, timeout: float = 5.0) -> list[Call]:
        """Wait until the app made ``count`` successful calls to ``method``; return them."""

        def enough() -> list[Call]:
            calls = [call for call in self.store.calls_to(method) if call.ok]
            return calls if len(calls) >= count else []

        return self.wait_for(enough, timeout)

    # -- payloads --------------------------------------------------------------------------------------------
    def _identity(self, user: str) -> dict[str, Any]:
        workspace = self.workspace
        name = workspace.users.get(user, user)
        return {
            "user": {"id": user, "username": name, "name": name, "team_id": workspace.team_id},
            "team": {"id": workspace.team_id, "domain": workspace.team_domain},
            "api_app_id": workspace.app_id,
            "token": workspace.verification_token,
            "enterprise": None,
            "is_enterprise_install": False,
        }

    def _block_actions(
        self, message: Message, block_id: str, button: dict[str, Any], *, user: str, value: str | None
    ) -> dict[str, Any]:
        channel, ts, ephemeral = message["channel"], message["ts"], bool(message.get("is_ephemeral"))
        action: dict[str, Any] = {
            "action_id": button["action_id"],
            "block_id": block_id,
            "text": button.get("text"),
            "type": "button",
            "action_ts": f"{time.time():.6f}",
        }
        if value is not None or "value" in button:
            action["value"] = value if value is not None else button["value"]
        if "style" in button:
            action["style"] = button["style"]
        payload: dict[str, Any] = {
            **self._identity(user),
            "type": "block_actions",
            "container": {"type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": ephemeral},
            "trigger_id": self.store.issue_trigger(user),
            "channel": {"id": channel, "name": self.workspace.channel_name(channel)},
            "state": {"values": {}},
            "response_url": self.store.mint_response_url(
                self.server.url, user=user, channel=channel, message_ts=ts, is_ephemeral=ephemeral
            ),
            "actions": [action],
        }
        if message.get("thread_ts"):
            payload["container"]["thread_ts"] = message["thread_ts"]  # bolt's say() replies in the thread from here
        if not ephemeral:
            payload["message"] = {k: v for k, v in message.items() if k not in ("channel", "recipient")}
        return payload

    def _after_submission(self, view_id: str, response: httpx.Response) -> None:
        if response.status_code != 200:
            return
        answer = _ack_payload(response) if response.content else {}
        action = answer.get("response_action")
        if action == "errors":
            return  # the modal stays open showing the errors
        if action == "update" and isinstance(answer.get("view"), dict):
            with contextlib.suppress(SlackError):  # an invalid view: Slack shows an error, the modal stays as it was
                self.store.update_view(answer["view"], view_id=view_id, external_id=None, hash_=None)
            return
        self.store.close_view(view_id)

    def _post(
        self,
        body: str,
        *,
        timestamp: float | None = None,
        secret: str | None = None,
        content_type: str = "application/x-www-form-urlencoded",
    ) -> httpx.Response:
        stamp = str(int(timestamp if timestamp is not None else time.time()))
        headers = {
            "Content-Type": content_type,
            "User-Agent": USER_AGENT,
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": sign(secret if secret is not None else self.workspace.signing_secret, stamp, body),
        }
        return self._http.post(self.url, content=body.encode(), headers=headers)


def _ack_payload(response: httpx.Response) -> dict[str, Any]:
    """Read an ack body: JSON when it is JSON, else plain text (bolt's ``ack("text")``)."""
    text = response.text
    if text.lstrip().startswith("{"):
        try:
            parsed = json.loads(text)
        except ValueError:
            return {"text": text}
        return parsed if isinstance(parsed, dict) else {"text": text}
    return {"text": text}


class SocketModeDriver:
    """Slack's side towards an app connected over Socket Mode: the same commands and clicks, sent as envelopes.

    The payloads are the HTTP driver's (a slash command's fields, a click's ``block_actions``); the ack's payload
    is what the HTTP app would have answered, and is shown in the store the same way.
    """

    def __init__(self, server: SandboxServer, *, workspace: SlackWorkspace | None = None) -> None:
        self.payloads = SlackDriver(server.url, server=server, workspace=workspace)
        service = server.service
        assert isinstance(service, SlackService)  # SlackDriver checked it
        self.hub = service.socket_mode
        self.store = self.payloads.store
        self.wait_for = self.payloads.wait_for
        self.wait_for_calls = self.payloads.wait_for_calls

    def close(self) -> None:
        """Close the payload builder's HTTP client."""
        self.payloads.close()

    def __enter__(self) -> SocketModeDriver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def command(
        self,
        text: str,
        *,
        user: str = "U0ANA",
        channel: str = "C0FINANCE",
        command: str = "/tally",
        connect_wait: float = 10.0,
    ) -> dict[str, Any]:
        """Run a slash command over the WebSocket; return the ack's payload (``NoAck``/``NotConnected`` if none)."""
        form = self.payloads.command_form(text, user=user, channel=channel, command=command)
        answer = self.hub.deliver("slash_commands", form, accepts_response_payload=True, connect_wait=connect_wait)
        if answer:
            self.store.record_ack(user, form["channel_id"], answer)
        return answer

    def click(
        self, message: Message, action_id: str, *, user: str = "U0ANA", value: str | None = None
    ) -> dict[str, Any]:
        """Click a button the app posted, over the WebSocket; return the ack's payload."""
        payload = self.payloads.click_payload(message, action_id, user=user, value=value)
        return self.hub.deliver("interactive", payload, accepts_response_payload=False, connect_wait=10.0)
