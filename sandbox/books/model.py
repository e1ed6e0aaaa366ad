"""The generator's working model: companies, documents, payments and their allocations.

Nothing here is API-shaped. ``docs`` and ``pay`` fill the model with consistent books, ``plant`` bends parts of
it into the planted discrepancies, and ``emit`` turns it into the API-shaped dicts ``Books`` holds. Amount and
string objects are shared with those dicts, so the model costs little beyond its containers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def money(value: Decimal | int | str) -> Decimal:
    """Round ``value`` half-up to cents."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def cents(amount: int) -> Decimal:
    """Return ``amount`` cents as a two-place Decimal."""
    return Decimal(amount).scaleb(-2)


def at_time(day: date, minutes: int) -> datetime:
    """Return the aware UTC datetime ``minutes`` after midnight of ``day``."""
    return datetime.combine(day, time(0), tzinfo=UTC) + timedelta(minutes=minutes)


def ceil_to(moment: datetime, minutes: int) -> datetime:
    """Round ``moment`` up to the next multiple of ``minutes`` past midnight (a batch or sync run)."""
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    step = timedelta(minutes=minutes)
    return midnight + step * -(-(moment - midnight) // step)


@dataclass(slots=True, eq=False)
class Company:
    """A CW company and the QBO customer the sync tool made for it."""

    account: str
    identifier: str
    name: str
    display: str  # QBO DisplayName
    company_name: str  # QBO CompanyName
    rate: Decimal  # sales-tax rate
    terms: str
    due_days: int
    pay_delay: int  # mean days from invoice to payment
    method: str  # Check | ACH | Credit Card
    batch_payer: bool  # pays several invoices with one cheque run
    at: datetime
    touched: bool = False  # involved in a planted finding or a penny case


@dataclass(slots=True, eq=False)
class Doc:
    """A CW invoice or credit memo, with how its QBO mirror looks (if it has one)."""

    company: Company
    type: str  # Agreement | Standard | CreditMemo
    apply_to: str  # Agreement | Project | Ticket | All
    day: date
    due: date
    subtotal: Decimal
    tax: Decimal
    total: Decimal  # CW total: subtotal plus sales tax
    at: datetime  # when it was closed in CW
    lines: tuple[Decimal, ...]  # the mirror's summarised line amounts, summing to the mirror subtotal
    number: str = ""
    closed: bool = True
    mirror_at: datetime | None = None  # None: no QBO mirror
    qbo_customer: Company | None = None  # None: the mapped customer
    qbo_tax: Decimal | None = None  # None: equal to ``tax``
    qbo_number: str | None = None  # None: the mirror carries CW's number
    allocs: list[Alloc] = field(default_factory=list)  # payments and credits applied to this invoice
    credit_of: Doc | None = None  # for a credit memo: the invoice it was raised against
    touched: bool = False

    @property
    def is_cm(self) -> bool:
        """Whether this is a credit memo."""
        return self.type == "CreditMemo"

    @property
    def qbo_total(self) -> Decimal:
        """The mirror's TotalAmt (the very ``total`` object when equal, to share it)."""
        value = sum(self.lines, ZERO) + (self.tax if self.qbo_tax is None else self.qbo_tax)
        return self.total if value == self.total else value

    def paid(self, side: str) -> Decimal:
        """Cash applied on ``side`` ("qbo" or "cw"), credits excluded."""
        return sum((a.amount(side) for a in self.allocs if a.credit is None), ZERO)

    def credited(self, side: str) -> Decimal:
        """Credit memos applied on ``side``."""
        return sum((a.amount(side) for a in self.allocs if a.credit is not None), ZERO)


@dataclass(slots=True, eq=False)
class QboDoc:
    """A QBO invoice or credit memo with no CW source of its own (a duplicate or a hand-typed orphan)."""

    number: str
    is_cm: bool
    customer: Company
    day: date
    due: date
    lines: tuple[Decimal, ...]
    tax: Decimal
    at: datetime

    @property
    def total(self) -> Decimal:
        """TotalAmt."""
        return sum(self.lines, ZERO) + self.tax


@dataclass(slots=True, eq=False)
class Payment:
    """A receipt in QBO (or a CW-only entry), or the zero-total payment that applies a credit memo."""

    company: Company
    day: date
    at: datetime  # created in QBO
    cw_at: datetime  # carried to CW
    method: str = ""  # "" for credit applications
    ref: str = ""
    unapplied: Decimal = ZERO
    allocs: list[Alloc] = field(default_factory=list)


@dataclass(slots=True, eq=False)
class Alloc:
    """One payment (or credit) applied to one invoice, as each system records it; None = absent there."""

    payment: Payment
    invoice: Doc
    qbo: Decimal | None
    cw: Decimal | None
    credit: Doc | None = None

    def amount(self, side: str) -> Decimal:
        """The amount recorded on ``side``, zero when absent there."""
        value = self.qbo if side == "qbo" else self.cw
        return ZERO if value is None else value


def attach(payment: Payment, invoice: Doc, qbo: Decimal | None, cw: Decimal | None, credit: Doc | None = None) -> Alloc:
    """Create an allocation and link it from both its payment and its invoice."""
    alloc = Alloc(payment, invoice, qbo, cw, credit)
    payment.allocs.append(alloc)
    invoice.allocs.append(alloc)
    return alloc


def detach(alloc: Alloc) -> None:
    """Remove an allocation from its payment and its invoice."""
    alloc.payment.allocs.remove(alloc)
    alloc.invoice.allocs.remove(alloc)


@dataclass(slots=True)
class Ledger:
    """All of the working model."""

    now: datetime
    companies: list[Company] = field(default_factory=list)
    docs: list[Doc] = field(default_factory=list)  # invoices and credit memos, in CW creation order
    extras: list[QboDoc] = field(default_factory=list)  # QBO-only documents
    payments: list[Payment] = field(default_factory=list)

    @property
    def last_day(self) -> date:
        """The newest business day whose documents are all older than now - 1 day."""
        return (self.now - timedelta(days=2)).date()
