"""Payment rows and the invoice amounts derived from them.

An invoice's ``payments``, ``credits`` and ``balance`` are never stored from a body: they are always
recomputed from its payment rows — ``payments`` = rows without ``credit``, ``credits`` = rows with one,
``balance`` = total − both. A row whose ``credit`` names a CreditMemo invoice applies that memo; the memo's
own ``credits`` are the amounts applied from it, so its ``balance`` is its usable balance and the same
identity holds for every invoice.

Sign convention: credit memos carry positive totals here [U: the research could not tell positive from
negative]. Payment rows on a credit memo itself are refused [I], which keeps "usable balance" a single,
simple number."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sandbox.connectwise.errors import invalid, not_found, required
from sandbox.connectwise.records import Record, copy_value, invoice_ref
from sandbox.connectwise.schema import INVOICE, PAYMENT
from sandbox.connectwise.values import ZERO, dollars, money_field, time_field

_EXTRAS = (
    "source",
    "paymentSyncStatus",
    "glBatchID",
    "paymentSyncDate",
    "paymentAccount",
    "aRPaymentAccount",
)


class Ledger:
    """Payment rows indexed by invoice and by applied credit memo (the store's lock guards it)."""

    def __init__(self) -> None:
        self.rows: dict[int, Record] = {}
        self.by_invoice: dict[int, dict[int, None]] = {}  # insertion-ordered sets of row ids
        self.by_credit: dict[int, dict[int, None]] = {}
        self._next_id = 1

    def derive(self, invoice: Record) -> Record:
        """Return ``invoice`` with payments, credits and balance recomputed from the rows."""
        payments = credits = ZERO
        for row_id in self.by_invoice.get(invoice["id"], ()):
            row = self.rows[row_id]
            if row["creditId"] is None:
                payments += row["amount"]
            else:
                credits += row["amount"]
        if invoice["type"] == "CreditMemo":
            credits += self.applied_from(invoice["id"])
        balance = invoice["total"] - payments - credits
        return {**invoice, "payments": payments, "credits": credits, "balance": balance}

    def applied_from(self, credit_id: int) -> Decimal:
        """Return the total applied from a credit memo to other invoices."""
        return sum((self.rows[row_id]["amount"] for row_id in self.by_credit.get(credit_id, ())), ZERO)

    def paid_on(self, invoice_id: int) -> Decimal:
        """Return the total of an invoice's own rows (payments and credits)."""
        return sum((self.rows[row_id]["amount"] for row_id in self.by_invoice.get(invoice_id, ())), ZERO)

    def new_row(self, invoice: Record, credit: Record | None, body: Record, now_text: str, info: Record) -> Record:
        """Validate a payment body against the invoice (and memo) balances; return the row, not yet added."""
        amount = money_field(body.get("amount"), PAYMENT.name, "amount")
        if amount is None:
            raise required(PAYMENT.name, "amount")
        if amount <= ZERO:
            raise invalid(PAYMENT.name, "InvalidField", "The amount must be greater than zero.", "amount")
        number = invoice.get("invoiceNumber")
        if invoice["type"] == "CreditMemo":
            message = f"Payments cannot be applied to credit memo {number}."
            raise invalid(PAYMENT.name, "InvalidField", message, "invoice")
        if credit is not None and amount > credit["balance"]:
            raise invalid(PAYMENT.name, "InvalidField", _over_credit(amount, credit, number), "amount")
        if amount > invoice["balance"]:
            balance = dollars(invoice["balance"])
            message = f"The amount of {dollars(amount)} exceeds the balance of {balance} on invoice {number}."
            raise invalid(PAYMENT.name, "InvalidField", message, "amount")
        kind = body.get("type") or ("Credit" if credit is not None else "Payment")
        row: Record = {
            "id": 0,
            "invoiceId": invoice["id"],
            "creditId": None if credit is None else credit["id"],
            "type": str(kind),
            "amount": amount,
            "paymentDate": time_field(body.get("paymentDate"), PAYMENT.name, "paymentDate") or now_text,
            "appliedBy": str(body.get("appliedBy") or info["updatedBy"]),
            "_info": info,
        }
        row.update({key: copy_value(body[key]) for key in _EXTRAS if body.get(key) is not None})
        return row

    def add(self, row: Record) -> Record:
        """Store a validated row under a fresh id and return it."""
        row["id"] = self._next_id
        self._next_id += 1
        self.rows[row["id"]] = row
        self.by_invoice.setdefault(row["invoiceId"], {})[row["id"]] = None
        if row["creditId"] is not None:
            self.by_credit.setdefault(row["creditId"], {})[row["id"]] = None
        return row

    def row_of(self, invoice_id: int, payment_id: int) -> Record:
        """Return the row ``payment_id`` of ``invoice_id`` or raise 404."""
        if payment_id not in self.by_invoice.get(invoice_id, {}):
            raise not_found("Payment", payment_id)
        return self.rows[payment_id]

    def remove(self, row: Record) -> None:
        """Forget a row."""
        del self.rows[row["id"]]
        self.by_invoice[row["invoiceId"]].pop(row["id"], None)
        if row["creditId"] is not None:
            self.by_credit[row["creditId"]].pop(row["id"], None)

    def check_update(self, old: Record, new: Record) -> None:
        """Refuse an invoice change that would break the ledger (type flip, total below the applied) [I]."""
        applied, own = self.applied_from(old["id"]), self.paid_on(old["id"])
        if old["type"] == "CreditMemo" and applied and new["type"] != "CreditMemo":
            message = "A credit memo that has been applied cannot change its type."
            raise invalid(INVOICE.name, "InvalidField", message, "type")
        if new["type"] == "CreditMemo" and own:
            message = "An invoice with payments cannot become a credit memo."
            raise invalid(INVOICE.name, "InvalidField", message, "type")
        used = applied if new["type"] == "CreditMemo" else own
        if new["total"] < used:
            message = f"The total cannot be less than the {dollars(used)} already applied."
            raise invalid(INVOICE.name, "InvalidField", message, "total")

    def in_use(self, invoice_id: int) -> bool:
        """Tell whether an invoice has rows of its own or has been applied as a credit memo."""
        return bool(self.by_invoice.get(invoice_id) or self.by_credit.get(invoice_id))

    def view(self, row: Record, invoices: dict[int, Record]) -> Record:
        """Render a row as the API's InvoicePayment."""
        invoice = invoices[row["invoiceId"]]
        out: Record = {
            "id": row["id"],
            "type": row["type"],
            "source": "Default",
            "invoice": invoice_ref(invoice),
        }
        if row["creditId"] is not None:
            out["credit"] = invoice_ref(invoices[row["creditId"]])
        out["amount"] = row["amount"]
        out["invoiceBalance"] = invoice["balance"]
        out["invoiceTotal"] = invoice["total"]
        out["paymentDate"] = row["paymentDate"]
        out["appliedBy"] = row["appliedBy"]
        out.update({key: copy_value(row[key]) for key in _EXTRAS if key in row})
        out["_info"] = dict(row["_info"])
        return out


def _over_credit(amount: Decimal, credit: Record, number: Any) -> str:
    # Text as Gozynta surfaces it from ConnectWise [V S11]; status and error shape around it are [I].
    memo, usable = credit.get("invoiceNumber"), dollars(credit["balance"])
    return (
        f"The amount of {dollars(amount)} was attempted to be applied from Credit Memo {memo} "
        f"toward invoice {number}; however, this Credit Memo only has a usable balance of {usable}"
    )
