"""``tally map``: the ConnectWise companies Tally cannot check, their best QuickBooks candidates, and confirming one."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from bot.cli.actions import operator
from bot.cli.check import last_check_or_stop
from bot.cli.output import Form, JsonOption, console, form_of, print_json
from bot.cli.support import EXIT_USAGE, err
from sync.mapping import MappingError, Unmapped, confirm, unmapped
from sync.reconcile.text import money
from sync.settings import load_settings


def map_command(
    company: Annotated[
        str | None, typer.Argument(help="the ConnectWise company: account number, identifier, id or exact name")
    ] = None,
    customer: Annotated[
        str | None, typer.Argument(help="the QuickBooks customer it is: Id or exact display name")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """List companies Tally cannot check with their best candidates; with COMPANY CUSTOMER, confirm a mapping."""
    settings = load_settings()
    form = form_of(as_json)
    engine, _ = last_check_or_stop(settings, form)
    if company is not None:
        if customer is None:
            err.print("Say which QuickBooks customer it is: `tally map <company> <customer>`.")
            raise typer.Exit(EXIT_USAGE)
        try:
            cw, qbo = confirm(engine, company, customer, actor=operator(settings).key)
        except MappingError as exc:
            err.print(str(exc))
            raise typer.Exit(EXIT_USAGE) from exc
        said = f"Mapped ConnectWise company {cw.name} to QuickBooks customer {qbo.display_name} (Id {qbo.id})."
        if form is Form.JSON:
            print_json({"company_id": cw.id, "customer_id": qbo.id, "note": said})
        else:
            console.print(f"{said} The next check compares them.", markup=False, soft_wrap=True)
        return
    rows = unmapped(engine)
    if form is Form.JSON:
        print_json({"unmapped": [unmapped_json(row) for row in rows]})
        return
    if not rows:
        console.print("[green]Every ConnectWise company has a QuickBooks customer Tally can check.[/]")
        return
    table = Table(title="Companies Tally cannot check")
    for column in ("company", "account", "open in ConnectWise", "best candidates (QuickBooks Id: name)"):
        table.add_column(column, justify="right" if column.startswith("open") else "left", overflow="fold")
    for row in rows:
        offered = ", ".join(f"{c.id}: {c.display_name}" for c in row.candidates) or "none found"
        table.add_row(row.company.name, row.label, money(row.open_amount), offered)
    console.print(table)
    console.print("Confirm one with `tally map <account> <QuickBooks Id>`.", markup=False)


def unmapped_json(row: Unmapped) -> dict[str, Any]:
    """One company as ``tally map --json`` prints it."""
    return {
        "company_id": row.company.id,
        "company": row.company.name,
        "account": row.label,
        "open_amount": str(row.open_amount),
        "candidates": [{"id": c.id, "name": c.display_name} for c in row.candidates],
    }
