"""What an approval covers and how approvals are counted (issue 8 §2-3).

- **The write as stated.** ``stated(kind, params)`` is what the confirm dialog and the alert say: the kind of fix,
  the system written to, the amount, the date and the documents. It is kept on the action (``planned_on``). When a
  later check would state a different write, the proposal is a new action (``version`` + 1); the old one is
  ``superseded`` with ``replaced_by`` naming the new one, and approvals never carry over. A click on the old one is
  answered by ``changed_sentence`` ("This fix changed from $320.21 to $420.21 — see the updated alert") and writes
  nothing.
- **People.** Approvals are stored per person (``sync.people``). A fix above the dual-approval amount needs two
  different people; an approval from a terminal login mapped to nobody (``cli:<login>``) does not count toward
  that, and the requester alone never completes one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from sync.db import session_scope
from sync.models import Action
from sync.people import is_person
from sync.reconcile.text import money

SYSTEMS = {
    "backflow_payment": "ConnectWise",
    "apply_credit_in_cw": "ConnectWise",
    "apply_credit_memo": "QuickBooks",
    "mirror_invoice": "QuickBooks",
    "mirror_credit_memo": "QuickBooks",
}
DOCUMENT_KEYS = ("number", "invoice", "credit_memo", "cw_invoice_id", "cw_credit_memo_id", "cw_id")
CUSTOMER_KEYS = ("qbo_customer_id", "qbo_invoice_id", "qbo_credit_memo_id")


def stated(kind: str, params: dict[str, str]) -> dict[str, str]:
    """The write a fix states: kind, system, amount, date and documents (what a person approves)."""
    write = {"kind": kind, "system": SYSTEMS.get(kind, ""), "amount": str(Decimal(params["amount"]))}
    write["date"] = params.get("date", "")
    for key in (*DOCUMENT_KEYS, *CUSTOMER_KEYS):
        if params.get(key):
            write[key] = params[key]
    return write


def planned_on(kind: str, params: dict[str, str]) -> str:
    """``stated`` as the action stores it."""
    return json.dumps(stated(kind, params), sort_keys=True)


def restates(action: Action, params: dict[str, str], description: str) -> bool:
    """Whether ``params`` state a different write than the one ``action`` stands for (and people approved)."""
    if not action.planned_on:  # proposed before versions were kept: its words are what people saw
        return description != action.description
    return bool(json.loads(action.planned_on) != stated(action.kind, params))


def latest_version(session: Session, action: Action) -> Action:
    """Follow ``replaced_by`` to the newest version of a proposal."""
    current, seen = action, {action.id}
    while current.replaced_by is not None and current.replaced_by not in seen:
        found = session.get(Action, current.replaced_by)
        if found is None:
            break
        seen.add(found.id)
        current = found
    return current


def changed_sentence(session: Session, action: Action) -> str | None:
    """For a restated (replaced) action: what changed, pointing at the updated alert; None if it was not restated."""
    if action.replaced_by is None:
        return None
    new = latest_version(session, action)
    if new.amount != action.amount:
        change = f"from {money(action.amount)} to {money(new.amount)}"
    else:
        change = f"from “{action.description}” to “{new.description}”"
    return (
        f"This fix changed {change} — see the updated alert (fix #{new.id}). Nothing was written, and approvals "
        "of the old one do not carry over."
    )


def restated_sentence(engine: Engine, action_id: int) -> str | None:
    """``changed_sentence`` for one action by id (None if it was not restated, or does not exist)."""
    with session_scope(engine) as session:
        action = session.get(Action, action_id)
        return changed_sentence(session, action) if action is not None else None


def counting(approvals: Sequence[str], needed: int) -> list[str]:
    """The approvals that count: every one for a single approval; for dual approval, each person once."""
    distinct = list(dict.fromkeys(approvals))
    return distinct if needed < 2 else [key for key in distinct if is_person(key)]


def complete(action: Action, approvals: Sequence[str]) -> bool:
    """Enough different people approved, and never the requester alone on a dual-approval fix."""
    counted = counting(approvals, action.approvals_needed)
    if len(counted) < action.approvals_needed:
        return False
    return action.approvals_needed < 2 or bool(set(counted) - {action.requested_by})


def progress(action: Action, approvals: Sequence[str]) -> str:
    """``1 of 2 approvals; ...`` as the person who just approved reads it."""
    count, needed = len(counting(approvals, action.approvals_needed)), action.approvals_needed
    if count >= needed:
        return f"{count} of {needed} approvals"
    return f"{count} of {needed} approvals; amounts like this need a second, different approver"
