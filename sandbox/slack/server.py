"""The Slack Web API stand-in: ``/api/<method>`` with Bearer auth, ``/response/<token>`` for response_urls.

Web API answers are HTTP 200 JSON with ``ok`` (as Slack's are), except 429 ``ratelimited`` with ``Retry-After``.
Bodies may be JSON or form-encoded and parameters may also come in the query string, for every method.
Rate limits (``Faults.rate_limit``) count per method path, as Slack's tiers do.
"""

from __future__ import annotations

import hmac
import json
import logging
import socket
from typing import Any, BinaryIO
from urllib.parse import parse_qs

from sandbox.clock import Clock
from sandbox.slack.errors import SlackError
from sandbox.slack.methods import METHODS, check_scope
from sandbox.slack.socket_mode import SocketModeHub
from sandbox.slack.store import SlackStore, SlackWorkspace
from sandbox.web import Faults, Request, Response, Router, SandboxServer

log = logging.getLogger(__name__)

INJECTED_RETRY_AFTER = 1  # Retry-After for a 429 injected with ``fail_next`` (status 429): short, so tests ride it out


def parse_params(request: Request) -> dict[str, Any]:
    """Merge the query string and a JSON or form body into one parameter dict (body wins)."""
    params: dict[str, Any] = {key: values[0] for key, values in request.query.items() if values}
    if not request.body:
        return params
    content_type = (request.header("content-type") or "").lower()
    if "json" in content_type:
        try:
            body = json.loads(request.body)
        except ValueError:
            raise SlackError("invalid_json") from None
        if not isinstance(body, dict):
            raise SlackError("invalid_json")
        params.update(body)
    else:
        form = parse_qs(request.body.decode("utf-8", "replace"), keep_blank_values=True)
        params.update({key: values[0] for key, values in form.items() if values})
    return params


def _answer(body: dict[str, Any], status: int = 200, retry_after: int | None = None) -> Response:
    headers = [("Retry-After", str(retry_after))] if retry_after is not None else []
    return Response.json(body, status=status, headers=headers)


class SlackService:
    """``sandbox.web.Service`` for the Slack Web API and response_urls."""

    def __init__(self, store: SlackStore) -> None:
        self.store = store
        self.socket_mode = SocketModeHub(store.workspace.app_id)
        self.router = Router()
        for verb in ("GET", "POST"):
            self.router.add(verb, r"/api/(?P<method>[A-Za-z0-9_.]+)", self._api)
        self.router.add("POST", r"/response/(?P<token>[A-Za-z0-9_-]+)", self._response)

    # -- sandbox.web.Service -------------------------------------------------------------------------------
    def rate_limited(self, request: Request, retry_after: int) -> Response:
        """Answer 429 ``ratelimited`` with ``Retry-After``, recording the refused call."""
        self._note_refused(request, "ratelimited")
        return _answer({"ok": False, "error": "ratelimited"}, 429, retry_after)

    def failure(self, request: Request, status: int) -> Response:
        """Answer an injected failure; status 429 is a rate limit with a one-second ``Retry-After``."""
        if status == 429:
            return self.rate_limited(request, INJECTED_RETRY_AFTER)
        self._note_refused(request, "fatal_error")
        return _answer({"ok": False, "error": "fatal_error"}, status)  # [U] Slack's 5xx bodies vary

    def internal_error(self, request: Request, exc: BaseException) -> Response:
        """Answer a crash in a handler with a 500."""
        return _answer({"ok": False, "error": "fatal_error"}, 500)

    def not_found(self, request: Request) -> Response:
        """Answer a path outside ``/api/`` and ``/response/``."""
        return _answer({"ok": False, "error": "not_found"}, 404)

    def before(self, request: Request) -> Response | None:
        """Nothing to do before routing."""
        return None

    def after(self, request: Request) -> None:
        """Nothing to do after a request."""

    def upgrade(self, request: Request, sock: socket.socket, rfile: BinaryIO, wfile: BinaryIO) -> None:
        """A WebSocket handshake: Socket Mode's ``/link/`` (``socket_mode.py``)."""
        self.socket_mode.upgrade(request, sock, rfile, wfile)

    def close(self) -> None:
        """The server is stopping: close the Socket Mode connections."""
        self.socket_mode.close()

    def admin(self, name: str, request: Request) -> Response | None:
        """Serve ``/_sandbox/calls`` (GET), ``/_sandbox/messages?channel=`` (GET), ``/_sandbox/reset`` (POST) and
        ``/_sandbox/refuse`` (POST ``{"channel": ..., "error": "not_in_channel" | null}``)."""
        store = self.store
        if name == "refuse" and request.method == "POST":
            body = request.json() or {}
            try:
                store.refuse(str(body.get("channel") or ""), body.get("error") or None)
            except SlackError as exc:
                return _answer(exc.body(), 404)
            return Response.json({"ok": True})
        if name == "calls" and request.method == "GET":
            return Response.json([call.to_json() for call in store.calls])
        if name == "messages" and request.method == "GET":
            try:
                return Response.json(store.messages(request.arg("channel") or ""))
            except SlackError as exc:
                return _answer(exc.body(), 404)
        if name == "reset" and request.method == "POST":
            store.reset()
            return Response.json({"ok": True})
        if name == "socket_mode":
            hub = self.socket_mode
            if request.method == "POST":
                asked = request.json() or {}
                if asked.get("refresh"):
                    hub.refresh(str(asked.get("reason") or "refresh_requested"))
                if asked.get("silent"):
                    hub.go_silent()
            return Response.json(hub.snapshot())
        return None

    # -- routes --------------------------------------------------------------------------------------------
    def _api(self, request: Request) -> Response:
        method = request.params["method"]
        try:
            params = parse_params(request)
        except SlackError as exc:
            self.store.record_call(method, {}, exc.error)
            return _answer(exc.body())
        token = self._token(request, params)
        try:
            if method == "apps.connections.open":
                self._authenticate(token, app_level=True)
                body = {"ok": True, "url": self.socket_mode.issue_url(request.url)}
            else:
                self._authenticate(token)
                handler = METHODS.get(method)
                if handler is None:
                    raise SlackError("unknown_method")  # [U] Slack's HTTP status for this is not verified; 200 here
                check_scope(self.store, method)
                body = handler(self.store, params)
        except SlackError as exc:
            self.store.record_call(method, params, exc.error)
            return _answer(exc.body(), exc.status)
        self.store.record_call(method, params, None)
        answer = _answer(body)
        if method != "apps.connections.open":  # Slack names the bot token's scopes on every answer
            answer.headers.append(("x-oauth-scopes", ",".join(self.store.workspace.scopes)))
        return answer

    def _response(self, request: Request) -> Response:
        try:
            payload = json.loads(request.body or b"{}")
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            return _answer({"ok": False, "error": "invalid_payload"}, 400)  # [U] wording
        try:
            self.store.respond(request.params["token"], payload)
        except SlackError as exc:
            return _answer(exc.body(), exc.status)
        return _answer({"ok": True})

    @staticmethod
    def _token(request: Request, params: dict[str, Any]) -> str | None:
        """Take the token from ``Authorization: Bearer`` or, as Slack still allows in bodies, ``token``."""
        from_body = params.pop("token", None)
        scheme, _, value = (request.header("authorization") or "").partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
        return str(from_body) if from_body else None

    def _authenticate(self, token: str | None, *, app_level: bool = False) -> None:
        """Bot token for Web API methods, app-level token for ``apps.connections.open``.

        The other kind of a valid token is ``not_allowed_token_type``, as Slack answers (python-slack-sdk issue
        threads on calling apps.connections.open with an xoxb- token; https://api.slack.com/methods/apps.connections.open).
        """
        if not token:
            raise SlackError("not_authed")
        workspace = self.store.workspace
        wanted, other = (
            (workspace.app_token, workspace.bot_token) if app_level else (workspace.bot_token, workspace.app_token)
        )
        if hmac.compare_digest(token.encode(), wanted.encode()):
            return
        if hmac.compare_digest(token.encode(), other.encode()):
            raise SlackError("not_allowed_token_type")
        raise SlackError("invalid_auth")

    def _note_refused(self, request: Request, error: str) -> None:
        if not request.path.startswith("/api/"):
            return
        try:
            params = parse_params(request)
        except SlackError:
            params = {}
        params.pop("token", None)
        self.store.record_call(request.path[len("/api/") :].strip("/"), params, error)


def serve_slack(
    *,
    workspace: SlackWorkspace | None = None,
    store: SlackStore | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    faults: Faults | None = None,
    clock: Clock | None = None,
) -> SandboxServer:
    """Start a Slack sandbox on ``host:port`` and return the running server (API base ``{url}/api/``).

    A given ``store`` brings its own workspace and clock (``clock`` is then ignored); the server's ``/_sandbox/clock``
    moves the store's clock, so trigger ids and response_urls age with it.
    """
    if store is None:
        store = SlackStore(workspace, clock)
    elif workspace is not None and workspace != store.workspace:
        raise ValueError("serve_slack: pass the workspace or a store built with it, not both differing")
    service = SlackService(store)
    return SandboxServer(
        service, host=host, port=port, faults=faults, clock=store.clock, rate_key=lambda request: request.path
    ).start()
