"""Single disagreements injected into consistent books, each with the one finding it must produce.

Every injection picks its target with ``data.draw`` (so hypothesis explores and shrinks the choice), changes one
event of the world, and returns what a correct engine reports: kind, key and amount, and how much of each company's
AR difference (CW − QBO) the finding accounts for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import assume
from hypothesis import strategies as st

from sync.reconcile.model import finding_key
from tests.sync.reconcile.strategies import cents
from tests.sync.reconcile.world import Credit, Doc, Extra, Line, Receipt, World

Injection = Callable[[World, st.DataObject], "Expected"]


@dataclass(frozen=True)
class Expected:
    """The one finding an injection must produce, and its share of each company's AR difference."""

    kind: str
    key: str
    amount: Decimal
    ar: dict[int, Decimal] = field(default_factory=dict)  # CW company id -> part of its difference


def _sign(doc: Doc | Extra) -> int:
    return -1 if doc.is_cm else 1


def _pick(data: st.DataObject, items: list[Doc]) -> Doc:
    assume(items)
    return data.draw(st.sampled_from(items))


def unpaid(world: World) -> list[Doc]:
    """Posted, mirrored invoices nothing was paid or credited on, without rounding cents."""
    return [d for d in world.docs if not d.is_cm and d.closed and d.qbo_id and not d.penny and not world.touched(d)]


def unapplied_memos(world: World) -> list[Doc]:
    """Mirrored credit memos applied nowhere."""
    return [d for d in world.docs if d.is_cm and d.qbo_id and not world.touched(d)]


def mirrored(world: World) -> list[Doc]:
    """Every posted, mirrored document without rounding cents."""
    return [d for d in world.docs if d.closed and d.qbo_id and not d.penny]


def delete_mirror(world: World, data: st.DataObject) -> Expected:
    """Delete the QBO mirror of an unpaid invoice or an unapplied memo."""
    doc = _pick(data, unpaid(world) + unapplied_memos(world))
    doc.qbo_id = None
    kind = "credit_memo_missing_in_qbo" if doc.is_cm else "invoice_missing_in_qbo"
    return Expected(kind, finding_key(kind, doc.number), doc.total, {doc.company.id: _sign(doc) * doc.total})


def change_total(world: World, data: st.DataObject) -> Expected:
    """Edit a mirror's total in QBO, up or (where its balance allows) down."""
    doc = _pick(data, mirrored(world))
    delta = data.draw(cents(6, 50_000))
    if data.draw(st.booleans()) and world.qbo_balance(doc) >= delta:
        delta = -delta
    doc.qbo_total += delta
    key = finding_key("amount_mismatch", doc.number)
    return Expected("amount_mismatch", key, abs(delta), {doc.company.id: -_sign(doc) * delta})


def move_mirror(world: World, data: st.DataObject) -> Expected:
    """File an unpaid invoice's (or unapplied memo's) mirror under another company's customer."""
    doc = _pick(data, unpaid(world) + unapplied_memos(world))
    other = data.draw(st.sampled_from([c for c in world.companies if c is not doc.company]))
    doc.qbo_customer = other
    part = _sign(doc) * doc.total
    key = finding_key("customer_mismatch", doc.number)
    return Expected("customer_mismatch", key, doc.total, {doc.company.id: part, other.id: -part})


def duplicate_number(world: World, data: st.DataObject) -> Expected:
    """Post a second QBO document with a mirror's number (the sync tool ran twice)."""
    doc = _pick(data, mirrored(world))
    assert doc.qbo_id is not None
    copy = Extra(world.new_qbo_id(), doc.qbo_number, doc.is_cm, doc.customer, doc.qbo_total, doc.day)
    world.extras.append(copy)
    key = finding_key("duplicate_in_qbo", doc.number)
    return Expected("duplicate_in_qbo", key, copy.total, {doc.customer.id: -_sign(doc) * copy.total})


def hand_typed_copy(world: World, data: st.DataObject) -> Expected:
    """Type a mirrored document again in QBO under QBO's own number: same customer, total and date."""
    triples: dict[tuple[int, Decimal, date, bool], int] = {}
    for d in world.docs:
        if d.qbo_id:
            triple = (d.customer.id, d.qbo_total, d.day, d.is_cm)
            triples[triple] = triples.get(triple, 0) + 1
    alone = [d for d in mirrored(world) if triples[(d.customer.id, d.qbo_total, d.day, d.is_cm)] == 1]
    doc = _pick(data, alone)
    number = str(data.draw(st.integers(1001, 9999)))  # QBO's 4-digit sequence, never one of CW's 5-digit numbers
    world.extras.append(Extra(world.new_qbo_id(), number, doc.is_cm, doc.customer, doc.qbo_total, doc.day))
    key = finding_key("duplicate_in_qbo", doc.number, number)
    return Expected("duplicate_in_qbo", key, doc.qbo_total, {doc.customer.id: -_sign(doc) * doc.qbo_total})


def qbo_only_document(world: World, data: st.DataObject) -> Expected:
    """Type an invoice or credit memo in QBO that resembles nothing CW has."""
    customer = data.draw(st.sampled_from(world.companies))
    day = date(2031, 1, 1) + timedelta(days=data.draw(st.integers(0, 300)))  # after every mirrored document
    number = str(data.draw(st.integers(1001, 9999)))
    extra = Extra(world.new_qbo_id(), number, data.draw(st.booleans()), customer, data.draw(cents(100, 900_000)), day)
    world.extras.append(extra)
    key = finding_key("orphan_in_qbo", number)
    return Expected("orphan_in_qbo", key, extra.total, {customer.id: -_sign(extra) * extra.total})


def qbo_payment(world: World, data: st.DataObject) -> Expected:
    """Receive a payment in QBO on an open invoice and never carry it back to CW."""
    doc = _pick(data, [d for d in mirrored(world) if not d.is_cm and world.qbo_balance(d) >= Decimal("0.10")])
    amount = data.draw(cents(10, int(world.qbo_balance(doc) * 100)))
    world.receipts.append(Receipt(world.new_qbo_id(), doc.company, doc.day, [Line(doc, amount, Decimal("0.00"))]))
    key = finding_key("payment_not_synced", doc.number)
    return Expected("payment_not_synced", key, amount, {doc.company.id: amount})


def forget_backflow(world: World, data: st.DataObject) -> Expected:
    """Never carry back any of the QBO payments on a paid invoice (some may be lines of a batch payment)."""
    paid = [
        d
        for d in mirrored(world)
        if not d.is_cm and not world.credits_of(d) and world.cash(d, "qbo") >= Decimal("0.10")
    ]
    doc = _pick(data, paid)
    for line in world.lines_of(doc):
        line.cw = Decimal("0.00")
    amount = world.cash(doc, "qbo")
    key = finding_key("payment_not_synced", doc.number)
    return Expected("payment_not_synced", key, amount, {doc.company.id: amount})


def cw_payment(world: World, data: st.DataObject) -> Expected:
    """Key a payment in CW that QBO never received."""
    doc = _pick(data, [d for d in mirrored(world) if not d.is_cm and world.cw_balance(d) >= Decimal("0.10")])
    amount = data.draw(cents(10, int(world.cw_balance(doc) * 100)))
    world.receipts.append(Receipt(world.new_qbo_id(), doc.company, doc.day, [Line(doc, Decimal("0.00"), amount)]))
    key = finding_key("payment_only_in_cw", doc.number)
    return Expected("payment_only_in_cw", key, amount, {doc.company.id: -amount})


def _applied(world: World, data: st.DataObject, *, pooled: bool = True) -> Credit:
    credits = [
        c
        for c in world.credits
        if c.cw == c.qbo >= Decimal("0.10") and not c.invoice.penny and (pooled or not _pooled(c))
    ]
    assume(credits)
    return data.draw(st.sampled_from(credits))


def _pooled(credit: Credit) -> bool:
    """Whether QBO pools this credit with cash for other invoices, so only CW's record says which invoice it paid."""
    return credit.form == "with-cash" and credit.receipt is not None


def unapply_in_qbo(world: World, data: st.DataObject) -> Expected:
    """Leave a credit applied in CW unapplied in QBO (the mirror arrived unapplied and nobody applied it)."""
    credit = _applied(world, data)
    amount, credit.qbo = credit.qbo, Decimal("0.00")
    key = finding_key("credit_not_applied_in_qbo", credit.memo.number, credit.invoice.number)
    return Expected("credit_not_applied_in_qbo", key, amount, {credit.memo.company.id: Decimal("0.00")})


def unapply_in_cw(world: World, data: st.DataObject) -> Expected:
    """Apply a credit in QBO only (not a pooled one: with no CW record, nothing says which invoice it went to)."""
    credit = _applied(world, data, pooled=False)
    amount, credit.cw = credit.cw, Decimal("0.00")
    key = finding_key("credit_not_applied_in_cw", credit.memo.number, credit.invoice.number)
    return Expected("credit_not_applied_in_cw", key, amount, {credit.memo.company.id: Decimal("0.00")})


def overpayment(world: World, data: st.DataObject) -> Expected:
    """Let a client overpay and leave the excess unapplied in QBO."""
    receipts = [r for r in world.receipts if any(line.qbo for line in r.lines)]
    assume(receipts)
    receipt = data.draw(st.sampled_from(receipts))
    amount = data.draw(cents(10, 500_000))
    receipt.unapplied += amount
    company = receipt.company
    return Expected("balance_mismatch", finding_key("balance_mismatch", company.account), amount, {company.id: amount})


INJECTIONS: dict[str, Injection] = {
    "delete a mirror": delete_mirror,
    "change a mirror's total": change_total,
    "move a mirror to another customer": move_mirror,
    "duplicate a mirror's number": duplicate_number,
    "type a mirrored document again in QBO": hand_typed_copy,
    "add a QBO-only document": qbo_only_document,
    "add a QBO payment not in CW": qbo_payment,
    "never carry an invoice's payments back": forget_backflow,
    "add a CW payment not in QBO": cw_payment,
    "un-apply a credit in QBO": unapply_in_qbo,
    "un-apply a credit in CW": unapply_in_cw,
    "leave an overpayment unapplied in QBO": overpayment,
}
