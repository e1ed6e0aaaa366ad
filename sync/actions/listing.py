"""Listing fixes: by group (payments, credits, mirror), by status, and by the document or customer they touch.

Shared by ``tally payments | credits | mirror | actions`` and the Slack previews of the same names.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import col

from sync.db import session_scope
from sync.models import Action
from sync.reconcile.model import number_key

GROUPS: dict[str, tuple[str, ...]] = {
    "payments": ("backflow_payment",),
    "credits": ("apply_credit_memo", "apply_credit_in_cw"),
    "mirror": ("mirror_invoice", "mirror_credit_memo"),
}
WAITING = ("proposed", "approved")  # a fix a person can still decide on, or one about to run


def touches(action: Action, *, number: str | None = None, text: str | None = None) -> bool:
    """Tell whether ``action`` names document ``number``, or ``text`` as a document number or part of its customer."""
    params: dict[str, object] = json.loads(action.params or "{}")
    numbers = {number_key(str(value)) for value in params.values()}
    if number is not None and number_key(number) not in numbers:
        return False
    if text is not None:
        customer = str(params.get("customer", "")).lower()
        return number_key(text) in numbers or text.strip().lower() in customer
    return True


def list_actions(
    engine: Engine,
    *,
    kinds: Sequence[str] | None = None,
    status: Sequence[str] | None = None,
    number: str | None = None,
    text: str | None = None,
) -> list[Action]:
    """Return the fixes of ``kinds`` in ``status``, oldest first, naming ``number`` (or ``text``) if given."""
    with session_scope(engine) as session:
        statement = select(Action).order_by(col(Action.id))
        if kinds:
            statement = statement.where(col(Action.kind).in_(tuple(kinds)))
        if status:
            statement = statement.where(col(Action.status).in_(tuple(status)))
        rows = list(session.execute(statement).scalars())
    if number is None and text is None:
        return rows
    return [row for row in rows if touches(row, number=number, text=text)]
