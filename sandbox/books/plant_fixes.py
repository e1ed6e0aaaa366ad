"""Situations where a careless fix would be wrong (issue 9), planted with the finding and the fix a bookkeeper expects.

- ``look_alike_number``: a CW invoice whose QBO copy was typed under a look-alike number (a leading zero, a ``-A``
  suffix). Expected: ``invoice_missing_in_qbo`` with no fix — a person confirms the match; never a second copy.
- ``tax_penny_payment``: QBO's copy carries a cent or three more tax, paid in full there, nothing carried back.
  Expected: ``payment_not_synced`` for QBO's paid amount, fixed by a backflow of exactly the CW balance (it closes
  the invoice; CW would refuse the extra pennies).
"""

from __future__ import annotations

from decimal import Decimal

from sandbox.books.model import attach
from sandbox.books.plant import Planter
from sandbox.books.truth import NotFinding

SITUATIONS = ("look_alike_number", "tax_penny_payment")


def look_alike_number(p: Planter) -> None:
    """An unpaid mirror whose QBO number is typed differently from CW's."""
    doc = p.take(p.unpaid, "look_alike_number", lambda d: not d.company.touched)
    doc.qbo_number = f"0{doc.number}" if p.rng.random() < 0.5 else f"{doc.number}-A"
    note = (
        f"QBO holds CW invoice {doc.number} as {doc.qbo_number}: a possible match for a person to confirm, "
        "never mirrored again."
    )
    p.record("invoice_missing_in_qbo", (doc.number,), doc.company, doc.total, note, fix="none: possible match")
    p.not_findings.append(NotFinding("look_alike", (doc.qbo_number.upper(),)))  # not an orphan of its own


def tax_penny_payment(p: Planter) -> None:
    """QBO's copy totals a few cents more (tax rounded the other way), paid in full in QBO only."""
    doc = p.take(p.unpaid, "tax_penny_payment", lambda d: not d.company.touched)
    doc.qbo_tax = doc.tax + Decimal("0.01") * p.rng.randint(1, 4)
    paid = doc.qbo_total
    attach(p.payment(doc.company, doc, doc.company.method), doc, paid, None)
    note = f"QBO shows invoice {doc.number} paid {paid}, a few cents more than CW's {doc.total}; CW has nothing."
    p.record("payment_not_synced", (doc.number,), doc.company, paid, note, fix=f"backflow_payment {doc.total}")


STEPS = {"look_alike_number": look_alike_number, "tax_penny_payment": tax_penny_payment}
