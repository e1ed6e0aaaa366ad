"""The Socket Mode stand-in, met by slack_sdk's own built-in Socket Mode client over a real WebSocket."""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from sandbox.slack import SlackService
from sandbox.slack.socket_mode import NoAck, NotConnected, SocketModeHub
from sandbox.slack.websocket import OP_TEXT, accept_key, encode_frame
from tests.sandbox.slack_fixtures import WORKSPACE, Slack, slack

__all__ = ["slack"]  # the fixture, imported for pytest


def hub_of(slack: Slack) -> SocketModeHub:
    service = slack.server.service
    assert isinstance(service, SlackService)
    return service.socket_mode


@pytest.fixture
def app_client(slack: Slack) -> Iterator[tuple[SocketModeClient, list[SocketModeRequest], list[str]]]:
    """The SDK's Socket Mode client, acking every envelope (a slash command with a text), recording messages."""
    requests: list[SocketModeRequest] = []
    raw: list[str] = []
    client = SocketModeClient(
        app_token=WORKSPACE.app_token, web_client=slack.client(), ping_interval=0.5, on_message_listeners=[raw.append]
    )

    def listener(client: SocketModeClient, request: SocketModeRequest) -> None:
        requests.append(request)
        payload = {"text": f"got {request.payload.get('text')}"} if request.type == "slash_commands" else None
        client.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id, payload=payload))

    client.socket_mode_request_listeners.append(listener)  # type: ignore[arg-type]
    try:
        yield client, requests, raw
    finally:
        client.close()


def test_apps_connections_open_takes_only_the_app_level_token(slack: Slack) -> None:
    url = slack.client(WORKSPACE.app_token).apps_connections_open(app_token=WORKSPACE.app_token)["url"]
    assert url.startswith(f"ws://127.0.0.1:{slack.server.port}/link/?ticket=")
    with pytest.raises(SlackApiError) as refused:
        slack.client().apps_connections_open(app_token=WORKSPACE.bot_token)
    assert refused.value.response["error"] == "not_allowed_token_type"
    with pytest.raises(SlackApiError) as unknown:
        slack.client().apps_connections_open(app_token="xapp-1-made-up")
    assert unknown.value.response["error"] == "invalid_auth"
    with pytest.raises(SlackApiError) as app_token_elsewhere:
        slack.client(WORKSPACE.app_token).auth_test()
    assert app_token_elsewhere.value.response["error"] == "not_allowed_token_type"


@pytest.mark.slow  # the SDK client takes ~3 s to close
def test_hello_envelope_and_ack_with_the_sdk_client(slack: Slack, app_client: Any) -> None:
    client, requests, raw = app_client
    client.connect()
    hub = hub_of(slack)
    hub.wait_for_connections(1)
    answer = hub.deliver("slash_commands", {"command": "/tally", "text": "status"}, accepts_response_payload=True)
    assert answer == {"text": "got status"}
    hello = json.loads(raw[0])
    assert (hello["type"], hello["connection_info"]["app_id"], hello["num_connections"]) == ("hello", "A0TALLY", 1)
    assert [(r.type, r.accepts_response_payload) for r in requests] == [("slash_commands", True)]
    assert hub.deliver("interactive", {"type": "block_actions"}, accepts_response_payload=False) == {}


@pytest.mark.slow  # the SDK client takes ~3 s to close
def test_refresh_requested_moves_the_client_to_a_new_connection(slack: Slack, app_client: Any) -> None:
    client, _requests, _ = app_client
    client.connect()
    hub = hub_of(slack)
    hub.wait_for_connections(1)
    assert hub.refresh() == 1
    first, second = hub.wait_for_connections(2)
    deadline = time.monotonic() + 5
    while first.open and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not first.open, "the SDK closes the old connection once the new one is up"
    assert second.open
    assert hub.tickets_issued == 2
    assert hub.deliver("slash_commands", {"text": "after"}, accepts_response_payload=True) == {"text": "got after"}


@pytest.mark.slow  # the SDK client takes ~3 s to close
def test_a_silent_connection_gets_no_pongs_and_the_client_reconnects(slack: Slack, app_client: Any) -> None:
    client, _, _ = app_client  # pings every 0.5 s: stale after 2 s without a pong
    client.connect()
    hub = hub_of(slack)
    (first,) = hub.wait_for_connections(1)
    pings = first.pings
    hub.go_silent()
    with pytest.raises(NoAck):
        hub.deliver("slash_commands", {"text": "lost"}, accepts_response_payload=True, timeout=0.5)
    started = time.monotonic()
    _, second = hub.wait_for_connections(2, timeout=10)
    assert time.monotonic() - started < 6
    assert first.pings == pings, "a dead path answers no ping"
    assert hub.deliver("slash_commands", {"text": "back"}, accepts_response_payload=True) == {"text": "got back"}
    assert second.number == 2


def test_no_connection_is_not_connected(slack: Slack) -> None:
    with pytest.raises(NotConnected):
        hub_of(slack).deliver("slash_commands", {}, accepts_response_payload=True, connect_wait=0.1)


def _handshake(slack: Slack, path: str) -> tuple[socket.socket, bytes, bytes]:
    """Open a raw WebSocket: (socket, the HTTP answer's head, frames that came with it)."""
    sock = socket.create_connection(("127.0.0.1", slack.server.port), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = sock.recv(4096)
        if not chunk:
            break
        answer += chunk
    head, _, rest = answer.partition(b"\r\n\r\n")
    assert accept_key(key) in head.decode() or not head.startswith(b"HTTP/1.1 101")
    return sock, head, rest


def _server_texts(sock: socket.socket, count: int, buffered: bytes = b"") -> list[bytes]:
    """Read ``count`` unmasked text frames the server sent (``buffered``: bytes already read)."""
    texts: list[bytes] = []
    while len(texts) < count:
        while len(buffered) >= 2:
            length, start = buffered[1] & 0x7F, 2
            if length == 126:
                (length,), start = struct.unpack("!H", buffered[2:4]), 4
            if len(buffered) < start + length:
                break
            texts.append(buffered[start : start + length])
            buffered = buffered[start + length :]
        if len(texts) < count:
            buffered += sock.recv(65536)
    return texts


def test_a_ticket_works_once_and_a_made_up_one_not_at_all(slack: Slack) -> None:
    url = slack.client().apps_connections_open(app_token=WORKSPACE.app_token)["url"]
    parts = urlsplit(url)
    sock, answer, _ = _handshake(slack, f"{parts.path}?{parts.query}")
    assert answer.startswith(b"HTTP/1.1 101")
    sock.close()
    again, refused, _ = _handshake(slack, f"{parts.path}?{parts.query}")
    assert refused.startswith(b"HTTP/1.1 401")
    again.close()
    made_up, refused, _ = _handshake(slack, "/link/?ticket=nope")
    assert refused.startswith(b"HTTP/1.1 401")
    made_up.close()


def test_an_unmasked_client_frame_closes_the_connection(slack: Slack) -> None:
    url = slack.client().apps_connections_open(app_token=WORKSPACE.app_token)["url"]
    parts = urlsplit(url)
    sock, answer, _ = _handshake(slack, f"{parts.path}?{parts.query}")
    assert answer.startswith(b"HTTP/1.1 101")
    hub = hub_of(slack)
    (connection,) = hub.wait_for_connections(1)
    sock.sendall(encode_frame(OP_TEXT, b'{"envelope_id": "x"}'))  # a server-style frame: no mask
    deadline = time.monotonic() + 5
    while connection.open and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not connection.open
    sock.close()


def test_masked_fragments_are_joined_into_one_ack(slack: Slack) -> None:
    url = slack.client().apps_connections_open(app_token=WORKSPACE.app_token)["url"]
    parts = urlsplit(url)
    sock, _, rest = _handshake(slack, f"{parts.path}?{parts.query}")
    hub = hub_of(slack)
    hub.wait_for_connections(1)
    envelopes: list[dict[str, Any]] = []

    def deliver() -> None:
        envelopes.append(hub.deliver("slash_commands", {"text": "x"}, accepts_response_payload=True))

    thread = threading.Thread(target=deliver)
    thread.start()
    messages = _server_texts(sock, 2, rest)  # hello, then the envelope
    envelope_id = json.loads(messages[1])["envelope_id"]
    ack = json.dumps({"envelope_id": envelope_id, "payload": {"text": "joined"}}).encode()
    for index, (opcode, chunk) in enumerate([(OP_TEXT, ack[:10]), (0, ack[10:])]):
        mask = os.urandom(4)
        fin = 0x80 if index == 1 else 0
        sock.sendall(
            struct.pack("!BB", fin | opcode, 0x80 | len(chunk))
            + mask
            + bytes(b ^ mask[i % 4] for i, b in enumerate(chunk))
        )
    thread.join(5)
    assert envelopes == [{"text": "joined"}]
    sock.close()
