"""The reconciliation engine: a snapshot of both books in, findings out. Pure: no I/O, no clock reads."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from sync.reconcile.balances import balance_findings
from sync.reconcile.credit_rows import CreditTotals, unread_credit_rows
from sync.reconcile.customers import map_customers
from sync.reconcile.documents import Books, match_documents
from sync.reconcile.model import ZERO, CwDoc, Finding, Policy, QboDoc, Snapshot, finding_key
from sync.reconcile.money import (
    MoneyFindings,
    credit_findings,
    intended_credits,
    payment_findings,
    qbo_applications,
)
from sync.reconcile.plan import PlanBooks, plan_fixes


def _books(snapshot: Snapshot, policy: Policy) -> Books:
    cmap = map_customers(snapshot.cw_companies, snapshot.qbo_customers, snapshot.customer_map)
    return Books(
        companies={company.id: company for company in snapshot.cw_companies},
        customers={customer.id: customer for customer in snapshot.qbo_customers},
        cmap=cmap,
        policy=policy,
    )


def credit_rows_wanted(snapshot: Snapshot, policy: Policy) -> frozenset[int]:
    """The CW invoices whose credit rows the sync should read now: unread, and disagreeing by total (credit_rows)."""
    unread = unread_credit_rows(snapshot.cw_docs, snapshot.cw_credits)
    if not unread:
        return frozenset()
    pairs = match_documents(_books(snapshot, policy), snapshot.cw_docs, snapshot.qbo_docs).pairs
    applied = qbo_applications(snapshot.qbo_payments, intended_credits(pairs, snapshot.cw_credits))
    mirror_of = {doc.id: mirror for doc, mirror in pairs}
    cw_of = {mirror.id: doc for doc, mirror in pairs}
    docs, totals = {doc.id: doc for doc in snapshot.cw_docs}, CreditTotals.of(applied)
    return frozenset(doc_id for doc_id in unread if not totals.agree(docs[doc_id], mirror_of.get(doc_id), cw_of))


def reconcile(snapshot: Snapshot, policy: Policy) -> list[Finding]:
    """Find every disagreement between the ConnectWise and QuickBooks books in ``snapshot``."""
    books = _books(snapshot, policy)
    matched = match_documents(books, snapshot.cw_docs, snapshot.qbo_docs)
    applied = qbo_applications(snapshot.qbo_payments, intended_credits(matched.pairs, snapshot.cw_credits))
    money = MoneyFindings()
    payment_findings(books, matched.pairs, applied, money)
    unread = unread_credit_rows(snapshot.cw_docs, snapshot.cw_credits)
    credit_findings(books, matched.pairs, snapshot.cw_credits, applied, money, unread)
    balances = balance_findings(
        books,
        matched.pairs,
        snapshot.qbo_payments,
        matched.explained_cw | money.explained_cw,
        matched.explained_qbo | money.explained_qbo,
    )
    findings = [*matched.findings, *money.findings, *balances, *_unresolved(books, snapshot)]
    merged = sorted(_merge_same_keys(findings), key=lambda finding: (finding.kind, finding.key))
    return plan_fixes(merged, _plan_books(books, snapshot, matched.pairs))


def _plan_books(books: Books, snapshot: Snapshot, pairs: list[tuple[CwDoc, QboDoc]]) -> PlanBooks:
    return PlanBooks(
        cw_docs={doc.id: doc for doc in snapshot.cw_docs},
        qbo_docs={doc.id: doc for doc in snapshot.qbo_docs},
        qbo_of_cw={doc.id: mirror for doc, mirror in pairs},
        cw_of_qbo={mirror.id: doc for doc, mirror in pairs},
        unchecked_companies=frozenset(books.cmap.unresolved),
        tolerance=books.policy.tolerance,
    )


def _merge_same_keys(findings: list[Finding]) -> list[Finding]:
    """One finding per key: e.g. three QuickBooks copies of one number are one duplicate finding."""
    merged: dict[str, Finding] = {}
    for finding in findings:
        first = merged.get(finding.key)
        merged[finding.key] = finding if first is None else replace(first, amount=first.amount + finding.amount)
    return list(merged.values())


def _unresolved(books: Books, snapshot: Snapshot) -> list[Finding]:
    posted: dict[int | None, Decimal] = defaultdict(lambda: ZERO)  # one pass, not one per unmapped company
    for doc in snapshot.cw_docs:
        if doc.is_closed:
            posted[doc.company_id] += doc.total
    findings = []
    for company_id in books.cmap.unresolved:
        company = books.companies[company_id]
        if company_id not in posted:
            continue
        label = company.account_number or company.identifier
        offered = [books.customers[c] for c in books.cmap.candidates.get(company_id, ()) if c in books.customers]
        maybe = (
            f" The closest QuickBooks customer is {offered[0].display_name}, by a similar name only: confirm it "
            'with `tally map` (or "Map to" on this alert) and Tally will check them.'
            if offered
            else " Map it once with `tally map` and Tally will."
        )
        qbo = {"candidates": ",".join(c.id for c in offered)} if offered else {}
        if offered:
            qbo["candidate_names"] = "|".join(c.display_name for c in offered)
        findings.append(
            Finding(
                kind="customer_mismatch",
                key=finding_key("customer_mismatch", label),
                documents=(label,),
                customer=company.name,
                amount=posted[company_id],
                explanation=(
                    f"ConnectWise company {company.name} ({label}) matches no QuickBooks customer by saved mapping, "
                    "account number or name, so its documents cannot be checked and Tally writes nothing for it."
                    f"{maybe}"
                ),
                cw={"account": label, "name": company.name, "company_id": str(company.id)},
                qbo=qbo,
            )
        )
    return findings


def next_change(snapshot: Snapshot, policy: Policy) -> datetime | None:
    """When this snapshot's findings could change with no data changing: the next sync-grace expiry, if any."""
    mirrored = {(doc.is_cm, doc.key) for doc in snapshot.qbo_docs}
    expiries = [
        doc.last_updated + policy.grace
        for doc in snapshot.cw_docs
        if doc.is_closed
        and doc.last_updated is not None
        and (doc.is_cm, doc.key) not in mirrored
        and doc.last_updated + policy.grace > policy.now
    ]
    return min(expiries, default=None)
