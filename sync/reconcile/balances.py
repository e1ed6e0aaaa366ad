"""Customer-level agreement: what is left of the AR difference once every document finding is counted.

A customer's open AR is, in ConnectWise, its invoices' balances less its credit memos' usable balances; in
QuickBooks, its invoices' balances less its memos' remaining credit less its payments' unapplied amounts.
Documents that some finding already accounts for are left out; a matched pair whose balances differ by less than
the tolerance counts as rounding, never accumulated. What remains beyond the tolerance is a ``balance_mismatch``.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from sync.reconcile.documents import Books
from sync.reconcile.model import ZERO, CwDoc, Finding, QboDoc, QboPayment, finding_key
from sync.reconcile.text import money


def cw_open_amount(doc: CwDoc) -> Decimal:
    """What a CW document adds to AR: an invoice's balance, minus a memo's usable balance."""
    return -doc.balance if doc.is_cm else doc.balance


def balance_findings(
    books: Books,
    pairs: list[tuple[CwDoc, QboDoc]],
    payments: tuple[QboPayment, ...],
    explained_cw: set[int],
    explained_qbo: set[str],
) -> list[Finding]:
    """Report customers whose AR differs for reasons no document finding gives."""
    tol = books.policy.tolerance
    residual: dict[int, Decimal] = defaultdict(lambda: ZERO)
    unapplied: dict[int, Decimal] = defaultdict(lambda: ZERO)
    company_of = books.cmap.company_of()
    for doc, mirror in pairs:
        if doc.company_id is None or doc.id in explained_cw or mirror.id in explained_qbo:
            continue
        diff = cw_open_amount(doc) - mirror.open_amount
        if abs(diff) > tol:
            residual[doc.company_id] += diff
    for payment in payments:
        company_id = company_of.get(payment.customer_id or "")
        if company_id is not None and payment.unapplied:
            residual[company_id] += payment.unapplied
            unapplied[company_id] += payment.unapplied
    findings = []
    for company_id, diff in sorted(residual.items()):
        if abs(diff) <= tol:
            continue
        company = books.companies.get(company_id)
        if company is None:
            continue
        label = company.account_number or company.identifier
        why = (
            f" QuickBooks holds {money(unapplied[company_id])} of payments not applied to any invoice."
            if unapplied[company_id]
            else ""
        )
        findings.append(
            Finding(
                kind="balance_mismatch",
                key=finding_key("balance_mismatch", label),
                documents=(label,),
                customer=company.name,
                amount=abs(diff),
                explanation=(
                    f"{company.name}'s open balance differs by {money(abs(diff))} between the systems after every "
                    f"invoice-level difference is accounted for.{why}"
                ),
                cw={"account": label},
                qbo={"unapplied": str(unapplied[company_id])},
            )
        )
    return findings
