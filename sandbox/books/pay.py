"""Consistent baseline, part 2: payments received in QBO and carried back to CW, and credit-memo applications."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from decimal import Decimal

from sandbox.books.model import CENT, ZERO, Company, Doc, Ledger, Payment, at_time, attach, ceil_to, cents

_OTHER_METHODS = ("Check", "ACH", "Credit Card")
_RECEIPT_MINUTES = (600, 750, 900, 1020)  # the bookkeeper records receipts in a few sittings a day


class Payer:
    """Turns invoices into payments the way each client pays: when, how, and with which reference."""

    def __init__(self, rng: random.Random, ledger: Ledger) -> None:
        self.rng = rng
        self.ledger = ledger
        self.cheques: dict[str, int] = {}
        self.runs: dict[tuple[str, date], Payment] = {}

    def _cw_at(self, at: datetime) -> datetime:
        # Payments reach CW when someone presses "Sync Payments" (16:40), the same day or a few days later.
        cw_at = at_time(at.date() + timedelta(days=self.rng.randint(0, 4)), 1000)
        if cw_at <= at:
            cw_at += timedelta(days=1)
        return cw_at if cw_at < self.ledger.now - timedelta(hours=26) else at + timedelta(minutes=30)

    def _ref(self, company: Company, method: str) -> str:
        if method == "Check":
            number = self.cheques.get(company.account) or self.rng.randint(1001, 9000)
            self.cheques[company.account] = number + 1
            return str(number)
        if method == "ACH":
            return f"ACH{self.rng.randint(10_000_000, 99_999_999)}"
        return f"CC{self.rng.randint(1000, 9999)}"

    def payment(self, company: Company, day: date) -> Payment:
        """Create a new receipt from ``company`` on ``day``."""
        rng = self.rng
        method = company.method if rng.random() < 0.85 else rng.choice(_OTHER_METHODS)
        at = at_time(day, rng.choice(_RECEIPT_MINUTES))
        payment = Payment(company, day, at, self._cw_at(at), method, self._ref(company, method))
        self.ledger.payments.append(payment)
        return payment

    def run(self, company: Company, target: date) -> Payment | None:
        """Return the fortnightly cheque run of a batch payer that covers ``target`` (one payment, many invoices)."""
        friday = target + timedelta(days=(4 - target.weekday()) % 7)
        if (friday.toordinal() // 7) % 2:
            friday += timedelta(days=7)
        if friday > self.ledger.last_day:
            return None
        key = (company.account, friday)
        if key not in self.runs:
            self.runs[key] = self.payment(company, friday)
        return self.runs[key]


def apply_credit(rng: random.Random, ledger: Ledger, memo: Doc) -> None:
    """Apply ``memo`` to its invoice in CW and, with a zero-total payment, in QBO."""
    assert memo.credit_of is not None
    assert memo.mirror_at is not None
    at = ceil_to(memo.mirror_at + timedelta(minutes=rng.randint(30, 1440)), 60)
    cw_at = ceil_to(memo.at + timedelta(minutes=rng.randint(10, 600)), 30)
    payment = Payment(memo.company, memo.day, at, cw_at)
    ledger.payments.append(payment)
    attach(payment, memo.credit_of, memo.total, memo.total, credit=memo)


def _parts(rng: random.Random, due: Decimal, count: int) -> list[Decimal]:
    first = cents(int(due * 100) * rng.randint(30, 60) // 100)
    if count == 2:
        return [first, due - first]
    second = cents(int((due - first) * 100) // 2)
    return [first, second, due - first - second]


def _pay_invoice(payer: Payer, invoice: Doc, earliest: date) -> None:
    rng, company, last = payer.rng, invoice.company, payer.ledger.last_day
    credited = invoice.credited("cw")
    due = invoice.total - credited if credited else invoice.total
    target = max(earliest, invoice.day + timedelta(days=max(1, int(rng.gauss(company.pay_delay, 6)))))
    roll = rng.random()
    if roll < 0.08 or target > last:
        return  # disputed, written off in practice, or simply not paid yet
    if roll < 0.11:  # instalments, the later ones possibly still to come
        for k, amount in enumerate(_parts(rng, due, rng.randint(2, 3))):
            day = target + timedelta(days=k * rng.randint(14, 30))
            if day <= last and amount > ZERO:
                attach(payer.payment(company, day), invoice, amount, amount)
        return
    if roll < 0.13:  # short payment, the rest disputed
        amount = cents(int(due * 100) * rng.randint(25, 75) // 100)
        attach(payer.payment(company, target), invoice, amount, amount)
        return
    payment = payer.run(company, target) if company.batch_payer else None
    if payment is None:
        payment = payer.payment(company, target)
    attach(payment, invoice, due, due)


def make_payments(rng: random.Random, ledger: Ledger) -> None:
    """Apply every credit memo, then let clients pay their mirrored invoices (about 80% paid, recent ones open)."""
    payer = Payer(rng, ledger)
    credit_day: dict[int, date] = {}
    for memo in ledger.docs:
        if memo.is_cm and memo.credit_of is not None:
            apply_credit(rng, ledger, memo)
            credit_day[id(memo.credit_of)] = memo.day + timedelta(days=1)
    for invoice in ledger.docs:
        if not invoice.is_cm and invoice.mirror_at is not None:
            _pay_invoice(payer, invoice, credit_day.get(id(invoice), invoice.day + timedelta(days=1)))
    ledger.payments.sort(key=lambda p: p.at)


def _fully_paid(doc: Doc) -> bool:
    return bool(doc.allocs) and doc.paid("qbo") + doc.credited("qbo") == doc.total


def make_pennies(rng: random.Random, ledger: Ledger, count: int) -> list[tuple[str, str]]:
    """Make ``count`` mirrors differ by a cent of tax and ``count`` payments by a cent; return (reason, number).

    At most one such case per customer, so no customer's open balance drifts by more than a cent.
    """
    out: list[tuple[str, str]] = []
    pool = [d for d in ledger.docs if d.mirror_at is not None and not d.is_cm and d.tax > ZERO]
    for doc in rng.sample(pool, min(len(pool), count * 6)):
        if doc.company.touched or len(out) >= 2 * count or not _simple(doc):
            continue
        if len(out) % 2 == 0:
            _round_tax(rng, doc)
            out.append(("rounding", doc.number))
        elif _fully_paid(doc) and doc.allocs[-1].credit is None:
            cash = doc.allocs[-1]
            assert cash.cw is not None
            cash.cw = cash.cw - CENT  # the CW user typed the payment a cent short
            out.append(("payment_rounding", doc.number))
        else:
            continue
        doc.touched = doc.company.touched = True
    return out


def _simple(doc: Doc) -> bool:
    """Whether every payment on ``doc`` pays ``doc`` alone, so a change here moves nothing else."""
    return all(len(a.payment.allocs) == 1 for a in doc.allocs)


def _round_tax(rng: random.Random, doc: Doc) -> None:
    """QBO recomputed the tax per line and landed a cent away; payments follow the smaller of the two totals."""
    paid_up = _fully_paid(doc)
    cent = -CENT if rng.random() < 0.5 and (not paid_up or doc.allocs[-1].credit is None) else CENT
    doc.qbo_tax = doc.tax + cent
    if cent < ZERO and paid_up:
        last = doc.allocs[-1]
        last.qbo = last.cw = last.amount("qbo") - CENT
