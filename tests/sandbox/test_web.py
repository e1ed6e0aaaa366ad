"""The shared sandbox server: routing, admin endpoints and every injected fault, over real loopback HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sandbox.web import Faults, HTTPError, Request, Response, Router, SandboxServer


class Counter:
    """A tiny service: POST /items adds one, GET /items counts them."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self.router = Router(ignore_case=True)
        self.router.add("GET", "/items", lambda request: Response.json({"count": len(self.items)}))
        self.router.add("POST", "/items", self.create)
        self.router.add("GET", "/boom", self.boom)
        self.router.add("GET", "/teapot", self.teapot)

    def create(self, request: Request) -> Response:
        self.items.append(request.json())
        return Response.json({"count": len(self.items)}, status=201)

    def boom(self, request: Request) -> Response:
        raise RuntimeError("kaboom")

    def teapot(self, request: Request) -> Response:
        raise HTTPError(Response.json({"short": "and stout"}, status=418))

    def rate_limited(self, request: Request, retry_after: int) -> Response:
        return Response.json({"slow": "down"}, status=429, headers=[("Retry-After", str(retry_after))])

    def failure(self, request: Request, status: int) -> Response:
        return Response.json({"failed": status}, status=status)

    def internal_error(self, request: Request, exc: BaseException) -> Response:
        return Response.json({"error": str(exc)}, status=500)

    def not_found(self, request: Request) -> Response:
        return Response.json({"missing": request.path}, status=404)

    def before(self, request: Request) -> Response | None:
        return None

    def after(self, request: Request) -> None:
        return None


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    with SandboxServer(Counter()) as running:
        yield running


@pytest.fixture
def client(server: SandboxServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=5) as http:
        yield http


def set_faults(client: httpx.Client, **settings: Any) -> dict[str, Any]:
    answer: dict[str, Any] = client.post("/_sandbox/faults", json=settings).json()
    return answer


def test_routes_are_case_insensitive_and_unknown_ones_answer_404_or_405(client: httpx.Client) -> None:
    assert client.post("/ITEMS", json={"a": 1}).status_code == 201
    assert client.get("/Items/").json() == {"count": 1}
    assert client.get("/nowhere").json() == {"missing": "/nowhere"}
    assert client.delete("/items").status_code == 405


def test_handler_errors_are_shaped_by_the_service(client: httpx.Client) -> None:
    assert client.get("/boom").json() == {"error": "kaboom"}
    teapot = client.get("/teapot")
    assert (teapot.status_code, teapot.json()) == (418, {"short": "and stout"})


def test_fail_next_answers_with_the_status_and_does_no_work(server: SandboxServer, client: httpx.Client) -> None:
    set_faults(client, fail_next={"count": 2, "status": 503})
    assert [client.post("/items", json={}).status_code for _ in range(3)] == [503, 503, 201]
    assert len(server.service.items) == 1  # type: ignore[attr-defined]


def test_fail_next_can_aim_at_one_route(client: httpx.Client) -> None:
    set_faults(client, fail_next={"count": 1, "status": 500, "match": "^POST "})
    assert client.get("/items").status_code == 200
    assert client.post("/items", json={}).status_code == 500


def test_drop_next_commits_the_write_but_the_client_never_hears_back(
    server: SandboxServer, client: httpx.Client
) -> None:
    set_faults(client, drop_next=1)
    assert client.get("/items").status_code == 200  # reads are never dropped
    with pytest.raises(httpx.RemoteProtocolError):
        client.post("/items", json={"n": 1})
    assert len(server.service.items) == 1  # type: ignore[attr-defined]
    assert client.get("/items").json() == {"count": 1}


def test_timeout_next_holds_the_request_past_the_client_timeout(server: SandboxServer) -> None:
    with httpx.Client(base_url=server.url, timeout=0.3) as client:
        set_faults(client, timeout_next={"count": 1, "seconds": 2})
        with pytest.raises(httpx.ReadTimeout):
            client.post("/items", json={})
        assert len(server.service.items) == 0  # type: ignore[attr-defined]
        assert client.post("/items", json={}).status_code == 201


@pytest.mark.parametrize("status", [502, 503, 504])
def test_gateway_next_commits_the_write_then_answers_a_gateway_error(
    server: SandboxServer, client: httpx.Client, status: int
) -> None:
    set_faults(client, gateway_next={"count": 1, "status": status})
    assert client.get("/items").status_code == 200  # reads are never hit
    assert client.post("/items", json={"n": 1}).status_code == status
    assert client.get("/items").json() == {"count": 1}  # it was saved all the same
    assert client.post("/items", json={"n": 2}).status_code == 201


@pytest.mark.parametrize(("commit", "saved_when_the_client_gives_up"), [("first", 1), ("after", 0)])
def test_hold_next_answers_past_the_client_timeout_saving_the_write_before_or_after(
    server: SandboxServer, commit: str, saved_when_the_client_gives_up: int
) -> None:
    items: list[Any] = server.service.items  # type: ignore[attr-defined]
    with httpx.Client(base_url=server.url, timeout=0.3) as client:
        set_faults(client, hold_next={"count": 1, "seconds": 0.8, "commit": commit})
        with pytest.raises(httpx.ReadTimeout):
            client.post("/items", json={})
        assert len(items) == saved_when_the_client_gives_up
        deadline = time.monotonic() + 5
        while not items and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(items) == 1  # a write held past the timeout still lands, once


def test_rate_limit_answers_429_with_retry_after(client: httpx.Client) -> None:
    set_faults(client, rate_limit=3)
    statuses = [client.get("/items") for _ in range(4)]
    assert [answer.status_code for answer in statuses] == [200, 200, 200, 429]
    assert 1 <= int(statuses[-1].headers["Retry-After"]) <= 61
    set_faults(client, rate_limit=None)
    assert client.get("/items").status_code == 200


def test_latency_is_added_to_api_calls_only(client: httpx.Client) -> None:
    set_faults(client, latency_ms=150)
    started = time.perf_counter()
    client.get("/items")
    assert time.perf_counter() - started >= 0.15
    started = time.perf_counter()
    client.get("/_sandbox/stats")
    assert time.perf_counter() - started < 0.15


def test_admin_reports_faults_clock_and_stats(client: httpx.Client) -> None:
    settings = set_faults(client, latency_ms=5, fail_next=2)
    assert settings["latency_ms"] == 5
    assert settings["fail_next"]["count"] == 2
    before = client.get("/_sandbox/clock").json()["now"]
    after = client.post("/_sandbox/clock", json={"advance_seconds": 86400 * 31}).json()["now"]
    assert after[:10] > before[:10]
    assert client.get("/_sandbox/stats").json() == {"requests": 0}
    assert client.get("/_sandbox/nope").status_code == 404


def test_faults_configure_keeps_unnamed_settings() -> None:
    faults = Faults(latency_ms=10, rate_limit=5)
    faults.configure({"fail_next": 1})
    assert faults.snapshot()["latency_ms"] == 10
    assert faults.snapshot()["rate_limit"] == 5


def test_a_stopped_server_stops_answering_kept_alive_connections() -> None:
    server = SandboxServer(Counter()).start()
    with httpx.Client(base_url=server.url, timeout=2) as client:
        assert client.get("/items").status_code == 200  # the connection is now kept alive in the pool
        server.stop()
        with pytest.raises(httpx.TransportError):
            client.get("/items")
