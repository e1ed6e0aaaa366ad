"""The QuickBooks Online API stand-in over HTTP: routes, Bearer auth, throttling, ``requestid``, admin calls.

Routes under ``/v3/company/{realmId}``::

    GET  /query?query=...        POST /query (application/text body)
    GET  /cdc?entities=...&changedSince=...
    GET  /preferences
    POST /batch
    GET  /{entity}/{id}
    POST /{entity}[?operation=delete|void|update&include=void|allowduplicatedocnum]

plus the OAuth endpoints (``oauth.py``). Every response carries ``intuit_tid``. Admin calls
(``/_sandbox/...``): ``switches`` (``sandbox/switches.py``),
``issue-refresh-token``, ``throttle-body`` ``{"xml": bool}``, ``expire-access-tokens``,
``auth-fault-body`` ``{"lowercase": bool}``, ``webhooks`` (GET: the configuration and every delivery; POST
``{"url", "verifier", "format": "legacy"|"cloudevents", "delay_seconds", "retry_seconds", "duplicate",
"out_of_order"}``, see ``webhooks.py``).
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from typing import Any

from sandbox.clock import Clock
from sandbox.quickbooks import api
from sandbox.quickbooks.evaluate import QueryRunner
from sandbox.quickbooks.faults import QBOFault, auth_body, system_error, throttle_json, throttle_xml
from sandbox.quickbooks.guards import InFlight, ReplayCache
from sandbox.quickbooks.oauth import OAuthProvider, QBOApp
from sandbox.quickbooks.store import QBOCompany, QBOStore
from sandbox.quickbooks.values import response_time
from sandbox.quickbooks.webhooks import Change, Webhooks
from sandbox.switches import switches_admin
from sandbox.web import ADMIN_PREFIX, Faults, Request, Response, Router, SandboxServer

log = logging.getLogger(__name__)

_REALM = re.compile(r"^/v3/company/([^/]+)/", re.IGNORECASE)
_PREFIX = r"/v3/company/(?P<realm>[^/]+)"
Operation = Callable[[Request, QBOCompany], dict[str, Any]]
DEFAULT_APP = QBOApp()


def realm_of(request: Request) -> str | None:
    """Return the realm id an API path addresses, if any."""
    found = _REALM.match(request.path)
    return found.group(1) if found else None


class QuickBooksService:
    """The QBO API and Intuit OAuth, served by ``SandboxServer``."""

    def __init__(
        self,
        store: QBOStore,
        app: QBOApp = DEFAULT_APP,
        *,
        clock: Clock,
        access_token_ttl: int = 3600,
        xml_throttle: bool = False,
    ) -> None:
        self.store = store
        self.app = app
        self.clock = clock
        self.xml_throttle = xml_throttle
        self.lowercase_auth_fault = False
        self.oauth = OAuthProvider(app, clock, access_token_ttl, store.switches)
        self.queries = QueryRunner()
        self.replies = ReplayCache()
        self.in_flight = InFlight()
        self.router = Router(ignore_case=True)
        self.oauth.register(self.router)
        self._routes()
        self.webhooks = Webhooks()
        store.on_change = lambda *change: self.webhooks.changed(Change(*change))

    def _routes(self) -> None:
        add = self.router.add
        add("GET", f"{_PREFIX}/query", self._api(lambda r, c: self._query(c, r.arg("query"))))
        add("POST", f"{_PREFIX}/query", self._api(lambda r, c: self._query(c, _text(r) or r.arg("query"))))
        add("GET", f"{_PREFIX}/cdc", self._api(self._cdc))
        add("GET", f"{_PREFIX}/preferences", self._api(lambda r, c: api.preferences(c, self.store.switches)))
        add("POST", f"{_PREFIX}/batch", self._api(self._batch))
        add("GET", f"{_PREFIX}/(?P<entity>[A-Za-z]+)/(?P<id>[^/]+)", self._api(self._read))
        add("POST", f"{_PREFIX}/(?P<entity>[A-Za-z]+)", self._api(self._write))

    def issue_refresh_token(self) -> str:
        """Mint a grant for the app's realm; used by ``tally sandbox serve`` for QBO_REFRESH_TOKEN."""
        return self.oauth.issue_refresh_token()

    # -- operations ---------------------------------------------------------------------------------------
    def _batch(self, request: Request, company: QBOCompany) -> dict[str, Any]:
        custom = bool(self.store.switches.get("qbo_custom_txn_numbers", company.realm_id))
        return api.batch(company, self.queries, _json(request), custom_numbers=custom)

    def _query(self, company: QBOCompany, text: str | None) -> dict[str, Any]:
        drop = int(self.store.switches.get("qbo_drop_row", company.realm_id))
        return api.query(company, self.queries, text, drop_row=drop)

    def _read(self, request: Request, company: QBOCompany) -> dict[str, Any]:
        return api.read(company, request.params["entity"], request.params["id"])

    def _write(self, request: Request, company: QBOCompany) -> dict[str, Any]:
        operation, include = request.arg("operation"), request.arg("include")
        custom = bool(self.store.switches.get("qbo_custom_txn_numbers", company.realm_id))
        return api.write(
            company,
            request.params["entity"],
            _json(request),
            operation=operation,
            include=include,
            custom_numbers=custom,
        )

    def _cdc(self, request: Request, company: QBOCompany) -> dict[str, Any]:
        cap = int(self.store.switches.get("qbo_cdc_cap", company.realm_id))
        return api.cdc(company, request.arg("entities"), request.arg("changedSince"), self.clock.now(), cap)

    def _api(self, operation: Operation) -> Callable[[Request], Response]:
        def handle(request: Request) -> Response:
            realm = request.params["realm"]
            refused = self._authenticate(request, realm)
            if refused is not None:
                return refused
            company = self.store.company(realm)
            # minorversion: every value is served as 75 (B-MINOR: versions below 75 are ignored).
            request_id = request.arg("requestid")
            if request_id:
                return self.replies.run(realm, request_id, lambda: self._perform(operation, request, company))
            return self._perform(operation, request, company)

        return handle

    def _perform(self, operation: Operation, request: Request, company: QBOCompany) -> Response:
        try:
            answer = operation(request, company)
        except QBOFault as fault:
            return self.fault_response(fault)
        answer["time"] = self.now_text()
        return Response.json(answer)

    def _authenticate(self, request: Request, realm: str) -> Response | None:
        header = request.header("authorization") or ""
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return self._unauthorized("Authorization header missing or not a Bearer token")
        granted, why = self.oauth.access_realm(token.strip())
        if granted is None:
            return self._unauthorized(why)
        if granted != realm:
            # A token for another company: 403 ApplicationAuthorizationFailed (3100) [I].
            return self.fault_response(
                QBOFault(
                    403,
                    "3100",
                    "message=ApplicationAuthorizationFailed; errorCode=003100; statusCode=403",
                    f"The access token is not authorized for company {realm}",
                    fault_type="AuthorizationFault",
                )
            )
        return None

    def _unauthorized(self, detail: str) -> Response:
        now = self.clock.now()
        body = auth_body(
            detail,
            lowercase=self.lowercase_auth_fault,
            now_ms=int(now.timestamp() * 1000),
            time=response_time(now),
        )
        return Response.json(body, status=401)

    # -- Service protocol ---------------------------------------------------------------------------------
    def now_text(self) -> str:
        """Return the response ``time`` for now."""
        return response_time(self.clock.now())

    def fault_response(self, fault: QBOFault) -> Response:
        """Render a ``QBOFault`` as its HTTP answer."""
        return Response.json({"Fault": fault.fault(), "time": self.now_text()}, status=fault.status)

    def throttled(self) -> Response:
        """Answer 429 ThrottleExceeded (JSON, or XML when switched), without Retry-After [V3]."""
        if self.xml_throttle:
            return Response.text(throttle_xml(self.now_text()), status=429, content_type="text/xml")
        return Response.json(throttle_json(self.now_text()), status=429)

    def rate_limited(self, request: Request, retry_after: int) -> Response:
        """Answer a request over the per-minute limit."""
        return self.throttled()

    def failure(self, request: Request, status: int) -> Response:
        """Answer an injected failure."""
        fault = system_error()
        if status == 503:
            fault = QBOFault(
                503,
                "10000",
                "Service Unavailable",
                "The service is temporarily unavailable.",
                fault_type="SystemFault",
            )
        fault.status = status
        return self.fault_response(fault)

    def internal_error(self, request: Request, exc: BaseException) -> Response:
        """Answer an unexpected exception."""
        return self.fault_response(system_error())

    def not_found(self, request: Request) -> Response:
        """Answer a path no route knows."""
        return self.fault_response(QBOFault(404, "404", "Resource not found", f"No resource at {request.path}"))

    def before(self, request: Request) -> Response | None:
        """Nothing to do before routing (auth is per API route)."""
        return None

    def after(self, request: Request) -> None:
        """Nothing to do after a request."""
        return None

    def close(self) -> None:
        """Stop sending webhooks."""
        self.webhooks.pusher.stop()

    def admin(self, name: str, request: Request) -> Response | None:
        """Serve the QuickBooks-specific ``/_sandbox/<name>`` calls."""
        if name == "switches":
            return switches_admin(self.store.switches, request)
        body = _admin_body(request)
        if name == "issue-refresh-token" and request.method == "POST":
            realm = str(body.get("realm_id") or self.app.realm_id)
            return Response.json({"refresh_token": self.oauth.issue_refresh_token(realm), "realm_id": realm})
        if name == "throttle-body":
            if request.method == "POST":
                self.xml_throttle = bool(body.get("xml", False))
            return Response.json({"xml": self.xml_throttle})
        if name == "auth-fault-body":
            if request.method == "POST":
                self.lowercase_auth_fault = bool(body.get("lowercase", False))
            return Response.json({"lowercase": self.lowercase_auth_fault})
        if name == "consent-company" and request.method == "POST":  # the company the admin picks at consent
            self.oauth.consent_realm = str(body.get("realm_id") or "") or None
            return Response.json({"realm_id": self.oauth.consent_realm or self.app.realm_id})
        if name == "webhooks":
            if request.method == "POST":
                self.webhooks.configure(body)
            return Response.json({**self.webhooks.config.snapshot(), "deliveries": self.webhooks.pusher.snapshot()})
        if name == "expire-access-tokens" and request.method == "POST":
            return Response.json({"expired": self.oauth.expire_access_tokens()})
        return None


class QBOServer(SandboxServer):
    """``SandboxServer`` plus QBO's per-realm concurrency limit and the ``intuit_tid`` header on every answer.

    The in-flight count is taken before the base pipeline runs, so it covers the injected latency too.
    """

    def handle(self, request: Request) -> Response:
        """Count the request in flight for its realm (429 past the limit), then serve it."""
        if request.path.startswith(ADMIN_PREFIX):
            return super().handle(request)
        service = self.service
        assert isinstance(service, QuickBooksService)
        realm = realm_of(request)
        if realm is None:
            return _tagged(super().handle(request))
        if not service.in_flight.enter(realm):
            return _tagged(service.throttled())
        try:
            return _tagged(super().handle(request))
        finally:
            service.in_flight.leave(realm)


def serve_quickbooks(
    *,
    store: QBOStore | None = None,
    app: QBOApp | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    faults: Faults | None = None,
    clock: Clock | None = None,
    access_token_ttl: int = 3600,
    xml_throttle: bool = False,
) -> SandboxServer:
    """Start the QBO stand-in (500 requests/min per realm unless ``faults`` says otherwise) and return it."""
    clock = clock or (store.clock if store is not None else Clock())
    store = store or QBOStore(clock)
    service = QuickBooksService(
        store, app or QBOApp(), clock=clock, access_token_ttl=access_token_ttl, xml_throttle=xml_throttle
    )
    server = QBOServer(
        service,
        host=host,
        port=port,
        faults=faults or Faults(rate_limit=500),
        clock=clock,
        rate_key=lambda request: realm_of(request) or "oauth",
    )
    return server.start()


def _tagged(response: Response) -> Response:
    if response.header("intuit_tid") is not None:
        return response
    return Response(response.status, response.body, [*response.headers, ("intuit_tid", str(uuid.uuid4()))])


def _text(request: Request) -> str:
    return request.body.decode("utf-8", "replace")


def _json(request: Request) -> Any:
    try:
        return request.json()
    except ValueError:
        raise QBOFault(
            400, "2010", "Request has invalid or unsupported property", "The request body is not valid JSON."
        ) from None


def _admin_body(request: Request) -> dict[str, Any]:
    try:
        body = request.json() if request.body else {}
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
