"""AR per customer: both systems' open AR, the difference, and the findings that explain it, down to the cent."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from sync.cache import run_sync
from sync.cache.snapshot import load_snapshot
from sync.db import session_scope
from sync.reconcile import Snapshot, reconcile
from sync.reconcile.ar import CustomerAR, Explained, ar_by_customer
from sync.reconcile.model import ZERO, QboCustomer, QboDoc
from tests.sandboxes import cw_client, qbo_client, sandbox
from tests.sync.reconcile.injections import INJECTIONS
from tests.sync.reconcile.strategies import worlds
from tests.sync.reconcile.world import POLICY, World, cw_ar, live_policy, qbo_ar

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def rows_by_company(world: World) -> dict[int | None, CustomerAR]:
    snapshot = world.snapshot()
    rows = ar_by_customer(snapshot, reconcile(snapshot, POLICY), POLICY)
    by_company = {row.company_id: row for row in rows}
    assert len(by_company) == len(rows)
    return by_company


def assert_both_sides_counted(world: World, rows: dict[int | None, CustomerAR]) -> None:
    """Every company's AR, per system, is what its documents and payments say; no customer is left out."""
    for company in world.companies:
        row = rows.get(company.id)
        cw, qbo = cw_ar(world, company), qbo_ar(world, company)
        if row is None:
            assert cw == qbo == ZERO
            continue
        assert (row.account, row.qbo_customer_id) == (company.account, company.qbo_id)
        assert (row.cw_open, row.qbo_open) == (cw, qbo)
        assert row.unexplained == ZERO


@SETTINGS
@given(worlds())
def test_consistent_books_differ_only_by_pending_documents_and_rounding(world: World) -> None:
    rows = rows_by_company(world)
    assert_both_sides_counted(world, rows)
    for company in world.companies:
        row = rows.get(company.id)
        if row is None:
            continue
        in_grace = [d for d in world.docs if d.company is company and d.closed and d.qbo_id is None]
        assert row.explained == ()
        assert row.pending == sum((d.total for d in in_grace), ZERO)
        assert abs(row.rounding) <= Decimal("0.03") * len([d for d in world.docs if d.penny])


@pytest.mark.parametrize("name", list(INJECTIONS))
@SETTINGS
@given(data=st.data())
def test_a_disagreement_explains_exactly_its_share_of_each_customers_difference(name: str, data: st.DataObject) -> None:
    world = data.draw(worlds(min_companies=2, spares=True))
    expected = INJECTIONS[name](world, data)
    rows = rows_by_company(world)
    assert_both_sides_counted(world, rows)
    for company_id, part in expected.ar.items():
        assert Explained(expected.key, expected.kind, part) in rows[company_id].explained
    explaining = {e.key for row in rows.values() for e in row.explained}
    assert explaining == {expected.key}


@SETTINGS
@given(worlds(min_companies=2, spares=True))
def test_customers_come_largest_difference_first(world: World) -> None:
    world.receipts[0].unapplied += Decimal("10.00")
    snapshot = world.snapshot()
    rows = ar_by_customer(snapshot, reconcile(snapshot, POLICY), POLICY)
    differences = [abs(row.difference) for row in rows]
    assert differences == sorted(differences, reverse=True)


def test_a_customer_only_quickbooks_knows_gets_its_own_row() -> None:
    walk_in = QboCustomer("77", "Walk-in Client")
    typed = QboDoc("Invoice", "501", "1001", walk_in.id, Decimal("80.00"), Decimal("80.00"), date=POLICY.now.date())
    snapshot = Snapshot(qbo_customers=(walk_in,), qbo_docs=(typed,))
    [row] = ar_by_customer(snapshot, reconcile(snapshot, POLICY), POLICY)
    assert (row.company_id, row.qbo_name, row.cw_open, row.qbo_open) == (None, "Walk-in Client", ZERO, Decimal("80.00"))
    assert row.explained == (Explained("orphan_in_qbo:1001", "orphan_in_qbo", Decimal("-80.00")),)
    assert row.unexplained == ZERO


@pytest.mark.parametrize("seed", [1, 9])
def test_sandbox_books_every_difference_is_explained(engine: Engine, seed: int) -> None:
    """Over HTTP and the cache: both systems' AR totals are right, and no customer's difference is unexplained."""
    with sandbox("small", seed=seed) as running, cw_client(running) as cw, qbo_client(running) as qbo:
        run_sync(engine, cw, qbo, full=True)
        cw_records = running.cw.service.store.invoices()  # type: ignore[attr-defined]
        manifest = running.books.manifest
    with session_scope(engine) as session:
        snapshot = load_snapshot(session)
    check = live_policy()
    findings = reconcile(snapshot, check)
    rows = ar_by_customer(snapshot, findings, check)
    posted = [r for r in cw_records if r["status"]["isClosed"]]
    cw_total = sum((Decimal(str(r["balance"])) * (-1 if r["type"] == "CreditMemo" else 1) for r in posted), ZERO)
    totals = manifest.totals["qbo"]
    qbo_total = totals["balance"] - totals["unapplied_credit"] - totals["unapplied_payments"]
    assert sum((row.cw_open for row in rows), ZERO) == cw_total
    assert sum((row.qbo_open for row in rows), ZERO) == qbo_total
    assert [row.name for row in rows if row.unexplained] == []
    assert {e.key for row in rows for e in row.explained} == {f.key for f in findings}
    in_grace = {n.documents[0] for n in manifest.not_findings if n.reason == "in_grace"}
    assert sum((row.pending for row in rows), ZERO) == sum(
        (Decimal(str(r["balance"])) for r in posted if r["invoiceNumber"] in in_grace), ZERO
    )
