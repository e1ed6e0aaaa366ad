"""The books generator: deterministic, realistic MSP books with exactly the planted discrepancies it lists."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from sandbox.books.plant_fixes import SITUATIONS
from sandbox.clock import Clock
from sandbox.connectwise import CWStore
from sandbox.dataset import KINDS, LISTS, PlantError, finding_key, generate, load
from sandbox.quickbooks import QBOApp, QBOStore

NOW = datetime(2026, 3, 16, 14, 30, 12, tzinfo=UTC)


def test_the_same_inputs_give_the_same_books() -> None:
    first, second = generate("small", 5, now=NOW), generate("small", 5, now=NOW)
    for name in LISTS:
        assert getattr(first, name) == getattr(second, name), name
        assert list(first.stream(name)) == getattr(first, name)
    assert first.manifest.to_json() == second.manifest.to_json()
    assert first.summary() == second.summary()


def test_another_seed_gives_other_books() -> None:
    first, other = generate("small", 5, now=NOW), generate("small", 6, now=NOW)
    assert first.cw_companies != other.cw_companies
    assert first.qbo_payments != other.qbo_payments
    assert first.manifest.to_json() != other.manifest.to_json()


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_default_planting_lists_every_kind_two_or_three_times(seed: int) -> None:
    books = generate("small", seed, now=NOW)
    manifest, accounts = books.manifest, {c["accountNumber"] for c in books.cw_companies}
    kinds = {kind: n for kind, n in manifest.counts.items() if kind in KINDS}
    assert set(manifest.counts) == set(KINDS) | set(SITUATIONS)
    assert set(kinds.values()) <= {2, 3}
    assert {manifest.counts[situation] for situation in SITUATIONS} == {1}
    planted = Counter(f.kind for f in manifest.findings if not f.fix)  # issue-9 situations say their fix
    assert planted == kinds
    keys = [f.key for f in manifest.findings]
    assert len(set(keys)) == len(keys)
    for finding in manifest.findings:
        assert finding.amount > 0
        assert finding.key.startswith(finding.kind + ":")
        assert finding.customer in accounts
        assert finding.documents == tuple("".join(n.split()).upper() for n in finding.documents)


def test_requested_counts_are_planted_and_nothing_else() -> None:
    plant = {"amount_mismatch": 5, "orphan_in_qbo": 2, "duplicate_in_qbo": 4, "balance_mismatch": 1}
    manifest = generate("small", 9, now=NOW, plant=plant).manifest
    assert {k: v for k, v in manifest.counts.items() if v} == plant
    assert Counter(f.kind for f in manifest.findings) == plant
    duplicates = [f.documents for f in manifest.findings if f.kind == "duplicate_in_qbo"]
    assert sorted(len(d) for d in duplicates) == [1, 1, 2, 2]  # re-posted twice, typed by hand twice
    orphans = sorted(f.note.split(" ")[1] for f in manifest.findings if f.kind == "orphan_in_qbo")
    assert orphans == ["credit", "invoice"]
    assert [f.key for f in manifest.findings if f.kind == "balance_mismatch"] == [
        f"balance_mismatch:{f.customer}" for f in manifest.findings if f.kind == "balance_mismatch"
    ]


def test_impossible_plants_are_refused() -> None:
    with pytest.raises(PlantError, match="unknown finding kinds"):
        generate("small", 1, now=NOW, plant={"typo_in_qbo": 1})
    with pytest.raises(PlantError, match="credit_not_applied_in_qbo"):
        generate("small", 1, now=NOW, plant={"credit_not_applied_in_qbo": 500})
    with pytest.raises(PlantError):
        generate("empty", 1, now=NOW, plant={"amount_mismatch": 1})
    with pytest.raises(ValueError, match="timezone"):
        generate("small", 1, now=datetime(2026, 3, 16))  # noqa: DTZ001 - the naive time is the point


def test_finding_keys_normalise_document_numbers() -> None:
    assert finding_key("credit_not_applied_in_qbo", " cm 10457", "10400 ") == "credit_not_applied_in_qbo:CM10457:10400"
    assert finding_key("balance_mismatch", "acme01") == "balance_mismatch:ACME01"


def test_empty_books_load_nothing_but_the_default_items() -> None:
    books = generate("empty", 1, now=NOW)
    assert all(getattr(books, name) == [] for name in LISTS)
    assert books.manifest.findings == ()
    assert books.manifest.not_findings == ()
    clock = Clock()
    cw, qbo = CWStore(clock), QBOStore(clock).company(QBOApp().realm_id)
    load(books, cw, qbo)
    assert cw.companies() == []
    assert cw.invoices() == []
    assert [item["Name"] for item in qbo.all("Item")] == ["Services", "Hours"]
    assert qbo.all("Customer") == qbo.all("Invoice") == qbo.all("Payment") == []


def test_the_manifest_is_json_with_amounts_as_strings(tmp_path: Path) -> None:
    books = generate("small", 2, now=NOW)
    path = tmp_path / "manifest.json"
    books.manifest.write(path)
    data = json.loads(path.read_text())
    assert set(data) == {"seed", "size", "now", "counts", "findings", "not_findings", "totals"}
    assert (data["seed"], data["size"], data["now"]) == (2, "small", NOW.isoformat())
    assert all(isinstance(f["amount"], str) and Decimal(f["amount"]) > 0 for f in data["findings"])
    assert set(data["findings"][0]) == {"kind", "key", "documents", "customer", "amount", "note"}
    reasons = {"in_grace", "open_in_cw", "rounding", "payment_rounding", "look_alike"}
    assert {n["reason"] for n in data["not_findings"]} == reasons
    summary = books.summary()
    assert data["totals"]["cw"]["invoiced"] == str(summary["cw"]["invoiced"])
    assert summary["cw"]["invoiced"] == sum(r["total"] for r in books.cw_invoices if r["type"] != "CreditMemo")
    assert summary["qbo"]["customers"] == summary["cw"]["companies"] == 60


def test_small_books_look_like_an_msp_year() -> None:
    books = generate("small", 3, now=NOW)
    invoices = [r for r in books.cw_invoices if r["type"] != "CreditMemo"]
    memos = [r for r in books.cw_invoices if r["type"] == "CreditMemo"]
    assert 1400 <= len(invoices) <= 1600
    assert len(memos) >= 20
    assert all(m["invoiceNumber"].startswith("CM") and m["total"] > 0 for m in memos)
    assert {r["applyToType"] for r in invoices} == {"Agreement", "Project", "Ticket"}
    assert {r["salesTax"] / r["subtotal"] for r in invoices if r["salesTax"]} != set()
    assert all(r["total"] == r["subtotal"] + r["salesTax"] for r in books.cw_invoices)
    paid = {r["invoice"]["identifier"] for r in books.cw_payments if "credit" not in r}
    assert 0.7 < len(paid) / len(invoices) < 0.9
    assert any(len(p["Line"]) > 1 and p["TotalAmt"] > 0 for p in books.qbo_payments)  # one cheque, many invoices
    assert max(Counter(r["invoice"]["identifier"] for r in books.cw_payments).values()) > 1
    assert {p["PaymentMethodRef"]["name"] for p in books.qbo_payments if p["TotalAmt"]} >= {"Check", "ACH"}
    dates = sorted(r["date"] for r in invoices)
    assert dates[0] < (NOW - timedelta(days=380)).isoformat()
    assert dates[-1][:10] == NOW.date().isoformat()


def test_customers_are_named_the_way_sync_tools_name_them() -> None:
    books = generate("small", 4, now=NOW)
    names = {c["accountNumber"]: c["name"] for c in books.cw_companies}
    displays = [c["DisplayName"] for c in books.qbo_customers]
    assert len({d.lower() for d in displays}) == len(displays)
    suffixed = [a for a, d in books.customer_map.items() if d == f"{names[a]} ({a})"]
    bare = [a for a, d in books.customer_map.items() if d == names[a]]
    respelled = [a for a in books.customer_map if a not in suffixed and a not in bare]
    assert len(suffixed) > 40
    assert len(bare) >= 2
    assert len(respelled) >= 3


def test_every_record_is_older_than_a_day_but_the_one_in_grace() -> None:
    books = generate("small", 5, now=NOW)
    day_ago = (NOW - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    fresh = [r["invoiceNumber"] for r in books.cw_invoices if r["_info"]["dateEntered"] >= day_ago]
    grace = [n.documents for n in books.manifest.not_findings if n.reason == "in_grace"]
    assert [tuple(fresh)] == grace
    stamps = [r["MetaData"]["CreateTime"] for name in LISTS if name.startswith("qbo") for r in getattr(books, name)]
    assert max(datetime.fromisoformat(s) for s in stamps) < NOW - timedelta(days=1)
    assert max(r["_info"]["dateEntered"] for r in books.cw_payments) < day_ago
