"""Consistent baseline, part 1: companies, invoices and credit memos in CW, and their mirrors in QBO."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

from sandbox.books.model import ZERO, Company, Doc, Ledger, at_time, ceil_to, cents, money
from sandbox.books.names import account_number, company_names, display_names, identifier

_RATES = (Decimal("0"), Decimal("0.0625"), Decimal("0.07"), Decimal("0.0825"))
_RATE_WEIGHTS = (20, 30, 20, 30)
_TERMS = (("Net 30", 30), ("Net 15", 15), ("Due on receipt", 0), ("Net 45", 45))
_TERM_WEIGHTS = (70, 15, 10, 5)
_DELAYS = (18, 30, 45, 65)
_METHODS = ("Check", "ACH", "Credit Card")
_SEAT_PRICES = tuple(Decimal(p) for p in ("45.00", "65.00", "89.95", "105.50", "125.00", "149.00"))
_HOURLY = tuple(Decimal(p) for p in ("125", "150", "165", "175", "195"))
HISTORY_DAYS = 396  # about 13 months
# Invoices are closed in batches (the agreement billing run at 09:00, others a few times a day), and the sync tool
# mirrors them on its AutoSync cycle (Mobius' default is every 120 minutes). Batches also let records share their
# timestamp objects, which keeps the large books lean.
_CLOSE_MINUTES = {"Agreement": (540,), "Standard": (630, 780, 930, 1050), "CreditMemo": (600, 960)}
SYNC_EVERY = 120


def make_companies(rng: random.Random, ledger: Ledger, count: int) -> None:
    """Create ``count`` companies with their mapped QBO customers."""
    names = company_names(rng, count)
    ids: set[str] = set()
    counters: dict[str, int] = {}
    accounts = [account_number(name, counters) for name in names]
    onboarded = ledger.now.date() - timedelta(days=HISTORY_DAYS + 30)
    for name, account, (display, company_name) in zip(
        names, accounts, display_names(rng, names, accounts), strict=True
    ):
        terms, due_days = rng.choices(_TERMS, _TERM_WEIGHTS)[0]
        ledger.companies.append(
            Company(
                account=account,
                identifier=identifier(name, ids),
                name=name,
                display=display,
                company_name=company_name,
                rate=rng.choices(_RATES, _RATE_WEIGHTS)[0],
                terms=terms,
                due_days=due_days,
                pay_delay=rng.choice(_DELAYS),
                method=rng.choices(_METHODS, (45, 35, 20))[0],
                batch_payer=rng.random() < 0.15,
                at=at_time(onboarded - timedelta(days=rng.randint(0, 300)), rng.randint(480, 1080)),
            )
        )


def _business_day(day: date) -> date:
    weekday = day.weekday()
    return day - timedelta(days=weekday - 4) if weekday > 4 else day


def _doc(rng: random.Random, company: Company, kind: tuple[str, str], day: date, subtotal: Decimal) -> Doc:
    lines = _split(rng, subtotal, 1 if kind[1] == "Agreement" else rng.randint(1, 3))
    tax = money(subtotal * company.rate)
    return Doc(
        company=company,
        type=kind[0],
        apply_to=kind[1],
        day=day,
        due=day + timedelta(days=company.due_days),
        subtotal=subtotal,
        tax=tax,
        total=subtotal + tax,
        at=at_time(day, rng.choice(_CLOSE_MINUTES[kind[0]])),
        lines=lines,
    )


def _split(rng: random.Random, amount: Decimal, parts: int) -> tuple[Decimal, ...]:
    """Split ``amount`` into ``parts`` positive cent amounts (the sync tool's summarised lines)."""
    whole = int(amount * 100)
    if parts == 1 or whole < parts * 100:
        return (amount,)
    cuts = sorted(rng.sample(range(1, whole), parts - 1))
    edges = [0, *cuts, whole]
    return tuple(cents(edges[i + 1] - edges[i]) for i in range(parts))


def _agreements(rng: random.Random, ledger: Ledger, months: list[date]) -> None:
    for company in ledger.companies:
        if rng.random() < 0.15:
            continue  # time-and-materials client, no managed-services agreement
        seats, price = rng.randint(4, 120), rng.choice(_SEAT_PRICES)
        joined = rng.randint(0, 3) if rng.random() < 0.8 else rng.randint(0, len(months) - 1)
        for month in months[joined:]:
            if rng.random() < 0.12:
                seats = max(1, seats + rng.choice((-2, -1, 1, 1, 2, 3)))
            ledger.docs.append(_doc(rng, company, ("Agreement", "Agreement"), month, seats * price))


def _standard_amount(rng: random.Random, project: bool) -> Decimal:
    if project:
        hours = rng.randint(8, 120)
        return money(hours * rng.choice(_HOURLY) + cents(rng.randint(0, 800_000)))
    quarter_hours = rng.randint(1, 40)
    return money(quarter_hours * rng.choice(_HOURLY) / 4)


def _standards(rng: random.Random, ledger: Ledger, count: int) -> None:
    weights = [rng.uniform(0.2, 3.0) for _ in ledger.companies]
    first = ledger.last_day - timedelta(days=HISTORY_DAYS)
    span = (ledger.last_day - first).days
    for company in rng.choices(ledger.companies, weights, k=count):
        project = rng.random() < 0.2
        day = _business_day(first + timedelta(days=rng.randint(0, span)))
        kind = ("Standard", "Project" if project else "Ticket")
        ledger.docs.append(_doc(rng, company, kind, day, _standard_amount(rng, project)))


def _months(ledger: Ledger) -> list[date]:
    first = ledger.last_day - timedelta(days=HISTORY_DAYS)
    month = date(first.year, first.month, 1)
    out: list[date] = []
    while month <= ledger.last_day:
        if month >= first:
            out.append(month)
        month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return out


def make_invoices(rng: random.Random, ledger: Ledger, count: int) -> None:
    """Create about ``count`` closed invoices: monthly agreement invoices plus project and ticket invoices."""
    _agreements(rng, ledger, _months(ledger))
    _standards(rng, ledger, max(0, count - len(ledger.docs)))


def make_credit_memos(rng: random.Random, ledger: Ledger, count: int) -> None:
    """Raise ``count`` credit memos, each against an earlier invoice of the same company (applied later)."""
    invoices = [d for d in ledger.docs if d.day + timedelta(days=12) <= ledger.last_day and d.total >= 100]
    for invoice in rng.sample(invoices, min(count, len(invoices))):
        share = Decimal(rng.choice((10, 15, 20, 25, 50))) / 100
        subtotal = money(invoice.subtotal * share)
        memo = _doc(rng, invoice.company, ("CreditMemo", "All"), invoice.day + timedelta(rng.randint(1, 10)), subtotal)
        memo.due = memo.day
        memo.credit_of = invoice
        ledger.docs.append(memo)


def make_unsynced(rng: random.Random, ledger: Ledger, open_count: int) -> list[Doc]:
    """Add the documents that legitimately have no mirror yet: open (New) invoices and one in its grace period."""
    out: list[Doc] = []
    for company in rng.sample(ledger.companies, min(open_count, len(ledger.companies))):
        day = ledger.last_day - timedelta(days=rng.randint(0, 8))
        doc = _doc(rng, company, ("Standard", "Ticket"), day, _standard_amount(rng, False))
        doc.closed = False
        out.append(doc)
    grace = _doc(rng, rng.choice(ledger.companies), ("Standard", "Ticket"), ledger.now.date(), cents(48_750))
    grace.at = ledger.now - timedelta(minutes=5)
    out.append(grace)
    ledger.docs.extend(out)
    return out


def number_and_mirror(rng: random.Random, ledger: Ledger, unsynced: list[Doc]) -> None:
    """Number every document from one sequence in CW creation order and mirror the closed ones to QBO."""
    ledger.docs.sort(key=lambda d: d.at)
    skip = {id(d) for d in unsynced}
    for seq, doc in enumerate(ledger.docs, start=10001):
        doc.number = f"CM{seq}" if doc.is_cm else str(seq)
        if id(doc) not in skip:
            doc.mirror_at = ceil_to(doc.at + timedelta(minutes=1), SYNC_EVERY)
    assert all(d.total > ZERO for d in ledger.docs)
