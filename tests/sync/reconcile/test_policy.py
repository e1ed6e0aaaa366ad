"""The engine's policy: sync-lag grace, the rounding tolerance, and documents that are not posted yet."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync.reconcile import reconcile
from tests.sync.reconcile.injections import unpaid
from tests.sync.reconcile.strategies import cents, worlds
from tests.sync.reconcile.world import NOW, POLICY, Credit, Doc, Line, Receipt, World

SETTINGS = settings(max_examples=25, deadline=None)


def findings_of(world: World) -> list[tuple[str, str, str]]:
    return [(f.kind, f.key, str(f.amount)) for f in reconcile(world.snapshot(), POLICY)]


def spare_invoice(world: World, data: st.DataObject) -> Doc:
    return data.draw(st.sampled_from(unpaid(world)))


@SETTINGS
@given(data=st.data(), age=st.integers(0, 30 * 60 - 1))
def test_a_missing_mirror_inside_the_grace_period_is_not_reported(data: st.DataObject, age: int) -> None:
    world = data.draw(worlds(spares=True))
    doc = spare_invoice(world, data)
    doc.qbo_id, doc.updated = None, NOW - timedelta(seconds=age)
    assert findings_of(world) == []


@SETTINGS
@given(data=st.data(), age=st.integers(30 * 60, 90 * 24 * 3600))
def test_a_missing_mirror_past_the_grace_period_is_reported(data: st.DataObject, age: int) -> None:
    world = data.draw(worlds(spares=True))
    doc = spare_invoice(world, data)
    doc.qbo_id, doc.updated = None, NOW - timedelta(seconds=age)
    assert findings_of(world) == [("invoice_missing_in_qbo", f"invoice_missing_in_qbo:{doc.number}", str(doc.total))]


@SETTINGS
@given(data=st.data())
def test_an_open_invoice_is_never_reported_missing(data: st.DataObject) -> None:
    """A draft (open) CW invoice has not been posted: no mirror is expected, however old it is."""
    world = data.draw(worlds(spares=True))
    doc = spare_invoice(world, data)
    doc.qbo_id, doc.closed = None, False
    doc.updated = NOW - timedelta(days=data.draw(st.integers(0, 400)))
    assert findings_of(world) == []


def _total(world: World, doc: Doc, cents_off: Decimal) -> None:
    doc.qbo_total += cents_off


def _qbo_cash(world: World, doc: Doc, cents_off: Decimal) -> None:
    world.receipts.append(Receipt(world.new_qbo_id(), doc.company, doc.day, [Line(doc, cents_off, Decimal("0.00"))]))


def _cw_cash(world: World, doc: Doc, cents_off: Decimal) -> None:
    world.receipts.append(Receipt(world.new_qbo_id(), doc.company, doc.day, [Line(doc, Decimal("0.00"), cents_off)]))


def _credit(world: World, doc: Doc, cents_off: Decimal) -> None:
    memo = next(d for d in world.docs if d.is_cm and d.qbo_id and not world.touched(d))
    world.credits.append(Credit(memo, doc, cents_off, Decimal("0.00"), "two-line", world.new_qbo_id()))


def _unapplied(world: World, doc: Doc, cents_off: Decimal) -> None:
    world.receipts.append(Receipt(world.new_qbo_id(), doc.company, doc.day, [], cents_off))


CHANGES = {
    "amount_mismatch": _total,
    "payment_not_synced": _qbo_cash,
    "payment_only_in_cw": _cw_cash,
    "credit_not_applied_in_qbo": _credit,
    "balance_mismatch": _unapplied,
}


@pytest.mark.parametrize("kind", list(CHANGES))
@pytest.mark.parametrize(("off", "reported"), [("0.04", False), ("0.05", False), ("0.06", True)])
@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_differences_within_the_tolerance_are_rounding(
    kind: str, off: str, reported: bool, data: st.DataObject
) -> None:
    """At a 5-cent tolerance, 4 or 5 cents of difference is rounding; 6 cents is a finding of that amount."""
    world = data.draw(worlds(spares=True))
    doc = spare_invoice(world, data)
    CHANGES[kind](world, doc, Decimal(off))
    found = findings_of(world)
    if reported:
        assert [(k, amount) for k, _, amount in found] == [(kind, off)]
    else:
        assert found == []


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_many_rounding_cents_on_one_customer_do_not_add_up_to_a_finding(data: st.DataObject) -> None:
    """Each document's cent is rounding on its own: twenty of them on one customer are still not a finding."""
    world = data.draw(worlds(spares=True))
    company = world.companies[0]
    for _ in range(20):
        total, number = data.draw(cents(100, 100_000)), world.docs[-1].cw_id + 1
        qbo_total = total + Decimal("0.03")
        world.docs.append(
            Doc(number, str(number), False, company, total, NOW.date(), world.new_qbo_id(), qbo_total, str(number))
        )
    assert findings_of(world) == []
