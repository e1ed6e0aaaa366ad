"""Books typed by hand into both sandboxes, for tests that need one exact situation (over real loopback HTTP)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from sandbox.cli import RunningSandbox
from tests.sandboxes import sandbox


class Hand:
    """Types documents, payments and credit applications straight into the sandboxes' stores."""

    def __init__(self, running: RunningSandbox) -> None:
        self.running = running
        self.cw: Any = running.cw.service.store  # type: ignore[attr-defined]
        self.qbo: Any = running.qbo.service.store.company(running.app.realm_id)  # type: ignore[attr-defined]
        self.customer = self.company("AcmeCo", "Acme Co", "ACME01")

    def company(self, identifier: str, name: str, account: str, display: str | None = None) -> str:
        """A CW company and its QBO customer (display name with the account appended, as the sync tool does)."""
        self.cw.create_company({"identifier": identifier, "name": name, "accountNumber": account})
        body = {"DisplayName": display or f"{name} ({account})", "CompanyName": name}
        return str(self.qbo.create("Customer", body)["Id"])

    def cw_doc(self, number: str, total: str, kind: str = "Standard", company: str = "AcmeCo") -> int:
        """A closed CW invoice (or credit memo with ``kind="CreditMemo"``)."""
        body: dict[str, object] = {"invoiceNumber": number, "type": kind, "company": {"identifier": company}}
        body |= {"status": {"name": "Sent"}, "date": "2026-11-02T00:00:00Z", "total": Decimal(total)}
        return int(self.cw.create_invoice(body)["id"])

    def cw_pay(self, invoice: int, amount: str, *, memo: int | None = None) -> None:
        """A CW payment row (or, with ``memo``, a credit application)."""
        body: dict[str, object] = {"amount": Decimal(amount)}
        if memo is not None:
            body["credit"] = {"id": memo}
        self.cw.create_payment(invoice, body)

    def qbo_doc(
        self, entity: str, number: str, total: str, *, customer: str | None = None, day: str = "2026-11-02"
    ) -> str:
        """A QBO invoice or credit memo of one line."""
        line = {"DetailType": "SalesItemLineDetail", "Amount": Decimal(total)}
        line["SalesItemLineDetail"] = {"ItemRef": {"value": "1"}}
        ref = {"value": customer or self.customer}
        body = {"DocNumber": number, "CustomerRef": ref, "TxnDate": day, "Line": [line]}
        return str(self.qbo.create(entity, body)["Id"])

    def qbo_pay(self, total: str, *links: tuple[str, str, str], on: str = "2026-11-20") -> str:
        """A QBO payment; each link is (TxnId, TxnType, amount) on a line of its own."""
        lines = [{"Amount": Decimal(amount), "LinkedTxn": [{"TxnId": i, "TxnType": t}]} for i, t, amount in links]
        body = {"CustomerRef": {"value": self.customer}, "TotalAmt": Decimal(total), "TxnDate": on, "Line": lines}
        return str(self.qbo.create("Payment", body)["Id"])

    def cw_invoice(self, invoice: int) -> dict[str, Any]:
        """A CW invoice as the sandbox derives it (payments, credits, balance)."""
        found: dict[str, Any] = self.cw.get_invoice(invoice)
        return found


@contextmanager
def handmade() -> Iterator[Hand]:
    """Empty sandboxes with one company (Acme Co, ACME01) and its QBO customer."""
    with sandbox("empty") as running:
        yield Hand(running)
