"""Money on matched documents: cash payments and credit-memo applications, compared system to system.

QuickBooks records both as Payments. A line linking an invoice applies money to it; a line linking a credit
memo takes credit from it; a zero-total payment with one of each applies the memo to the invoice (the two-line
form Intuit documents). A single line carrying both links (the form some scripts use) applies its amount from
the memo to the invoice. A payment mixing cash and credit does not say which invoice the credit went to (the
Receive Payment screen pools them): credit is allotted first to the invoices ConnectWise applied that memo to,
then to the other invoice lines in order, and the rest of each invoice line is cash.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sync.reconcile.credit_rows import CreditTotals
from sync.reconcile.documents import Books
from sync.reconcile.model import (
    ZERO,
    CwCredit,
    CwDoc,
    Finding,
    FixSpec,
    QboDoc,
    QboLink,
    QboPayment,
    finding_key,
)
from sync.reconcile.text import money, values_cw, values_qbo


@dataclass
class Applied:
    """What QuickBooks payments applied: cash per invoice, credit per (memo, invoice)."""

    cash: dict[str, Decimal] = field(default_factory=lambda: defaultdict(lambda: ZERO))
    credit: dict[tuple[str, str], Decimal] = field(default_factory=lambda: defaultdict(lambda: ZERO))
    last_paid: dict[str, date] = field(default_factory=dict)
    payers: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))  # invoice -> QBO payment ids


def intended_credits(pairs: list[tuple[CwDoc, QboDoc]], cw_credits: tuple[CwCredit, ...]) -> dict[str, set[str]]:
    """Map each QBO memo to the QBO invoices ConnectWise applied its CW source to (the credit's likely target)."""
    qbo_of = {doc.id: mirror for doc, mirror in pairs}
    intended: dict[str, set[str]] = defaultdict(set)
    for credit in cw_credits:
        memo, invoice = qbo_of.get(credit.credit_memo_id), qbo_of.get(credit.invoice_id)
        if memo is not None and invoice is not None:
            intended[memo.id].add(invoice.id)
    return intended


def qbo_applications(payments: tuple[QboPayment, ...], intended: dict[str, set[str]] | None = None) -> Applied:
    """Split every QuickBooks payment into cash applied to invoices and credit applied from memos."""
    applied = Applied()
    intended = intended or {}
    for payment in payments:
        lines: dict[int, list[QboLink]] = defaultdict(list)
        for link in payment.links:
            lines[link.line_no].append(link)
        invoices: list[_Part] = []
        memos: list[_Part] = []
        for links in lines.values():
            inv = next((link for link in links if link.txn_type == "Invoice"), None)
            memo = next((link for link in links if link.txn_type == "CreditMemo"), None)
            if inv and memo:
                applied.credit[(memo.txn_id, inv.txn_id)] += inv.amount
            elif inv:
                invoices.append(_Part(inv.txn_id, inv.amount))
            elif memo:
                memos.append(_Part(memo.txn_id, memo.amount))
        _allot_credit(applied, invoices, memos, intended)
        for part in invoices:
            applied.cash[part.id] += part.amount
            if part.amount > 0 and payment.id not in applied.payers[part.id]:
                applied.payers[part.id].append(payment.id)
            if payment.date is not None and part.amount:
                previous = applied.last_paid.get(part.id)
                applied.last_paid[part.id] = max(previous, payment.date) if previous else payment.date
    return applied


@dataclass
class _Part:
    id: str
    amount: Decimal


def _allot_credit(applied: Applied, invoices: list[_Part], memos: list[_Part], intended: dict[str, set[str]]) -> None:
    for memo in memos:
        targets = intended.get(memo.id, set())
        for invoice in sorted(invoices, key=lambda part: part.id not in targets):  # stable: then in line order
            take = min(memo.amount, invoice.amount)
            if take > 0:
                applied.credit[(memo.id, invoice.id)] += take
                memo.amount -= take
                invoice.amount -= take


@dataclass
class MoneyFindings:
    """Payment and credit findings, and the documents they account for."""

    findings: list[Finding] = field(default_factory=list)
    explained_cw: set[int] = field(default_factory=set)
    explained_qbo: set[str] = field(default_factory=set)


def payment_findings(books: Books, pairs: list[tuple[CwDoc, QboDoc]], applied: Applied, out: MoneyFindings) -> None:
    """Compare cash applied per invoice: QBO ahead of CW needs a backflow; CW ahead is only reported."""
    tol = books.policy.tolerance
    for doc, mirror in pairs:
        if doc.is_cm:
            continue
        qbo_cash = applied.cash.get(mirror.id, ZERO)
        diff = qbo_cash - doc.payments
        if abs(diff) <= tol:
            continue
        out.explained_cw.add(doc.id)
        out.explained_qbo.add(mirror.id)
        if diff > 0:
            kind = "payment_not_synced"
            paid_on = applied.last_paid.get(mirror.id)
            params = {"cw_invoice_id": str(doc.id), "number": doc.number, "amount": str(diff)}
            if paid_on is not None:
                params["date"] = paid_on.isoformat()
            if applied.payers.get(mirror.id):  # traceability: the QuickBooks payments behind the backflow
                params["qbo_payment_ids"] = ",".join(sorted(applied.payers[mirror.id]))
            sentence = (
                f"QuickBooks shows {money(qbo_cash)} paid on invoice {doc.number} but ConnectWise records "
                f"{money(doc.payments)}: {money(diff)} was never carried back to ConnectWise."
            )
            fix: FixSpec | None = FixSpec("backflow_payment", params)
        else:
            kind, fix = "payment_only_in_cw", None
            sentence = (
                f"ConnectWise records {money(doc.payments)} paid on invoice {doc.number} but QuickBooks shows only "
                f"{money(qbo_cash)}: {money(-diff)} was entered in ConnectWise without a payment in QuickBooks."
            )
        finding = books.finding(kind, doc, amount=abs(diff), explanation=sentence, qbo=mirror, fix=fix)
        finding.qbo["paid"] = str(qbo_cash)
        out.findings.append(finding)


def credit_findings(
    books: Books,
    pairs: list[tuple[CwDoc, QboDoc]],
    cw_credits: tuple[CwCredit, ...],
    applied: Applied,
    out: MoneyFindings,
    unread: frozenset[int] = frozenset(),
) -> None:
    """Compare each credit memo's application to each invoice in both systems.

    ``unread`` are invoices whose ConnectWise credit rows the sync did not read because their credit totals agreed
    with QuickBooks (``credit_rows.py``): they are compared by total. Should their totals disagree (QuickBooks
    changed since), the finding is raised without a fix until the next sync reads the rows: Tally does not write
    a credit it has not seen row by row.
    """
    tol = books.policy.tolerance
    qbo_of = {doc.id: mirror for doc, mirror in pairs}
    cw_of = {mirror.id: doc for doc, mirror in pairs}
    totals = CreditTotals.of(applied)
    cw_amounts: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
    for credit in cw_credits:
        memo, invoice = qbo_of.get(credit.credit_memo_id), qbo_of.get(credit.invoice_id)
        if memo is not None and invoice is not None:
            cw_amounts[(memo.id, invoice.id)] += credit.amount
    for pair in sorted(set(cw_amounts) | set(applied.credit)):
        memo_doc, invoice_doc = cw_of.get(pair[0]), cw_of.get(pair[1])
        if memo_doc is None or invoice_doc is None:
            continue  # a memo or invoice QuickBooks alone knows: reported as orphan/duplicate instead
        by_total = invoice_doc.id in unread
        if by_total and totals.agree(invoice_doc, qbo_of.get(invoice_doc.id), cw_of, tol):
            continue
        diff = cw_amounts.get(pair, ZERO) - applied.credit.get(pair, ZERO)
        if abs(diff) > tol:
            _credit_finding(books, memo_doc, invoice_doc, qbo_of, diff, cw_amounts.get(pair, ZERO), out, by_total)


def _credit_finding(
    books: Books,
    memo: CwDoc,
    invoice: CwDoc,
    qbo_of: dict[int, QboDoc],
    diff: Decimal,
    cw_amount: Decimal,
    out: MoneyFindings,
    by_total: bool = False,
) -> None:
    q_memo, q_invoice = qbo_of[memo.id], qbo_of[invoice.id]
    out.explained_cw.update({memo.id, invoice.id})
    out.explained_qbo.update({q_memo.id, q_invoice.id})
    if diff > 0:
        kind = "credit_not_applied_in_qbo"
        fix: FixSpec | None = FixSpec(
            "apply_credit_memo",
            {
                "qbo_credit_memo_id": q_memo.id,
                "qbo_invoice_id": q_invoice.id,
                "amount": str(diff),
                "credit_memo": memo.number,
                "invoice": invoice.number,
            },
        )
        sentence = (
            f"Credit memo {memo.number} is applied to invoice {invoice.number} for {money(cw_amount)} in ConnectWise, "
            f"but {money(diff)} of it is not applied in QuickBooks, where both still look open."
        )
    else:
        kind = "credit_not_applied_in_cw"
        fix = FixSpec(
            "apply_credit_in_cw",
            {
                "cw_invoice_id": str(invoice.id),
                "cw_credit_memo_id": str(memo.id),
                "amount": str(-diff),
                "credit_memo": memo.number,
                "invoice": invoice.number,
            },
        )
        sentence = (
            f"Credit memo {memo.number} was applied to invoice {invoice.number} in QuickBooks, but {money(-diff)} of "
            f"that application is missing in ConnectWise."
        )
    if by_total:
        fix = None
        sentence += " Tally has not read ConnectWise's credit rows for this invoice yet; the next sync reads them."
    out.findings.append(
        Finding(
            kind=kind,
            key=finding_key(kind, memo.number, invoice.number),
            documents=(memo.number, invoice.number),
            customer=books.customer_label(invoice),
            amount=abs(diff),
            explanation=sentence,
            cw=values_cw(invoice),
            qbo=values_qbo(q_invoice),
            fix=fix,
        )
    )
