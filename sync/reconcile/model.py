"""What the reconciliation engine reads and what it says: plain frozen records, no database, no I/O.

``Snapshot`` is both books as the cache holds them; ``Finding`` is one disagreement with its stable key, both
systems' values, the amount at stake, a sentence a bookkeeper understands, and the fix Tally proposes (if any).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

ZERO = Decimal("0.00")
CM_TYPE = "CreditMemo"

_SPACE = re.compile(r"\s+")


def number_key(number: str | None) -> str:
    """Normalise a document number for matching: no whitespace, upper-case."""
    return _SPACE.sub("", number or "").upper()


_SUFFIX = re.compile(r"(?<=\d)[\s\-_/.]*[A-Z]$")  # "1001-A", "1001 B", "1001A": a re-issue of 1001
_NOT_ALNUM = re.compile(r"[^0-9A-Z]")
_LEADING_ZEROS = re.compile(r"(?<![0-9])0+(?=[0-9])")


def loose_key(number: str | None) -> str:
    """Normalise a number for finding look-alikes: case, spaces, punctuation, leading zeros and a letter suffix."""
    text = _SUFFIX.sub("", (number or "").strip().upper())
    return _LEADING_ZEROS.sub("", _NOT_ALNUM.sub("", text))


def finding_key(kind: str, *numbers: str) -> str:
    """Build the stable key of a finding: its kind and the normalised document numbers."""
    return ":".join([kind, *(number_key(number) for number in numbers)])


@dataclass(frozen=True, slots=True)
class CwCompany:
    """A ConnectWise company."""

    id: int
    identifier: str
    name: str
    account_number: str | None = None


@dataclass(frozen=True, slots=True)
class CwDoc:
    """A ConnectWise invoice or credit memo with its derived money."""

    id: int
    number: str
    type: str
    company_id: int | None
    total: Decimal
    payments: Decimal = ZERO
    credits: Decimal = ZERO
    balance: Decimal = ZERO
    is_closed: bool = True
    date: date | None = None
    last_updated: datetime | None = None

    @property
    def is_cm(self) -> bool:
        """Whether this is a credit memo."""
        return self.type == CM_TYPE

    @property
    def key(self) -> str:
        """The normalised number."""
        return number_key(self.number)


@dataclass(frozen=True, slots=True)
class CwCredit:
    """A credit-memo application in ConnectWise: ``amount`` of memo ``credit_memo_id`` on ``invoice_id``."""

    invoice_id: int
    credit_memo_id: int
    amount: Decimal


@dataclass(frozen=True, slots=True)
class QboCustomer:
    """A QuickBooks customer."""

    id: str
    display_name: str
    company_name: str | None = None
    active: bool = True


@dataclass(frozen=True, slots=True)
class QboDoc:
    """A QuickBooks invoice or credit memo (``entity`` is ``Invoice`` or ``CreditMemo``)."""

    entity: str
    id: str
    number: str | None
    customer_id: str | None
    total: Decimal
    balance: Decimal
    remaining_credit: Decimal | None = None
    date: date | None = None

    @property
    def is_cm(self) -> bool:
        """Whether this is a credit memo."""
        return self.entity == CM_TYPE

    @property
    def key(self) -> str:
        """The normalised number."""
        return number_key(self.number)

    @property
    def open_amount(self) -> Decimal:
        """What it adds to the customer's AR: an invoice's balance, minus a memo's unused credit."""
        if self.is_cm:
            return -(self.remaining_credit if self.remaining_credit is not None else self.balance)
        return self.balance


@dataclass(frozen=True, slots=True)
class QboLink:
    """One linked transaction on a payment line; ``amount`` is the line's amount."""

    line_no: int
    txn_id: str
    txn_type: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class QboPayment:
    """A QuickBooks payment; a zero total with invoice and memo lines applies a credit memo."""

    id: str
    customer_id: str | None
    total: Decimal
    unapplied: Decimal
    links: tuple[QboLink, ...] = ()
    date: date | None = None


@dataclass(frozen=True)
class Snapshot:
    """Both books, as cached."""

    cw_companies: tuple[CwCompany, ...] = ()
    cw_docs: tuple[CwDoc, ...] = ()
    cw_credits: tuple[CwCredit, ...] = ()
    qbo_customers: tuple[QboCustomer, ...] = ()
    qbo_docs: tuple[QboDoc, ...] = ()
    qbo_payments: tuple[QboPayment, ...] = ()
    customer_map: dict[int, str] = field(default_factory=dict)  # stored CW company id -> QBO customer id


@dataclass(frozen=True)
class Policy:
    """How strict to be: money tolerance, sync-lag grace, and the time of the check."""

    now: datetime
    tolerance: Decimal = Decimal("0.05")
    grace: timedelta = timedelta(minutes=30)


@dataclass(frozen=True)
class FixSpec:
    """The fix a finding asks for; ``params`` name the documents and the amount (strings, for storage)."""

    kind: str
    params: dict[str, str]


@dataclass(frozen=True)
class Finding:
    """One disagreement between the books."""

    kind: str
    key: str
    documents: tuple[str, ...]
    customer: str | None
    amount: Decimal
    explanation: str
    cw: dict[str, str] = field(default_factory=dict)
    qbo: dict[str, str] = field(default_factory=dict)
    fix: FixSpec | None = None

    @property
    def invoice_number(self) -> str | None:
        """The first document the finding names."""
        return self.documents[0] if self.documents else None
