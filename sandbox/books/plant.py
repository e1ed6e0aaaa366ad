"""Plant discrepancies into consistent books, each producing exactly its own finding.

Every planted case takes documents nothing else touches (``Doc.touched``), and is shaped so that no second finding
follows from it: an invoice missing in QBO has no payments, a mismatched mirror is unpaid, a duplicate's original is
unpaid, and the customer-level gap a planted invoice-level case causes is explained by that case. A
``balance_mismatch`` goes only to a customer no other case or penny touches.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal

from sandbox.books.model import ZERO, Company, Doc, Ledger, Payment, QboDoc, at_time, cents, detach
from sandbox.books.truth import Finding, NotFinding, finding_key


class PlantError(ValueError):
    """The books are too small for the requested number of planted cases."""


class Planter:
    """Holds the candidate pools and records findings as cases are planted."""

    def __init__(self, rng: random.Random, ledger: Ledger) -> None:
        self.rng = rng
        self.ledger = ledger
        self.findings: list[Finding] = []
        self.not_findings: list[NotFinding] = []  # look-alikes a correct engine must not report on their own
        mirrored = [d for d in ledger.docs if d.mirror_at is not None and not d.touched]
        self.unpaid = [d for d in mirrored if not d.is_cm and not d.allocs and d.total >= 50]
        self.paid = [d for d in mirrored if not d.is_cm and _paid_alone(d)]
        self.memos = [d for d in mirrored if d.is_cm and d.credit_of is not None and not d.credit_of.touched]
        for pool in (self.unpaid, self.paid, self.memos):
            rng.shuffle(pool)
        self.triples: set[tuple[str, Decimal, date]] = set()
        self._counts: dict[tuple[str, Decimal, date], int] = {}
        self.hand_number = rng.randint(1001, 1400)

    def take(self, pool: list[Doc], kind: str, ok: Callable[[Doc], bool] = lambda d: True) -> Doc:
        """Remove and return the first untouched candidate of ``pool`` that passes ``ok``; mark it touched."""
        while pool:
            doc = pool.pop()
            if not doc.touched and (doc.credit_of is None or not doc.credit_of.touched) and ok(doc):
                doc.touched = doc.company.touched = True
                if doc.credit_of is not None:
                    doc.credit_of.touched = True
                return doc
        raise PlantError(f"not enough candidate documents to plant another {kind}")

    def record(
        self,
        kind: str,
        numbers: tuple[str, ...],
        company: Company,
        amount: Decimal,
        note: str,
        *,
        key: str = "",
        fix: str = "",
    ) -> None:
        """Record the finding a planted case must produce (keyed by ``numbers`` unless ``key`` is given)."""
        key = key or finding_key(kind, *numbers)
        self.findings.append(Finding(kind, key, numbers, company.account, amount, note, fix))

    def next_hand_number(self) -> str:
        """Return a number someone typed in QBO: QBO's own 4-digit sequence, far from CW's 5-digit one."""
        self.hand_number += self.rng.randint(1, 9)
        return str(self.hand_number)

    def later(self, doc: Doc, most_days: int) -> datetime:
        """Return a random time after ``doc``'s mirror, at most ``most_days`` later and before the last safe day."""
        room = min(most_days, (self.ledger.last_day - doc.day).days)
        offset = self.rng.randint(1, room) if room >= 1 else 0
        minute = self.rng.randint(480, 1080) if offset else 1380  # same day: late, after the mirror
        return at_time(doc.day + timedelta(days=offset), minute)

    def triple_counts(self) -> dict[tuple[str, Decimal, date], int]:
        """Count mirrors per (customer, TotalAmt, TxnDate), computed once (planting never adds mirrors)."""
        if not self._counts:
            for d in self.ledger.docs:
                if d.mirror_at is not None:
                    key = ((d.qbo_customer or d.company).account, d.qbo_total, d.day)
                    self._counts[key] = self._counts.get(key, 0) + 1
        return self._counts

    def refresh_triples(self) -> None:
        """Index (customer, TotalAmt, TxnDate) of every QBO document, to keep hand-typed ones unlike all of them."""
        self.triples = {((d.qbo_customer or d.company).account, d.qbo_total, d.day) for d in self.ledger.docs}
        self.triples |= {(d.customer.account, d.total, d.day) for d in self.ledger.extras}

    def payment(self, company: Company, doc: Doc, method: str) -> Payment:
        """Create a receipt dated after ``doc``."""
        at = self.later(doc, 40)
        ref = f"{self.rng.randint(1001, 9999)}"
        payment = Payment(company, at.date(), at, at + timedelta(minutes=20), method, ref)
        self.ledger.payments.append(payment)
        return payment


def _paid_alone(doc: Doc) -> bool:
    """Fully paid by cash payments that pay this invoice alone, with no credit applied."""
    single = all(a.credit is None and len(a.payment.allocs) == 1 for a in doc.allocs)
    return bool(doc.allocs) and single and doc.paid("qbo") == doc.total == doc.paid("cw")


def invoice_missing(p: Planter) -> None:
    """A closed CW invoice, unpaid, that never reached QBO."""
    doc = p.take(p.unpaid, "invoice_missing_in_qbo")
    doc.mirror_at = None
    note = f"CW invoice {doc.number} ({doc.type}, {doc.day}) was closed but never mirrored to QBO."
    p.record("invoice_missing_in_qbo", (doc.number,), doc.company, doc.total, note)


def credit_memo_missing(p: Planter) -> None:
    """A CW credit memo left unapplied in CW and never mirrored; its invoice stays open by the memo in both."""
    memo = p.take(p.memos, "credit_memo_missing_in_qbo")
    assert memo.credit_of is not None
    for alloc in [a for a in memo.credit_of.allocs if a.credit is memo]:
        detach(alloc)
    memo.mirror_at = None
    note = f"CW credit memo {memo.number} was never mirrored to QBO (and is still unapplied in CW)."
    p.record("credit_memo_missing_in_qbo", (memo.number,), memo.company, memo.total, note)


def amount_mismatch(p: Planter) -> None:
    """An unpaid mirror whose lines were edited in QBO by $12.50-$250."""
    doc = p.take(p.unpaid, "amount_mismatch", lambda d: d.lines[-1] > Decimal(300))
    delta = cents(p.rng.randint(1250, 25000)) * (1 if p.rng.random() < 0.5 else -1)
    doc.lines = (*doc.lines[:-1], doc.lines[-1] + delta)
    note = f"QBO invoice {doc.number} totals {doc.qbo_total} but CW says {doc.total}."
    p.record("amount_mismatch", (doc.number,), doc.company, abs(delta), note)


def customer_mismatch(p: Planter) -> None:
    """An unpaid mirror filed under another customer."""
    doc = p.take(p.unpaid, "customer_mismatch")
    other = p.rng.choice([c for c in p.ledger.companies if c is not doc.company])
    doc.qbo_customer = other
    other.touched = True
    note = f"QBO invoice {doc.number} belongs to {other.display}, but CW bills {doc.company.name}."
    p.record("customer_mismatch", (doc.number,), doc.company, doc.total, note)


def _copy(p: Planter, doc: Doc, number: str, lines: tuple[Decimal, ...]) -> QboDoc:
    tax = doc.tax if doc.qbo_tax is None else doc.qbo_tax
    copy = QboDoc(number, False, doc.company, doc.day, doc.due, lines, tax, p.later(doc, 20))
    p.ledger.extras.append(copy)
    return copy


def duplicate(p: Planter, same_number: bool) -> None:
    """A second QBO invoice for an unpaid mirror: re-posted with the same number, or hand-typed under a new one."""
    if same_number:
        doc = p.take(p.unpaid, "duplicate_in_qbo")
        _copy(p, doc, doc.number, doc.lines)
        note = f"QBO holds two invoices numbered {doc.number} (the sync tool posted it twice)."
        p.record("duplicate_in_qbo", (doc.number,), doc.company, doc.qbo_total, note)
        return
    counts = p.triple_counts()
    doc = p.take(p.unpaid, "duplicate_in_qbo", lambda d: counts[(d.company.account, d.qbo_total, d.day)] == 1)
    copy = _copy(p, doc, p.next_hand_number(), (doc.subtotal,))
    note = f"QBO invoice {copy.number} was typed by hand and repeats mirrored invoice {doc.number}."
    p.record("duplicate_in_qbo", (doc.number, copy.number), doc.company, copy.total, note)


def orphan(p: Planter, credit_memo: bool) -> None:
    """A QBO invoice or credit memo typed by hand, with no CW source and no likeness to any mirrored document."""
    rng, ledger = p.rng, p.ledger
    for _ in range(1000):
        company = rng.choice(ledger.companies)
        day = ledger.last_day - timedelta(days=rng.randint(3, 300))
        subtotal = cents(rng.randint(5_000, 40_000) if credit_memo else rng.randint(20_000, 400_000))
        doc = QboDoc(p.next_hand_number(), credit_memo, company, day, day, (subtotal,), ZERO, at_time(day, 700))
        doc.due = day if credit_memo else day + timedelta(days=company.due_days)
        if (company.account, doc.total, day) not in p.triples:
            break
    p.triples.add((company.account, doc.total, day))
    ledger.extras.append(doc)
    company.touched = True
    what = "credit memo" if credit_memo else "invoice"
    note = f"QBO {what} {doc.number} was typed by hand in QBO and has no CW source."
    p.record("orphan_in_qbo", (doc.number,), company, doc.total, note)
