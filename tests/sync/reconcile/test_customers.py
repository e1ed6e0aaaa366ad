"""Which QuickBooks customer is which ConnectWise company: stored mapping, account number, exact or normalised name."""

from __future__ import annotations

from decimal import Decimal

import pytest

from sync.reconcile import Snapshot, reconcile
from sync.reconcile.customers import map_customers
from sync.reconcile.model import CwCompany, CwDoc, QboCustomer, QboDoc
from tests.sync.reconcile.world import LONG_AGO, POLICY

ACME = CwCompany(7, "AcmeDental", "Acme Dental, Inc.", "ACME001")
TOTAL = Decimal("1250.00")


def books(company: CwCompany, customers: list[QboCustomer], mirror_under: str, stored: dict[int, str]) -> Snapshot:
    """One posted, unpaid invoice of ``company``, mirrored under customer ``mirror_under``."""
    invoice = CwDoc(1, "10001", "Standard", company.id, TOTAL, balance=TOTAL, last_updated=LONG_AGO)
    mirror = QboDoc("Invoice", "900", "10001", mirror_under, TOTAL, TOTAL)
    return Snapshot(
        cw_companies=(company,),
        cw_docs=(invoice,),
        qbo_customers=tuple(customers),
        qbo_docs=(mirror,),
        customer_map=stored,
    )


def check(company: CwCompany, customers: list[QboCustomer], stored: dict[int, str], winner: str, how: str) -> None:
    """``company`` maps to ``winner`` by ``how``: its mirror there agrees; under any other customer it does not."""
    mapped = map_customers([company], customers, stored)
    assert (mapped.qbo_of, mapped.how, mapped.unresolved) == ({company.id: winner}, {company.id: how}, ())
    assert reconcile(books(company, customers, winner, stored), POLICY) == []
    for other in customers:
        if other.id != winner:
            found = reconcile(books(company, customers, other.id, stored), POLICY)
            assert [(f.kind, f.key) for f in found] == [("customer_mismatch", "customer_mismatch:10001")]


def test_a_stored_mapping_beats_the_account_number() -> None:
    customers = [QboCustomer("1", "Acme Dental, Inc. (ACME001)"), QboCustomer("2", "Acme Dental Group")]
    check(ACME, customers, {ACME.id: "2"}, winner="2", how="stored")


def test_a_stored_mapping_to_a_customer_that_is_gone_falls_back_to_the_account_number() -> None:
    customers = [QboCustomer("1", "Acme Dental, Inc. (ACME001)"), QboCustomer("2", "Acme Dental Group")]
    check(ACME, customers, {ACME.id: "99"}, winner="1", how="account")


def test_the_account_number_beats_the_exact_name() -> None:
    customers = [QboCustomer("1", "Acme Dental, Inc."), QboCustomer("2", "Renamed By Hand (ACME001)")]
    check(ACME, customers, {}, winner="2", how="account")


def test_the_exact_name_beats_a_normalised_name() -> None:
    customers = [QboCustomer("1", "ACME DENTAL"), QboCustomer("2", "Acme Dental, Inc.")]
    check(ACME, customers, {}, winner="2", how="name")


@pytest.mark.parametrize(
    ("cw_name", "qbo_name"),
    [
        ("Smith & Jones LLC", "Smith and Jones"),
        ("Acme Dental, Inc.", "ACME  DENTAL"),
        ("Baker Labs PC", "Baker Labs"),
        ("O'Brien Law Group, PLLC", "OBrien Law Group"),
        ("Smith & Jones, L.L.C.", "Smith and Jones"),
        ("J.P. Ellis Accounting", "JP Ellis Accounting LLC"),
    ],
)
def test_a_name_spelled_differently_matches_by_its_normalised_form(cw_name: str, qbo_name: str) -> None:
    company = CwCompany(8, "Someone", cw_name, "SOME001")
    customers = [QboCustomer("1", qbo_name), QboCustomer("2", "Unrelated Plumbing (PLUM001)")]
    check(company, customers, {}, winner="1", how="normalised name")


def test_an_ambiguous_normalised_name_is_not_guessed_but_reported_by_account() -> None:
    company = CwCompany(9, "SmithJones", "Smith & Jones LLC", "SMIT001")
    customers = [QboCustomer("1", "Smith and Jones"), QboCustomer("2", "SMITH & JONES, INC.")]
    assert map_customers([company], customers, {}).unresolved == (company.id,)
    found = reconcile(books(company, customers, "1", {}), POLICY)
    assert [(f.kind, f.key, f.amount) for f in found] == [("customer_mismatch", "customer_mismatch:SMIT001", TOTAL)]


def test_an_unmapped_company_with_nothing_posted_is_not_reported() -> None:
    company = CwCompany(9, "SmithJones", "Smith & Jones LLC", "SMIT001")
    snapshot = Snapshot(cw_companies=(company,), qbo_customers=(QboCustomer("1", "Someone Else"),))
    assert reconcile(snapshot, POLICY) == []
