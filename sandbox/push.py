"""Pushing notifications out of a sandbox: batch after a short delay, POST, retry with back-off, log deliveries.

Both API stand-ins push the way their real services do: QuickBooks batches a company's changes into one webhook
after a short delay, ConnectWise POSTs one callback per record change. ``Pusher`` is the delivery half they share:
a daemon thread that waits ``delay`` seconds after the first queued event (so a burst goes out as one batch), hands
the batch to ``render`` (which returns the requests to send), and POSTs each; an answer other than the one the
service counts as success is retried after each of ``retry_seconds`` and then dropped. Deliveries are logged
(``deliveries``) so tests and the admin endpoints can count them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outgoing:
    """One HTTP POST to send."""

    url: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Delivery:
    """What became of one POST."""

    url: str
    body: bytes
    statuses: list[int] = field(default_factory=list)  # one per attempt; 0 = no answer
    delivered: bool = False

    def snapshot(self) -> dict[str, Any]:
        """The delivery as the admin endpoint shows it."""
        return {"url": self.url, "statuses": self.statuses, "delivered": self.delivered, "bytes": len(self.body)}


Render = Callable[[list[Any]], list[Outgoing]]


class Pusher:
    """Queue events; a thread sends them in batches after ``delay`` seconds, retrying failed POSTs."""

    def __init__(
        self,
        render: Render,
        *,
        delay: float = 0.5,
        retry_seconds: Sequence[float] = (1.0, 2.0, 3.0),
        success: Callable[[int], bool] = lambda status: status == 200,
        timeout: float = 5.0,
        max_batch: int = 100,
    ) -> None:
        self.render = render
        self.delay = delay
        self.retry_seconds = list(retry_seconds)
        self.success = success
        self.timeout = timeout
        self.max_batch = max_batch
        self.deliveries: list[Delivery] = []
        self._queue: list[Any] = []
        self._lock = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def push(self, event: Any) -> None:
        """Queue one event; the thread starts on first use."""
        with self._lock:
            self._queue.append(event)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="sandbox-push", daemon=True)
                self._thread.start()
            self._lock.notify_all()

    def stop(self) -> None:
        """Stop sending (what is queued is dropped)."""
        with self._lock:
            self._stopping = True
            self._lock.notify_all()

    def idle(self) -> bool:
        """Tell whether nothing is queued."""
        with self._lock:
            return not self._queue

    def snapshot(self) -> list[dict[str, Any]]:
        """Every delivery so far."""
        with self._lock:
            return [delivery.snapshot() for delivery in self.deliveries]

    def _loop(self) -> None:
        with httpx.Client(timeout=self.timeout) as client:
            while True:
                with self._lock:
                    while not self._queue and not self._stopping:
                        self._lock.wait()
                    if self._stopping:
                        return
                # the first event of a batch waits ``delay``: what else changes meanwhile goes in the same batch
                time.sleep(self.delay)
                with self._lock:
                    batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
                try:
                    outgoing = self.render(batch)
                except Exception:  # a sandbox bug must not kill the thread
                    log.exception("sandbox: could not render a notification")
                    continue
                for request in outgoing:
                    self._send(client, request)

    def _send(self, client: httpx.Client, request: Outgoing) -> None:
        delivery = Delivery(url=request.url, body=request.body)
        with self._lock:
            self.deliveries.append(delivery)
        for wait in [0.0, *self.retry_seconds]:
            if wait:
                time.sleep(wait)
            with self._lock:
                if self._stopping:
                    return
            try:
                status = client.post(request.url, content=request.body, headers=request.headers).status_code
            except httpx.HTTPError:
                status = 0
            delivery.statuses.append(status)
            if self.success(status):
                delivery.delivered = True
                return
            log.info("sandbox: notification to %s answered %s", request.url, status or "nothing")
