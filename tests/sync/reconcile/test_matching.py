"""Issue 9 rules 6 and 7: look-alike numbers are held back for a person, names fold, fuzzy names are only offered."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from sync.reconcile import Snapshot, reconcile
from sync.reconcile.customers import map_customers, normalise_name
from sync.reconcile.model import CwCompany, CwDoc, QboCustomer, QboDoc, loose_key
from tests.sync.reconcile.world import LONG_AGO, POLICY

ACME = CwCompany(7, "AcmeDental", "Acme Dental, Inc.", "ACME001")
CUSTOMER = QboCustomer("1", "Acme Dental, Inc. (ACME001)")
DAY = date(2026, 6, 1)
TOTAL = Decimal("1250.00")


@pytest.mark.parametrize("typed", ["01001", "1001-A", "10 01", "1,001", "1001 b", "001001a", "1001/C"])
def test_numbers_typed_differently_are_look_alikes(typed: str) -> None:
    assert loose_key(typed) == loose_key("1001")


@pytest.mark.parametrize(("one", "other"), [("1001", "1010"), ("1001", "10011"), ("CM1001", "1001")])
def test_different_numbers_are_not_look_alikes(one: str, other: str) -> None:
    assert loose_key(one) != loose_key(other)


def missing_with(qdoc: QboDoc) -> list[str]:
    """Reconcile one unmirrored CW invoice against QuickBooks holding ``qdoc``; return what was found."""
    doc = CwDoc(1, "1001", "Standard", ACME.id, TOTAL, balance=TOTAL, date=DAY, last_updated=LONG_AGO)
    found = reconcile(
        Snapshot(cw_companies=(ACME,), cw_docs=(doc,), qbo_customers=(CUSTOMER,), qbo_docs=(qdoc,)), POLICY
    )
    assert all(finding.fix is None for finding in found), "a look-alike must never be mirrored"
    return [finding.kind for finding in found]


def test_a_copy_under_a_look_alike_number_is_not_mirrored_again() -> None:
    assert missing_with(QboDoc("Invoice", "50", "01001-A", "1", TOTAL, TOTAL, date=date(2026, 5, 3))) == [
        "invoice_missing_in_qbo"
    ]


def test_a_copy_with_the_same_customer_total_and_date_is_not_mirrored_again() -> None:
    assert missing_with(QboDoc("Invoice", "50", "X-77", "1", TOTAL, TOTAL, date=DAY)) == ["invoice_missing_in_qbo"]


def test_another_customers_look_alike_does_not_hold_the_mirror_back() -> None:
    other = QboCustomer("2", "Zed (ZED1)")
    doc = CwDoc(1, "1001", "Standard", ACME.id, TOTAL, balance=TOTAL, date=DAY, last_updated=LONG_AGO)
    qdoc = QboDoc("Invoice", "50", "01001", "2", TOTAL, TOTAL, date=DAY)
    snapshot = Snapshot(cw_companies=(ACME,), cw_docs=(doc,), qbo_customers=(CUSTOMER, other), qbo_docs=(qdoc,))
    mirror = next(f for f in reconcile(snapshot, POLICY) if f.kind == "invoice_missing_in_qbo")
    assert mirror.fix is not None


@pytest.mark.parametrize(
    ("cw_name", "qbo_name"),
    [
        ("Café Noël Ltd", "Cafe Noel"),
        ("O’Brien & Sons, LLC", "O'Brien and Sons"),
        ("  JOHNSON-SMITH  Inc. ", "Johnson Smith"),
        ("Zoë’s Bakery", "ZOES BAKERY LTD"),
    ],
)
def test_names_match_after_folding_accents_apostrophes_and_suffixes(cw_name: str, qbo_name: str) -> None:
    assert normalise_name(cw_name) == normalise_name(qbo_name)
    company = CwCompany(3, "X", cw_name, None)
    mapped = map_customers([company], [QboCustomer("9", qbo_name)], {})
    assert mapped.qbo_of == {3: "9"}


def test_a_fuzzy_name_is_offered_for_confirmation_and_its_company_gets_no_writes() -> None:
    company = CwCompany(3, "Brite", "Brightside Dental", "BRT01")
    customer = QboCustomer("9", "Brightsyde Dental")
    mapped = map_customers([company], [customer], {})
    assert mapped.qbo_of == {}
    assert mapped.candidates == {3: ("9",)}
    doc = CwDoc(1, "2001", "Standard", 3, TOTAL, balance=TOTAL, date=DAY, last_updated=LONG_AGO)
    snapshot = Snapshot(cw_companies=(company,), cw_docs=(doc,), qbo_customers=(customer,))
    found = reconcile(snapshot, POLICY)
    assert all(finding.fix is None for finding in found)
    alert = next(f for f in found if f.kind == "customer_mismatch")
    assert "Brightsyde Dental" in alert.explanation
    assert alert.qbo["candidates"] == "9"
    assert map_customers([company], [customer], {3: "9"}).how == {3: "stored"}  # a confirmed mapping wins
