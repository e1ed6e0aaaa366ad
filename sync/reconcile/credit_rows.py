"""Which ConnectWise credit rows a check needs, so a sync does not read every invoice's rows.

ConnectWise gives an invoice's credit total (``credits``) in the invoice list, but which memo was applied, and by how
much, only in the invoice's own rows (``/finance/invoices/{id}/payments``): one call per invoice. The rows matter
only where the two systems disagree on that invoice's credit. So the sync reads an invoice's rows when:

- ConnectWise shows credit on it and its cached rows do not add up to that credit (new, changed, never read), and
- its credit total differs from the credit QuickBooks applied to its copy, or a memo QuickBooks applied to that copy
  differs in total between the systems, or it has no QuickBooks copy to compare with.

An invoice whose totals agree is reconciled "by total": the credit figures match, so no credit finding is raised
on it. What this cannot see: two memos swapped between two invoices with equal amounts on both sides (every total
agrees). The nightly sweep reads every row (``all_rows``) and catches that within a day.
``engine.credit_rows_wanted`` applies these rules to a snapshot.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from sync.reconcile.model import ZERO, CwCredit, CwDoc, QboDoc

if TYPE_CHECKING:
    from sync.reconcile.money import Applied


def unread_credit_rows(docs: tuple[CwDoc, ...], cw_credits: tuple[CwCredit, ...]) -> frozenset[int]:
    """Invoices (not memos) whose cached credit rows do not add up to the credit ConnectWise shows on them."""
    summed: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for credit in cw_credits:
        summed[credit.invoice_id] += credit.amount
    return frozenset(doc.id for doc in docs if not doc.is_cm and doc.credits != 0 and summed[doc.id] != doc.credits)


@dataclass(frozen=True)
class CreditTotals:
    """Credit QuickBooks applied, in total: per invoice, per memo, and the memos applied to each invoice."""

    on_invoice: dict[str, Decimal]
    from_memo: dict[str, Decimal]
    memos_of: dict[str, set[str]]

    @classmethod
    def of(cls, applied: Applied) -> CreditTotals:
        """Add up ``applied``'s credit per invoice and per memo."""
        on_invoice: dict[str, Decimal] = defaultdict(lambda: ZERO)
        from_memo: dict[str, Decimal] = defaultdict(lambda: ZERO)
        memos_of: dict[str, set[str]] = defaultdict(set)
        for (memo, invoice), amount in applied.credit.items():
            on_invoice[invoice] += amount
            from_memo[memo] += amount
            memos_of[invoice].add(memo)
        return cls(on_invoice, from_memo, memos_of)

    def agree(self, doc: CwDoc, mirror: QboDoc | None, cw_of: dict[str, CwDoc], tolerance: Decimal = ZERO) -> bool:
        """Whether ``doc``'s credit, and that of every memo QuickBooks applied to its copy, match in both systems."""
        if mirror is None:
            return False
        if abs(self.on_invoice.get(mirror.id, ZERO) - doc.credits) > tolerance:
            return False
        for memo_id in self.memos_of.get(mirror.id, set()):
            memo = cw_of.get(memo_id)
            if memo is None or abs(self.from_memo[memo_id] - memo.credits) > tolerance:
                return False
        return True
