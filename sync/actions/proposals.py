"""Proposing a fix for a finding, and saying in words exactly what it will write.

An action's ``params`` hold everything the write needs *and* what the books looked like when it was proposed
(``cw_paid``, ``qbo_balance`` ...), so the executor can tell "still right" from "someone fixed it by hand".
Call ``propose`` inside ``session_scope(engine, write_lock=True)``: a partial unique index keeps at most one
live action per finding, and the write lock keeps SQLite from failing the second of two racing proposers.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlmodel import col, select

from sync import audit
from sync.actions.approving import planned_on, restates
from sync.actions.lifecycle import LIVE, Written, subject, transition
from sync.actions.policy import approvals_needed, auto_approves
from sync.models import Action, Approval, FindingRecord, LedgerEntry, utcnow
from sync.people import POLICY
from sync.reconcile.text import money
from sync.settings import FIX_KINDS, Settings

Params = dict[str, str]


def propose(session: Session, finding: FindingRecord, *, settings: Settings, actor: str) -> Action | None:
    """Propose the finding's fix (or return the live action already proposed for it); None if it has none."""
    if finding.status != "open" or finding.fix_kind not in FIX_KINDS or not finding.fix_params:
        return None
    action = live_action(session, finding.key)
    if action is not None and action.undoes_action_id is not None:  # an undo holds the finding until it ends
        return action
    if action is None:
        spent = spent_action(session, finding.key, plan(finding, today=utcnow().date()))
        if spent is not None:  # it already failed or was superseded against these very books
            return spent
        try:
            with session.begin_nested():
                action = _create(session, finding, plan(finding, today=utcnow().date()), settings, actor)
        except IntegrityError:  # someone proposed it a moment ago: theirs is the live one
            return live_action(session, finding.key)
    elif action.status == "proposed":
        assert action.created_at is not None
        params = plan(finding, today=action.created_at.date())  # dates Tally chose stay the proposal's
        if params != params_of(action):
            action = _restate(session, finding, action, params, settings, actor)
    if (
        action.status == "proposed"
        and auto_approves(action.kind, action.amount, settings)
        and not was_undone(session, finding.key)
    ):
        _auto_approve(session, action, actor, settings)
    return action


def live_action(session: Session, finding_key: str) -> Action | None:
    """Return the proposed, approved or executing action for a finding, if there is one."""
    statement = select(Action).where(col(Action.finding_key) == finding_key, col(Action.status).in_(LIVE))
    return session.execute(statement.execution_options(populate_existing=True)).scalars().first()


SPENT = ("failed", "superseded")
_DAY_CHOSEN = ("date",)  # what Tally fills in from the day it proposes: not a change in the books


def spent_action(session: Session, finding_key: str, params: Params) -> Action | None:
    """The finding's latest action if it was superseded, or refused by the target, with these same params.

    Such a fix is not proposed again unchanged at every check; it comes back once the books changed so that it is
    right. A fix that failed without being judged (throttled, disconnected, its lost write settled as not written)
    was right and simply did not happen: it is proposed again at once.
    """
    statement = select(Action).where(col(Action.finding_key) == finding_key).order_by(col(Action.id).desc())
    latest = session.execute(statement.limit(1)).scalars().first()
    if latest is None or latest.status not in SPENT:
        return None
    if latest.status == "failed" and not _refused(session, latest):
        return None
    same = {k: v for k, v in params_of(latest).items() if k not in _DAY_CHOSEN}
    return latest if same == {k: v for k, v in params.items() if k not in _DAY_CHOSEN} else None


def _refused(session: Session, action: Action) -> bool:
    """Whether the target turned this action's write down on its merits (its ledger row says ``refused``)."""
    statement = select(LedgerEntry.status).where(col(LedgerEntry.action_id) == action.id)
    return "refused" in set(session.execute(statement).scalars())


def plan(finding: FindingRecord, *, today: date) -> Params:
    """Build an action's params: the fix's own, the documents' names, and the values it expects to find."""
    params: Params = dict(json.loads(finding.fix_params or "{}"))
    cw: dict[str, str] = json.loads(finding.cw or "{}")
    qbo: dict[str, str] = json.loads(finding.qbo or "{}")
    params["customer"] = finding.customer or "its customer"
    kind = finding.fix_kind
    if kind == "backflow_payment":
        params.setdefault("date", today.isoformat())
        params.update(cw_paid=cw.get("paid", ""), qbo_invoice_id=qbo.get("id", ""), qbo_balance=qbo.get("balance", ""))
    elif kind == "apply_credit_memo":
        params.update(
            qbo_balance=qbo.get("balance", ""), cw_invoice_id=cw.get("id", ""), cw_credits=cw.get("credits", "")
        )
    elif kind == "apply_credit_in_cw":
        params.update(date=today.isoformat(), cw_credits=cw.get("credits", ""))
        params.update(qbo_invoice_id=qbo.get("id", ""), qbo_balance=qbo.get("balance", ""))
    else:  # mirror_invoice, mirror_credit_memo
        params["date"] = cw.get("date") or today.isoformat()
    return params


def describe(kind: str, params: Params) -> str:
    """Say exactly what the fix will write, in words a finance person reads."""
    amount = money(Decimal(params["amount"]))
    if kind == "backflow_payment":
        return f"Record a {amount} payment dated {params['date']} on ConnectWise invoice {params['number']}"
    if kind == "apply_credit_memo":
        return (
            f"Apply {amount} of credit memo {params['credit_memo']} to invoice {params['invoice']} in QuickBooks "
            "(a zero-total payment linking both)"
        )
    if kind == "apply_credit_in_cw":
        return (
            f"Apply {amount} of credit memo {params['credit_memo']} to invoice {params['invoice']} in ConnectWise "
            f"(a credit row dated {params['date']} on the invoice)"
        )
    word = "credit memo" if kind == "mirror_credit_memo" else "invoice"
    return f"Create {word} {params['number']} in QuickBooks for {params['customer']}: {amount} dated {params['date']}"


def report(kind: str, params: Params, remote_id: str, balance_before: Decimal | None) -> Written:
    """Say what a write did, once it is known to have happened, with the amounts and ids for the audit trail."""
    amount = Decimal(params["amount"])
    after = None if balance_before is None else balance_before - amount
    if kind == "backflow_payment":
        result = (
            f"Recorded a {money(amount)} payment dated {params['date']} on ConnectWise invoice {params['number']} "
            f"(payment id {remote_id})."
        )
        ids = {"cw_invoice_id": params["cw_invoice_id"], "cw_payment_id": remote_id}
        if params.get("qbo_payment_ids"):  # traceability: which QuickBooks payment(s) this carries back
            ids["qbo_payment_ids"] = params["qbo_payment_ids"]
            result = f"{result[:-2]}, carrying back QuickBooks payment {params['qbo_payment_ids']})."
    elif kind == "apply_credit_memo":
        result = (
            f"Applied {money(amount)} of credit memo {params['credit_memo']} to invoice {params['invoice']} in "
            f"QuickBooks (payment Id {remote_id})."
        )
        ids = {k: params[k] for k in ("qbo_invoice_id", "qbo_credit_memo_id")} | {"qbo_payment_id": remote_id}
    elif kind == "apply_credit_in_cw":
        result = (
            f"Applied {money(amount)} of credit memo {params['credit_memo']} to invoice {params['invoice']} in "
            f"ConnectWise (credit row id {remote_id})."
        )
        ids = {k: params[k] for k in ("cw_invoice_id", "cw_credit_memo_id")} | {"cw_payment_id": remote_id}
    else:
        word = "credit memo" if kind == "mirror_credit_memo" else "invoice"
        result = (
            f"Created {word} {params['number']} in QuickBooks (Id {remote_id}) for {params['customer']}: "
            f"{money(amount)} dated {params['date']}."
        )
        ids = {"cw_id": params["cw_id"], f"qbo_{word.replace(' ', '_')}_id": remote_id}
        after = amount  # the new document's open amount; there was none before
    return Written(remote_id, result, balance_before, after, ids)


def params_of(action: Action) -> Params:
    """Read an action's params."""
    loaded: Params = json.loads(action.params or "{}")
    return loaded


def _create(
    session: Session, finding: FindingRecord, params: Params, settings: Settings, actor: str, *, version: int = 1
) -> Action:
    assert finding.fix_kind is not None
    amount, now = Decimal(params["amount"]), utcnow()
    action = Action(
        finding_key=finding.key,
        kind=finding.fix_kind,
        params=json.dumps(params, sort_keys=True),
        amount=amount,
        description=describe(finding.fix_kind, params),
        requested_by=actor,
        approvals_needed=approvals_needed(amount, settings),
        created_at=now,
        updated_at=now,
        version=version,
        planned_on=planned_on(finding.fix_kind, params),
    )
    session.add(action)
    session.flush()
    assert action.id is not None
    audit.record(
        session,
        actor=actor,
        verb="action.proposed",
        subject=subject(action.id),
        amount_after=amount,
        detail=action.description if version == 1 else f"{action.description} (version {version})",
    )
    return action


def _restate(
    session: Session, finding: FindingRecord, action: Action, params: Params, settings: Settings, actor: str
) -> Action:
    """The books moved while the fix waited. The same write: refresh what it expects to find. Another write:
    a new proposal (a new action, no approvals), the old one superseded and pointing at it."""
    assert action.id is not None
    description = describe(action.kind, params)
    if not restates(action, params, description):
        action.params = json.dumps(params, sort_keys=True)
        action.updated_at = utcnow()
        session.flush()
        return action
    reason = f"Restated by a later check: {description} (was {action.description})."
    if not transition(session, action.id, source=("proposed",), target="superseded", result=reason):
        return live_action(session, finding.key) or action  # approved or rejected meanwhile: leave it be
    audit.record(
        session,
        actor=actor,
        verb="action.superseded",
        subject=subject(action.id),
        amount_before=action.amount,
        amount_after=Decimal(params["amount"]),
        detail=f"{reason} Approvals given before do not carry over.",
    )
    new = _create(session, finding, params, settings, actor, version=action.version + 1)
    session.connection().execute(update(Action).where(col(Action.id) == action.id).values(replaced_by=new.id))
    session.get(Action, action.id, populate_existing=True)
    return new


def _auto_approve(session: Session, action: Action, actor: str, settings: Settings) -> None:
    assert action.id is not None
    session.add(Approval(action_id=action.id, approver=actor, channel=POLICY, at=utcnow()))
    session.flush()
    transition(session, action.id, source=("proposed",), target="approved")
    limit = money(settings.auto_approve[action.kind])
    audit.record(
        session,
        actor=actor,
        verb="action.auto_approved",
        subject=subject(action.id),
        amount_after=action.amount,
        detail=f"TALLY_AUTO_APPROVE approves {action.kind} up to {limit}",
    )


def was_undone(session: Session, finding_key: str) -> bool:
    """A person undid a fix of this finding on purpose: its fix is proposed for a person, never approved by policy."""
    statement = select(Action.id).where(
        col(Action.finding_key) == finding_key,
        col(Action.undoes_action_id).is_not(None),
        col(Action.status) == "succeeded",
    )
    return session.execute(statement.limit(1)).first() is not None
