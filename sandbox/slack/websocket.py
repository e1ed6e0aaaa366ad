"""The server side of a WebSocket (RFC 6455) with the standard library: the handshake answer and frames.

No WebSocket package is a dependency of Tally (slack_sdk's built-in Socket Mode client speaks the protocol itself),
so the sandbox speaks it too: client frames must be masked (RFC 6455 §5.1, a server closes on an unmasked one),
server frames are not; fragmented messages are joined; control frames may come between fragments.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import struct
import threading
from typing import BinaryIO

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3
OP_CONTINUATION, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
MAX_MESSAGE = 1 << 20  # a Socket Mode ack is small; refuse anything absurd instead of buffering it


class ConnectionClosed(Exception):
    """The peer closed the socket, sent a close frame, or broke the protocol."""


def accept_key(key: str) -> str:
    """``Sec-WebSocket-Accept`` for a client's ``Sec-WebSocket-Key``."""
    return base64.b64encode(hashlib.sha1((key + GUID).encode(), usedforsecurity=False).digest()).decode()


def encode_frame(opcode: int, payload: bytes = b"") -> bytes:
    """One unmasked, final frame (what a server sends)."""
    length = len(payload)
    if length <= 125:
        header = struct.pack("!BB", 0x80 | opcode, length)
    elif length <= 0xFFFF:
        header = struct.pack("!BBH", 0x80 | opcode, 126, length)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 127, length)
    return header + payload


def _read_exactly(rfile: BinaryIO, size: int) -> bytes:
    data = rfile.read(size)
    if data is None or len(data) < size:
        raise ConnectionClosed("the client closed the socket")
    return data


def read_frame(rfile: BinaryIO) -> tuple[bool, int, bytes]:
    """Read one client frame: ``(fin, opcode, unmasked payload)``."""
    first, second = _read_exactly(rfile, 2)
    length = second & 0x7F
    if length == 126:
        (length,) = struct.unpack("!H", _read_exactly(rfile, 2))
    elif length == 127:
        (length,) = struct.unpack("!Q", _read_exactly(rfile, 8))
    if not second & 0x80:
        raise ConnectionClosed("the client sent an unmasked frame")
    if length > MAX_MESSAGE:
        raise ConnectionClosed(f"a frame of {length} bytes is too large")
    mask = _read_exactly(rfile, 4)
    masked = _read_exactly(rfile, length)
    payload = bytes(byte ^ mask[index % 4] for index, byte in enumerate(masked))
    return bool(first & 0x80), first & 0x0F, payload


class WebSocket:
    """One accepted WebSocket: write frames from any thread, read whole messages in one."""

    def __init__(self, rfile: BinaryIO, wfile: BinaryIO) -> None:
        self._rfile = rfile
        self._wfile = wfile
        self._write_lock = threading.Lock()
        self.closed = False

    def send(self, opcode: int, payload: bytes = b"") -> None:
        """Send one frame; ``ConnectionClosed`` when the socket is gone."""
        with self._write_lock:
            if self.closed:
                raise ConnectionClosed("already closed")
            try:
                self._wfile.write(encode_frame(opcode, payload))
                self._wfile.flush()
            except OSError as exc:
                self.closed = True
                raise ConnectionClosed(str(exc)) from exc

    def send_text(self, text: str) -> None:
        """Send a text message."""
        self.send(OP_TEXT, text.encode())

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Send a close frame (once); the socket itself is closed by the server that accepted it."""
        if self.closed:
            return
        with contextlib.suppress(ConnectionClosed):
            self.send(OP_CLOSE, struct.pack("!H", code) + reason.encode())
        self.closed = True

    def receive(self) -> tuple[int, bytes]:
        """The next message or control frame: ``(opcode, payload)``; fragments are joined, close raises."""
        parts: list[bytes] = []
        kind: int | None = None
        while True:
            try:
                fin, opcode, payload = read_frame(self._rfile)
            except (OSError, ValueError) as exc:
                raise ConnectionClosed(str(exc)) from exc
            if opcode == OP_CLOSE:
                self.close(1000)
                raise ConnectionClosed("the client sent a close frame")
            if opcode in (OP_PING, OP_PONG):
                return opcode, payload
            if opcode != OP_CONTINUATION:
                kind = opcode
            elif kind is None:
                raise ConnectionClosed("a continuation frame without a first fragment")
            parts.append(payload)
            if sum(len(part) for part in parts) > MAX_MESSAGE:
                raise ConnectionClosed("a message too large")
            if fin:
                return kind, b"".join(parts)
