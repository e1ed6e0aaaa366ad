"""How an answer looks under the switched readings of unverified ConnectWise facts (``sandbox/switches.py``).

The store keeps one canonical form (credit memos positive, ``status.isClosed`` present); these functions change
only what a GET answers, so every reading is served from the same books.
"""

from __future__ import annotations

from typing import Any

from sandbox.connectwise.records import Record
from sandbox.switches import Switches

# The money fields a credit memo carries; negated together under ``cw_credit_memo_negative`` [U: research could
# not tell the sign of a CreditMemo's total, https://github.com/ai-connor/connectwise model_invoice.go].
_MEMO_MONEY = ("subtotal", "salesTax", "total", "payments", "credits", "balance")


def invoice(record: Record, switches: Switches) -> Record:
    """Return the invoice as the switched ConnectWise would send it (a copy when anything changes)."""
    negative = record.get("type") == "CreditMemo" and switches.get("cw_credit_memo_negative")
    closed = switches.get("cw_closed_flag")
    if not negative and closed == "present":
        return record
    out: Record = dict(record)
    if negative:
        for key in _MEMO_MONEY:
            if out.get(key) is not None:
                out[key] = -out[key]
    status = out.get("status")
    if closed != "present" and isinstance(status, dict):
        status = {key: value for key, value in status.items() if key != "isClosed"}
        if closed == "null":
            status["isClosed"] = None
        out["status"] = status
    return out


def drop_row(items: list[Any], switches: Switches) -> list[Any]:
    """Leave out the ``cw_drop_row``-th row (1-based) of a page, when the switch is on."""
    position = int(switches.get("cw_drop_row"))
    if position < 1 or len(items) < position:
        return items
    return items[: position - 1] + items[position:]
