"""The faults every sandbox server can inject, set at start or at run time through ``/_sandbox/faults``."""

from __future__ import annotations

import re
import threading
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sandbox.web import Request

WRITE_FAULTS = frozenset({"drop_next", "gateway_next", "hold_next"})  # faults that only ever hit writes


@dataclass
class _Countdown:
    count: int = 0
    status: int = 500
    seconds: float = 30.0
    match: re.Pattern[str] | None = None
    commit: str = "first"  # hold_next: "first" saves the write then holds the answer; "after" saves it late

    def take(self, request: Request) -> bool:
        if self.count <= 0:
            return False
        if self.match is not None and not self.match.search(f"{request.method} {request.path}"):
            return False
        self.count -= 1
        return True


class Faults:
    """Fault injection shared by every sandbox server, settable at start and at run time.

    - ``latency_ms``: added to every API request (not to admin calls);
    - ``rate_limit``: requests per minute before 429 with ``Retry-After`` (``None`` = unlimited);
    - ``fail_next``: answer the next N requests with a 500/503 and do nothing;
    - ``timeout_next``: hold the next N requests for ``seconds`` then drop the connection, doing nothing;
    - ``drop_next``: run the next N *writes* (non-GET) for real, then drop the connection without answering;
    - ``gateway_next``: run the next N writes for real, then answer ``status`` (502, 503 or 504) as a gateway
      does when its own timeout ran out while the application was saving;
    - ``hold_next``: hold the next N writes for ``seconds`` (past the client's timeout) and answer late; with
      ``commit: "first"`` the write is saved before the hold, with ``commit: "after"`` it lands after it.

    Each countdown may carry ``match``, a regex searched in ``"METHOD /path"``, so a test can aim at one call.
    """

    def __init__(self, *, latency_ms: float = 0.0, rate_limit: int | None = None) -> None:
        self.latency_ms = latency_ms
        self.rate_limit = rate_limit
        self.fail_next = _Countdown()
        self.timeout_next = _Countdown()
        self.drop_next = _Countdown()
        self.gateway_next = _Countdown(status=502)
        self.hold_next = _Countdown()
        self._lock = threading.Lock()
        self._window: dict[str, deque[float]] = {}
        self.stopping = threading.Event()

    def snapshot(self) -> dict[str, Any]:
        """Describe the current settings (for the admin endpoint)."""
        with self._lock:
            return {
                "latency_ms": self.latency_ms,
                "rate_limit": self.rate_limit,
                "fail_next": {"count": self.fail_next.count, "status": self.fail_next.status},
                "timeout_next": {"count": self.timeout_next.count, "seconds": self.timeout_next.seconds},
                "drop_next": {"count": self.drop_next.count},
                "gateway_next": {"count": self.gateway_next.count, "status": self.gateway_next.status},
                "hold_next": {
                    "count": self.hold_next.count,
                    "seconds": self.hold_next.seconds,
                    "commit": self.hold_next.commit,
                },
            }

    def configure(self, settings: dict[str, Any]) -> None:
        """Apply admin settings; keys left out keep their values."""
        with self._lock:
            if "latency_ms" in settings:
                self.latency_ms = float(settings["latency_ms"] or 0)
            if "rate_limit" in settings:
                limit = settings["rate_limit"]
                self.rate_limit = int(limit) if limit else None
                self._window.clear()
            for name in ("fail_next", "timeout_next", "drop_next", "gateway_next", "hold_next"):
                if name in settings:
                    setattr(self, name, self._countdown(settings[name], status=502 if name == "gateway_next" else 500))

    @staticmethod
    def _countdown(value: Any, *, status: int = 500) -> _Countdown:
        if isinstance(value, int):
            return _Countdown(count=value, status=status)
        spec = dict(value or {})
        match = spec.get("match")
        commit = str(spec.get("commit", "first"))
        if commit not in ("first", "after"):
            raise ValueError(f"hold_next commit must be 'first' or 'after', not {commit!r}")
        return _Countdown(
            count=int(spec.get("count", 1)),
            status=int(spec.get("status", status)),
            seconds=float(spec.get("seconds", 30.0)),
            match=re.compile(match) if match else None,
            commit=commit,
        )

    def over_rate(self, key: str, now: float) -> int | None:
        """Count one request under ``key``; return seconds to wait if over the per-minute limit."""
        with self._lock:
            if not self.rate_limit:
                return None
            window = self._window.setdefault(key, deque())
            while window and window[0] <= now - 60.0:
                window.popleft()
            if len(window) >= self.rate_limit:
                return max(1, int(60.0 - (now - window[0])) + 1)
            window.append(now)
            return None

    def take(self, kind: str, request: Request) -> _Countdown | None:
        """Consume one of the ``kind`` countdown if it applies to ``request``."""
        with self._lock:
            countdown: _Countdown = getattr(self, kind)
            if kind in WRITE_FAULTS and request.method in ("GET", "HEAD"):
                return None
            return countdown if countdown.take(request) else None
