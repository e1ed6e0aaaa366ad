"""``tally payments | credits | mirror | actions | approve | reject``: the proposed fixes, and deciding them.

The CLI acts as a named operator (``TALLY_OPERATOR``, default the login name, audited as ``cli:<name>``);
it may approve when that name is listed in ``TALLY_APPROVERS`` (as ``name`` or ``cli:name``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import Engine

from bot.cli.support import EXIT_REFUSED, err, stop_on_api_errors
from sync.actions import GROUPS, ActionNotFoundError, approver_check, execute, list_actions
from sync.actions import approve as approve_action
from sync.actions import reject as reject_action
from sync.models import Action
from sync.reconcile.text import money
from sync.settings import Settings, load_settings
from sync.wiring import clients, open_engine

console = Console()
KINDS = GROUPS


def operator_check(settings: Settings) -> Callable[[str], bool]:
    """Approvers for the CLI: the configured ids, with ``name`` and ``cli:name`` meaning the same operator."""
    return approver_check(settings, extra={f"cli:{name.removeprefix('cli:')}" for name in settings.approvers})


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
    is_approver = operator_check(settings)
    refused = 0
    with stop_on_api_errors("Fixing"), clients(settings, engine) as both:
        for action_id in ids:
            outcome = approve_action(engine, action_id, approver=settings.operator, is_approver=is_approver)
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


def _fixes(group: str, apply: bool, number: str | None = None) -> None:
    settings = load_settings()
    engine = open_engine(settings)
    rows = _list(engine, kinds=KINDS[group], status=["proposed", "approved"], number=number)
    console.print(actions_table(rows, title=f"{len(rows)} proposed {group} fixes"))
    if apply and rows:
        if _decide_and_run(settings, engine, [row.id for row in rows if row.id is not None]):
            raise typer.Exit(EXIT_REFUSED)
    elif rows:
        console.print("Run again with --apply to approve and carry them out as " + settings.operator + ".")


def payments(
    invoice: Annotated[str | None, typer.Option("--invoice", help="only this invoice number")] = None,
    apply: Annotated[bool, typer.Option("--apply", help="approve and carry them out")] = False,
) -> None:
    """Payments QuickBooks has that ConnectWise lacks: preview, or --apply to record them in ConnectWise."""
    _fixes("payments", apply, invoice)


def credits(
    number: Annotated[str | None, typer.Option("--number", help="only this credit memo or invoice")] = None,
    apply: Annotated[bool, typer.Option("--apply", help="approve and carry them out")] = False,
) -> None:
    """Credit memos applied in one system but not the other: preview, or --apply."""
    _fixes("credits", apply, number)


def mirror(
    number: Annotated[str | None, typer.Option("--number", help="only this document")] = None,
    apply: Annotated[bool, typer.Option("--apply", help="approve and carry them out")] = False,
) -> None:
    """ConnectWise documents missing in QuickBooks: preview, or --apply to create them there."""
    _fixes("mirror", apply, number)


def actions(
    status: Annotated[str | None, typer.Option("--status", help="proposed, approved, succeeded, …")] = None,
) -> None:
    """List the fixes and where each stands."""
    engine = open_engine(load_settings())
    rows = _list(engine, kinds=None, status=[status] if status else None)
    console.print(actions_table(rows, title=f"{len(rows)} fixes" + (f" ({status})" if status else "")))


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
            engine, action_id, actor=settings.operator, reason=reason, is_approver=operator_check(settings)
        )
    except ActionNotFoundError as exc:
        err.print(exc.sentence)
        raise typer.Exit(2) from exc
    console.print(outcome.message)
    if not outcome.changed:
        raise typer.Exit(EXIT_REFUSED)


def register(app: typer.Typer) -> None:
    """Add these commands to ``app``."""
    for command in (payments, credits, mirror, actions, approve, reject):
        app.command()(command)
