"""Records of ConnectWise Manage payloads: companies, invoices (credit memos included) and payment rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Self

from sync.records.values import Day, Money, Record, UTCTime, money, ref


def _info_time(payload: Mapping[str, Any]) -> Any:
    return ref(payload, "_info").get("lastUpdated")


class CWCompany(Record):
    """A ConnectWise company; ``account_number`` is the key accounting tools map to a QBO customer."""

    id: int
    identifier: str
    name: str
    account_number: str | None = None
    last_updated: UTCTime = None

    @classmethod
    def from_api(cls, payload: Mapping[str, Any]) -> Self:
        """Build from a ``/company/companies`` item."""
        return cls(
            id=payload["id"],
            identifier=payload.get("identifier") or "",
            name=payload.get("name") or "",
            account_number=payload.get("accountNumber") or None,
            last_updated=_info_time(payload),
        )


DEFAULT_CLOSED_STATUSES = ("Closed", "Paid")  # TALLY_CW_CLOSED_STATUSES' default
# The amounts a credit memo carries; read as magnitudes (see ``CWInvoice.from_api``).
_MEMO_MONEY = ("subtotal", "salesTax", "total", "payments", "credits", "balance")


class CWInvoice(Record):
    """A ConnectWise invoice or credit memo (``type == "CreditMemo"``).

    Credit memo amounts are kept positive whatever sign ConnectWise sends: whether a CreditMemo's ``total`` and
    ``balance`` are positive or negative is not documented (the 2025.1 ``Invoice`` model gives no sign,
    https://github.com/ai-connor/connectwise ``model_invoice.go``) [U], so both readings are taken as the same
    memo. ``closed_flag`` tells whether ConnectWise sent ``status.isClosed`` at all; when it did not (missing or
    ``null``, as some versions do [U]), ``is_closed`` comes from the configured closed status names.
    """

    id: int
    number: str
    type: str
    company_id: int | None = None
    company_identifier: str | None = None
    account_number: str | None = None
    date: Day = None
    due_date: Day = None
    status_name: str | None = None
    is_closed: bool = False
    closed_flag: bool = True
    subtotal: Money = Decimal(0)
    sales_tax: Money = Decimal(0)
    total: Money = Decimal(0)
    payments: Money = Decimal(0)
    credits: Money = Decimal(0)
    balance: Money = Decimal(0)
    last_updated: UTCTime = None

    @property
    def is_credit_memo(self) -> bool:
        """Tell whether this is a credit memo."""
        return self.type == "CreditMemo"

    @classmethod
    def from_api(cls, payload: Mapping[str, Any], *, closed_statuses: Sequence[str] = DEFAULT_CLOSED_STATUSES) -> Self:
        """Build from a ``/finance/invoices`` item; a missing ``balance`` is total - payments - credits."""
        company, status = ref(payload, "company"), ref(payload, "status")
        if payload.get("type") == "CreditMemo":
            payload = {**payload, **{key: _magnitude(payload[key]) for key in _MEMO_MONEY if key in payload}}
        total, payments, credits = (money(payload.get(key)) for key in ("total", "payments", "credits"))
        balance = payload.get("balance")
        flag = status.get("isClosed")
        if flag is None:
            names = {name.strip().casefold() for name in closed_statuses}
            closed = str(status.get("name") or "").strip().casefold() in names
        else:
            closed = bool(flag)
        return cls(
            id=payload["id"],
            number=str(payload.get("invoiceNumber") or ""),
            type=payload.get("type") or "Standard",
            company_id=company.get("id"),
            company_identifier=company.get("identifier"),
            account_number=payload.get("accountNumber") or None,
            date=payload.get("date"),
            due_date=payload.get("dueDate"),
            status_name=status.get("name"),
            is_closed=closed,
            closed_flag=flag is not None,
            subtotal=money(payload.get("subtotal")),
            sales_tax=money(payload.get("salesTax")),
            total=total,
            payments=payments,
            credits=credits,
            balance=total - payments - credits if balance is None else balance,
            last_updated=_info_time(payload),
        )


class CWPayment(Record):
    """A payment row on a ConnectWise invoice; ``credit_memo_id`` is set when it applies a credit memo."""

    id: int
    invoice_id: int
    type: str | None = None
    amount: Money = Decimal(0)
    payment_date: Day = None
    credit_memo_id: int | None = None
    last_updated: UTCTime = None

    @classmethod
    def from_api(cls, payload: Mapping[str, Any], *, invoice_id: int | None = None) -> Self:
        """Build from a ``/finance/invoices/{id}/payments`` item (``invoice_id`` fills a missing ref)."""
        invoice = ref(payload, "invoice").get("id", invoice_id)
        if invoice is None:
            raise ValueError("a ConnectWise payment without its invoice id")
        return cls(
            id=payload["id"],
            invoice_id=invoice,
            type=payload.get("type"),
            # A row applying a credit memo is read as a positive amount under either memo sign convention [U].
            amount=money(payload.get("amount"))
            if ref(payload, "credit").get("id") is None
            else abs(money(payload.get("amount"))),
            payment_date=payload.get("paymentDate"),
            credit_memo_id=ref(payload, "credit").get("id"),
            last_updated=_info_time(payload),
        )


def _magnitude(value: Any) -> Any:
    """The absolute value of a JSON amount (kept as given when it is null or not a number)."""
    if value is None:
        return None
    try:
        return abs(money(value))
    except (TypeError, ValueError, ArithmeticError):
        return value
