"""The HTTP layer both clients share: timeouts, retries with backoff, a QBO limiter, error mapping.

What is retried, and why (everything else fails at once):

- 429: the server refused before doing anything. Wait ``Retry-After`` when given, else QBO's advised pause
  for a throttle (its 429 carries no ``Retry-After``), else exponential backoff with full jitter.
- 5xx: retried only for idempotent requests (GET, PUT, DELETE) or writes the caller marks idempotent (QBO
  creates carrying a ``requestid``). A 502, 503 or 504 can come from a gateway *after* the application saved
  the write (the gateway's own timeout ran out first), and a bare 500 can follow a saved write ("sometimes an
  undefined error", CW guide), so a write without an idempotency key is never re-sent after any 5xx.
- Connect errors and pool timeouts: nothing reached the server, so a retry cannot duplicate anything.
- Read timeouts and dropped connections: the server may have done the work. Retried only when idempotent.

When a request that changes something ends in an error, the error's ``maybe_done`` says whether any attempt
may have reached the application (a 5xx, a timeout or a drop on the way), so the caller knows whether
"nothing was written" is true or must be found out by looking. A write's retries all start within
``landing_window`` of the first attempt minus one attempt's time, so whatever it sent has landed (or never
will) once ``landing_window`` has passed: the executor waits that long before it says "not written".

A status becomes an exception here and nowhere else (``sync.clients.errors`` words it).
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from sync.clients.errors import (
    AuthError,
    Kind,
    NotFoundError,
    RateLimitedError,
    ServerError,
    TallyAPIError,
    TransportError,
    ValidationError,
    Vendor,
)
from sync.clients.limiter import RateLimiter

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=60.0, write=30.0, pool=30.0)
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Nothing was sent: always safe to retry.
_UNSENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Maybe sent and maybe done: safe to retry only when the request is idempotent.
_MAYBE_DONE = (
    httpx.ReadTimeout,
    httpx.WriteTimeout,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
)


def timeout_of(read: float) -> httpx.Timeout:
    """Return timeouts for a read timeout of ``read`` seconds; connecting and sending never wait longer."""
    return httpx.Timeout(connect=min(10.0, read), read=read, write=min(30.0, read), pool=min(30.0, read))


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry; ``sleep`` and ``random`` are injectable for tests."""

    attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = 300.0
    throttle_wait: float | None = None
    # Added to the longest time a write's attempts can take before Tally believes a write that is not there
    # never landed: a server may finish a request a little after the client stopped waiting for it.
    land_margin: float = 120.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)
    random: Callable[[], float] = field(default=random.random, compare=False)
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)

    def backoff(self, attempt: int) -> float:
        """Return a full-jitter exponential delay for the ``attempt``-th retry (1-based)."""
        return self.random() * min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))


def _encode(value: object) -> object:
    if isinstance(value, Decimal):
        return float(value)  # JSON number on the wire; a 2-decimal amount's float repr round-trips exactly
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"cannot send {type(value).__name__} as JSON")


def dumps(body: object) -> bytes:
    """Serialise a request body, ``Decimal`` money as JSON numbers."""
    return json.dumps(body, default=_encode, separators=(",", ":")).encode()


def parse_json(response: httpx.Response) -> Any:
    """Parse a response body with every JSON float read as an exact ``Decimal``."""
    return json.loads(response.content or b"null", parse_float=Decimal)


def status_kind(status: int) -> Kind:
    """Choose the exception class for an HTTP error status."""
    if status in (401, 403):
        return AuthError
    if status == 404:
        return NotFoundError
    if status == 429:
        return RateLimitedError
    if status >= 500:
        return ServerError
    return ValidationError


def error_from_response(vendor: Vendor, response: httpx.Response, what: str) -> TallyAPIError:
    """Build the exception for an error response."""
    fault = vendor.read_fault(response)
    kind = vendor.refine(status_kind(response.status_code), fault)
    return kind(
        vendor.sentence(kind, response.status_code, fault, what),
        system=vendor.name,
        status=response.status_code,
        request_id=response.headers.get(vendor.request_id_header),
        code=fault.code,
        detail=fault.detail,
    )


def error_from_transport(vendor: Vendor, exc: httpx.TransportError, what: str) -> TransportError:
    """Build the exception for a request that got no usable answer."""
    sentence = vendor.sentence(TransportError, None, vendor.read_fault(httpx.Response(599)), what)
    return TransportError(sentence, system=vendor.name, detail=f"{type(exc).__name__}: {exc}")


def retry_after(response: httpx.Response) -> float | None:
    """Return the ``Retry-After`` delay in seconds (number or HTTP date), if the response gives one."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _retriable_status(status: int, idempotent: bool) -> bool:
    # 429 is the one refusal that proves nothing ran (rate limits are enforced in front of the application:
    # CW's at "ConnectWise Cloudflare" level, QBO's per realm before processing). Any 5xx may follow a saved write.
    return status == 429 or (status >= 500 and idempotent)


def _maybe_ran(outcome: httpx.Response | httpx.TransportError) -> bool:
    """Whether this attempt may have reached the application and done its work."""
    if isinstance(outcome, httpx.TransportError):
        return not isinstance(outcome, _UNSENT)
    return outcome.status_code >= 500


def _retriable_transport(exc: httpx.TransportError, idempotent: bool) -> bool:
    if isinstance(exc, _UNSENT):
        return True
    return idempotent and isinstance(exc, _MAYBE_DONE)


class ApiHttp:
    """Send requests to one system with its retry policy, optional limiter and error wording."""

    def __init__(
        self,
        vendor: Vendor,
        *,
        client: httpx.Client | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.vendor = vendor
        self.retry = retry or RetryPolicy()
        self.limiter = limiter
        self._owns_client = client is None
        self.client = client if client is not None else httpx.Client(timeout=timeout)

    def close(self) -> None:
        """Close the underlying ``httpx.Client`` if this layer created it."""
        if self._owns_client:
            self.client.close()

    def send(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str | int] | None = None,
        headers: Mapping[str, str] | None = None,
        body: object = None,
        idempotent: bool | None = None,
        what: str = "the request",
    ) -> httpx.Response:
        """Send one logical request, retrying what can succeed on retry; raise ``TallyAPIError`` otherwise."""
        all_headers = dict(headers or {})
        if body is not None:
            all_headers.setdefault("Content-Type", "application/json")
        request = self.client.build_request(
            method, url, params=params, headers=all_headers, content=None if body is None else dumps(body)
        )
        safe = idempotent if idempotent is not None else request.method in IDEMPOTENT_METHODS
        started, maybe_done = self.retry.clock(), False
        for attempt in range(1, self.retry.attempts + 1):
            outcome = self._attempt(request)
            maybe_done = maybe_done or _maybe_ran(outcome)
            delay = self._retry_delay(outcome, safe=safe, attempt=attempt)
            if delay is not None and request.method not in READ_METHODS and not self._in_budget(started, delay):
                log.warning("%s %s: no time left to retry inside the write's landing window", method, request.url.path)
                delay = None
            if delay is None:
                return self._finish(outcome, what, maybe_done=maybe_done and request.method not in READ_METHODS)
            self._log_retry(request, outcome, attempt, delay)
            self.retry.sleep(delay)
        raise AssertionError("unreachable: the last attempt never asks for a retry")

    def attempt_seconds(self) -> float:
        """Return the longest one attempt can take: sending the body, then waiting for the answer."""
        timeout = self.client.timeout
        return float(timeout.write or 300.0) + float(timeout.read or 300.0)

    def landing_window(self) -> timedelta:
        """Return how long after a write starts anything it sent may still land (attempts x timeouts + margin)."""
        return timedelta(seconds=self.retry.attempts * self.attempt_seconds() + self.retry.land_margin)

    def _in_budget(self, started: float, delay: float) -> bool:
        """Whether a retry after ``delay`` still starts early enough to end inside ``landing_window``."""
        budget = (self.retry.attempts - 1) * self.attempt_seconds()
        return self.retry.clock() - started + delay <= budget

    def _attempt(self, request: httpx.Request) -> httpx.Response | httpx.TransportError:
        try:
            if self.limiter is None:
                return self.client.send(request)
            with self.limiter.slot():
                return self.client.send(request)
        except httpx.TransportError as exc:
            return exc

    def _retry_delay(self, outcome: httpx.Response | httpx.TransportError, *, safe: bool, attempt: int) -> float | None:
        """Return how long to wait before retrying, or None when the outcome is final."""
        policy = self.retry
        if attempt >= policy.attempts:
            return None
        if isinstance(outcome, httpx.TransportError):
            return policy.backoff(attempt) if _retriable_transport(outcome, safe) else None
        if outcome.is_success or not _retriable_status(outcome.status_code, safe):
            return None
        after = retry_after(outcome)
        if after is not None:
            return min(after, policy.max_retry_after)
        if outcome.status_code == 429 and policy.throttle_wait is not None:
            return policy.throttle_wait
        return policy.backoff(attempt)

    def _finish(self, outcome: httpx.Response | httpx.TransportError, what: str, *, maybe_done: bool) -> httpx.Response:
        if isinstance(outcome, httpx.TransportError):
            error: TallyAPIError = error_from_transport(self.vendor, outcome, what)
            error.maybe_done = maybe_done
            raise error from outcome
        try:
            return outcome.raise_for_status()
        except httpx.HTTPStatusError as exc:
            error = error_from_response(self.vendor, outcome, what)
            error.maybe_done = maybe_done
            raise error from exc

    def _log_retry(
        self,
        request: httpx.Request,
        outcome: httpx.Response | httpx.TransportError,
        attempt: int,
        delay: float,
    ) -> None:
        if isinstance(outcome, httpx.TransportError):
            reason, request_id = type(outcome).__name__, None
        else:
            reason, request_id = str(outcome.status_code), outcome.headers.get(self.vendor.request_id_header)
        log.warning(
            "%s %s %s answered %s (request id %s); retry %d of %d in %.2fs",
            self.vendor.name,
            request.method,
            request.url.path,
            reason,
            request_id,
            attempt,
            self.retry.attempts - 1,
            delay,
        )
