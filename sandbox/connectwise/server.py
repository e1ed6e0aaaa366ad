"""The ConnectWise Manage REST API stand-in: routes, authentication, headers, fault answers.

Serves ``GET /login/companyinfo/{company}`` without auth and everything else under ``/{codebase}/apis/3.0/``
for any codebase (``v4_6_release``, ``v2025_1``...), paths case-insensitive, trailing ``/`` tolerated. API
calls need Basic ``company+publicKey:privateKey`` and the ``clientId`` header. ``/system/callbacks`` and the
callback POSTs are in ``callbacks.py``."""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from sandbox.clock import Clock
from sandbox.connectwise.callbacks import Callbacks, RecordChange
from sandbox.connectwise.errors import CWError
from sandbox.connectwise.handlers import ApiHandler, routes
from sandbox.connectwise.store import CWStore
from sandbox.connectwise.values import format_time
from sandbox.switches import switches_admin
from sandbox.web import Faults, Handler, Request, Response, Router, SandboxServer

log = logging.getLogger(__name__)

API_PREFIX = r"/(?P<codebase>[^/]+)/apis/3\.0"
# [I] The header is documented as present, its value format is not; this mirrors the codebase's version.
API_CURRENT_VERSION = "2025.1"
VERSION_NUMBER = "v4.6.110512"  # [I] companyinfo's build number; any "v4.6.N" string is plausible
API_MEMBER = "ApiMember"  # the member id ConnectWise would write into ``_info.updatedBy`` for API writes [I]


@dataclass(frozen=True)
class CWCredentials:
    """The API member keys and integration clientId the sandbox accepts."""

    company_id: str = "tally"
    public_key: str = "sandboxpublic"
    private_key: str = "sandboxprivate"
    client_id: str = "00000000-0000-4000-8000-000000000000"
    codebase: str = "v2025_1/"


def _error(status: int, code: str, message: str) -> CWError:
    return CWError(status, {"code": code, "message": message, "errors": None})


class ConnectWiseService:
    """``sandbox.web.Service`` for ConnectWise Manage."""

    def __init__(self, store: CWStore, credentials: CWCredentials = CWCredentials()) -> None:
        self.store = store
        self.credentials = credentials
        self.router = Router(ignore_case=True)
        self.router.add("GET", "/login/companyinfo/(?P<company>[^/]+)", self._company_info)
        self.callbacks = Callbacks(company_id=credentials.company_id, stamp=lambda: format_time(store.clock.now()))
        for method, path, handler in [*routes(store, API_MEMBER), *self.callbacks.routes()]:
            self.router.add(method, API_PREFIX + path, self._guard(handler))
        store.on_change = self._changed

    def _changed(self, record: dict[str, Any] | None, invoice_id: int, action: str) -> None:
        company = (record or {}).get("company") or {}
        company_id = company.get("id") if isinstance(company, dict) else None
        self.callbacks.changed(RecordChange(record, invoice_id, company_id, action))

    def close(self) -> None:
        """Stop delivering callbacks."""
        self.callbacks.pusher.stop()

    # -- sandbox.web.Service -------------------------------------------------------------------------------
    def rate_limited(self, request: Request, retry_after: int) -> Response:
        """Answer 429 as the developer guide shows (note ``error``, not ``code``)."""
        message = f"Too many requests. Please try again in {retry_after} seconds."
        response = Response.json({"error": "ConnectWiseAPI", "message": message}, status=429)
        response.headers.append(("Retry-After", str(retry_after)))
        return _with_api_headers(response)

    def failure(self, request: Request, status: int) -> Response:
        """Answer an injected failure with a ConnectWise-shaped body."""
        message = "The service is temporarily unavailable." if status == 503 else "An error has occurred."
        return _with_api_headers(Response.json({"code": "ConnectWiseApi", "message": message}, status=status))

    def internal_error(self, request: Request, exc: BaseException) -> Response:
        """Answer a crash in a handler with a 500."""
        body = {"code": "ConnectWiseApi", "message": "An error has occurred.", "errors": None}
        return _with_api_headers(Response.json(body, status=500))

    def not_found(self, request: Request) -> Response:
        """Answer an unknown path [I: 404 assumed for this documented message]."""
        return Response.json({"code": "ConnectWiseApi", "message": "The endpoint does not exist."}, status=404)

    def before(self, request: Request) -> Response | None:
        """Nothing to do before routing; authentication is per API route."""
        return None

    def after(self, request: Request) -> None:
        """Nothing to do after a request."""

    def admin(self, name: str, request: Request) -> Response | None:
        """Serve ``/_sandbox/switches`` (GET: the values; POST: set some, see ``sandbox/switches.py``)."""
        if name != "switches":
            return None
        return switches_admin(self.store.switches, request)

    # -- routes --------------------------------------------------------------------------------------------
    def _company_info(self, request: Request) -> Response:
        credentials = self.credentials
        if request.params["company"].lower() != credentials.company_id.lower():
            return Response.json(None)  # ConnectWise answers JSON null for an unknown company
        version = credentials.codebase.strip("/").lstrip("v").replace("_", ".")
        return Response.json(
            {
                "CompanyName": f"{credentials.company_id} (sandbox)",
                "Codebase": credentials.codebase,
                "VersionCode": f"v{version}",
                "VersionNumber": VERSION_NUMBER,
                "CompanyID": credentials.company_id,
                "IsCloud": "True",
            }
        )

    def _guard(self, handler: ApiHandler) -> Handler:
        def guarded(request: Request) -> Response:
            try:
                self._authenticate(request)
                response = handler(request)
            except CWError as exc:
                response = Response.json(exc.body, status=exc.status)
            return _with_api_headers(response)

        return guarded

    def _authenticate(self, request: Request) -> None:
        """Check Basic ``company+public:private`` (401) then the ``clientId`` header (400)."""
        # [I] Exact 401/400 texts are undocumented: ASP.NET's default, xyte's key text, a "clientId" mention.
        scheme, _, token = (request.header("authorization") or "").partition(" ")
        if scheme.lower() != "basic" or not token.strip():
            raise _error(401, "Unauthorized", "Authorization has been denied for this request.")
        try:
            user, _, password = base64.b64decode(token.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise _error(401, "Unauthorized", "Authorization has been denied for this request.") from None
        expected = f"{self.credentials.company_id}+{self.credentials.public_key}"
        if not (_same(user, expected) and _same(password, self.credentials.private_key)):
            raise _error(401, "Unauthorized", "Incorrect public/private key")
        client_id = (request.header("clientid") or "").strip().lower()
        if client_id != self.credentials.client_id.lower():
            message = "A valid clientId header is required. See https://developer.connectwise.com/ClientID"
            raise _error(400, "ConnectWiseApi", message)


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def _with_api_headers(response: Response) -> Response:
    response.headers.extend(
        [
            ("x-cw-request-id", str(uuid.uuid4())),
            ("api-current-version", API_CURRENT_VERSION),
            ("Cache-Control", "no-cache"),
            ("Pragma", "no-cache"),
            ("x-server-name", "sandbox-cw"),
        ]
    )
    return response


def serve_connectwise(
    *,
    store: CWStore | None = None,
    credentials: CWCredentials | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    faults: Faults | None = None,
    clock: Clock | None = None,
) -> SandboxServer:
    """Start a ConnectWise sandbox on ``host:port`` and return the running server."""
    clock = clock or (store.clock if store is not None else Clock())
    store = store if store is not None else CWStore(clock)
    service = ConnectWiseService(store, credentials or CWCredentials())
    return SandboxServer(service, host=host, port=port, faults=faults, clock=clock).start()
