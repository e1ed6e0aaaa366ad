"""The ``web`` process: one HTTP server for Slack, the QuickBooks OAuth callback, QuickBooks webhooks, ConnectWise
callbacks (``/cw/callbacks``) and health.

Bolt's Starlette adapter calls the blocking ``App.dispatch`` inside ``async def``, which would stall the event
loop for every slow listener. Here dispatch runs in a worker thread (``anyio.to_thread``, with its own capacity
limiter), so the server keeps accepting and acknowledging requests while others work.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

import anyio
from slack_bolt import App
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from bot.processes.web_guard import MAX_WEBHOOK_BODY, Refused, SlackSignature, guarded_slack_body, read_capped, refusal
from sync.qbo_auth import QBOAuth, QuickBooksAuthError, QuickBooksOtherCompany
from sync.qbo_auth.links import ConnectLinks, Finishing, LinkRefused

log = logging.getLogger(__name__)

DISPATCH_THREADS = 64

ChangeHandler = Callable[[set[str]], None]
BROWSER_COOKIE = "tally_qbo_connect"  # the secret binding a connect flow to the browser that opened the link
PayloadHandler = Callable[[Any], object]  # a verified QuickBooks webhook body, parsed
CallbackHandler = Callable[[Any, "str | None", str], object]  # a ConnectWise callback body, its recordId, the caller


def intuit_signature_valid(body: bytes, signature: str | None, verifier: str) -> bool:
    """Check Intuit's ``intuit-signature``: base64(HMAC-SHA256(verifier token, raw body))."""
    if not signature or not verifier:
        return False
    expected = base64.b64encode(hmac.new(verifier.encode(), body, hashlib.sha256).digest()).decode()
    return hmac.compare_digest(expected, signature)


def changed_entities(payload: Any) -> set[str]:
    """Entity names a QuickBooks webhook names, in the legacy or the CloudEvents format."""
    names: set[str] = set()
    if isinstance(payload, dict):
        for notification in payload.get("eventNotifications", []):
            for entity in notification.get("dataChangeEvent", {}).get("entities", []):
                names.add(str(entity.get("name", "")))
    elif isinstance(payload, list):  # CloudEvents: type "qbo.<entity>.<verb>.v1"
        for event in payload:
            parts = str(event.get("type", "")).split(".")
            if len(parts) >= 3:
                names.add(parts[1].capitalize().replace("Creditmemo", "CreditMemo"))
    return {name for name in names if name}


def create_web(
    bolt: App,
    *,
    signing_secret: str,
    auth: QBOAuth | None,
    links: ConnectLinks | None = None,
    webhook_verifier: str,
    on_qbo_change: ChangeHandler,
    health: Callable[[], dict[str, Any]] = lambda: {"ok": True},
    on_qbo_payload: PayloadHandler | None = None,
    on_cw_callback: CallbackHandler | None = None,
) -> Starlette:
    """Build the ASGI app of the ``web`` process; Slack requests pass ``web_guard`` before Bolt sees them."""
    signature = SlackSignature(signing_secret)  # refuses an empty secret
    limiter = anyio.CapacityLimiter(DISPATCH_THREADS)

    async def slack_events(request: Request) -> Response:
        try:
            body = await guarded_slack_body(request, signature)
        except Refused as refused:
            return refusal(request, refused, what="Slack")
        bolt_request = to_bolt_request(request, body)
        bolt_response = await anyio.to_thread.run_sync(bolt.dispatch, bolt_request, limiter=limiter)
        return to_starlette_response(bolt_response)

    async def qbo_connect(request: Request) -> Response:
        if auth is None or links is None:
            return PlainTextResponse("QuickBooks is not configured on this server.", status_code=503)
        token = request.query_params.get("link")
        state = auth.new_state()
        try:  # the link first: nothing is asked of Intuit for a request without a good one
            opened = await anyio.to_thread.run_sync(functools.partial(links.open, token, state=state))
        except LinkRefused as refused:
            log.warning("QuickBooks connect refused (403): %s", refused.why)
            return PlainTextResponse(refused.sentence, status_code=403)
        url, _ = await anyio.to_thread.run_sync(auth.authorization_url, state)
        answer = RedirectResponse(url, status_code=302)
        answer.set_cookie(
            BROWSER_COOKIE,
            opened.browser_secret,
            max_age=int(links.ttl.total_seconds()),
            path="/qbo",
            httponly=True,
            samesite="lax",  # sent on Intuit's top-level redirect back to /qbo/callback
            secure=request.url.scheme == "https",
        )
        return answer

    async def qbo_callback(request: Request) -> Response:
        if auth is None or links is None:
            return PlainTextResponse("QuickBooks is not configured on this server.", status_code=503)
        try:
            finishing: Finishing = await anyio.to_thread.run_sync(
                links.finish, request.query_params.get("state"), request.cookies.get(BROWSER_COOKIE)
            )
        except LinkRefused as refused:
            log.warning("QuickBooks callback refused (403): %s", refused.why)
            return PlainTextResponse(refused.sentence, status_code=403)
        try:
            health_now = await anyio.to_thread.run_sync(auth.connect_from_redirect, str(request.url))
        except QuickBooksOtherCompany as exc:
            await anyio.to_thread.run_sync(links.refused_connection, finishing, exc.sentence)
            log.warning("QuickBooks callback refused (409): another company than the connected one")
            return PlainTextResponse(f"{exc.sentence}\nNothing changed.", status_code=409)
        except QuickBooksAuthError as exc:
            await anyio.to_thread.run_sync(links.refused_connection, finishing, exc.sentence)
            return PlainTextResponse(exc.sentence, status_code=400)
        realm = request.query_params.get("realmId", "")
        await anyio.to_thread.run_sync(links.connected, finishing, realm)
        answer = PlainTextResponse(f"{health_now.sentence}\nYou can close this window and go back to Slack.")
        answer.delete_cookie(BROWSER_COOKIE, path="/qbo")
        return answer

    async def qbo_webhook(request: Request) -> Response:
        try:
            body = await read_capped(request, MAX_WEBHOOK_BODY)
        except Refused as refused:
            return refusal(request, refused, what="QuickBooks webhook")
        if not intuit_signature_valid(body, request.headers.get("intuit-signature"), webhook_verifier):
            log.warning("QuickBooks webhook with a bad or missing intuit-signature refused")
            return PlainTextResponse("invalid signature", status_code=401)
        try:
            payload = json.loads(body)
        except ValueError:
            return PlainTextResponse("not JSON", status_code=400)
        # Intuit wants an answer within 3 s: the check runs in the background.
        if on_qbo_payload is not None:
            await anyio.to_thread.run_sync(on_qbo_payload, payload, limiter=limiter)
        else:
            await anyio.to_thread.run_sync(on_qbo_change, changed_entities(payload), limiter=limiter)
        return Response(status_code=200)

    async def cw_callback(request: Request) -> Response:
        if on_cw_callback is None:
            return PlainTextResponse("ConnectWise callbacks are not enabled here.", status_code=404)
        try:
            body = await read_capped(request, MAX_WEBHOOK_BODY)
        except Refused as refused:
            return refusal(request, refused, what="ConnectWise callback")
        try:
            payload = json.loads(body) if body else {}
        except ValueError:
            payload = {}  # the record id in the URL is enough: the check re-reads it from the API
        caller = request.client.host if request.client else "unknown"
        record = request.query_params.get("recordId") or request.query_params.get("id")
        await anyio.to_thread.run_sync(on_cw_callback, payload, record, caller, limiter=limiter)
        return Response(status_code=200)

    async def healthz(request: Request) -> Response:
        report = await anyio.to_thread.run_sync(health)
        return JSONResponse(report, status_code=200 if report.get("ok") else 503)

    routes: Iterable[Route] = (
        Route("/slack/events", slack_events, methods=["POST"]),
        Route("/qbo/connect", qbo_connect, methods=["GET"]),
        Route("/qbo/callback", qbo_callback, methods=["GET"]),
        Route("/qbo/webhooks", qbo_webhook, methods=["POST"]),
        Route("/cw/callbacks", cw_callback, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
    )
    return Starlette(routes=list(routes))
