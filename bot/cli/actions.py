"""``tally payments | credits | mirror | actions | approve | reject | undo``: the proposed fixes, and deciding them.

The CLI acts as the person at the terminal: the OS login (asked of the system by uid, never an environment
variable), mapped to a Slack user by ``TALLY_OPERATORS=ana:U0ANA``. That person may approve when their Slack id is
in ``TALLY_APPROVERS``; their approvals in Slack and here count once. A login mapped to nobody may approve only when
``TALLY_APPROVERS`` lists the login itself (``ana`` or ``cli:ana``), and such an approval never counts toward dual
approval (``sync.people``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import Engine

from bot.cli.output import Column, JsonOption, Record, choice, print_json, show
from bot.cli.support import EXIT_REFUSED, EXIT_USAGE, err, stop_on_api_errors
from sync.actions import GROUPS, ActionNotFoundError, approver_check, execute, list_actions, offer_undo
from sync.actions import approve as approve_action
from sync.actions import reject as reject_action
from sync.db import session_scope
from sync.models import Action, SlackApproverCache
from sync.people import Actor, terminal_actor
from sync.reconcile.text import money
from sync.settings import Settings, load_settings
from sync.wiring import clients, open_engine

console = Console()
KINDS = GROUPS


def operator_check(settings: Settings, engine: Engine | None = None) -> Callable[[str], bool]:
    """Approvers for the CLI: the configured ids, with ``name`` and ``cli:name`` meaning the same unmapped login,
    and the members of ``TALLY_APPROVER_GROUP`` as Slack last told the Slack app (the terminal does not ask Slack)."""
    extra = {f"cli:{name.removeprefix('cli:')}" for name in settings.approvers}
    if engine is not None and settings.approver_group:
        with session_scope(engine) as session:
            cached = session.get(SlackApproverCache, settings.approver_group)
            extra |= set(json.loads(cached.members)) if cached is not None else set()
    return approver_check(settings, extra=extra)


def operator(settings: Settings) -> Actor:
    """The person at this terminal (``sync.people``)."""
    return terminal_actor(settings.operators)


def actions_table(rows: Sequence[Action], *, title: str) -> Table:
    """Render actions as a terminal table."""
    table = Table(title=title)
    for column in ("id", "status", "kind", "amount", "the exact write", "result"):
        table.add_column(column, justify="right" if column in ("id", "amount") else "left", overflow="fold")
    for row in rows:
        table.add_row(str(row.id), row.status, row.kind, money(row.amount), row.description, row.result or "")
    return table


def _list(
    engine: Engine, *, kinds: Sequence[str] | None, status: Sequence[str] | None, number: str | None = None
) -> list[Action]:
    return list_actions(engine, kinds=kinds, status=status, number=number)


def _decide_and_run(settings: Settings, engine: Engine, ids: Sequence[int]) -> int:
    """Approve each action as the operator and run the ones that are ready; return how many were refused."""
    is_approver = operator_check(settings, engine)
    refused = 0
    with stop_on_api_errors("Fixing"), clients(settings, engine) as both:
        for action_id in ids:
            outcome = approve_action(engine, action_id, approver=operator(settings), is_approver=is_approver)
            console.print(f"#{action_id}: {outcome.message}")
            refused += 0 if outcome.changed or outcome.ready else 1
            if outcome.ready:
                done = execute(
                    engine,
                    action_id,
                    cw=both.cw,
                    qbo=both.qbo,
                    actor=settings.operator,
                    tolerance=settings.tolerance,
                )
                console.print(f"#{action_id}: {done.status} — {done.result or done.description}")
    return refused


STATUSES = ("proposed", "approved", "executing", "unsure", "succeeded", "failed", "rejected", "superseded")
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="with --apply: do not ask for confirmation")]
ACTION_COLUMNS = (
    Column("id", "fix", number=True),
    Column("status", "status"),
    Column("kind", "kind"),
    Column("amount", "amount", number=True),
    Column("description", "the exact write"),
    Column("result", "result"),
)


def action_record(row: Action) -> Record:
    """One fix as the terminal shows it."""
    return {
        "id": f"#{row.id}",
        "status": row.status,
        "kind": row.kind,
        "amount": money(row.amount),
        "description": row.description,
        "result": row.result or "",
    }


def action_json(row: Action) -> dict[str, Any]:
    """One fix for ``--json`` (amounts are strings)."""
    return {
        "id": row.id,
        "kind": row.kind,
        "status": row.status,
        "amount": str(row.amount),
        "description": row.description,
        "finding": row.finding_key,
        "approvals_needed": row.approvals_needed,
        "result": row.result,
        "version": row.version,
        "replaced_by": row.replaced_by,
        "undoes": row.undoes_action_id,  # undo (issue 13): the fix this action reverses, else null
    }


def _fixes(group: str, *, apply: bool, yes: bool, as_json: bool, number: str | None = None) -> None:
    settings = load_settings()
    engine = open_engine(settings)
    rows = _list(engine, kinds=KINDS[group], status=["proposed", "approved"], number=number)
    if as_json and not apply:
        print_json({"group": group, "fixes": [action_json(row) for row in rows]})
        return
    show(f"{len(rows)} proposed {group} fixes", ACTION_COLUMNS, [action_record(row) for row in rows])
    if apply and rows:
        _confirm(rows, yes=yes)
        if _decide_and_run(settings, engine, [row.id for row in rows if row.id is not None]):
            raise typer.Exit(EXIT_REFUSED)
    elif rows:
        console.print("Run again with --apply to approve and carry them out as " + settings.operator + ".")


def _confirm(rows: Sequence[Action], *, yes: bool) -> None:
    """Ask before approving many writes at once: the count and the total; without a terminal, --yes is required."""
    total = sum((row.amount for row in rows), Decimal("0.00"))
    question = f"Approve and carry out {len(rows)} fixes totalling {money(total)}?"
    if yes:
        return
    if not sys.stdin.isatty():
        err.print(f"{question} Not asked without a terminal: add --yes to approve them from a script.")
        raise typer.Exit(EXIT_USAGE)
    if not typer.confirm(question, default=False):
        err.print("Nothing approved.")
        raise typer.Exit(EXIT_REFUSED)


def payments(
    invoice: Annotated[str | None, typer.Option("--invoice", help="only this invoice number")] = None,
    apply: Annotated[bool, typer.Option("--apply", help="approve and carry them out")] = False,
    yes: YesOption = False,
    as_json: JsonOption = False,
) -> None:
    """Payments QuickBooks has that ConnectWise lacks: preview, or --apply to record them in ConnectWise."""
    _fixes("payments", apply=apply, yes=yes, as_json=as_json, number=invoice)


def credits(
    number: Annotated[str | None, typer.Option("--number", help="only this credit memo or invoice")] = None,
    apply: Annotated[bool, typer.Option("--apply", help="approve and carry them out")] = False,
    yes: YesOption = False,
    as_json: JsonOption = False,
) -> None:
    """Credit memos applied in one system but not the other: preview, or --apply."""
    _fixes("credits", apply=apply, yes=yes, as_json=as_json, number=number)


def mirror(
    number: Annotated[str | None, typer.Option("--number", help="only this document")] = None,
    apply: Annotated[bool, typer.Option("--apply", help="approve and carry them out")] = False,
    yes: YesOption = False,
    as_json: JsonOption = False,
) -> None:
    """ConnectWise documents missing in QuickBooks: preview, or --apply to create them there."""
    _fixes("mirror", apply=apply, yes=yes, as_json=as_json, number=number)


def actions(
    status: Annotated[str | None, typer.Option("--status", help=f"one of: {', '.join(STATUSES)}")] = None,
    as_json: JsonOption = False,
) -> None:
    """List the fixes and where each stands."""
    status = choice(status, STATUSES, "--status")
    engine = open_engine(load_settings())
    rows = _list(engine, kinds=None, status=[status] if status else None)
    if as_json:
        print_json({"fixes": [action_json(row) for row in rows]})
        return
    show(f"{len(rows)} fixes" + (f" ({status})" if status else ""), ACTION_COLUMNS, [action_record(r) for r in rows])


def approve(action_id: Annotated[int, typer.Argument(help="the fix's number (tally actions)")]) -> None:
    """Approve one fix as the operator; it runs as soon as it has its approvals."""
    settings = load_settings()
    try:
        refused = _decide_and_run(settings, open_engine(settings), [action_id])
    except ActionNotFoundError as exc:
        err.print(exc.sentence)
        raise typer.Exit(2) from exc
    if refused:
        raise typer.Exit(EXIT_REFUSED)


def reject(
    action_id: Annotated[int, typer.Argument(help="the fix's number (tally actions)")],
    reason: Annotated[str, typer.Option("--reason", help="why, for the audit trail")],
) -> None:
    """Reject one fix, with a reason."""
    settings = load_settings()
    engine = open_engine(settings)
    try:
        outcome = reject_action(
            engine, action_id, actor=operator(settings), reason=reason, is_approver=operator_check(settings, engine)
        )
    except ActionNotFoundError as exc:
        err.print(exc.sentence)
        raise typer.Exit(2) from exc
    console.print(outcome.message)
    if not outcome.changed:
        raise typer.Exit(EXIT_REFUSED)


def undo(fix_id: Annotated[int, typer.Argument(help="the number of a fix Tally carried out (tally actions)")]) -> None:
    """Propose reversing a fix Tally carried out; approve the undo like any fix (tally approve N)."""
    settings = load_settings()
    engine = open_engine(settings)
    try:
        offer = offer_undo(engine, fix_id, settings=settings, actor=operator(settings).key)
    except ActionNotFoundError as exc:
        err.print(exc.sentence)
        raise typer.Exit(2) from exc
    if offer.action is None:
        err.print(offer.sentence)
        raise typer.Exit(EXIT_REFUSED)
    console.print(offer.sentence)
    if offer.action.status == "proposed":
        console.print(f"Approve it with: tally approve {offer.action.id}   (or reject: tally reject {offer.action.id})")
