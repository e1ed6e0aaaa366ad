"""Seeded MSP books, as a working sync tool (Wise-Sync, Mobius) would have left them, with planted discrepancies.

``generate`` builds about 13 months of ConnectWise invoices, credit memos and payment rows, their QuickBooks mirrors,
customers and payments, then plants discrepancies of every finding kind in ``docs/vocabulary.md`` and writes down, in
the ``Manifest``, exactly which findings a correct reconciliation engine must produce (and what it must not report).
``load`` creates the books in a ``CWStore`` and a ``QBOCompany`` through their public create calls.

Modules behind this one, in ``sandbox/books/``::

    model           the working model (companies, documents, payments, allocations)
    names           company names, identifiers, account numbers, QBO DisplayNames
    docs            baseline invoices, credit memos, numbering and mirroring
    pay             baseline payments, credit applications, penny differences
    plant*          the planted discrepancies
    truth           finding kinds, keys, Finding, NotFinding, Manifest
    emit            API-shaped records, streamed from the model
    books           Books (lazy lists, streams) and its summary
    load            loading into the sandbox stores
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Literal

from sandbox.books.books import LISTS, Books, finish
from sandbox.books.docs import make_companies, make_credit_memos, make_invoices, make_unsynced, number_and_mirror
from sandbox.books.load import load
from sandbox.books.model import Doc, Ledger
from sandbox.books.pay import make_payments, make_pennies
from sandbox.books.plant import Planter, PlantError
from sandbox.books.plant_fixes import SITUATIONS
from sandbox.books.plant_money import plant as plant_cases
from sandbox.books.truth import KINDS, Finding, Manifest, NotFinding, finding_key

__all__ = [
    "KINDS",
    "LISTS",
    "Books",
    "Finding",
    "Manifest",
    "NotFinding",
    "PlantError",
    "finding_key",
    "generate",
    "load",
]

Size = Literal["empty", "small", "large"]

# companies, invoices, credit memos, open (New) invoices, penny cases of each sort
_SHAPES: dict[str, tuple[int, int, int, int, int]] = {
    "empty": (0, 0, 0, 0, 0),
    "small": (60, 1500, 36, 4, 3),
    "large": (2000, 100_000, 2500, 20, 25),
}


def default_counts(size: Size, rng: random.Random) -> dict[str, int]:
    """Return the default planted cases per kind: 2-3 each for small, 20 each for large, none for empty."""
    if size == "empty":
        return dict.fromkeys(KINDS, 0)
    if size == "small":
        return {kind: rng.randint(2, 3) for kind in KINDS} | dict.fromkeys(SITUATIONS, 1)
    return dict.fromkeys(KINDS, 20) | dict.fromkeys(SITUATIONS, 10)


def generate(size: Size, seed: int, *, now: datetime, plant: dict[str, int] | None = None) -> Books:
    """Generate deterministic books for (size, seed, now); ``plant`` gives cases per kind (omitted kinds: none)."""
    if size not in _SHAPES:
        raise ValueError(f"unknown size {size!r}; expected one of {', '.join(_SHAPES)}")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    rng = random.Random(seed)
    ledger = Ledger(now=now.astimezone(UTC))
    counts = (
        default_counts(size, rng) if plant is None else {kind: plant.get(kind, 0) for kind in (*KINDS, *SITUATIONS)}
    )
    if plant is not None:
        counts.update(plant)  # unknown kinds are rejected by the planter
    if size == "empty":
        if any(counts.values()):
            raise PlantError("the empty books have nothing to plant into")
        return _books(ledger, size, seed, counts, [], [])
    companies, invoices, memos, open_count, pennies = _SHAPES[size]
    make_companies(rng, ledger, companies)
    make_invoices(rng, ledger, invoices)
    make_credit_memos(rng, ledger, memos)
    unsynced = make_unsynced(rng, ledger, open_count)
    number_and_mirror(rng, ledger, unsynced)
    make_payments(rng, ledger)
    not_findings = [NotFinding(reason, (number,)) for reason, number in make_pennies(rng, ledger, pennies)]
    planter = Planter(rng, ledger)
    findings = plant_cases(planter, counts)
    not_findings = _unsynced(unsynced) + not_findings + planter.not_findings
    return _books(ledger, size, seed, counts, findings, not_findings)


def _unsynced(docs: list[Doc]) -> list[NotFinding]:
    return [NotFinding("open_in_cw" if not d.closed else "in_grace", (d.number,)) for d in docs]


def _books(
    ledger: Ledger,
    size: str,
    seed: int,
    counts: dict[str, int],
    findings: list[Finding],
    not_findings: list[NotFinding],
) -> Books:
    manifest = Manifest(seed, size, ledger.now, counts, tuple(findings), tuple(not_findings), {})
    customer_map = {c.account: c.display for c in ledger.companies}
    return finish(Books(size, seed, ledger.now, manifest, customer_map, ledger))
