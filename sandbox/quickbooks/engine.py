"""The payment engine: how Payments move Invoice and CreditMemo balances.

A Payment's lines link Invoices and CreditMemos. Every amount a payment line links to a transaction is
*applied* to it:

- ``Invoice.Balance = TotalAmt − Deposit − Σ applied`` and the invoice gets ``LinkedTxn {TxnId, "Payment"}``;
- ``CreditMemo.RemainingCredit = Balance = TotalAmt − Σ applied`` (the back-link on the memo is [I]);
- ``Payment.UnappliedAmt = TotalAmt − (Σ Invoice-linked amounts − Σ CreditMemo-linked amounts)`` [V REF].

Both documented credit forms work: two lines (one per link, equal amounts) and one line carrying two
``LinkedTxn`` entries, whose ``Amount`` applies to both. Applying more than an invoice's open balance or a
memo's remaining credit, or leaving ``UnappliedAmt`` negative, is refused with 6000 (exact code unverified [I]).
A payment's applications are replaced wholesale on every save, void or delete, so everything is re-derived.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sandbox.quickbooks.faults import business, invalid_reference
from sandbox.quickbooks.values import ZERO, ref_value

APPLICABLE = ("Invoice", "CreditMemo")


@dataclass
class Plan:
    """A payment's validated applications: target id → amount, and target id → entity."""

    amounts: dict[str, Decimal] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    unapplied: Decimal = ZERO


class PaymentEngine:
    """Tracks which payment applies how much to which transaction, and derives balances from it."""

    def __init__(self, rows: dict[str, dict[str, dict[str, Any]]]) -> None:
        self._rows = rows
        self._by_target: dict[str, dict[str, Decimal]] = {}
        self._by_payment: dict[str, dict[str, Decimal]] = {}

    # -- queries ------------------------------------------------------------------------------------------
    def applied(self, target_id: str) -> Decimal:
        """Return the total applied to a transaction by all payments."""
        return sum(self._by_target.get(target_id, {}).values(), ZERO)

    def payments_linking(self, target_id: str) -> list[str]:
        """Return the ids of payments applied to a transaction, oldest link first."""
        return list(self._by_target.get(target_id, {}))

    def derive(self, entity: str, doc: dict[str, Any]) -> dict[str, Any]:
        """Set an Invoice's or CreditMemo's read-only balance fields from the current applications."""
        if entity not in APPLICABLE:
            return doc
        applied = self.applied(doc["Id"])
        total: Decimal = doc["TotalAmt"]
        deposit: Decimal = doc.get("Deposit", ZERO) if entity == "Invoice" else ZERO
        remaining = total - deposit - applied
        if remaining < 0:
            raise business(f"The payments applied to this transaction ({applied}) exceed its new total.")
        doc["Balance"] = remaining
        if entity == "CreditMemo":
            doc["RemainingCredit"] = remaining
        doc["LinkedTxn"] = [{"TxnId": pid, "TxnType": "Payment"} for pid in self.payments_linking(doc["Id"])]
        return doc

    # -- planning -----------------------------------------------------------------------------------------
    def plan(self, payment_id: str | None, payment: dict[str, Any]) -> Plan:
        """Validate a payment's lines against current balances; nothing changes until ``commit``."""
        plan = Plan()
        linked = {"Invoice": ZERO, "CreditMemo": ZERO}
        customer = ref_value(payment["CustomerRef"])
        for line in payment["Line"]:
            amount: Decimal = line["Amount"]
            for link in line["LinkedTxn"]:
                kind, target_id = link["TxnType"], link["TxnId"]
                self._check_target(kind, target_id, customer)
                plan.amounts[target_id] = plan.amounts.get(target_id, ZERO) + amount
                plan.kinds[target_id] = kind
                linked[kind] += amount
        previous = self._by_payment.get(payment_id or "", {})
        for target_id, amount in plan.amounts.items():
            self._check_room(plan.kinds[target_id], target_id, amount, previous.get(target_id, ZERO))
        plan.unapplied = payment["TotalAmt"] - (linked["Invoice"] - linked["CreditMemo"])
        if plan.unapplied < 0:
            raise business(
                f"The amount applied to invoices ({linked['Invoice']}) is more than the payment amount "
                f"({payment['TotalAmt']}) plus the credits applied ({linked['CreditMemo']})."
            )
        return plan

    def _check_target(self, kind: str, target_id: str, customer: str | None) -> None:
        if kind not in APPLICABLE:
            raise business(f"Payments can be linked to invoices and credit memos only, not {kind}.")  # [I]
        target = self._rows[kind].get(target_id)
        if target is None:
            raise invalid_reference(kind, target_id)
        if ref_value(target["CustomerRef"]) != customer:
            raise business(f"{kind} {target_id} belongs to a different customer than this payment.")  # [I]

    def _check_room(self, kind: str, target_id: str, amount: Decimal, already: Decimal) -> None:
        target = self._rows[kind][target_id]
        room: Decimal = target["Balance"] + already
        if amount > room:
            what = "open balance" if kind == "Invoice" else "remaining credit"
            number = target.get("DocNumber", target_id)
            raise business(f"The amount applied to {kind} {number} ({amount}) is more than its {what} ({room}).")

    # -- committing ---------------------------------------------------------------------------------------
    def commit(self, payment_id: str, plan: Plan, write: Callable[[str, dict[str, Any]], None]) -> None:
        """Replace the payment's applications with ``plan`` and rewrite every transaction it touches."""
        previous = self._by_payment.pop(payment_id, {})
        for target_id in previous:
            links = self._by_target.get(target_id, {})
            links.pop(payment_id, None)
            if not links:
                self._by_target.pop(target_id, None)
        if plan.amounts:
            self._by_payment[payment_id] = dict(plan.amounts)
        for target_id, amount in plan.amounts.items():
            self._by_target.setdefault(target_id, {})[payment_id] = amount
        for target_id in dict.fromkeys([*previous, *plan.amounts]):
            if previous.get(target_id) == plan.amounts.get(target_id):
                continue
            kind = plan.kinds.get(target_id) or self._kind_of(target_id)
            current = self._rows[kind].get(target_id)
            if current is not None:
                write(kind, self.derive(kind, dict(current)))

    def release(self, payment_id: str, write: Callable[[str, dict[str, Any]], None]) -> None:
        """Remove every application of a payment (void or delete)."""
        self.commit(payment_id, Plan(), write)

    def _kind_of(self, target_id: str) -> str:
        return "Invoice" if target_id in self._rows["Invoice"] else "CreditMemo"


def without_target(payment: dict[str, Any], target_id: str) -> list[dict[str, Any]]:
    """Return a payment's lines with every link to ``target_id`` removed (lines left empty are dropped)."""
    lines: list[dict[str, Any]] = []
    for line in payment.get("Line", []):
        links = [link for link in line["LinkedTxn"] if link["TxnId"] != target_id]
        if links:
            lines.append({**line, "LinkedTxn": links})
    return lines
