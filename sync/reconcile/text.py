"""Words and numbers as a bookkeeper reads them."""

from __future__ import annotations

from decimal import Decimal

from sync.reconcile.model import CwCompany, CwDoc, QboDoc


def money(amount: Decimal) -> str:
    """Format an amount as dollars: ``$1,234.50``, ``-$12.00``."""
    sign = "-" if amount < 0 else ""
    return f"{sign}${abs(amount):,.2f}"


def doc_word(is_cm: bool) -> str:
    """Name the kind of document."""
    return "credit memo" if is_cm else "invoice"


def company_label(company: CwCompany) -> str:
    """Name a company the way finance people know it."""
    return company.name


def values_cw(doc: CwDoc) -> dict[str, str]:
    """The ConnectWise side of a finding, amounts as strings."""
    values = {
        "id": str(doc.id),
        "number": doc.number,
        "total": str(doc.total),
        "paid": str(doc.payments),
        "credits": str(doc.credits),
        "balance": str(doc.balance),
    }
    if doc.date is not None:
        values["date"] = doc.date.isoformat()
    return values


def values_qbo(doc: QboDoc) -> dict[str, str]:
    """The QuickBooks side of a finding, amounts as strings."""
    values = {
        "id": doc.id,
        "number": doc.number or "",
        "customer_id": doc.customer_id or "",
        "total": str(doc.total),
        "balance": str(doc.balance),
    }
    if doc.remaining_credit is not None:
        values["remaining_credit"] = str(doc.remaining_credit)
    if doc.date is not None:
        values["date"] = doc.date.isoformat()
    return values
