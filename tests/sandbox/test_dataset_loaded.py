"""Generated books, loaded into the sandbox stores, agree where the manifest says they agree and nowhere else.

The reckoning here is deliberately tiny and independent of the generator: it reads the loaded stores only.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from sandbox.clock import Clock
from sandbox.connectwise import CWCredentials, CWStore, serve_connectwise
from sandbox.dataset import Books, Finding, generate, load
from sandbox.quickbooks import QBOApp, QBOCompany, QBOStore, QuickBooksService, serve_quickbooks

CENT = Decimal("0.01")
ZERO = Decimal("0")


@dataclass
class Reckoning:
    """What each loaded store says, per document number."""

    books: Books
    cw: dict[str, dict[str, Any]] = field(default_factory=dict)  # number -> invoice + "rows"
    qbo: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))  # number -> docs
    cash: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))  # QBO invoice Id -> paid
    qbo_credits: dict[tuple[str, str], Decimal] = field(default_factory=dict)  # (memo, invoice) -> applied
    unapplied: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))  # account -> amount
    accounts: dict[str, str] = field(default_factory=dict)  # QBO customer Id -> CW accountNumber

    def cw_paid(self, number: str) -> Decimal:
        return sum((r["amount"] for r in self.cw[number]["rows"] if "credit" not in r), ZERO)

    def cw_credits(self) -> dict[tuple[str, str], Decimal]:
        return {
            (r["credit"]["identifier"], number): r["amount"]
            for number, doc in self.cw.items()
            for r in doc["rows"]
            if "credit" in r
        }

    def only(self, number: str) -> dict[str, Any]:
        docs = self.qbo.get(number, [])
        assert len(docs) == 1, f"{number}: {len(docs)} QBO documents"
        return docs[0]

    def account_of(self, doc: dict[str, Any]) -> str:
        return self.accounts[doc["CustomerRef"]["value"]]


def reckon(books: Books, cw: CWStore, qbo: QBOCompany) -> Reckoning:
    """Read both stores into a reckoning."""
    out = Reckoning(books)
    for invoice in cw.invoices():
        out.cw[invoice["invoiceNumber"]] = {**invoice, "rows": cw.payments(invoice["id"])}
    by_name = {name: account for account, name in books.customer_map.items()}
    out.accounts = {c["Id"]: by_name[c["DisplayName"]] for c in qbo.all("Customer")}
    numbers: dict[str, str] = {}
    for entity in ("Invoice", "CreditMemo"):
        for doc in qbo.all(entity):
            out.qbo[doc["DocNumber"]].append({**doc, "entity": entity})
            numbers[doc["Id"]] = doc["DocNumber"]
    for payment in qbo.all("Payment"):
        out.unapplied[out.account_of(payment)] += payment["UnappliedAmt"]
        links = [
            (line["LinkedTxn"][0]["TxnType"], line["LinkedTxn"][0]["TxnId"], line["Amount"]) for line in payment["Line"]
        ]
        memos = [(numbers[tid], amount) for kind, tid, amount in links if kind == "CreditMemo"]
        for kind, txn_id, amount in links:
            if kind == "Invoice" and memos:
                out.qbo_credits[(memos[0][0], numbers[txn_id])] = amount
            elif kind == "Invoice":
                out.cash[txn_id] += amount
    return out


@pytest.fixture(scope="module", params=[1, 2, 3])
def loaded(request: pytest.FixtureRequest) -> Reckoning:
    clock = Clock()
    books = generate("small", request.param, now=clock.now())
    cw, qbo = CWStore(clock), QBOStore(clock).company(QBOApp().realm_id)
    load(books, cw, qbo)
    return reckon(books, cw, qbo)


def _named(books: Books) -> set[str]:
    manifest = books.manifest
    return {n for f in manifest.findings for n in f.documents} | {n for x in manifest.not_findings for n in x.documents}


def test_the_unnamed_documents_agree_between_the_systems(loaded: Reckoning) -> None:
    named, books = _named(loaded.books), loaded.books
    cw_credits = loaded.cw_credits()
    checked = 0
    for number, doc in loaded.cw.items():
        if number in named:
            continue
        mirror = loaded.only(number)
        assert loaded.account_of(mirror) == doc["accountNumber"]
        assert abs(mirror["TotalAmt"] - doc["total"]) <= CENT
        assert books.customer_map[doc["accountNumber"]] == mirror["CustomerRef"]["name"]
        if doc["type"] == "CreditMemo":
            assert mirror["entity"] == "CreditMemo"
            assert mirror["RemainingCredit"] == doc["balance"]
        else:
            assert mirror["entity"] == "Invoice"
            assert abs(loaded.cash[mirror["Id"]] - loaded.cw_paid(number)) <= CENT
        checked += 1
    assert checked > 1400
    assert {pair for pair in cw_credits if not set(pair) & named} == {
        pair for pair in loaded.qbo_credits if not set(pair) & named
    }
    assert set(loaded.qbo) - set(loaded.cw) <= named  # every QBO-only document is a planted one


def test_each_ledger_keeps_its_own_identities(loaded: Reckoning) -> None:
    cw_credits = loaded.cw_credits()
    for number, doc in loaded.cw.items():
        rows = sum((r["amount"] for r in doc["rows"]), ZERO)
        drawn = sum((amount for (memo, _), amount in cw_credits.items() if memo == number), ZERO)
        assert doc["balance"] == doc["total"] - rows - drawn
    for number, docs in loaded.qbo.items():
        for doc in docs:
            if doc["entity"] == "Invoice":
                credits = sum((a for (_, inv), a in loaded.qbo_credits.items() if inv == number), ZERO)
                assert doc["Balance"] == doc["TotalAmt"] - loaded.cash[doc["Id"]] - credits
            else:
                used = sum((a for (memo, _), a in loaded.qbo_credits.items() if memo == number), ZERO)
                assert doc["RemainingCredit"] == doc["TotalAmt"] - used


def _open_ar(loaded: Reckoning, now: datetime) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    cw: dict[str, Decimal] = defaultdict(Decimal)
    qbo: dict[str, Decimal] = defaultdict(Decimal)
    for doc in loaded.cw.values():
        fresh = doc["_info"]["lastUpdated"] > (now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        if doc["status"]["isClosed"] and not fresh:
            cw[doc["accountNumber"]] += -doc["balance"] if doc["type"] == "CreditMemo" else doc["balance"]
    for docs in loaded.qbo.values():
        for doc in docs:
            qbo[loaded.account_of(doc)] += doc["Balance"] if doc["entity"] == "Invoice" else -doc["RemainingCredit"]
    for account, amount in loaded.unapplied.items():
        qbo[account] -= amount
    return cw, qbo


def test_customer_balances_differ_only_where_a_finding_explains_it(loaded: Reckoning) -> None:
    books = loaded.books
    cw, qbo = _open_ar(loaded, books.now)
    involved = {f.customer for f in books.manifest.findings}
    involved |= {loaded.account_of(d) for f in books.manifest.findings for n in f.documents for d in loaded.qbo[n]}
    for account in books.customer_map:
        if account not in involved:
            assert abs(cw[account] - qbo[account]) <= CENT, account
    for finding in books.manifest.findings:
        if finding.kind == "balance_mismatch":
            assert cw[finding.customer] - qbo[finding.customer] == finding.amount


def _visible(r: Reckoning, f: Finding) -> None:
    numbers = f.documents
    kind, first = f.kind, numbers[0]
    if kind in ("invoice_missing_in_qbo", "credit_memo_missing_in_qbo"):
        assert first in r.cw
        assert not r.qbo.get(first)
        assert r.cw[first]["status"]["isClosed"]
        assert r.cw[first]["balance"] == r.cw[first]["total"] == f.amount
    elif kind == "amount_mismatch":
        assert abs(r.only(first)["TotalAmt"] - r.cw[first]["total"]) == f.amount
    elif kind == "customer_mismatch":
        assert r.account_of(r.only(first)) != r.cw[first]["accountNumber"] == f.customer
    elif kind == "duplicate_in_qbo" and len(numbers) == 1:
        assert len(r.qbo[first]) == 2
    elif kind == "duplicate_in_qbo":
        original, copy = r.only(first), r.only(numbers[1])
        assert numbers[1] not in r.cw
        assert [copy[k] for k in ("CustomerRef", "TotalAmt", "TxnDate")] == [
            original[k] for k in ("CustomerRef", "TotalAmt", "TxnDate")
        ]
    elif kind == "orphan_in_qbo":
        doc = r.only(first)
        assert first not in r.cw
        alike = [d for docs in r.qbo.values() for d in docs if (d["CustomerRef"], d["TotalAmt"], d["TxnDate"]) == (
            doc["CustomerRef"], doc["TotalAmt"], doc["TxnDate"])]  # fmt: skip
        assert alike == [doc]
    elif kind in ("payment_not_synced", "payment_only_in_cw"):
        gap = r.cash[r.only(first)["Id"]] - r.cw_paid(first)
        assert (gap if kind == "payment_not_synced" else -gap) == f.amount
    elif kind == "credit_not_applied_in_qbo":
        assert r.cw_credits()[(first, numbers[1])] == f.amount
        assert (first, numbers[1]) not in r.qbo_credits
    elif kind == "credit_not_applied_in_cw":
        assert r.qbo_credits[(first, numbers[1])] == f.amount
        assert (first, numbers[1]) not in r.cw_credits()
    else:
        assert kind == "balance_mismatch"
        assert r.unapplied[f.customer] == f.amount


def test_every_planted_finding_shows_in_the_loaded_stores(loaded: Reckoning) -> None:
    for finding in loaded.books.manifest.findings:
        _visible(loaded, finding)


def test_the_not_findings_are_what_they_claim(loaded: Reckoning) -> None:
    now = loaded.books.now
    reasons: dict[str, int] = defaultdict(int)
    for item in loaded.books.manifest.not_findings:
        (number,) = item.documents
        reasons[item.reason] += 1
        if item.reason == "look_alike":  # QuickBooks' copy of a CW invoice, under a number typed differently
            assert number not in loaded.cw
            assert loaded.only(number)["entity"] == "Invoice"
            continue
        doc = loaded.cw[number]
        if item.reason == "in_grace":
            assert doc["status"]["isClosed"]
            assert not loaded.qbo.get(number)
            assert doc["_info"]["lastUpdated"] >= (now - timedelta(minutes=6)).strftime("%Y-%m-%dT%H:%M:%SZ")
        elif item.reason == "open_in_cw":
            assert not doc["status"]["isClosed"]
            assert not loaded.qbo.get(number)
            assert not doc["rows"]
        elif item.reason == "rounding":
            assert abs(loaded.only(number)["TotalAmt"] - doc["total"]) == CENT
        else:
            assert item.reason == "payment_rounding"
            assert abs(loaded.cash[loaded.only(number)["Id"]] - loaded.cw_paid(number)) == CENT
    assert reasons["in_grace"] == 1
    assert reasons["open_in_cw"] >= 1
    assert reasons["rounding"] >= 1
    assert reasons["payment_rounding"] >= 1


def test_the_loaded_books_are_served_over_http() -> None:
    clock, app, creds = Clock(), QBOApp(), CWCredentials()
    books = generate("small", 8, now=clock.now())
    cw, qbo = CWStore(clock), QBOStore(clock)
    load(books, cw, qbo.company(app.realm_id))
    summary = books.summary()
    cw_server, qbo_server = serve_connectwise(store=cw, clock=clock), serve_quickbooks(store=qbo, clock=clock)
    try:  # serve_* return started servers (their context managers would start them a second time)
        auth = httpx.BasicAuth(f"{creds.company_id}+{creds.public_key}", creds.private_key)
        base = f"{cw_server.url}/{creds.codebase}apis/3.0"
        counted = httpx.get(f"{base}/finance/invoices/count", auth=auth, headers={"clientId": creds.client_id})
        assert counted.json()["count"] == summary["cw"]["invoices"] + summary["cw"]["credit_memos"]
        service = qbo_server.service
        assert isinstance(service, QuickBooksService)
        token = httpx.post(
            f"{qbo_server.url}/oauth2/v1/tokens/bearer",
            auth=(app.client_id, app.client_secret),
            data={"grant_type": "refresh_token", "refresh_token": service.issue_refresh_token()},
        ).json()["access_token"]
        answer = httpx.get(
            f"{qbo_server.url}/v3/company/{app.realm_id}/query",
            params={"query": "select count(*) from Payment", "minorversion": "75"},
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        )
        assert answer.json()["QueryResponse"]["totalCount"] == summary["qbo"]["payments"]
    finally:
        cw_server.stop()
        qbo_server.stop()
