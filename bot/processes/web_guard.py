"""The guard in front of Bolt: a Slack request is checked before anything reads it, and refused in one log line.

Order, for every POST to ``/slack/events``:

1. size: a ``Content-Length`` above ``MAX_SLACK_BODY``, or a body that grows past it while read, is ``413``;
2. signature: ``X-Slack-Signature`` must be ``v0=`` HMAC-SHA256 of ``v0:{timestamp}:{body}`` with the signing
   secret, and ``X-Slack-Request-Timestamp`` within five minutes of now either way — else ``401``
   (https://api.slack.com/authentication/verifying-requests-from-slack);
3. shape: only then is the body parsed; a signed body Bolt could not read (not form-encoded, a ``payload`` that is
   not a JSON object) is ``400``.

Nothing of an unverified body is parsed, so no ``response_url`` or ``trigger_id`` from it ever reaches a listener,
and no answer goes anywhere but back on the refused request. A refusal is one warning line (no traceback, no body).

``MAX_SLACK_BODY`` is 256 KiB: a ``block_actions`` payload carries the whole message clicked (up to 50 blocks,
about 12,000 characters of block text, https://api.slack.com/reference/block-kit/blocks), JSON inside
URL-encoding, which roughly triples it; 256 KiB leaves room for that and refuses anything far larger.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs

from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response

log = logging.getLogger(__name__)

MAX_SLACK_BODY = 256 * 1024
MAX_WEBHOOK_BODY = 256 * 1024  # QuickBooks webhooks and ConnectWise callbacks: a few KiB each
MAX_AGE_SECONDS = 5 * 60  # Slack: "more than five minutes from local time" is a possible replay


class Refused(Exception):
    """A request the guard answers itself: ``status`` and one short ``why`` for the log and the caller."""

    def __init__(self, status: int, why: str) -> None:
        self.status = status
        self.why = why
        super().__init__(why)

    def response(self) -> Response:
        """The answer: the status and a word, nothing about the request."""
        words = {400: "malformed request", 401: "invalid signature", 413: "request too large"}
        return PlainTextResponse(words.get(self.status, "refused"), status_code=self.status)


async def read_capped(request: Request, limit: int) -> bytes:
    """Read the body, refusing (413) before reading more than ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise Refused(400, "Content-Length is not a number")
        if int(declared) > limit:
            raise Refused(413, f"body of {declared} bytes is over the {limit}-byte limit")
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise Refused(413, f"body over the {limit}-byte limit")
            chunks.append(chunk)
    except ClientDisconnect:
        raise Refused(400, "the client went away mid-body") from None
    return b"".join(chunks)


@dataclass(frozen=True)
class SlackSignature:
    """Slack's v0 request signature, checked in constant time against one signing secret."""

    secret: str
    clock: Callable[[], float] = time.time
    max_age: int = MAX_AGE_SECONDS

    def __post_init__(self) -> None:
        if not self.secret:
            raise ValueError("SLACK_SIGNING_SECRET is not set: Tally cannot tell Slack's requests from forged ones.")

    def check(self, body: bytes, timestamp: str | None, signature: str | None) -> None:
        """Raise ``Refused(401)`` unless ``signature`` signs ``body`` at a ``timestamp`` within five minutes."""
        if not timestamp or not signature:
            raise Refused(401, "unsigned (no X-Slack-Signature or X-Slack-Request-Timestamp)")
        if not timestamp.isdigit():
            raise Refused(401, "X-Slack-Request-Timestamp is not a number")
        if abs(self.clock() - int(timestamp)) > self.max_age:
            raise Refused(401, "timestamp more than five minutes from now (stale or replayed)")
        base = b"v0:" + timestamp.encode() + b":" + body
        expected = "v0=" + hmac.new(self.secret.encode(), base, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
            raise Refused(401, "signature does not match the signing secret")


def check_shape(body: bytes, content_type: str) -> None:
    """Raise ``Refused(400)`` for a signed body Bolt could not read: what Slack sends is always one of these."""
    if "application/json" in content_type:  # Events API
        try:
            parsed = json.loads(body)
        except ValueError:
            raise Refused(400, "JSON body that is not JSON") from None
        if not isinstance(parsed, dict):
            raise Refused(400, "JSON body that is not an object")
        return
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, "body is not UTF-8") from None
    form = parse_qs(text, keep_blank_values=True)
    if "payload" in form:  # interactivity: one JSON object in the ``payload`` field
        try:
            payload = json.loads(form["payload"][0])
        except ValueError:
            raise Refused(400, "payload field that is not JSON") from None
        if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
            raise Refused(400, "payload field that is not an interaction")
        return
    if "command" not in form:
        raise Refused(400, "neither a slash command nor an interaction")


async def guarded_slack_body(request: Request, signature: SlackSignature) -> bytes:
    """The body of a Slack request that passed size, signature and shape, in that order; else ``Refused``."""
    body = await read_capped(request, MAX_SLACK_BODY)
    signature.check(body, request.headers.get("x-slack-request-timestamp"), request.headers.get("x-slack-signature"))
    check_shape(body, request.headers.get("content-type", "").lower())
    return body


def refusal(request: Request, refused: Refused, *, what: str) -> Response:
    """Log one line (who, what, why; never the body) and answer the refused request."""
    peer = request.client.host if request.client else "?"
    log.warning("%s request from %s refused (%s): %s", what, peer, refused.status, refused.why)
    return refused.response()
