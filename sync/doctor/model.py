"""What ``tally doctor`` reports: one ``Check`` per assumption, pass / warn / fail / skip, and what to do."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

EXIT_OK = 0  # nothing failed (warnings may remain)
EXIT_FAILED = 1  # at least one check failed: Tally would misbehave or stop against these systems


class Status(StrEnum):
    """How one check came out, best first."""

    PASS = "pass"  # noqa: S105 - a status, not a password
    WARN = "warn"  # Tally works, but something is likely to surprise you; the remedy says what to do
    FAIL = "fail"  # Tally cannot work correctly until this is fixed
    SKIP = "skip"  # not checked, because something it depends on failed or is not configured


@dataclass(frozen=True)
class Check:
    """One assumption checked against the configured systems."""

    system: str  # "ConnectWise", "QuickBooks", "Slack", "Database"
    key: str  # stable id, e.g. "cw.closed_flag"
    title: str  # what was checked, e.g. "Invoices carry status.isClosed"
    status: Status
    detail: str  # what was seen
    remedy: str | None = None  # what to do; always set for warn and fail

    def __post_init__(self) -> None:
        if self.status in (Status.WARN, Status.FAIL) and not self.remedy:
            raise ValueError(f"doctor check {self.key} is {self.status} without saying what to do")

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` shape of one check (docs/json.md)."""
        return {
            "system": self.system,
            "key": self.key,
            "title": self.title,
            "status": str(self.status),
            "detail": self.detail,
            "remedy": self.remedy,
        }


@dataclass(frozen=True)
class Report:
    """Every check, in the order they ran."""

    checks: list[Check]
    at: datetime
    systems: tuple[str, ...] = field(default=())

    def count(self, status: Status) -> int:
        """How many checks came out ``status``."""
        return sum(1 for check in self.checks if check.status is status)

    @property
    def failed(self) -> bool:
        """Whether any check failed."""
        return self.count(Status.FAIL) > 0

    @property
    def exit_code(self) -> int:
        """0 when nothing failed, 1 otherwise."""
        return EXIT_FAILED if self.failed else EXIT_OK

    def summary(self) -> str:
        """One line: ``12 passed, 2 warnings, 1 failed, 3 skipped``."""
        parts = [f"{self.count(Status.PASS)} passed", f"{self.count(Status.WARN)} warnings"]
        parts.append(f"{self.count(Status.FAIL)} failed")
        if self.count(Status.SKIP):
            parts.append(f"{self.count(Status.SKIP)} skipped")
        return ", ".join(parts)

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` shape (docs/json.md)."""
        return {
            "at": self.at.isoformat(),
            "ok": not self.failed,
            "counts": {str(status): self.count(status) for status in Status},
            "checks": [check.to_json() for check in self.checks],
        }


class Section:
    """Collects the checks of one system, with shorthands for each status."""

    def __init__(self, system: str) -> None:
        self.system = system
        self.checks: list[Check] = []

    def add(self, key: str, title: str, status: Status, detail: str, remedy: str | None = None) -> Check:
        """Record one check and return it."""
        check = Check(self.system, key, title, status, detail, remedy)
        self.checks.append(check)
        return check

    def passed(self, key: str, title: str, detail: str) -> Check:
        """Record a pass."""
        return self.add(key, title, Status.PASS, detail)

    def warn(self, key: str, title: str, detail: str, remedy: str) -> Check:
        """Record a warning."""
        return self.add(key, title, Status.WARN, detail, remedy)

    def fail(self, key: str, title: str, detail: str, remedy: str) -> Check:
        """Record a failure."""
        return self.add(key, title, Status.FAIL, detail, remedy)

    def skip(self, keys: Iterable[tuple[str, str]], why: str) -> None:
        """Record the checks that could not run, and why."""
        for key, title in keys:
            self.add(key, title, Status.SKIP, f"Not checked: {why}")


Checker = Callable[[], list[Check]]  # one system's checks, run by ``sync.doctor.run``
