"""``Books``: the generated records of both systems, the ground-truth manifest, and a summary of the totals."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from functools import cached_property
from typing import Any

from sandbox.books.emit import Emission
from sandbox.books.model import Ledger
from sandbox.books.truth import Manifest, Record

Stream = Callable[[str], Iterator[Record]]
LISTS = ("cw_companies", "cw_invoices", "cw_payments", "qbo_customers", "qbo_invoices", "qbo_credit_memos",
         "qbo_payments")  # fmt: skip


@dataclass(frozen=True, eq=False)
class Books:
    """Generated books: API-shaped dicts per system in creation order, plus the ground-truth manifest.

    Cross references are by number, not id: CW invoices name their company as ``company.identifier``, CW payment
    rows name ``invoice.identifier`` (and ``credit.identifier``) as invoice numbers, QBO documents name
    ``CustomerRef.name`` (the DisplayName), QBO payment lines name ``LinkedTxn[].DocNumber``. Creation times are in
    ``_info.dateEntered`` (CW) and ``MetaData.CreateTime`` (QBO). Each list is built from the compact model on
    first access and kept; ``stream`` yields a list's records without keeping them (``load`` uses it, so the large
    books never sit in memory twice). Treat records as read-only: nested dicts are shared between records.
    """

    size: str
    seed: int
    now: datetime
    manifest: Manifest
    customer_map: dict[str, str] = field(repr=False)  # CW accountNumber -> QBO DisplayName (the sync tool's mapping)
    ledger: Ledger = field(repr=False)

    def stream(self, name: str) -> Iterator[Record]:
        """Yield the records of list ``name`` (one of ``LISTS``) in creation order, without keeping them."""
        emission = Emission(self.ledger)
        streams = {
            "cw_companies": emission.cw_companies,
            "cw_invoices": emission.cw_invoices,
            "cw_payments": emission.cw_payments,
            "qbo_customers": emission.qbo_customers,
            "qbo_invoices": lambda: emission.qbo_documents(credit_memos=False),
            "qbo_credit_memos": lambda: emission.qbo_documents(credit_memos=True),
            "qbo_payments": emission.qbo_payments,
        }
        return streams[name]()

    @cached_property
    def cw_companies(self) -> list[Record]:
        """CW companies."""
        return list(self.stream("cw_companies"))

    @cached_property
    def cw_invoices(self) -> list[Record]:
        """CW invoices and credit memos (one number sequence)."""
        return list(self.stream("cw_invoices"))

    @cached_property
    def cw_payments(self) -> list[Record]:
        """CW payment rows and credit applications."""
        return list(self.stream("cw_payments"))

    @cached_property
    def qbo_customers(self) -> list[Record]:
        """QBO customers."""
        return list(self.stream("qbo_customers"))

    @cached_property
    def qbo_invoices(self) -> list[Record]:
        """QBO invoices: mirrors, duplicates and hand-typed ones."""
        return list(self.stream("qbo_invoices"))

    @cached_property
    def qbo_credit_memos(self) -> list[Record]:
        """QBO credit memos."""
        return list(self.stream("qbo_credit_memos"))

    @cached_property
    def qbo_payments(self) -> list[Record]:
        """QBO receipts and zero-total credit applications."""
        return list(self.stream("qbo_payments"))

    def summary(self) -> dict[str, dict[str, Any]]:
        """Return counts and money totals (Decimal) per system."""
        return summarise(self.stream)


def _sum(values: Iterable[Decimal]) -> Decimal:
    return sum(values, Decimal("0.00"))


def _cw_summary(stream: Stream) -> dict[str, Any]:
    counts = {"invoices": 0, "closed_invoices": 0, "credit_memos": 0, "payments": 0, "credit_applications": 0}
    money = dict.fromkeys(("invoiced", "credited", "paid", "credits_applied"), Decimal("0.00"))
    for r in stream("cw_invoices"):
        memo = r["type"] == "CreditMemo"
        counts["credit_memos" if memo else "invoices"] += 1
        counts["closed_invoices"] += not memo and r["status"]["name"] != "New"
        money["credited" if memo else "invoiced"] += r["total"]
    for r in stream("cw_payments"):
        credit = "credit" in r
        counts["credit_applications" if credit else "payments"] += 1
        money["credits_applied" if credit else "paid"] += r["amount"]
    balance = money["invoiced"] - money["paid"] - money["credits_applied"]
    unapplied = money["credited"] - money["credits_applied"]
    companies = sum(1 for _ in stream("cw_companies"))
    return {"companies": companies, **counts, **money, "balance": balance, "unapplied_credit": unapplied}


def _qbo_summary(stream: Stream) -> dict[str, Any]:
    invoices = [r["TotalAmt"] for r in stream("qbo_invoices")]
    memos = [r["TotalAmt"] for r in stream("qbo_credit_memos")]
    payments = received = linked = applied = Decimal("0.00")
    count = 0
    for r in stream("qbo_payments"):
        count += 1
        received += r["TotalAmt"]
        for line in r["Line"]:
            if line["LinkedTxn"][0]["TxnType"] == "CreditMemo":
                applied += line["Amount"]
            else:
                linked += line["Amount"]
    payments = linked - applied  # cash applied to invoices
    return {
        "customers": sum(1 for _ in stream("qbo_customers")),
        "invoices": len(invoices),
        "credit_memos": len(memos),
        "payments": count,
        "invoiced": _sum(invoices),
        "credited": _sum(memos),
        "received": received,
        "paid": payments,
        "credits_applied": applied,
        "unapplied_payments": received - payments,
        "balance": _sum(invoices) - payments - applied,
        "unapplied_credit": _sum(memos) - applied,
    }


def summarise(stream: Stream) -> dict[str, dict[str, Any]]:
    """Return counts and money totals (Decimal) per system from a ``Books.stream``-like callable."""
    return {"cw": _cw_summary(stream), "qbo": _qbo_summary(stream)}


def finish(books: Books) -> Books:
    """Return ``books`` with the manifest's per-system totals filled in."""
    return replace(books, manifest=replace(books.manifest, totals=books.summary()))
