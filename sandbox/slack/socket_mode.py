"""Socket Mode: Slack's side of the WebSocket an app opens instead of exposing a request URL.

What the sandbox plays (python-slack-sdk ``slack_sdk/socket_mode/``, and
https://api.slack.com/apis/socket-mode):

- ``apps.connections.open`` with the app-level token (``xapp-``) answers a single-use URL
  ``ws://…/link/?ticket=…&app_id=…`` (Slack's is ``wss://wss-primary.slack.com/link/…``; loopback has no TLS).
- On connecting, the app gets ``{"type": "hello", "num_connections": n, "connection_info": {"app_id": …}, …}``.
- Slash commands and clicks arrive as envelopes ``{"envelope_id", "type": "slash_commands" | "interactive",
  "payload", "accepts_response_payload"}``; the app acks with ``{"envelope_id", "payload"?}`` within 3 s. The ack's
  payload is what an HTTP app would have answered (the slash command's immediate reply, a modal's response_action).
- ``{"type": "disconnect", "reason": "refresh_requested"}`` asks the app to open a new connection; no new envelope
  goes to a connection asked to refresh, and the sandbox closes it after ``REFRESH_GRACE`` seconds if the app did not.
  [U] how long Slack keeps such a connection open is not published; 10 s here.
- A "silent drop" (``go_silent``) plays a network path that died without a FIN: the sandbox reads and discards what
  the app sends and answers nothing, pings included, until the app gives up on the connection and closes it.

Acks are matched by ``envelope_id`` across connections: after a refresh the SDK sends the ack of an envelope that
came on the old connection over the new one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from sandbox.slack.websocket import OP_PING, OP_PONG, OP_TEXT, ConnectionClosed, WebSocket, accept_key
from sandbox.web import Request

log = logging.getLogger(__name__)

ACK_TIMEOUT = 3.0  # Slack's limit for acking an envelope
REFRESH_GRACE = 10.0
LINK_PATH = "/link/"


class NoAck(TimeoutError):
    """The app did not ack an envelope in time (Slack tells the person the app did not respond)."""


class NotConnected(TimeoutError):
    """No Socket Mode connection to deliver to (Slack answers the person with ``dispatch_failed``)."""


@dataclass(eq=False)
class SocketConnection:
    """One accepted WebSocket from the app."""

    number: int
    websocket: WebSocket
    sock: socket.socket
    opened_at: float
    silent: bool = False
    refresh_requested: bool = False
    closed_at: float | None = None
    pings: int = 0
    pongs_sent: int = 0

    @property
    def open(self) -> bool:
        """Still connected (a silent one too: the sandbox has not noticed anything wrong, as Slack would not)."""
        return self.closed_at is None

    def shut(self) -> None:
        """Close the socket from the server side."""
        self.websocket.close(1001)
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)


@dataclass(eq=False)
class Envelope:
    """One envelope sent to the app and its ack."""

    envelope_id: str
    type: str
    payload: dict[str, Any]
    accepts_response_payload: bool
    connection: int
    acked: threading.Event = field(default_factory=threading.Event)
    answer: dict[str, Any] | None = None


class SocketModeHub:
    """Tickets, connections and envelopes of the Socket Mode stand-in."""

    def __init__(self, app_id: str) -> None:
        self.app_id = app_id
        self._lock = threading.Condition()
        self._tickets: set[str] = set()
        self._connections: list[SocketConnection] = []
        self._envelopes: dict[str, Envelope] = {}
        self._timers: list[threading.Timer] = []
        self.tickets_issued = 0
        self.stopping = False

    # -- apps.connections.open --------------------------------------------------------------------------------
    def issue_url(self, base_url: str) -> str:
        """A single-use WebSocket URL on the sandbox's own host and port."""
        ticket = secrets.token_urlsafe(16)
        with self._lock:
            self._tickets.add(ticket)
            self.tickets_issued += 1
        parts = urlsplit(base_url)
        return f"ws://{parts.netloc}{LINK_PATH}?ticket={ticket}&app_id={self.app_id}"

    # -- the WebSocket ----------------------------------------------------------------------------------------
    def upgrade(self, request: Request, sock: socket.socket, rfile: BinaryIO, wfile: BinaryIO) -> None:
        """Answer the handshake on ``/link/`` and serve the connection until it closes (blocks)."""
        ticket = request.arg("ticket") or ""
        key = request.header("sec-websocket-key")
        if (
            request.path.rstrip("/") != LINK_PATH.rstrip("/")
            or not key
            or request.header("sec-websocket-version") != "13"
        ):
            _refuse(wfile, 400, "Bad Request", "not a WebSocket handshake for /link/")
            return
        with self._lock:
            known = ticket in self._tickets
            self._tickets.discard(ticket)
        if not known:
            # [U] what Slack answers for a reused or made-up ticket is not verified; a refused handshake here.
            _refuse(wfile, 401, "Unauthorized", "unknown or already used ticket; call apps.connections.open")
            return
        wfile.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + f"Sec-WebSocket-Accept: {accept_key(key)}\r\n\r\n".encode()
        )
        wfile.flush()
        websocket = WebSocket(rfile, wfile)
        with self._lock:
            connection = SocketConnection(len(self._connections) + 1, websocket, sock, time.monotonic())
            self._connections.append(connection)
            live = sum(1 for other in self._connections if other.open)
            self._lock.notify_all()
        log.info("sandbox slack: socket mode connection %d opened", connection.number)
        try:
            websocket.send_text(
                json.dumps(
                    {
                        "type": "hello",
                        "num_connections": live,
                        "debug_info": {
                            "host": "sandbox-applink",
                            "build_number": 1,
                            "approximate_connection_time": 3600,
                        },
                        "connection_info": {"app_id": self.app_id},
                    }
                )
            )
            self._serve(connection)
        except ConnectionClosed:
            pass
        finally:
            with self._lock:
                connection.closed_at = time.monotonic()
                self._lock.notify_all()
            log.info("sandbox slack: socket mode connection %d closed", connection.number)

    def _serve(self, connection: SocketConnection) -> None:
        websocket = connection.websocket
        while not self.stopping:
            opcode, payload = websocket.receive()
            if connection.silent:
                continue  # the path is dead: nothing reaches Slack, nothing comes back
            if opcode == OP_PING:
                connection.pings += 1
                websocket.send(OP_PONG, payload)
                connection.pongs_sent += 1
            elif opcode == OP_TEXT:
                self._ack(payload)

    def _ack(self, payload: bytes) -> None:
        try:
            message = json.loads(payload)
        except ValueError:
            log.info("sandbox slack: socket mode message that is not JSON ignored")
            return
        if not isinstance(message, dict):
            return
        with self._lock:
            envelope = self._envelopes.get(str(message.get("envelope_id") or ""))
        if envelope is None or envelope.acked.is_set():
            return
        answer = message.get("payload")
        envelope.answer = answer if isinstance(answer, dict) else {}
        envelope.acked.set()

    # -- what Slack does ------------------------------------------------------------------------------------
    def deliver(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        accepts_response_payload: bool,
        timeout: float = ACK_TIMEOUT,
        connect_wait: float = 0.0,
    ) -> dict[str, Any]:
        """Send an envelope on the newest connection (not asked to refresh) and return its ack's payload.

        ``NotConnected`` when no connection came within ``connect_wait`` seconds; ``NoAck`` when the ack did not
        come within ``timeout`` (a silent connection never acks).
        """
        with self._lock:
            connection = self._lock.wait_for(self._deliverable, timeout=connect_wait) or self._deliverable()
            if connection is None:
                raise NotConnected("no Socket Mode connection is open")
            envelope = Envelope(secrets.token_hex(16), kind, payload, accepts_response_payload, connection.number)
            self._envelopes[envelope.envelope_id] = envelope
        body = {
            "envelope_id": envelope.envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
        }
        if not connection.silent:
            with contextlib.suppress(ConnectionClosed):  # then the ack will not come: NoAck, as Slack times out
                connection.websocket.send_text(json.dumps(body))
        if not envelope.acked.wait(timeout):
            raise NoAck(f"the app did not ack the {kind} envelope within {timeout:g} s")
        return envelope.answer or {}

    def _deliverable(self) -> SocketConnection | None:
        for connection in reversed(self._connections):
            if connection.open and not connection.refresh_requested:
                return connection
        return None

    def refresh(self, reason: str = "refresh_requested", grace: float = REFRESH_GRACE) -> int:
        """Ask every open connection to reconnect; close those still open after ``grace`` s. Return how many."""
        with self._lock:
            asked = [c for c in self._connections if c.open and not c.refresh_requested]
            for connection in asked:
                connection.refresh_requested = True
        message = json.dumps({"type": "disconnect", "reason": reason, "debug_info": {"host": "sandbox-applink"}})
        for connection in asked:
            try:
                connection.websocket.send_text(message)
            except ConnectionClosed:
                continue
            timer = threading.Timer(grace, connection.shut)
            timer.daemon = True
            timer.start()
            self._timers.append(timer)
        return len(asked)

    def go_silent(self) -> int:
        """Make every open connection a dead path (no pongs, no acks, nothing sent). Return how many."""
        with self._lock:
            silenced = [c for c in self._connections if c.open and not c.silent]
            for connection in silenced:
                connection.silent = True
        return len(silenced)

    # -- looking --------------------------------------------------------------------------------------------
    @property
    def connections(self) -> list[SocketConnection]:
        """Every connection accepted, oldest first."""
        with self._lock:
            return list(self._connections)

    def open_connections(self) -> list[SocketConnection]:
        """The connections still open."""
        return [c for c in self.connections if c.open]

    def wait_for_connections(self, count: int, timeout: float = 10.0) -> list[SocketConnection]:
        """Wait until ``count`` connections were accepted in all; return them (``TimeoutError`` otherwise)."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self._connections) >= count, timeout=timeout):
                raise TimeoutError(f"{len(self._connections)} Socket Mode connection(s), not {count}, in {timeout} s")
            return list(self._connections)

    def snapshot(self) -> dict[str, Any]:
        """What the admin endpoint shows."""
        now = time.monotonic()
        return {
            "tickets_issued": self.tickets_issued,
            "connections": [
                {
                    "number": c.number,
                    "open": c.open,
                    "silent": c.silent,
                    "refresh_requested": c.refresh_requested,
                    "pings": c.pings,
                    "seconds_open": round((c.closed_at or now) - c.opened_at, 3),
                }
                for c in self.connections
            ],
        }

    def close(self) -> None:
        """Close every connection (the sandbox is stopping)."""
        self.stopping = True
        for timer in self._timers:
            timer.cancel()
        for connection in self.connections:
            if connection.open:
                connection.shut()


def _refuse(wfile: BinaryIO, status: int, phrase: str, text: str) -> None:
    body = text.encode()
    head = f"HTTP/1.1 {status} {phrase}\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n"
    wfile.write(head.encode() + b"Connection: close\r\n\r\n" + body)
    wfile.flush()
