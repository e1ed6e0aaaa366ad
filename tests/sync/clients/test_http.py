"""The shared HTTP layer's retry policy and limiter, for the cases a real server cannot be made to produce.

``httpx.MockTransport`` is the seam here (house style); everything a sandbox can produce is tested against it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime

import httpx
import pytest

from sync.clients.errors import (
    CONNECTWISE,
    QUICKBOOKS,
    NotFoundError,
    RateLimitedError,
    ServerError,
    TransportError,
    ValidationError,
)
from sync.clients.http import ApiHttp, RateLimiter, RetryPolicy, dumps, parse_json
from tests.sync.clients.servers import Sleeps, policy

Handler = Callable[[httpx.Request], httpx.Response]


class Script:
    """Answer requests from a list of responses (or exceptions to raise), recording each request."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def layer(script: Script, sleeps: Sleeps, vendor: object = CONNECTWISE, **options: object) -> ApiHttp:
    client = httpx.Client(transport=httpx.MockTransport(script))
    return ApiHttp(vendor, client=client, retry=policy(sleeps, **options))  # type: ignore[arg-type]


def test_retry_after_as_an_http_date_is_honoured() -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    script, sleeps = Script(httpx.Response(503, headers={"Retry-After": when}), httpx.Response(200)), Sleeps()
    layer(script, sleeps).send("GET", "https://cw.test/x")
    assert len(sleeps.waits) == 1
    assert 28 <= sleeps.waits[0] <= 30


def test_an_absurd_retry_after_is_capped() -> None:
    script, sleeps = Script(httpx.Response(429, headers={"Retry-After": "86400"}), httpx.Response(200)), Sleeps()
    layer(script, sleeps, max_retry_after=120.0).send("GET", "https://cw.test/x")
    assert sleeps.waits == [120.0]


@pytest.mark.parametrize("status", [400, 404, 405, 409, 422])
def test_other_4xx_are_never_retried(status: int) -> None:
    script, sleeps = Script(httpx.Response(status, json={"code": "X", "message": "nope"})), Sleeps()
    with pytest.raises(NotFoundError if status == 404 else ValidationError):
        layer(script, sleeps).send("GET", "https://cw.test/x")
    assert len(script.requests) == 1
    assert sleeps.waits == []


def test_backoff_is_exponential_full_jitter_and_capped() -> None:
    script = Script(*[httpx.Response(500)] * 5, httpx.Response(200))
    sleeps = Sleeps()
    retry = RetryPolicy(base_delay=1.0, max_delay=5.0, sleep=sleeps, random=lambda: 0.5)
    ApiHttp(CONNECTWISE, client=httpx.Client(transport=httpx.MockTransport(script)), retry=retry).send(
        "GET", "https://cw.test/x"
    )
    assert sleeps.waits == [0.5, 1.0, 2.0, 2.5, 2.5]


def test_when_retries_run_out_the_last_answer_is_reported() -> None:
    failing = httpx.Response(502, headers={"x-cw-request-id": "req-7"}, json={"code": "ConnectWiseApi", "message": "x"})
    script, sleeps = Script(failing, failing, failing), Sleeps()
    with pytest.raises(ServerError) as caught:
        layer(script, sleeps, attempts=3).send("GET", "https://cw.test/finance/invoices", what="invoices")
    assert len(script.requests) == 3
    assert len(sleeps.waits) == 2
    assert str(caught.value) == (
        "ConnectWise kept failing with server errors on invoices; try again later. (request id req-7)"
    )
    assert isinstance(caught.value.__cause__, httpx.HTTPStatusError)


def test_a_connect_error_is_retried_even_for_a_write() -> None:
    script, sleeps = Script(httpx.ConnectError("refused"), httpx.Response(201, json={"id": 1})), Sleeps()
    response = layer(script, sleeps).send("POST", "https://cw.test/x", body={"amount": Decimal("1.10")})
    assert response.status_code == 201
    assert len(script.requests) == 2
    assert json.loads(script.requests[1].content) == {"amount": 1.1}


@pytest.mark.parametrize(
    "lost",
    [httpx.RemoteProtocolError("Server disconnected"), httpx.ReadTimeout("slow"), httpx.ReadError("reset")],
)
def test_a_write_whose_answer_was_lost_is_retried_only_when_idempotent(lost: Exception) -> None:
    script, sleeps = Script(lost), Sleeps()
    with pytest.raises(TransportError) as caught:
        layer(script, sleeps, vendor=QUICKBOOKS).send("POST", "https://qbo.test/invoice")
    assert len(script.requests) == 1
    assert caught.value.system == "QuickBooks"
    assert isinstance(caught.value.__cause__, httpx.TransportError)
    again = Script(lost, httpx.Response(200, json={}))
    layer(again, sleeps, vendor=QUICKBOOKS).send("POST", "https://qbo.test/invoice?requestid=r1", idempotent=True)
    assert [str(request.url) for request in again.requests] == ["https://qbo.test/invoice?requestid=r1"] * 2


def test_the_limiter_holds_a_request_over_the_limit_until_the_window_slides() -> None:
    now = [1000.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(per_minute=3, clock=lambda: now[0], sleep=sleep)
    for step in (0.0, 10.0, 10.0, 5.0):
        now[0] += step
        with limiter.slot():
            pass
    assert waits == [35.0]  # the fourth start (at +25 s) waits until the first is a minute old
    assert now[0] == 1060.0


def test_money_goes_out_as_numbers_and_comes_back_exact() -> None:
    assert dumps({"Amount": Decimal("1234.56"), "When": datetime(2024, 1, 2, tzinfo=UTC)}) == (
        b'{"Amount":1234.56,"When":"2024-01-02T00:00:00+00:00"}'
    )
    assert parse_json(httpx.Response(200, content=b'{"TotalAmt": 0.1, "n": 3}')) == {"TotalAmt": Decimal("0.1"), "n": 3}


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_5xx_to_a_write_without_an_idempotency_key_is_never_resent(status: int) -> None:
    script, sleeps = Script(httpx.Response(status, json={"code": "ConnectWiseApi"})), Sleeps()
    with pytest.raises(ServerError) as caught:
        layer(script, sleeps).send("POST", "https://cw.test/finance/invoices/1/payments", body={})
    assert len(script.requests) == 1
    assert caught.value.maybe_done  # the gateway may have answered after ConnectWise saved it
    again = Script(httpx.Response(status), httpx.Response(200, json={}))
    layer(again, sleeps, vendor=QUICKBOOKS).send("POST", "https://qbo.test/invoice?requestid=r1", idempotent=True)
    assert len(again.requests) == 2  # the same requestid: QuickBooks replays instead of creating again


def test_a_429_to_a_write_is_retried_and_proves_nothing_ran() -> None:
    script, sleeps = Script(httpx.Response(429, headers={"Retry-After": "2"}), httpx.Response(201, json={})), Sleeps()
    assert layer(script, sleeps).send("POST", "https://cw.test/x", body={}).status_code == 201
    assert sleeps.waits == [2.0]
    refused = Script(*[httpx.Response(429, headers={"Retry-After": "1"})] * 2)
    with pytest.raises(RateLimitedError) as caught:
        layer(refused, sleeps, attempts=2).send("POST", "https://cw.test/x", body={})
    assert not caught.value.maybe_done


def test_a_refusal_after_an_attempt_that_may_have_run_is_not_proof_that_nothing_was_written() -> None:
    duplicate = httpx.Response(400, json={"Fault": {"Error": [{"code": "6140", "Detail": "Duplicate"}]}})
    script, sleeps = Script(httpx.ReadTimeout("slow"), duplicate), Sleeps()
    with pytest.raises(ValidationError) as caught:
        layer(script, sleeps, vendor=QUICKBOOKS).send("POST", "https://qbo.test/invoice?requestid=r1", idempotent=True)
    assert caught.value.maybe_done
    never_sent = Script(httpx.ConnectError("refused"), httpx.ConnectError("refused"))
    with pytest.raises(TransportError) as unsent:
        layer(never_sent, sleeps, attempts=2).send("POST", "https://cw.test/x", body={})
    assert not unsent.value.maybe_done


def test_a_write_is_not_retried_past_its_landing_window() -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    client = httpx.Client(transport=httpx.MockTransport(Script(*[httpx.Response(503)] * 3)), timeout=10.0)
    retry = RetryPolicy(attempts=3, land_margin=5.0, sleep=sleep, random=lambda: 1.0, clock=lambda: now[0])
    http = ApiHttp(QUICKBOOKS, client=client, retry=retry)
    assert http.landing_window().total_seconds() == 3 * (10 + 10) + 5  # attempts x (send + answer) + margin
    slow = [httpx.Response(503, headers={"Retry-After": wait}) for wait in ("30", "15")]
    script = Script(*slow, httpx.Response(200))
    client = httpx.Client(transport=httpx.MockTransport(script), timeout=10.0)
    with pytest.raises(ServerError):
        ApiHttp(QUICKBOOKS, client=client, retry=retry).send("POST", "https://qbo.test/x", idempotent=True)
    assert len(script.requests) == 2  # the third would start 45 s in, past 2 x 20 s: it might land after the window
