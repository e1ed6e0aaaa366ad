"""Alerts: one finding (with its fix and Approve / Reject buttons), and a summary when many arrive at once."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from bot.slack.blocks.common import (
    BUTTON_VALUE,
    Block,
    Message,
    actions,
    button,
    clip,
    context,
    counted,
    escape,
    fields,
    money,
    section,
)
from bot.slack.ids import ActionId, BlockId
from sync.models import Action, FindingRecord

TITLES = {
    "invoice_missing_in_qbo": "Invoice missing in QuickBooks",
    "credit_memo_missing_in_qbo": "Credit memo missing in QuickBooks",
    "amount_mismatch": "Totals disagree",
    "customer_mismatch": "Customer disagrees",
    "duplicate_in_qbo": "Duplicate in QuickBooks",
    "orphan_in_qbo": "Typed by hand in QuickBooks",
    "payment_not_synced": "Payment not carried back to ConnectWise",
    "payment_only_in_cw": "Payment only in ConnectWise",
    "credit_not_applied_in_qbo": "Credit memo not applied in QuickBooks",
    "credit_not_applied_in_cw": "Credit memo not applied in ConnectWise",
    "balance_mismatch": "Open balance disagrees",
}

_SIDE_LABELS = (
    ("total", "Total"),
    ("paid", "Paid"),
    ("credits", "Credits"),
    ("balance", "Balance"),
    ("remaining_credit", "Unused credit"),
    ("unapplied", "Unapplied"),
    ("date", "Date"),
)
_SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")
_BY_USER = re.compile(r"\bby ([UW][A-Z0-9]{2,})\b")
SUMMARY_LINES = 20


@dataclass(frozen=True)
class ActionView:
    """An action as an alert shows it: the row plus who approved it."""

    action: Action
    approvers: tuple[str, ...] = ()
    undoes: ActionView | None = None  # undo (issue 13): ``action`` reverses this fix
    can_undo: bool = False  # undo: ``action`` ran and may still be reversed (the alert shows Undo)


def title(kind: str) -> str:
    """A finding kind in words."""
    return TITLES.get(kind, kind.replace("_", " ").capitalize())


def who(actor: str) -> str:
    """Name an actor: a Slack user as a mention, anyone else (``scheduler``, ``cli:ana``) as written."""
    return f"<@{actor}>" if _SLACK_USER.match(actor) else actor


def mention_users(text: str) -> str:
    """Escape a sentence from ``sync`` (it quotes reasons and API text) and turn ``by U0ANA`` in it into a mention."""
    return _BY_USER.sub(lambda match: f"by <@{match.group(1)}>", escape(text))


def _side(name: str, values_json: str) -> str:
    values = json.loads(values_json or "{}")
    lines = [f"*{name}*"]
    for key, label in _SIDE_LABELS:
        if key in values and values[key] not in ("", None):
            value = values[key]
            lines.append(f"{label}: {escape(value) if key == 'date' else money(Decimal(str(value)))}")
    return "\n".join(lines) if len(lines) > 1 else f"*{name}*\n—"


def _waiting(view: ActionView) -> str:
    count, needed = len(view.approvers), view.action.approvals_needed
    names = ", ".join(who(a) for a in view.approvers)
    if needed < 2:
        return f"Approved by {names}" if count else "Waiting for an approver."
    line = f":hourglass: {count} of {needed} approvals" + (f" — approved by {names}" if count else "")
    return line + ("; needs a second, different approver." if count == 1 else ".")


def status_line(view: ActionView | None) -> str:
    """Where the fix stands, in words."""
    if view is None:
        return "No automatic fix: someone needs to look at it."
    action = view.action
    names = ", ".join(who(a) for a in view.approvers) or "policy"
    result = mention_users(action.result or "")
    lines = {
        "proposed": _waiting(view),
        "approved": f":hourglass: Approved by {names} — running now.",
        "executing": f":hourglass: Approved by {names} — running now.",
        "unsure": f":mag: Approved by {names}. {result} It will not be sent again.",
        "succeeded": f":white_check_mark: Done, approved by {names}. {result}",
        "failed": f":x: Failed (approved by {names}): {result or 'see the audit trail.'}",
        "rejected": f":no_entry_sign: {result or 'Rejected.'}",
        "superseded": f":arrows_counterclockwise: No longer needed: {result}",
    }
    return lines.get(action.status, action.status)


def finding_message(finding: FindingRecord, view: ActionView | None) -> Message:
    """The alert for one finding: what happened, both systems' numbers, the fix and its buttons."""
    documents = escape(", ".join(json.loads(finding.documents or "[]")))
    resolved = finding.status == "resolved"
    icon = ":white_check_mark:" if resolved else ":warning:"
    headline = f"{icon} *{title(finding.kind)}* — {documents}" + (
        f" · {escape(finding.customer)}" if finding.customer else ""
    )
    blocks: list[Block] = [
        section(f"{headline}\n{escape(finding.explanation)}"),
        fields(_side("ConnectWise", finding.cw), _side("QuickBooks", finding.qbo)),
    ]
    if view is not None and view.undoes is not None:
        fix = view.undoes.action
        blocks.append(section(f"*Fix #{fix.id}:* {escape(fix.description)}\n{status_line(view.undoes)}"))
        blocks.append(section(f"*Undo #{view.action.id}:* {escape(view.action.description)}\n{status_line(view)}"))
        if view.action.status == "proposed":
            blocks.append(decision_buttons(view.action))
    elif view is not None:
        blocks.append(section(f"*Fix:* {escape(view.action.description)}\n{status_line(view)}"))
        if not resolved and view.action.status == "proposed":
            blocks.append(decision_buttons(view.action))
        if view.can_undo:
            blocks.append(actions(f"{BlockId.UNDO}:{view.action.id}", undo_button(view.action)))
    elif not resolved:
        blocks.append(section(status_line(None)))
        mapping = map_buttons(finding)
        if mapping is not None:
            blocks.append(mapping)
    note = ""
    if resolved and finding.resolved_at:
        how = "fixed by Tally" if (finding.resolved_by or "").startswith("action:") else "the books agree again"
        note = f"Resolved {finding.resolved_at:%Y-%m-%d %H:%M} UTC: {how}"
    blocks.append(context(f"`{finding.key}` · {money(finding.amount)} at stake" + (f" · {note}" if note else "")))
    state = " — resolved" if resolved else (f" — {view.action.status}" if view else "")
    text = f"{title(finding.kind)}: {documents} ({money(finding.amount)}){state}"  # documents: escaped above
    return Message(text=clip(text, 3000), blocks=blocks)


def map_buttons(finding: FindingRecord) -> Block | None:
    """Under a company Tally cannot check: "Map to <candidate>" for each QuickBooks customer it may be."""
    if finding.kind != "customer_mismatch":
        return None
    cw, qbo = json.loads(finding.cw or "{}"), json.loads(finding.qbo or "{}")
    ids = [c for c in str(qbo.get("candidates", "")).split(",") if c]
    names = str(qbo.get("candidate_names", "")).split("|")
    if not ids or not cw.get("company_id"):
        return None
    company = str(cw.get("name", "this company"))
    buttons = [
        button(
            f"Map to {name}",
            ActionId.MAP_TO,
            f"{cw['company_id']}:{customer}",
            confirm=(
                "Confirm this mapping?",
                f"ConnectWise company {escape(company)} is QuickBooks customer {escape(name)}. Tally will check "
                "and fix their documents against each other from now on.",
                "Map",
            ),
        )
        for customer, name in zip(ids, names, strict=False)
    ]
    return actions(f"{BlockId.DECISION}:map:{cw['company_id']}", *buttons)


def approve_button(action: Action, *, label: str = "Approve") -> Block:
    """Approve, with a confirmation dialog stating the exact write."""
    return button(
        label,
        ActionId.APPROVE,
        str(action.id),
        style="primary",
        confirm=("Approve this fix?", escape(action.description), "Approve"),
    )


def undo_button(action: Action) -> Block:
    """Undo a fix that ran: proposes the reverse write, which is then approved like any fix."""
    return button(
        "Undo",
        ActionId.UNDO,
        str(action.id),
        confirm=(
            "Propose undoing this fix?",
            f"Tally proposes the reverse of: {escape(action.description)}. It is approved like any fix before "
            "anything is written.",
            "Propose undo",
        ),
    )


def decision_buttons(action: Action) -> Block:
    """Approve (with a dialog stating the exact write) and Reject (asks for a reason)."""
    value = str(action.id)
    return actions(
        f"{BlockId.DECISION}:{value}",
        approve_button(action),
        button("Reject", ActionId.REJECT, value, style="danger"),
    )


def id_list(actions_: Sequence[Action], *, limit: int = BUTTON_VALUE) -> list[int]:
    """The ids of ``actions_`` that fit in one button value (comma-separated)."""
    ids: list[int] = []
    length = 0
    for action in actions_:
        if action.id is None:
            continue
        length += len(str(action.id)) + (1 if ids else 0)
        if length > limit:
            break
        ids.append(action.id)
    return ids


def approve_all_button(fixable: Sequence[Action]) -> Block | None:
    """The confirmed "Approve all N" button for the proposed fixes (as many as one value holds); None if none."""
    ids = id_list(fixable)
    if not ids:
        return None
    chosen = [action for action in fixable if action.id in set(ids)]
    total = sum((action.amount for action in chosen), Decimal("0.00"))
    body = (
        f"{counted(len(ids), 'fix', 'fixes')}, {money(total)} in total. Each is re-checked against both systems "
        "before it runs; fixes above the dual-approval amount still need a second, different approver."
    )
    return button(
        f"Approve all {len(ids)}",
        ActionId.APPROVE_ALL,
        ",".join(str(i) for i in ids),
        style="primary",
        confirm=(f"Approve all {counted(len(ids), 'fix', 'fixes')}?", body, "Approve all"),
    )


def summary_message(items: Sequence[tuple[FindingRecord, ActionView | None]]) -> Message:
    """One message for many new findings, with "Approve all N" for the fixable ones."""
    fixable = [view.action for _, view in items if view is not None and view.action.status == "proposed"]
    total = sum((action.amount for action in fixable), Decimal("0.00"))
    lines = [
        f"• {title(f.kind)}: {escape(', '.join(json.loads(f.documents)))} ({money(f.amount)})"
        for f, _ in items[:SUMMARY_LINES]
    ]
    if len(items) > SUMMARY_LINES:
        lines.append(f"…and {len(items) - SUMMARY_LINES} more (details in the thread)")
    blocks: list[Block] = [
        section(
            f":mag: *{len(items)} new findings* — {len(fixable)} can be fixed ({money(total)} in total). "
            "Details and buttons for each are in the thread."
        ),
        section("\n".join(lines)),
    ]
    approve_all = approve_all_button(fixable)
    if approve_all is not None:
        blocks.append(actions(BlockId.SUMMARY, approve_all))
    return Message(text=f"{len(items)} new findings, {len(fixable)} fixable", blocks=blocks)


def summary_decided(blocks: Sequence[Block], note: str) -> list[Block]:
    """A summary's blocks after "Approve all" was clicked: the button replaced by what it did."""
    kept = [block for block in blocks if block.get("block_id") != BlockId.SUMMARY]
    return [*kept, context(note)]
