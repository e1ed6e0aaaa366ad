"""``tally check``, ``findings``, ``explain``, ``ar`` and ``history``: what disagrees, and why.

Exit codes scripts can use: 0 the books agree (or the command succeeded), 1 open findings remain,
2 bad usage, 3 a remote system or the QuickBooks connection failed (the message says what to do).
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bot.cli.progress import SyncProgress
from bot.cli.support import EXIT_FINDINGS, err, stop_on_api_errors
from sync.audit import history as audit_history
from sync.checks import dumps, run_check
from sync.db import session_scope
from sync.explain import explain_document
from sync.findings import open_findings
from sync.models import FindingRecord
from sync.reconcile import Finding
from sync.reconcile.text import money
from sync.reports import open_ar
from sync.settings import load_settings
from sync.wiring import clients, open_engine

console = Console()


def check(
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object for scripts")] = False,
    full: Annotated[bool, typer.Option("--full", help="re-read everything, not only changes")] = False,
    offline: Annotated[bool, typer.Option("--offline", help="reconcile the cache without calling the APIs")] = False,
) -> None:
    """Sync both systems, find every disagreement, and propose the fixes."""
    settings = load_settings()
    engine = open_engine(settings)
    with stop_on_api_errors("Check"):
        if offline:
            result = run_check(engine, settings, cw=None, qbo=None, actor=settings.operator)
        else:
            with clients(settings, engine) as both, SyncProgress(quiet=as_json) as progress:
                result = run_check(
                    engine, settings, cw=both.cw, qbo=both.qbo, actor=settings.operator, full=full, progress=progress
                )
    if as_json:
        typer.echo(dumps(result))
    else:
        console.print(
            findings_table([finding_line(f) for f in result.findings], title=f"{len(result.findings)} open findings")
        )
        console.print(
            f"{len(result.changes.new)} new, {len(result.changes.resolved)} resolved since the last check; "
            f"{sum(1 for f in result.findings if f.fix)} have a proposed fix (`tally actions`)."
        )
    if result.findings:
        raise typer.Exit(EXIT_FINDINGS)


Line = tuple[str, str, str, str, str, str]


def finding_line(finding: Finding) -> Line:
    """A finding from a check, as a table line."""
    fix = finding.fix.kind if finding.fix else "—"
    return (
        finding.kind,
        ", ".join(finding.documents),
        finding.customer or "",
        money(finding.amount),
        fix,
        finding.explanation,
    )


def record_line(row: FindingRecord) -> Line:
    """A stored finding, as a table line."""
    return (
        row.kind,
        ", ".join(json.loads(row.documents)),
        row.customer or "",
        money(row.amount),
        row.fix_kind or "—",
        row.explanation,
    )


def findings_table(lines: list[Line], *, title: str) -> Table:
    """Render findings as a terminal table."""
    table = Table(title=title)
    for column in ("kind", "documents", "customer", "amount", "fix", "what happened"):
        table.add_column(column, justify="right" if column == "amount" else "left", overflow="fold")
    for line in lines:
        table.add_row(*line)
    return table


def findings(kind: Annotated[str | None, typer.Option("--kind", help="only this kind")] = None) -> None:
    """List the open findings from the last check."""
    engine = open_engine(load_settings())
    with session_scope(engine) as session:
        rows = open_findings(session, kind=kind)
    console.print(
        findings_table(
            [record_line(row) for row in rows],
            title=f"{len(rows)} open findings" + (f" of kind {kind}" if kind else ""),
        )
    )
    if rows:
        raise typer.Exit(EXIT_FINDINGS)


def explain(number: Annotated[str, typer.Argument(help="an invoice or credit memo number")]) -> None:
    """Show one invoice or credit memo side by side in both systems, and what Tally thinks of it."""
    view = explain_document(open_engine(load_settings()), number)
    cw_doc, qbo_docs, credits, links, related = view.cw, view.qbo, view.cw_rows, view.qbo_links, view.findings
    if not view.found:
        err.print(f"No invoice or credit memo numbered {number} in either system (as of the last sync).")
        raise typer.Exit(2)
    table = Table(title=f"{number}: ConnectWise and QuickBooks side by side")
    table.add_column("")
    table.add_column("ConnectWise", justify="right")
    for doc in qbo_docs:
        table.add_column(f"QuickBooks (Id {doc.id})", justify="right")
    rows = [
        ("type", cw_doc.type if cw_doc else "—", [d.entity for d in qbo_docs]),
        ("date", str(cw_doc.invoice_date) if cw_doc else "—", [str(d.txn_date) for d in qbo_docs]),
        ("total", money(cw_doc.total) if cw_doc else "—", [money(d.total) for d in qbo_docs]),
        ("paid (cash)", money(cw_doc.payments) if cw_doc else "—", ["" for _ in qbo_docs]),
        ("credits", money(cw_doc.credits) if cw_doc else "—", ["" for _ in qbo_docs]),
        ("balance", money(cw_doc.balance) if cw_doc else "—", [money(d.balance) for d in qbo_docs]),
    ]
    for label, cw_value, qbo_values in rows:
        table.add_row(label, cw_value, *qbo_values)
    console.print(table)
    for credit in credits:
        console.print(f"  ConnectWise credit row: {money(credit.amount)} from credit memo id {credit.credit_memo_id}")
    for link in links:
        console.print(
            f"  QuickBooks payment {link.payment_id} line {link.line_no}: "
            f"{link.txn_type} {link.txn_id}, {money(link.amount)}"
        )
    if not related:
        console.print("[green]Tally finds nothing wrong with it.[/]")
    for row in related:
        console.print(f"[bold]{row.kind}[/] ({row.status}): {row.explanation}")


def ar(customer: Annotated[str | None, typer.Argument(help="part of a customer name or account")] = None) -> None:
    """Open accounts receivable per customer in each system, the difference, and what explains it."""
    settings = load_settings()
    lines = open_ar(open_engine(settings), settings, customer=customer)
    table = Table(title="Open AR by customer")
    for column in ("customer", "ConnectWise", "QuickBooks", "difference", "explained by"):
        table.add_column(column, justify="left" if column in ("customer", "explained by") else "right", overflow="fold")
    for line in lines:
        why = ", ".join(f"{e.key} ({money(e.amount)})" for e in line.explained)
        if line.pending:
            why += f"{', ' if why else ''}awaiting sync {money(line.pending)}"
        if line.unexplained:
            why += f"{', ' if why else ''}[red]unexplained {money(line.unexplained)}[/]"
        table.add_row(line.name, money(line.cw_open), money(line.qbo_open), money(line.difference), why or "—")
    console.print(table)


def history(
    limit: Annotated[int, typer.Option(help="how many events")] = 50,
    subject: Annotated[str | None, typer.Option(help="finding:<key> or action:<id>")] = None,
) -> None:
    """Show the audit trail, newest first."""
    engine = open_engine(load_settings())
    with session_scope(engine) as session:
        events = audit_history(session, subject=subject, limit=limit)
    table = Table(title="Audit trail (newest first)")
    for column in ("when", "who", "what", "subject", "amount", "detail"):
        table.add_column(column, overflow="fold")
    for event in events:
        amounts = " → ".join(money(a) for a in (event.amount_before, event.amount_after) if a is not None)
        table.add_row(
            event.at.strftime("%Y-%m-%d %H:%M:%S") if event.at else "",
            event.actor,
            event.verb,
            event.subject,
            amounts,
            event.detail or "",
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add these commands to ``app``."""
    for command in (check, findings, explain, ar, history):
        app.command()(command)
