"""Turn the working model into API-shaped records, one stream per list, in creation order.

Records are produced on demand so that loading the large books never holds every record at once. Within one
``Emission`` repeated values (dates, timestamps, reference dicts) are shared objects: treat records as read-only.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sandbox.books.model import ZERO, Company, Doc, Ledger, Payment, QboDoc
from sandbox.books.truth import Record

_CLOSED = {"name": "Sent"}  # a closed billing status [I: the closed status name varies per CW site]
_OPEN = {"name": "New"}
_SERVICES = {"ItemRef": {"value": "1", "name": "Services"}}
_HOURS = {"ItemRef": {"value": "2", "name": "Hours"}}
_ITEMS = {
    "Agreement": (_SERVICES,),
    "Ticket": (_HOURS, _SERVICES, _SERVICES),
    "Project": (_SERVICES, _HOURS, _SERVICES),
    "All": (_SERVICES,),
}
# [I] QBO sample-company payment method ids for Check and the cards; "ACH" is one a company adds itself.
_METHODS = {
    "Check": {"value": "2", "name": "Check"},
    "ACH": {"value": "8", "name": "ACH"},
    "Credit Card": {"value": "3", "name": "Visa"},
}


def _cw_time(at: datetime) -> str:
    return at.isoformat(timespec="seconds")[:19] + "Z"  # times here are UTC


class Emission:
    """Streams the API-shaped records of one ledger."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._days: dict[tuple[bool, date], str] = {}
        self._refs: dict[tuple[str, str], dict[str, str]] = {}
        self._stamps: dict[tuple[str, datetime], dict[str, str]] = {}

    # -- shared values ------------------------------------------------------------------------------------
    def day(self, day: date, *, cw: bool) -> str:
        """A CW date-time (midnight UTC) or a QBO date for a calendar day."""
        text = self._days.get((cw, day))
        if text is None:
            text = self._days[(cw, day)] = f"{day.isoformat()}T00:00:00Z" if cw else day.isoformat()
        return text

    def stamp(self, key: str, at: datetime) -> dict[str, str]:
        """A shared ``_info`` (key "dateEntered") or ``MetaData`` (key "CreateTime") dict for a creation time."""
        found = self._stamps.get((key, at))
        if found is None:
            text = _cw_time(at) if key == "dateEntered" else at.isoformat(timespec="seconds")
            found = self._stamps[(key, at)] = {key: text}
        return found

    def ref(self, key: str, value: str) -> dict[str, str]:
        """A shared ``{key: value}`` reference dict."""
        found = self._refs.get((key, value))
        if found is None:
            found = self._refs[(key, value)] = {key: value}
        return found

    # -- ConnectWise ----------------------------------------------------------------------------------------
    def cw_companies(self) -> Iterator[Record]:
        """Companies, oldest first."""
        for c in sorted(self.ledger.companies, key=lambda c: c.at):
            yield {"identifier": c.identifier, "name": c.name, "accountNumber": c.account,
                   "_info": self.stamp("dateEntered", c.at)}  # fmt: skip

    def cw_invoices(self) -> Iterator[Record]:
        """Invoices and credit memos, in the order they were closed."""
        for d in self.ledger.docs:
            yield {
                "invoiceNumber": d.number,
                "type": d.type,
                "company": self.ref("identifier", d.company.identifier),
                "accountNumber": d.company.account,
                "date": self.day(d.day, cw=True),
                "dueDate": self.day(d.due, cw=True),
                "status": _CLOSED if d.closed else _OPEN,
                "subtotal": d.subtotal,
                "salesTax": d.tax,
                "total": d.total,
                "billingTerms": self.ref("name", d.company.terms),
                "applyToType": d.apply_to,
                "_info": self.stamp("dateEntered", d.at),
            }

    def cw_payments(self) -> Iterator[Record]:
        """Payment rows and credit applications, in the order they were entered in CW."""
        entered = sorted(
            ((p.cw_at, i) for i, p in enumerate(self.ledger.payments) if any(a.cw is not None for a in p.allocs)),
            key=lambda t: t[0],
        )
        for _, i in entered:
            p = self.ledger.payments[i]
            for a in p.allocs:
                if a.cw is None:
                    continue
                row: Record = {"invoice": self.ref("identifier", a.invoice.number), "type": "Payment", "amount": a.cw}
                if a.credit is not None:
                    row["type"] = "Credit"  # [U] the exact type string of a credit application is unknown
                    row["credit"] = self.ref("identifier", a.credit.number)
                row["paymentDate"] = self.day(p.day, cw=True)
                row["_info"] = self.stamp("dateEntered", p.cw_at)
                yield row

    # -- QuickBooks -----------------------------------------------------------------------------------------
    def qbo_customers(self) -> Iterator[Record]:
        """Customers, oldest first."""
        for c in sorted(self.ledger.companies, key=lambda c: c.at):
            yield {"DisplayName": c.display, "CompanyName": c.company_name, "MetaData": self.stamp("CreateTime", c.at)}

    def qbo_documents(self, credit_memos: bool) -> Iterator[Record]:
        """Invoices (or credit memos): mirrors and QBO-only documents, in creation order."""
        sources: list[tuple[datetime, Doc | QboDoc]] = [
            (d.mirror_at, d) for d in self.ledger.docs if d.mirror_at is not None and d.is_cm == credit_memos
        ]
        sources += [(x.at, x) for x in self.ledger.extras if x.is_cm == credit_memos]
        sources.sort(key=lambda t: t[0])
        for at, source in sources:
            if isinstance(source, Doc):
                tax = source.tax if source.qbo_tax is None else source.qbo_tax
                customer = source.qbo_customer or source.company
                items = _ITEMS[source.apply_to]
                number = source.qbo_number or source.number
                yield self._sales_form(number, customer, source, tax, source.qbo_total, at, items)
            else:
                yield self._sales_form(
                    source.number, source.customer, source, source.tax, source.total, at, (_SERVICES,)
                )

    def _sales_form(
        self, number: str, customer: Company, src: Doc | QboDoc, tax: Decimal, total: Decimal, at: datetime,
        items: tuple[dict[str, Any], ...],
    ) -> Record:  # fmt: skip
        record: Record = {"DocNumber": number, "CustomerRef": self.ref("name", customer.display)}
        record["TxnDate"] = self.day(src.day, cw=False)
        if not src.is_cm:
            record["DueDate"] = self.day(src.due, cw=False)
        record["Line"] = [
            {"DetailType": "SalesItemLineDetail", "Amount": amount, "SalesItemLineDetail": items[i % len(items)]}
            for i, amount in enumerate(src.lines)
        ]
        record["TxnTaxDetail"] = {"TotalTax": tax}
        record["TotalAmt"] = total
        record["MetaData"] = self.stamp("CreateTime", at)
        return record

    def qbo_payments(self) -> Iterator[Record]:
        """Receipts and zero-total credit applications, in creation order."""
        for p in sorted(self.ledger.payments, key=lambda p: p.at):
            record = self._payment(p)
            if record is not None:
                yield record

    def _payment(self, p: Payment) -> Record | None:
        applied = [a for a in p.allocs if a.qbo is not None]
        if not applied and p.unapplied == ZERO:
            return None
        record: Record = {"CustomerRef": self.ref("name", p.company.display), "TxnDate": self.day(p.day, cw=False)}
        lines = [_line(a.amount("qbo"), "Invoice", a.invoice.number) for a in applied]
        credits = [a.credit for a in applied if a.credit is not None]
        if credits:
            lines += [_line(c.total, "CreditMemo", c.number) for c in credits]
            record["TotalAmt"] = ZERO
            record["PrivateNote"] = f"Apply credit memo {credits[0].number}"
        else:
            single = len(applied) == 1 and p.unapplied == ZERO
            record["TotalAmt"] = (
                applied[0].amount("qbo") if single else sum((a.amount("qbo") for a in applied), p.unapplied)
            )
            record["PaymentMethodRef"] = _METHODS[p.method]
            record["PaymentRefNum"] = p.ref
        record["Line"] = lines
        record["MetaData"] = self.stamp("CreateTime", p.at)
        return record


def _line(amount: Decimal, kind: str, number: str) -> Record:
    return {"Amount": amount, "LinkedTxn": [{"TxnType": kind, "DocNumber": number}]}
