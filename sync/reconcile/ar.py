"""Accounts receivable per customer, system against system, and which findings explain the difference.

ConnectWise AR is a company's posted (closed) invoices' balances less its credit memos' usable balances; QuickBooks AR
is its customer's invoice balances less memo remaining credit less unapplied payments. The difference (CW − QBO) is
split document by document — a mirrored pair into its total, cash and credit parts, a document on one side only as a
whole — and each part is credited to the finding that names it. A part no finding names is rounding when within the
tolerance, a CW document still inside the sync grace period is pending, and the rest (if any) is left unexplained,
or credited to the customer's ``balance_mismatch`` when there is one (that finding is, by definition, the remainder).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from sync.reconcile.balances import cw_open_amount
from sync.reconcile.credit_rows import CreditTotals, unread_credit_rows
from sync.reconcile.customers import map_customers
from sync.reconcile.documents import Books, match_documents
from sync.reconcile.model import (
    ZERO,
    CwCompany,
    CwDoc,
    Finding,
    Policy,
    QboCustomer,
    QboDoc,
    Snapshot,
    finding_key,
    number_key,
)
from sync.reconcile.money import Applied, intended_credits, qbo_applications


@dataclass(frozen=True)
class Explained:
    """The part of one customer's AR difference (CW − QBO) that one finding accounts for."""

    key: str
    kind: str
    amount: Decimal


@dataclass(frozen=True)
class CustomerAR:
    """One customer's open AR in both systems and why they differ.

    ``explained`` lists every finding touching the customer, even one whose parts cancel out within it (a credit
    memo applied on one side only moves the invoice and the memo by the same amount: the customer's AR agrees).
    """

    company_id: int | None  # None: a QuickBooks customer no ConnectWise company maps to
    account: str | None
    name: str
    qbo_customer_id: str | None
    qbo_name: str | None
    cw_open: Decimal
    qbo_open: Decimal
    explained: tuple[Explained, ...]
    pending: Decimal  # CW documents still inside the sync grace period
    rounding: Decimal  # parts no finding names, each within the tolerance

    @property
    def difference(self) -> Decimal:
        """ConnectWise AR minus QuickBooks AR."""
        return self.cw_open - self.qbo_open

    @property
    def unexplained(self) -> Decimal:
        """What no finding, pending document or rounding accounts for."""
        return self.difference - sum((e.amount for e in self.explained), ZERO) - self.pending - self.rounding


@dataclass
class _Row:
    company: CwCompany | None
    customer: QboCustomer | None
    cw_open: Decimal = ZERO
    qbo_open: Decimal = ZERO
    parts: dict[str, Decimal] = field(default_factory=lambda: defaultdict(lambda: ZERO))
    pending: Decimal = ZERO
    rounding: Decimal = ZERO

    @property
    def label(self) -> str:
        if self.company is not None:
            return self.company.account_number or self.company.identifier
        return self.customer.display_name if self.customer else ""

    def freeze(self, findings: dict[str, Finding]) -> CustomerAR:
        explained = sorted(
            (Explained(key, findings[key].kind, amount) for key, amount in self.parts.items()),
            key=lambda e: (-abs(e.amount), e.key),
        )
        return CustomerAR(
            company_id=self.company.id if self.company else None,
            account=self.label if self.company else None,
            name=self.company.name if self.company else self.label,
            qbo_customer_id=self.customer.id if self.customer else None,
            qbo_name=self.customer.display_name if self.customer else None,
            cw_open=self.cw_open,
            qbo_open=self.qbo_open,
            explained=tuple(explained),
            pending=self.pending,
            rounding=self.rounding,
        )


@dataclass
class _Ledger:
    """Shared state of one AR computation: the books, the findings and the rows."""

    books: Books
    findings: dict[str, Finding]
    copies: dict[str, str]  # number of a hand-typed QBO copy -> its duplicate_in_qbo key
    held: dict[str, str] = field(default_factory=dict)  # QBO id of a look-alike held back -> the finding naming it
    rows: dict[int, _Row] = field(default_factory=dict)  # by CW company id
    customer_rows: dict[str, _Row] = field(default_factory=dict)  # by QBO customer id

    def credit(self, row: _Row, amount: Decimal, *keys: str) -> None:
        """Credit ``amount`` of ``row``'s difference to the first finding of ``keys`` that exists."""
        for key in keys:
            if key in self.findings:
                row.parts[key] += amount
                return
        if not amount:
            return
        if abs(amount) <= self.books.policy.tolerance:
            row.rounding += amount
            return
        remainder = finding_key("balance_mismatch", row.label)
        if row.company is not None and remainder in self.findings:
            row.parts[remainder] += amount

    def row_of_customer(self, customer_id: str | None) -> _Row:
        """The row a QuickBooks customer's documents and payments belong to."""
        key = customer_id or ""
        if key not in self.customer_rows:
            self.customer_rows[key] = _Row(company=None, customer=self.books.customers.get(key))
        return self.customer_rows[key]


def ar_by_customer(snapshot: Snapshot, findings: list[Finding], policy: Policy) -> list[CustomerAR]:
    """Return open AR per customer in both systems, its difference and the findings explaining it, largest first."""
    cmap = map_customers(snapshot.cw_companies, snapshot.qbo_customers, snapshot.customer_map)
    books = Books(
        companies={company.id: company for company in snapshot.cw_companies},
        customers={customer.id: customer for customer in snapshot.qbo_customers},
        cmap=cmap,
        policy=policy,
    )
    ledger = _ledger(books, findings)
    pairs = match_documents(books, snapshot.cw_docs, snapshot.qbo_docs).pairs
    applied = qbo_applications(snapshot.qbo_payments, intended_credits(pairs, snapshot.cw_credits))
    claimed = _cw_side(ledger, snapshot, pairs, applied)
    _qbo_side(ledger, snapshot, pairs, claimed)
    unmapped = [row for row in ledger.customer_rows.values() if row.company is None]
    out = [row.freeze(ledger.findings) for row in [*ledger.rows.values(), *unmapped] if _shown(row)]
    return sorted(out, key=lambda r: (-abs(r.difference), r.name, r.company_id or 0, r.qbo_customer_id or ""))


def _ledger(books: Books, findings: list[Finding]) -> _Ledger:
    copies = {
        number_key(finding.documents[1]): finding.key
        for finding in findings
        if finding.kind == "duplicate_in_qbo" and len(finding.documents) == 2
    }
    held = {str(f.qbo["id"]): f.key for f in findings if f.qbo.get("possible_match") == "yes" and f.qbo.get("id")}
    ledger = _Ledger(books=books, findings={f.key: f for f in findings}, copies=copies, held=held)
    for company in books.companies.values():
        customer_id = books.cmap.qbo_of.get(company.id)
        row = _Row(company=company, customer=books.customers.get(customer_id or ""))
        ledger.rows[company.id] = row
        if customer_id is not None:
            ledger.customer_rows.setdefault(customer_id, row)  # two companies on one customer: the first one
    return ledger


def _shown(row: _Row) -> bool:
    return bool(row.cw_open or row.qbo_open or row.parts or row.pending or row.rounding)


def _cw_side(ledger: _Ledger, snapshot: Snapshot, pairs: list[tuple[CwDoc, QboDoc]], applied: Applied) -> set[str]:
    """Count every posted CW document into its company's row; return the QBO mirrors counted with them."""
    mirror_of = {doc.id: mirror for doc, mirror in pairs}
    credits = _Credits.of(snapshot, pairs, applied)
    claimed: set[str] = set()
    for doc in snapshot.cw_docs:
        row = ledger.rows.get(doc.company_id) if doc.company_id is not None else None
        if not doc.is_closed or row is None:
            continue
        row.cw_open += cw_open_amount(doc)
        mirror = mirror_of.get(doc.id)
        if mirror is not None and row.customer is not None and mirror.customer_id == row.customer.id:
            claimed.add(_qbo_ref(mirror))
            _pair(ledger, row, doc, mirror, applied, credits)
        elif mirror is not None:
            keys = (finding_key("customer_mismatch", doc.number), finding_key("customer_mismatch", row.label))
            ledger.credit(row, cw_open_amount(doc), *keys)
        else:
            _unmirrored(ledger, row, doc)
    return claimed


def _unmirrored(ledger: _Ledger, row: _Row, doc: CwDoc) -> None:
    policy = ledger.books.policy
    if doc.last_updated is not None and policy.now - doc.last_updated < policy.grace:
        row.pending += cw_open_amount(doc)
        return
    kind = "credit_memo_missing_in_qbo" if doc.is_cm else "invoice_missing_in_qbo"
    ledger.credit(row, cw_open_amount(doc), finding_key(kind, doc.number), finding_key("customer_mismatch", row.label))


@dataclass
class _Credits:
    """Credit-memo applications per document, in both systems, keyed the CW way (memo number, invoice number)."""

    cw: dict[int, dict[tuple[str, str], Decimal]]  # CW doc id -> (memo, invoice) -> amount
    qbo: dict[tuple[bool, str], dict[tuple[str, str], Decimal]]  # (is memo, QBO id) -> (memo, invoice) -> amount

    @classmethod
    def of(cls, snapshot: Snapshot, pairs: list[tuple[CwDoc, QboDoc]], applied: Applied) -> _Credits:
        number = {doc.id: doc.number for doc in snapshot.cw_docs}
        cw: dict[int, dict[tuple[str, str], Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
        for row in snapshot.cw_credits:
            pair = (number.get(row.credit_memo_id, "?"), number.get(row.invoice_id, "?"))
            cw[row.invoice_id][pair] += row.amount
            cw[row.credit_memo_id][pair] += row.amount
        cw_number = {(mirror.is_cm, mirror.id): doc.number for doc, mirror in pairs}
        qbo: dict[tuple[bool, str], dict[tuple[str, str], Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
        for (memo_id, invoice_id), amount in applied.credit.items():
            pair = (cw_number.get((True, memo_id), f"Id {memo_id}"), cw_number.get((False, invoice_id), "?"))
            qbo[(False, invoice_id)][pair] += amount
            qbo[(True, memo_id)][pair] += amount
        _agreed_by_total(snapshot, pairs, applied, cw, qbo)
        return cls(cw=cw, qbo=qbo)


def _agreed_by_total(
    snapshot: Snapshot,
    pairs: list[tuple[CwDoc, QboDoc]],
    applied: Applied,
    cw: dict[int, dict[tuple[str, str], Decimal]],
    qbo: dict[tuple[bool, str], dict[tuple[str, str], Decimal]],
) -> None:
    """Invoices whose CW credit rows were not read because their credit totals agree (``credit_rows.py``): their
    applications are QuickBooks' as far as AR can tell, on the invoice and on each memo applied to it."""
    unread = unread_credit_rows(snapshot.cw_docs, snapshot.cw_credits)
    if not unread:
        return
    totals = CreditTotals.of(applied)
    cw_of = {mirror.id: doc for doc, mirror in pairs}
    memos = {doc.number: doc for doc, _ in pairs if doc.is_cm}
    for doc, mirror in pairs:
        if doc.id not in unread or not totals.agree(doc, mirror, cw_of):
            continue
        for pair, amount in qbo.get((False, mirror.id), {}).items():  # pair: (memo number, invoice number)
            cw[doc.id][pair] += amount
            if pair[0] in memos:
                cw[memos[pair[0]].id][pair] += amount


def _pair(ledger: _Ledger, row: _Row, doc: CwDoc, mirror: QboDoc, applied: Applied, credits: _Credits) -> None:
    """Split a mirrored pair's difference into total, cash and credit parts, each to the finding naming it."""
    row.qbo_open += mirror.open_amount
    sign = -1 if doc.is_cm else 1
    remaining = cw_open_amount(doc) - mirror.open_amount
    total_part = sign * (doc.total - mirror.total)
    ledger.credit(row, total_part, finding_key("amount_mismatch", doc.number))
    remaining -= total_part
    if not doc.is_cm:
        cash_part = applied.cash.get(mirror.id, ZERO) - doc.payments
        keys = (finding_key("payment_not_synced", doc.number), finding_key("payment_only_in_cw", doc.number))
        ledger.credit(row, cash_part, *keys)
        remaining -= cash_part
    cw_credits, qbo_credits = credits.cw.get(doc.id, {}), credits.qbo.get((doc.is_cm, mirror.id), {})
    for memo, invoice in sorted(set(cw_credits) | set(qbo_credits)):
        part = sign * (qbo_credits.get((memo, invoice), ZERO) - cw_credits.get((memo, invoice), ZERO))
        keys = (
            finding_key("credit_not_applied_in_qbo", memo, invoice),
            finding_key("credit_not_applied_in_cw", memo, invoice),
        )
        ledger.credit(row, part, *keys)
        remaining -= part
    ledger.credit(row, remaining)


def _qbo_side(ledger: _Ledger, snapshot: Snapshot, pairs: list[tuple[CwDoc, QboDoc]], claimed: set[str]) -> None:
    """Count QBO documents no company row claimed as its mirror, and unapplied payments."""
    mirrored = {_qbo_ref(mirror): doc for doc, mirror in pairs}
    cw_numbers = {(doc.is_cm, doc.key) for doc in snapshot.cw_docs if doc.is_closed}
    for qdoc in snapshot.qbo_docs:
        if _qbo_ref(qdoc) in claimed:
            continue
        row = ledger.row_of_customer(qdoc.customer_id)
        row.qbo_open += qdoc.open_amount
        ledger.credit(
            row, -qdoc.open_amount, *_keys_of_unclaimed(ledger, qdoc, mirrored.get(_qbo_ref(qdoc)), cw_numbers)
        )
    for payment in snapshot.qbo_payments:
        if payment.unapplied:
            row = ledger.row_of_customer(payment.customer_id)
            row.qbo_open -= payment.unapplied
            ledger.credit(row, payment.unapplied, finding_key("balance_mismatch", row.label))


def _keys_of_unclaimed(
    ledger: _Ledger, qdoc: QboDoc, source: CwDoc | None, cw_numbers: set[tuple[bool, str]]
) -> tuple[str, ...]:
    """The findings that may name a QBO document outside its company's mirrors, most specific first."""
    if source is not None:  # a mirror filed under another customer, or under a company Tally could not map
        company = ledger.books.company(source)
        label = (company.account_number or company.identifier) if company else ""
        return finding_key("customer_mismatch", source.number), finding_key("customer_mismatch", label)
    if qdoc.id in ledger.held:  # probably the copy of a CW document under a look-alike number
        return (ledger.held[qdoc.id],)
    number = qdoc.number or f"Id {qdoc.id}"
    if (qdoc.is_cm, qdoc.key) in cw_numbers:
        return (finding_key("duplicate_in_qbo", number),)
    copy = ledger.copies.get(number_key(number))
    return (*((copy,) if copy else ()), finding_key("orphan_in_qbo", number))


def _qbo_ref(doc: QboDoc) -> str:
    return f"{doc.entity}:{doc.id}"
