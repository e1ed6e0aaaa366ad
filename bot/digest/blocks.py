"""The daily digest: yesterday's activity, open findings, AR in both systems, pending approvals and health.

``digest_messages`` is pure: a ``Digest`` in, messages out. Long lists are packed into sections of at most 3,000
characters, and the blocks are split across as many messages as Slack's 50-block limit needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal

from bot.slack.blocks.common import (
    SECTION_TEXT,
    Block,
    Message,
    chunk_blocks,
    clip,
    context,
    divider,
    escape,
    header,
    money,
    section,
)
from bot.slack.blocks.findings import mention_users, title, who

ZERO = Decimal("0.00")
LIST_LINES = 25  # lines shown per list before "…and N more": a digest is read over coffee, not audited
FIX_WORDS = {
    "mirror_invoice": "Invoices mirrored to QuickBooks",
    "mirror_credit_memo": "Credit memos mirrored to QuickBooks",
    "backflow_payment": "Payments carried back to ConnectWise",
    "apply_credit_memo": "Credit memos applied in QuickBooks",
    "apply_credit_in_cw": "Credits applied in ConnectWise",
}


@dataclass(frozen=True)
class Fix:
    """A fix that ran (or failed) yesterday, with who approved it."""

    kind: str
    description: str
    amount: Decimal
    approvers: tuple[str, ...] = ()
    result: str = ""


@dataclass(frozen=True)
class Decision:
    """Someone approving or rejecting a fix yesterday."""

    actor: str
    verb: str  # approved | auto_approved | rejected
    action_id: int
    description: str
    amount: Decimal
    detail: str = ""


@dataclass(frozen=True)
class KindTotal:
    """Open findings of one kind."""

    kind: str
    count: int
    amount: Decimal


@dataclass(frozen=True)
class CustomerGap:
    """One customer's AR difference and the findings (kind titles with amounts) that explain it."""

    name: str
    cw_open: Decimal
    qbo_open: Decimal
    explained: tuple[tuple[str, Decimal], ...]
    pending: Decimal = ZERO
    unexplained: Decimal = ZERO

    @property
    def difference(self) -> Decimal:
        """ConnectWise AR minus QuickBooks AR."""
        return self.cw_open - self.qbo_open


@dataclass(frozen=True)
class Receivables:
    """Open AR in each system and the customers whose difference is not zero, largest first."""

    cw_total: Decimal
    qbo_total: Decimal
    customers: tuple[CustomerGap, ...]
    unchecked: tuple[tuple[str, str, Decimal], ...] = ()  # companies Tally cannot check: name, account, open in CW

    @property
    def difference(self) -> Decimal:
        """ConnectWise AR minus QuickBooks AR."""
        return self.cw_total - self.qbo_total


@dataclass(frozen=True)
class Pending:
    """A fix waiting for approval."""

    action_id: int
    description: str
    amount: Decimal
    approvals: int
    needed: int
    since: datetime | None


@dataclass(frozen=True)
class Health:
    """How Tally itself is doing."""

    last_check: datetime | None
    api_errors: tuple[str, ...]
    qbo_ok: bool
    qbo_sentence: str
    reconnect_by: datetime | None = None
    slack: str | None = None  # alerts that did not reach the channel, and the remedy (sync.delivery)
    sweep: str | None = None  # the latest full sweep, one sentence (issue 10 §1)
    sweep_missed: int = 0
    pushes: tuple[str, ...] = ()  # one line per system: its last notification and the checks it started


@dataclass(frozen=True)
class Activity:
    """What happened on the reported day."""

    fixes: tuple[Fix, ...] = ()
    failed: tuple[Fix, ...] = ()
    decisions: tuple[Decision, ...] = ()
    payments_received: int = 0
    payments_total: Decimal = ZERO
    opened: int = 0
    resolved: int = 0


@dataclass(frozen=True)
class Digest:
    """Everything one digest says; ``day`` is the local day the activity is from (yesterday)."""

    day: date
    zone: tzinfo
    activity: Activity
    open_by_kind: tuple[KindTotal, ...]
    receivables: Receivables | None
    pending: tuple[Pending, ...]
    health: Health
    notes: tuple[str, ...] = field(default_factory=tuple)


def pack(lines: Sequence[str], *, limit: int = SECTION_TEXT) -> list[Block]:
    """Sections holding ``lines`` in order, each within ``limit`` characters (an over-long line is clipped)."""
    blocks: list[Block] = []
    current = ""
    for line in (clip(line, limit) for line in lines):
        if current and len(current) + 1 + len(line) > limit:
            blocks.append(section(current))
            current = ""
        current = f"{current}\n{line}" if current else line
    if current:
        blocks.append(section(current))
    return blocks


def capped(lines: list[str], *, limit: int = LIST_LINES, more: str = "more") -> list[str]:
    """The first ``limit`` lines, then one line saying how many were left out."""
    if len(lines) <= limit:
        return lines
    return [*lines[:limit], f"…and {len(lines) - limit} {more}"]


def _local(moment: datetime | None, zone: tzinfo) -> str:
    return "never" if moment is None else moment.astimezone(zone).strftime("%a %d %b %H:%M")


def activity_blocks(digest: Digest) -> list[Block]:
    """Yesterday: fixes carried out by kind, payments received, decisions, failures, findings opened/resolved."""
    act = digest.activity
    lines = [
        f"• Payments received in QuickBooks: {act.payments_received} ({money(act.payments_total)})",
        f"• Findings opened: {act.opened} · resolved: {act.resolved}",
    ]
    for kind, words in FIX_WORDS.items():
        done = [fix for fix in act.fixes if fix.kind == kind]
        if done:
            total = sum((fix.amount for fix in done), ZERO)
            lines.append(f"• {words}: {len(done)} ({money(total)})")
    undone = [fix for fix in act.fixes if fix.kind.startswith("undo_")]  # undo (issue 13): reverse writes
    if undone:
        lines.append(f"• Fixes undone: {len(undone)} ({money(sum((fix.amount for fix in undone), ZERO))})")
    blocks = [section(f"*Yesterday, {digest.day:%a %d %b}*"), *pack(lines)]
    if act.fixes:
        fixes = [f"• {escape(fix.description)} — approved by {_names(fix.approvers)}" for fix in act.fixes]
        blocks += pack(["*Fixes carried out*", *capped(fixes)])
    if act.decisions:
        blocks += pack(["*Who approved what*", *capped([_decision(d) for d in act.decisions])])
    if act.failed:
        failed = [
            f"• :x: {escape(fix.description)}: {mention_users(fix.result) or 'see the audit trail'}"
            for fix in act.failed
        ]
        blocks += pack(["*Fixes that failed*", *capped(failed)])
    return blocks


def _names(actors: Sequence[str]) -> str:
    return ", ".join(who(actor) for actor in actors) or "policy"


def _decision(decision: Decision) -> str:
    verb = {"approved": "approved", "auto_approved": "auto-approved (policy)", "rejected": "rejected"}
    line = f"• {who(decision.actor)} {verb.get(decision.verb, decision.verb)} fix {decision.action_id}: "
    line += f"{escape(decision.description)} ({money(decision.amount)})"
    return line + (f" — {mention_users(decision.detail)}" if decision.detail and decision.verb == "rejected" else "")


def findings_blocks(digest: Digest) -> list[Block]:
    """Open findings by kind with their amounts."""
    kinds = digest.open_by_kind
    if not kinds:
        return [section("*Open findings*\n:white_check_mark: None: the two systems agree.")]
    count = sum(kind.count for kind in kinds)
    total = sum((kind.amount for kind in kinds), ZERO)
    lines = [f"*Open findings: {count}* ({money(total)} at stake)"]
    lines += [f"• {title(kind.kind)}: {kind.count} ({money(kind.amount)})" for kind in kinds]
    return pack(lines)


def receivables_blocks(digest: Digest) -> list[Block]:
    """AR in each system, the difference, and the customers that explain it."""
    ar = digest.receivables
    if ar is None:
        return [section("*Accounts receivable*\nNot known yet: no check has read both systems.")]
    lines = [
        "*Accounts receivable*",
        f"ConnectWise {money(ar.cw_total)} · QuickBooks {money(ar.qbo_total)} · difference {money(ar.difference)}",
    ]
    gaps = [_gap(gap) for gap in ar.customers if gap.difference or gap.explained]
    if gaps:
        lines.append("_Customers that explain it (ConnectWise − QuickBooks):_")
    lines += capped(gaps, more="more customers (`tally ar` lists them all)")
    if ar.unchecked:
        open_total = sum((amount for _, _, amount in ar.unchecked), ZERO)
        lines.append(
            f"_Companies Tally cannot check ({len(ar.unchecked)}, {money(open_total)} open in ConnectWise); "
            "no writes are made for them until mapped (`tally map`):_"
        )
        unchecked = [f"• {escape(name)} ({escape(account)}): {money(amount)}" for name, account, amount in ar.unchecked]
        lines += capped(unchecked, more="more companies (`tally map` lists them all)")
    return pack(lines)


def _gap(gap: CustomerGap) -> str:
    parts = [f"{title(kind)} {money(amount)}" for kind, amount in gap.explained]
    if gap.pending:
        parts.append(f"awaiting sync {money(gap.pending)}")
    if gap.unexplained:
        parts.append(f"unexplained {money(gap.unexplained)}")
    return f"• {escape(gap.name)}: {money(gap.difference)}" + (f" — {', '.join(parts)}" if parts else "")


def pending_blocks(digest: Digest) -> list[Block]:
    """Fixes waiting for approval, oldest first."""
    if not digest.pending:
        return [section("*Pending approvals*\nNone.")]
    total = sum((item.amount for item in digest.pending), ZERO)
    lines = [f"*Pending approvals: {len(digest.pending)}* ({money(total)})"]
    lines += capped(
        [
            f"• Fix {item.action_id}: {escape(item.description)} ({money(item.amount)}) — {item.approvals} of "
            f"{item.needed} approvals, waiting since {_local(item.since, digest.zone)}"
            for item in digest.pending
        ]
    )
    return pack(lines)


def health_blocks(digest: Digest) -> list[Block]:
    """Last good check, API errors, and the QuickBooks connection (with a reconnect warning)."""
    health = digest.health
    icon = ":large_green_circle:" if health.qbo_ok and not health.api_errors and not health.slack else ":warning:"
    lines = [f"*Health* {icon}", f"• Last good check: {_local(health.last_check, digest.zone)}"]
    if health.reconnect_by is not None:
        lines.append(f"• :warning: Reconnect QuickBooks before {_local(health.reconnect_by, digest.zone)}")
    lines.append(f"• QuickBooks: {health.qbo_sentence}")
    if health.slack:
        lines.append(f"• :warning: Slack: {health.slack}")
    if health.sweep is not None:
        lines.append(f"• {':warning: ' if health.sweep_missed else ''}Full sweep: {escape(health.sweep)}")
    lines.extend(f"• Notifications from {line}" for line in health.pushes)
    if health.api_errors:
        lines.append(f"• API errors yesterday: {len(health.api_errors)}")
        lines += capped([f"   – {escape(error)}" for error in health.api_errors], limit=5, more="more errors")
    else:
        lines.append("• API errors yesterday: none")
    return pack(lines)


def digest_messages(digest: Digest) -> list[Message]:
    """The digest as one or more messages, each within Slack's block and text limits."""
    today = digest.day + timedelta(days=1)
    blocks: list[Block] = [header(f"Tally daily digest — {today:%a %d %b %Y}")]
    for part in (activity_blocks, findings_blocks, receivables_blocks, pending_blocks, health_blocks):
        blocks += [divider(), *part(digest)]
    if digest.notes:
        blocks.append(context(*digest.notes))
    chunks = chunk_blocks(blocks)
    name = f"Tally daily digest for {today:%a %d %b %Y}"
    if len(chunks) == 1:
        return [Message(text=name, blocks=chunks[0])]
    return [Message(text=f"{name} ({n} of {len(chunks)})", blocks=chunk) for n, chunk in enumerate(chunks, 1)]
