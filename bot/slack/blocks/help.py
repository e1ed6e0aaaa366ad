"""Help and usage: what each ``/tally`` subcommand does, and what to type when the input was not understood."""

from __future__ import annotations

from bot.slack.blocks.common import Block, Message, context, section

USAGE: dict[str, tuple[str, str]] = {
    "status": ("status", "connections, last check, open findings, approvals waiting, QuickBooks token health"),
    "check": ("check", "check both systems now; new findings are posted in the channel"),
    "payments": (
        "payments [invoice|customer]",
        "payments QuickBooks has that ConnectWise lacks, with Approve buttons",
    ),
    "credits": ("credits [number]", "credit memos applied in one system but not the other, with Approve buttons"),
    "mirror": ("mirror [number]", "ConnectWise invoices and credit memos missing in QuickBooks, with Approve buttons"),
    "explain": ("explain NUMBER", "one invoice or credit memo in both systems, side by side, and what is wrong"),
    "ar": ("ar [customer]", "open receivables per customer in each system, and what explains the difference"),
    "map": ("map [ACCOUNT CUSTOMER]", "companies Tally cannot check, their best QuickBooks candidates; confirm one"),
    "actions": ("actions [status]", "the fixes and where each stands (proposed, approved, succeeded, failed, …)"),
    "history": ("history [count]", "the audit trail, newest first (default 20, at most 100)"),
    "undo": ("undo N", "propose reversing fix N that Tally carried out; it is approved like any fix"),
    "digest": ("digest", "post the daily digest to the channel now"),
    "connect": ("connect", "a link to connect QuickBooks: admins only, yours alone, once, for ten minutes"),
    "doctor": (
        "doctor",
        "check that ConnectWise, QuickBooks, Slack and the database are set up as Tally needs (admins)",
    ),
    "help": ("help [command]", "this list"),
}


def usage_line(command: str, name: str) -> str:
    """One subcommand's usage: ``/tally payments [invoice|customer]`` — what it does."""
    syntax, what = USAGE[name]
    return f"`{command} {syntax}` — {what}"


def help_message(command: str, *, topic: str | None = None) -> Message:
    """Every subcommand (or one, ``topic``) with what it does."""
    names = [topic] if topic in USAGE else list(USAGE)
    blocks: list[Block] = [
        section(
            "*Tally* keeps ConnectWise and QuickBooks in agreement. Fixes run only after an approver approves them."
        ),
        section("\n".join(usage_line(command, name) for name in names)),
    ]
    return Message(text=f"How to use {command}", blocks=blocks)


def usage_message(command: str, problem: str, *, topic: str | None = None) -> Message:
    """What was wrong with the input, and how to type it (the one subcommand, or all of them)."""
    lines = [usage_line(command, topic)] if topic in USAGE else [usage_line(command, name) for name in USAGE]
    blocks: list[Block] = [
        section(f":grey_question: {problem}"),
        section("\n".join(lines)),
        context(f"`{command} help` lists every command."),
    ]
    return Message(text=f"{problem} Try `{command} help`.", blocks=blocks)
