"""QuickBooks' request limits, kept on Tally's side: at most N starts a minute and M requests in flight per realm."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

log = logging.getLogger(__name__)


class RateLimiter:
    """Admit at most ``per_minute`` starts per rolling window and ``in_flight`` at once; thread-safe."""

    def __init__(
        self,
        *,
        per_minute: int = 480,
        in_flight: int = 10,
        window: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.per_minute = per_minute
        self.in_flight = in_flight
        self._window = window
        self._clock = clock
        self._sleep = sleep
        self._slots = threading.BoundedSemaphore(in_flight)
        self._starts: deque[float] = deque()
        self._lock = threading.Lock()

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one in-flight slot and one start in the window for the duration of a request."""
        with self._slots:
            self._admit()
            yield

    def _admit(self) -> None:
        while True:
            with self._lock:
                now = self._clock()
                while self._starts and self._starts[0] <= now - self._window:
                    self._starts.popleft()
                if len(self._starts) < self.per_minute:
                    self._starts.append(now)
                    return
                wait = self._starts[0] + self._window - now
            log.info("holding a request %.1fs to stay under %d a minute", wait, self.per_minute)
            self._sleep(max(wait, 0.001))


_LIMITERS: dict[str, RateLimiter] = {}
_LIMITERS_LOCK = threading.Lock()


def shared_limiter(key: str, **options: Any) -> RateLimiter:
    """Return the process-wide limiter for ``key`` (one per QBO realm), creating it on first use."""
    with _LIMITERS_LOCK:
        if key not in _LIMITERS:
            _LIMITERS[key] = RateLimiter(**options)
        return _LIMITERS[key]
