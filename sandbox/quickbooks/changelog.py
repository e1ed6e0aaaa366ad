"""The change log behind CDC: per entity, an append-only list of ``(time, id)``, one entry per write."""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from datetime import datetime


class ChangeLog:
    """Remembers when each object changed; answers "what changed since" with each object once, oldest first."""

    def __init__(self, entities: Iterable[str]) -> None:
        self._log: dict[str, list[tuple[datetime, str]]] = {entity: [] for entity in entities}
        self._in_order = dict.fromkeys(self._log, True)
        self._last_entry: dict[str, dict[str, int]] = {entity: {} for entity in self._log}

    def append(self, entity: str, entity_id: str, moment: datetime) -> None:
        """Record a change (O(1); writes stamped in the past, as a loader may make, are sorted lazily)."""
        log = self._log[entity]
        if log and moment < log[-1][0]:
            self._in_order[entity] = False
        self._last_entry[entity][entity_id] = len(log)
        log.append((moment, entity_id))

    def latest(self, entity: str, since: datetime, limit: int) -> list[tuple[datetime, str]]:
        """Return up to ``limit`` (time of latest change, id) pairs changed at or after ``since``, oldest first."""
        log = self._log[entity]
        if not self._in_order[entity]:
            log.sort()
            self._last_entry[entity] = {entity_id: index for index, (_, entity_id) in enumerate(log)}
            self._in_order[entity] = True
        last = self._last_entry[entity]
        latest: list[tuple[datetime, str]] = []
        for index in range(bisect.bisect_left(log, (since,)), len(log)):
            moment, entity_id = log[index]
            if last[entity_id] == index:  # only an object's last entry counts: each object appears once
                latest.append((moment, entity_id))
                if len(latest) >= limit:
                    break
        return latest
