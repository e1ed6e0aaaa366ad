"""Fixes ("actions"): proposed for findings, approved by people (or by policy), executed exactly once.

propose(session, finding, settings=, actor=)          -> Action | None     (proposals)
approve(engine, id, approver=, is_approver=)          -> ApprovalOutcome   (lifecycle)
reject(engine, id, actor=, reason=, is_approver=)     -> ApprovalOutcome   (lifecycle)
execute(engine, id, cw=, qbo=, actor=, tolerance=)    -> Action            (executor)
settle(engine, cw=, qbo=)                             -> SettleReport      (recovery)
pending_writes(engine)                                -> int               (recovery)
approver_check(settings, extra=)                      -> Callable[[str], bool]  (policy)
list_actions(engine, kinds=, status=, number=, text=)  -> list[Action]     (listing)
restated_sentence(engine, id)                         -> str | None        (approving: "This fix changed ...")
offer_undo(engine, fix_id, settings=, actor=)         -> UndoOffer        (undo: the reverse write, an action too)
"""

from sync.actions.approving import restated_sentence
from sync.actions.executor import execute
from sync.actions.lifecycle import ActionNotFoundError, ApprovalOutcome, approve, approvers_of, get_action, reject
from sync.actions.listing import GROUPS, WAITING, list_actions, touches
from sync.actions.policy import approvals_needed, approver_check, auto_approves
from sync.actions.proposals import describe, live_action, propose
from sync.actions.recovery import STALE_AFTER, SettleReport, pending_writes, settle
from sync.actions.undo import UNDO_KINDS, UndoOffer, is_undo, offer_undo, undos_of, was_undone

__all__ = [
    "GROUPS",
    "STALE_AFTER",
    "UNDO_KINDS",
    "WAITING",
    "ActionNotFoundError",
    "ApprovalOutcome",
    "SettleReport",
    "UndoOffer",
    "approvals_needed",
    "approve",
    "approver_check",
    "approvers_of",
    "auto_approves",
    "describe",
    "execute",
    "get_action",
    "is_undo",
    "list_actions",
    "live_action",
    "offer_undo",
    "pending_writes",
    "propose",
    "reject",
    "restated_sentence",
    "settle",
    "touches",
    "undos_of",
    "was_undone",
]
