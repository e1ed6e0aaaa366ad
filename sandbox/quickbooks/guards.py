"""Per-realm request guards: ``requestid`` replay and the concurrent-request limit.

``requestid`` [V B-REQID]: the first answer for an id within a realm is replayed, status and body, for any
later request with that id, and the operation is not performed again. Only answers produced by the operation
are remembered (never 401/429/5xx: those happen before or instead of the operation, and a retry must be able
to get through). The id is remembered for the life of the sandbox (Intuit documents no retention period [I]);
a second request arriving while the first is still running waits for its answer.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from sandbox.web import Response

CONCURRENT_LIMIT = 10  # B-THROTTLE: "no more than 10 concurrent API requests to the same realmId"


@dataclass
class _Entry:
    done: threading.Event = field(default_factory=threading.Event)
    response: Response | None = None


class ReplayCache:
    """Remembers the first answer per (realm, requestid)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], _Entry] = {}

    def run(self, realm: str, request_id: str, produce: Callable[[], Response]) -> Response:
        """Replay the answer remembered for ``request_id``, or produce (and remember) it."""
        key = (realm, request_id)
        while True:
            with self._lock:
                entry = self._entries.get(key)
                owner = entry is None
                if entry is None:
                    entry = self._entries[key] = _Entry()
            if owner:
                break
            entry.done.wait(timeout=130)
            if entry.response is not None:
                return entry.response
        try:
            response = produce()
        except BaseException:
            self._forget(key, entry)
            raise
        if response.status < 500:
            entry.response = response
            entry.done.set()
        else:
            self._forget(key, entry)
        return response

    def _forget(self, key: tuple[str, str], entry: _Entry) -> None:
        with self._lock:
            self._entries.pop(key, None)
        entry.done.set()


class InFlight:
    """Counts requests in flight per realm, refusing past the limit."""

    def __init__(self, limit: int = CONCURRENT_LIMIT) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}

    def enter(self, realm: str) -> bool:
        """Count one more request for ``realm``; False (and not counted) when over the limit."""
        with self._lock:
            current = self._counts.get(realm, 0)
            if current >= self.limit:
                return False
            self._counts[realm] = current + 1
            return True

    def leave(self, realm: str) -> None:
        """Count one request for ``realm`` as finished."""
        with self._lock:
            self._counts[realm] = max(0, self._counts.get(realm, 0) - 1)
