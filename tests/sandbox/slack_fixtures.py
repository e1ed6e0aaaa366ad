"""Shared helpers for the Slack sandbox tests: a running sandbox, a loopback app that records what Slack sent it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import httpx
import pytest
from slack_sdk import WebClient

from sandbox.slack import SlackDriver, SlackService, SlackStore, SlackWorkspace, serve_slack
from sandbox.web import SandboxServer

WORKSPACE = SlackWorkspace()
CHANNEL = "C0FINANCE"

StartResponse = Callable[..., Any]
WSGIApp = Callable[[Any, Any], Iterable[bytes]]  # a WSGI callable (bolt's adapter types it with wsgiref.types)


@dataclass
class Slack:
    """A running Slack sandbox."""

    server: SandboxServer
    store: SlackStore

    @property
    def api(self) -> str:
        """The Web API base URL, as ``WebClient(base_url=...)`` wants it."""
        return f"{self.server.url}/api/"

    def client(self, token: str | None = WORKSPACE.bot_token, **kwargs: Any) -> WebClient:
        """A real slack_sdk WebClient pointed at the sandbox."""
        return WebClient(token=token, base_url=self.api, **kwargs)

    def admin(self, name: str, body: dict[str, Any] | None = None) -> Any:
        """POST to a ``/_sandbox/`` admin endpoint and return the JSON answer."""
        answer = httpx.post(f"{self.server.url}/_sandbox/{name}", json=body or {})
        answer.raise_for_status()
        return answer.json()

    def advance(self, seconds: float) -> None:
        """Move the sandbox clock forward."""
        self.admin("clock", {"advance_seconds": seconds})


@contextmanager
def running_slack(**kwargs: Any) -> Iterator[Slack]:
    """Serve a fresh Slack sandbox for the duration of the block."""
    server = serve_slack(**kwargs)
    service = server.service
    assert isinstance(service, SlackService)
    try:
        yield Slack(server=server, store=service.store)
    finally:
        server.stop()


@pytest.fixture
def slack() -> Iterator[Slack]:
    """A fresh Slack sandbox with the default workspace."""
    with running_slack() as running:
        yield running


# -- a loopback app under test ---------------------------------------------------------------------------------
@dataclass
class Received:
    """One request the app received: the raw body and lower-cased headers."""

    body: str
    headers: dict[str, str]


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output clean."""


@dataclass
class LoopbackApp:
    """An HTTP app on loopback that records every request and answers through ``handler`` (default: 200, empty)."""

    handler: WSGIApp | None = None
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._server = make_server(
            "127.0.0.1", 0, self._wsgi, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler
        )
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """Base URL of the app."""
        return f"http://127.0.0.1:{self._server.server_port}"

    def stop(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _wsgi(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        headers = {
            key[5:].replace("_", "-").lower(): str(value) for key, value in environ.items() if key[:5] == "HTTP_"
        }
        headers["content-type"] = environ.get("CONTENT_TYPE", "")
        self.received.append(Received(raw.decode(), headers))
        if self.handler is None:
            start_response("200 OK", [("Content-Length", "0")])
            return [b""]
        replay = dict(environ)
        replay["wsgi.input"] = _Body(raw)
        return self.handler(replay, start_response)


class _Body:
    """A re-readable WSGI input stream."""

    def __init__(self, raw: bytes) -> None:
        self._raw = raw

    def read(self, size: int = -1) -> bytes:
        data, self._raw = (self._raw, b"") if size < 0 else (self._raw[:size], self._raw[size:])
        return data


@contextmanager
def driven_app(slack: Slack, handler: WSGIApp | None = None) -> Iterator[tuple[LoopbackApp, SlackDriver]]:
    """Run a loopback app and a driver playing Slack towards it."""
    app = LoopbackApp(handler)
    driver = SlackDriver(app.url, server=slack.server, workspace=slack.store.workspace)
    try:
        yield app, driver
    finally:
        driver.close()
        app.stop()


def section(text: str) -> dict[str, Any]:
    """A section block with mrkdwn text."""
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def button(action_id: str, text: str = "Go", value: str = "v", **extra: Any) -> dict[str, Any]:
    """A button element."""
    return {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": text},
        "value": value,
        **extra,
    }


def actions(*elements: dict[str, Any], block_id: str = "decide") -> dict[str, Any]:
    """An actions block."""
    return {"type": "actions", "block_id": block_id, "elements": list(elements)}


def approval_card(value: str = "INV-1001") -> list[dict[str, Any]]:
    """A card with Approve / Reject buttons."""
    return [
        section("*Write off INV-1001?*"),
        actions(button("approve", "Approve", value, style="primary"), button("reject", "Reject", value)),
    ]


def reason_modal(private_metadata: str = "", callback_id: str = "reject_reason") -> dict[str, Any]:
    """A modal asking for a reason (one required input ``r``/``v``, one optional ``note``/``n``)."""
    return {
        "type": "modal",
        "callback_id": callback_id,
        "private_metadata": private_metadata,
        "title": {"type": "plain_text", "text": "Reason"},
        "submit": {"type": "plain_text", "text": "Reject"},
        "blocks": [
            {
                "type": "input",
                "block_id": "r",
                "label": {"type": "plain_text", "text": "Why?"},
                "element": {"type": "plain_text_input", "action_id": "v", "multiline": True},
            },
            {
                "type": "input",
                "block_id": "note",
                "optional": True,
                "label": {"type": "plain_text", "text": "Note"},
                "element": {"type": "plain_text_input", "action_id": "n"},
            },
        ],
    }
