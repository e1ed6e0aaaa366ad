"""Plant the payment, credit and balance discrepancies, and run every planter in a safe order."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from sandbox.books.model import ZERO, attach, cents
from sandbox.books.plant import (
    Planter,
    PlantError,
    amount_mismatch,
    credit_memo_missing,
    customer_mismatch,
    duplicate,
    invoice_missing,
    orphan,
)
from sandbox.books.plant_fixes import SITUATIONS, STEPS
from sandbox.books.truth import KINDS, Finding, finding_key


def payment_not_synced(p: Planter, full: bool) -> None:
    """A QBO payment on a mirror that nobody carried back to CW: a whole invoice's, or a part payment."""
    if full:
        doc = p.take(p.paid, "payment_not_synced")
        for alloc in doc.allocs:
            alloc.cw = None
        amount = doc.paid("qbo")
    else:
        doc = p.take(p.unpaid, "payment_not_synced")
        amount = cents(int(doc.total * 100) * p.rng.randint(20, 80) // 100)
        attach(p.payment(doc.company, doc, doc.company.method), doc, amount, None)
    what = "in full" if full else "in part"
    note = f"QBO shows invoice {doc.number} paid {what} ({amount}); CW has no record of it."
    p.record("payment_not_synced", (doc.number,), doc.company, amount, note)


def payment_only_in_cw(p: Planter) -> None:
    """A payment someone keyed in CW against an unpaid mirror, with nothing behind it in QBO."""
    doc = p.take(p.unpaid, "payment_only_in_cw")
    amount = doc.total if p.rng.random() < 0.5 else cents(int(doc.total * 100) * p.rng.randint(30, 70) // 100)
    payment = p.payment(doc.company, doc, "Check")
    payment.cw_at = payment.at
    attach(payment, doc, None, amount)
    note = f"CW records a payment of {amount} on invoice {doc.number} that QBO does not have."
    p.record("payment_only_in_cw", (doc.number,), doc.company, amount, note)


def credit_not_applied(p: Planter, missing_side: str) -> None:
    """A credit memo applied in one system only (``missing_side`` is where it is not applied)."""
    kind = f"credit_not_applied_in_{missing_side}"
    memo = p.take(p.memos, kind)
    assert memo.credit_of is not None
    alloc = next(a for a in memo.credit_of.allocs if a.credit is memo)
    if missing_side == "qbo":
        alloc.qbo = None
        note = (
            f"Credit memo {memo.number} is applied to invoice {memo.credit_of.number} in CW but sits unapplied in QBO."
        )
    else:
        alloc.cw = None
        note = f"Credit memo {memo.number} is applied to invoice {memo.credit_of.number} in QBO but not in CW."
    p.record(kind, (memo.number, memo.credit_of.number), memo.company, memo.total, note)


def balance_mismatch(p: Planter) -> None:
    """An overpayment left unapplied in QBO, for a customer whose documents otherwise agree."""
    doc = p.take(p.paid, "balance_mismatch", lambda d: not d.company.touched)
    payment = doc.allocs[-1].payment
    payment.unapplied = cents(p.rng.randint(2_500, 60_000))
    note = (
        f"{doc.company.name} overpaid by {payment.unapplied} with the payment on invoice {doc.number}; "
        "QBO holds it unapplied, so open AR differs from CW."
    )
    key = finding_key("balance_mismatch", doc.company.account)
    p.record("balance_mismatch", (doc.number,), doc.company, payment.unapplied, note, key=key)


def _duplicate(p: Planter, i: int) -> None:
    duplicate(p, same_number=i % 2 == 0)


def _orphan(p: Planter, i: int, count: int) -> None:
    orphan(p, credit_memo=count > 1 and i == count - 1)  # the last of several is a credit memo


def _unsynced(p: Planter, i: int) -> None:
    payment_not_synced(p, full=i % 2 == 0)


def _steps(counts: dict[str, int]) -> list[Callable[[Planter], None]]:
    """The planting calls, in an order where later cases cannot disturb earlier ones."""
    n = counts.get
    orphans = n("orphan_in_qbo", 0)
    steps: list[Callable[[Planter], None]] = []
    steps += [invoice_missing] * n("invoice_missing_in_qbo", 0)
    steps += [credit_memo_missing] * n("credit_memo_missing_in_qbo", 0)
    steps += [amount_mismatch] * n("amount_mismatch", 0)
    steps += [customer_mismatch] * n("customer_mismatch", 0)
    steps += [partial(_duplicate, i=i) for i in range(n("duplicate_in_qbo", 0))]
    steps += [Planter.refresh_triples]
    steps += [partial(_orphan, i=i, count=orphans) for i in range(orphans)]
    steps += [partial(_unsynced, i=i) for i in range(n("payment_not_synced", 0))]
    steps += [payment_only_in_cw] * n("payment_only_in_cw", 0)
    steps += [partial(credit_not_applied, missing_side="qbo")] * n("credit_not_applied_in_qbo", 0)
    steps += [partial(credit_not_applied, missing_side="cw")] * n("credit_not_applied_in_cw", 0)
    steps += [balance_mismatch] * n("balance_mismatch", 0)  # it needs a customer nothing else touched
    for situation in SITUATIONS:  # after every kind: the earlier cases' documents stay as they were
        steps += [STEPS[situation]] * n(situation, 0)
    return steps


def plant(p: Planter, counts: dict[str, int]) -> list[Finding]:
    """Plant ``counts`` cases per kind and return the findings they must produce."""
    unknown = set(counts) - set(KINDS) - set(SITUATIONS)
    if unknown:
        raise PlantError(f"unknown finding kinds: {', '.join(sorted(unknown))}")
    if any(v < 0 for v in counts.values()):
        raise PlantError("plant counts must not be negative")
    for step in _steps(counts):
        step(p)
    assert all(f.amount > ZERO for f in p.findings)
    return p.findings
