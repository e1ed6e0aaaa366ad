"""A small threaded HTTP server shared by the sandbox's API stand-ins.

Why not a framework: the sandbox must misbehave the way real services do on the wire, and the hardest of those
faults, "commit then drop the connection", needs control of the socket after the handler ran. The standard
library's ``ThreadingHTTPServer`` gives that control, keeps HTTP/1.1 keep-alive (so clients reuse connections as
they would against the real hosts) and adds no dependency.

Pieces::

    Request / Response     what a handler sees and returns
    Router                 method + regex routes, optionally case-insensitive (ConnectWise paths are)
    Faults (web_faults.py) injected latency, request-rate limit, fail / time out / commit-then-drop /
                           commit-then-gateway-error / hold-past-the-timeout the next N
    SandboxServer          binds a port, serves in a thread, exposes ``/_sandbox/faults`` and ``/_sandbox/clock``

Handlers raise ``HTTPError(response)`` to answer early; anything else escaping a handler becomes a 500 whose body
the owning server shapes (``Service.internal_error``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from sandbox.clock import Clock
from sandbox.web_faults import Faults as Faults  # re-exported: the servers import it from here

log = logging.getLogger(__name__)

ADMIN_PREFIX = "/_sandbox/"


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        # Real services send money as JSON numbers (doubles). The shortest float repr of a 2-decimal amount
        # round-trips exactly, so a client parsing with ``parse_float=Decimal`` gets the exact amount back.
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(obj: object) -> bytes:
    """Serialise ``obj`` to compact JSON bytes, money as JSON numbers."""
    return json.dumps(obj, default=_json_default, separators=(",", ":")).encode()


@dataclass
class Request:
    """One HTTP request as the handler sees it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    client_address: str = ""
    params: dict[str, str] = field(default_factory=dict)
    url: str = ""

    def header(self, name: str, default: str | None = None) -> str | None:
        """Return a header value by case-insensitive name."""
        return self.headers.get(name.lower(), default)

    def arg(self, name: str, default: str | None = None, *, ignore_case: bool = False) -> str | None:
        """Return the first query value for ``name``."""
        if not ignore_case:
            values = self.query.get(name)
            return values[0] if values else default
        lowered = name.lower()
        for key, values in self.query.items():
            if key.lower() == lowered and values:
                return values[0]
        return default

    def json(self) -> Any:
        """Parse the body as JSON, money as ``Decimal``."""
        return json.loads(self.body or b"null", parse_float=Decimal)


@dataclass
class Response:
    """What a handler returns."""

    status: int = 200
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def json(cls, obj: object, status: int = 200, headers: Iterable[tuple[str, str]] = ()) -> Response:
        """Build a JSON response."""
        hdrs = [("Content-Type", "application/json; charset=utf-8"), *headers]
        return cls(status=status, body=dumps(obj), headers=hdrs)

    @classmethod
    def text(cls, text: str, status: int = 200, content_type: str = "text/plain; charset=utf-8") -> Response:
        """Build a plain-text (or XML) response."""
        return cls(status=status, body=text.encode(), headers=[("Content-Type", content_type)])

    def header(self, name: str) -> str | None:
        """Return a response header by case-insensitive name."""
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


class HTTPError(Exception):
    """Raised by a handler to answer with ``response`` at once."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


Handler = Callable[[Request], Response]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler


class Router:
    """Method + regular-expression routes; named groups become ``request.params``."""

    def __init__(self, *, ignore_case: bool = False) -> None:
        self._routes: list[Route] = []
        self._flags = re.IGNORECASE if ignore_case else 0

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        """Register ``handler`` for ``method`` on paths matching ``pattern`` (anchored)."""
        self._routes.append(Route(method.upper(), re.compile(f"^{pattern}/?$", self._flags), handler))

    def match(self, method: str, path: str) -> tuple[Handler | None, dict[str, str], bool]:
        """Return (handler, params, path_known); ``path_known`` tells 405 from 404."""
        path_known = False
        for route in self._routes:
            found = route.pattern.match(path)
            if not found:
                continue
            path_known = True
            if route.method == method:
                return route.handler, found.groupdict(), True
        return None, {}, path_known


class Service(Protocol):
    """What a sandbox API implements to be served by ``SandboxServer``."""

    router: Router

    def rate_limited(self, request: Request, retry_after: int) -> Response: ...

    def failure(self, request: Request, status: int) -> Response: ...

    def internal_error(self, request: Request, exc: BaseException) -> Response: ...

    def not_found(self, request: Request) -> Response: ...

    def before(self, request: Request) -> Response | None: ...

    def after(self, request: Request) -> None: ...


class _DropConnection(Exception):
    """Close the socket without writing a response."""


class SandboxServer:
    """Serve one ``Service`` on loopback in a background thread."""

    def __init__(
        self,
        service: Service,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: Faults | None = None,
        clock: Clock | None = None,
        rate_key: Callable[[Request], str] = lambda request: "*",
    ) -> None:
        self.service = service
        self.faults = faults or Faults()
        self.clock = clock or Clock()
        self.rate_key = rate_key
        self.requests_served = 0
        self._count_lock = threading.Lock()
        self._httpd = _HTTPServer((host, port), _make_handler(self))
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound TCP port."""
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """Base URL, without a trailing slash."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> SandboxServer:
        """Serve in a daemon thread and return self."""
        if self._thread is not None and self._thread.is_alive():
            return self  # already serving (the serve_* helpers return started servers)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name=f"sandbox:{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until ``stop``."""
        self._httpd.serve_forever(poll_interval=0.05)

    def stop(self) -> None:
        """Stop serving and release the port; held (timed-out) requests are let go."""
        self.faults.stopping.set()
        closing = getattr(self.service, "close", None)  # a service holding long-lived sockets (WebSockets)
        if callable(closing):
            closing()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- request pipeline -------------------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        """Run admin routes, faults, then the service; may raise ``_DropConnection``."""
        if self.faults.stopping.is_set():
            raise _DropConnection  # a stopped server must not keep answering on kept-alive connections
        if request.path.startswith(ADMIN_PREFIX):
            return self._admin(request)
        with self._count_lock:
            self.requests_served += 1
        faults = self.faults
        if faults.latency_ms:
            faults.stopping.wait(faults.latency_ms / 1000.0)
        wait = faults.over_rate(self.rate_key(request), time.monotonic())
        if wait is not None:
            return self.service.rate_limited(request, wait)
        failing = faults.take("fail_next", request)
        if failing is not None:
            return self.service.failure(request, failing.status)
        hanging = faults.take("timeout_next", request)
        if hanging is not None:
            faults.stopping.wait(hanging.seconds)
            raise _DropConnection
        return self._write_faults(request)

    def _write_faults(self, request: Request) -> Response:
        """Run the request, with the faults that let a write happen and hide that it did."""
        faults = self.faults
        dropping, gateway = faults.take("drop_next", request), faults.take("gateway_next", request)
        holding = faults.take("hold_next", request)
        if holding is not None and holding.commit == "after":
            faults.stopping.wait(holding.seconds)
        response = self._dispatch(request)
        if holding is not None and holding.commit == "first":
            log.info("sandbox: holding the answer to %s %s for %.1fs", request.method, request.path, holding.seconds)
            faults.stopping.wait(holding.seconds)
        if dropping is not None:
            log.info("sandbox: dropping the connection after %s %s committed", request.method, request.path)
            raise _DropConnection
        if gateway is not None:
            log.info("sandbox: answering %d after %s %s committed", gateway.status, request.method, request.path)
            return self.service.failure(request, gateway.status)
        return response

    def _dispatch(self, request: Request) -> Response:
        service = self.service
        try:
            early = service.before(request)
            if early is not None:
                return early
            try:
                handler, params, known = service.router.match(request.method, request.path)
                if handler is None:
                    if known:
                        return Response.json({"message": "Method not allowed"}, status=405)
                    return service.not_found(request)
                request.params = params
                return handler(request)
            finally:
                service.after(request)
        except HTTPError as exc:
            return exc.response
        except Exception as exc:
            log.exception("sandbox: unhandled error on %s %s", request.method, request.path)
            return service.internal_error(request, exc)

    def _admin(self, request: Request) -> Response:
        name = request.path[len(ADMIN_PREFIX) :].strip("/")
        if name == "faults":
            if request.method == "POST":
                self.faults.configure(request.json() or {})
            return Response.json(self.faults.snapshot())
        if name == "clock":
            if request.method == "POST":
                self.clock.advance(float((request.json() or {}).get("advance_seconds", 0)))
            return Response.json({"now": self.clock.now().isoformat()})
        if name == "stats":
            return Response.json({"requests": self.requests_served})
        extra = getattr(self.service, "admin", None)
        if extra is not None:
            answer: Response | None = extra(name, request)
            if answer is not None:
                return answer
        return Response.json({"message": f"unknown sandbox admin call {name!r}"}, status=404)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True


def _make_handler(server: SandboxServer) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body are separate writes: no 40 ms delayed-ACK stall
        server_version = "sandbox"
        sys_version = ""

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s " + format, self.address_string(), *args)

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            request = Request(
                method=self.command.upper(),
                path=parts.path,
                query=parse_qs(parts.query, keep_blank_values=True),
                headers={key.lower(): value for key, value in self.headers.items()},
                body=body,
                client_address=self.client_address[0],
                url=f"http://{self.headers.get('Host') or server.url[7:]}{self.path}",
            )
            upgrade = getattr(server.service, "upgrade", None)
            if upgrade is not None and (request.header("upgrade") or "").lower() == "websocket":
                self.close_connection = True  # the socket is the service's until the WebSocket closes
                upgrade(request, self.connection, self.rfile, self.wfile)
                return
            try:
                response = server.handle(request)
            except _DropConnection:
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
                return
            try:
                self._answer(response)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (a held answer): nothing to tell
                self.close_connection = True

        def _answer(self, response: Response) -> None:
            self.send_response(response.status, HTTPStatus(response.status).phrase if _known(response.status) else "")
            for key, value in response.headers:
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

    return _Handler


def _known(status: int) -> bool:
    try:
        HTTPStatus(status)
    except ValueError:
        return False
    return True
