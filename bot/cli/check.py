"""``tally check``, ``findings``, ``explain``, ``ar`` and ``history``: what disagrees, and why.

Exit codes scripts can use: 0 the books agree (or the command succeeded), 1 open findings remain,
2 bad usage (including asking what the last check found before any check ran), 3 a remote system or the
QuickBooks connection failed (the message says what to do).
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy.engine import Engine, make_url

from bot.cli.output import Column, CsvOption, Form, JsonOption, Record, choice, console, form_of, print_csv, print_json
from bot.cli.output import show as show_records
from bot.cli.progress import SyncProgress
from bot.cli.support import EXIT_FINDINGS, EXIT_USAGE, err, stop_on_api_errors
from bot.slack.blocks.findings import TITLES
from sync.audit import history as audit_history
from sync.checks import dumps, latest_actions, run_check
from sync.db import session_scope
from sync.explain import DocumentView, explain_document
from sync.findings import open_findings
from sync.models import Action, AuditEvent, FindingRecord
from sync.reconcile import Finding
from sync.reconcile.ar import CustomerAR
from sync.reconcile.text import money
from sync.reports import ar_totals, open_ar, overview
from sync.settings import Settings, load_settings
from sync.wiring import clients, open_engine

KINDS = tuple(TITLES)
NO_CHECK = "No check has run yet, so there is nothing to show. Run `tally check` first."
FINDING_COLUMNS = (
    Column("key", "finding"),
    Column("label", "what"),
    Column("customer", "customer"),
    Column("amount", "amount", number=True),
    Column("fix", "fix"),
    Column("explanation", "what happened"),
)


def check(
    as_json: JsonOption = False,
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
    for part in result.sync.streams.values() if result.sync else ():
        for warning in part.warnings:  # e.g. no invoice carried status.isClosed: say so loudly, also under --json
            err.print(f"[yellow]Warning:[/] {escape(warning)}")
    if as_json:
        typer.echo(dumps(result))
    else:
        fixable = sum(1 for f in result.findings if f.fix)
        show_records(
            f"{len(result.findings)} open findings",
            FINDING_COLUMNS,
            [
                finding_record(f.key, f.kind, f.customer, f.amount, f.explanation, result.actions.get(f.key))
                for f in result.findings
            ],
            footer=[
                f"{len(result.changes.new)} new, {len(result.changes.resolved)} resolved since the last check; "
                f"{fixable} have a proposed fix (`tally actions`, `tally approve N`)."
            ],
        )
    if result.findings:
        raise typer.Exit(EXIT_FINDINGS)


def label(kind: str) -> str:
    """A finding kind in plain words beside its code."""
    return TITLES.get(kind, kind.replace("_", " "))


def fix_text(action: Action | None) -> str:
    """The fix a finding has, with its number: ``#12 backflow_payment (proposed)``."""
    return f"#{action.id} {action.kind} ({action.status})" if action is not None else "—"


def finding_record(
    key: str, kind: str, customer: str | None, amount: Decimal, explanation: str, action: Action | None
) -> Record:
    """One finding as every form prints it."""
    return {
        "key": key,
        "kind": kind,
        "label": label(kind),
        "customer": customer or "",
        "amount": money(amount),
        "fix": fix_text(action),
        "explanation": explanation,
    }


def finding_json(row: FindingRecord, action: Action | None) -> dict[str, Any]:
    """One stored finding for ``--json`` (amounts are strings)."""
    return {
        "key": row.key,
        "kind": row.kind,
        "label": label(row.kind),
        "documents": json.loads(row.documents),
        "customer": row.customer,
        "amount": str(row.amount),
        "explanation": row.explanation,
        "first_seen": row.first_seen.isoformat() if row.first_seen else None,
        "action": {"id": action.id, "kind": action.kind, "status": action.status} if action else None,
    }


def existing_engine(settings: Settings) -> Engine | None:
    """Open the database only if it exists: a report never creates one (a missing SQLite file means no check ran)."""
    url = make_url(settings.database_url)
    local_file = url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")
    if local_file and not Path(url.database or "").exists():
        return None
    return open_engine(settings)


def last_check_or_stop(settings: Settings, form: Form) -> tuple[Engine, datetime]:
    """The database and when the last check ran; say "no check has run yet" (exit 2) when none did."""
    engine = existing_engine(settings)
    checked = overview(engine).last_check if engine is not None else None
    if engine is None or checked is None:
        if form is Form.JSON:
            print_json({"checked_at": None, "note": NO_CHECK})
        err.print(NO_CHECK)
        raise typer.Exit(EXIT_USAGE)
    return engine, checked


def findings(
    kind: Annotated[str | None, typer.Option("--kind", help=f"only this kind: {', '.join(KINDS)}")] = None,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
) -> None:
    """List the open findings from the last check (exit 1 while any remain)."""
    form, kind = form_of(as_json, as_csv), choice(kind, KINDS, "--kind")
    engine, checked = last_check_or_stop(load_settings(), form)
    with session_scope(engine) as session:
        rows = open_findings(session, kind=kind)
        actions = latest_actions(session, [row.key for row in rows])
    if form is Form.JSON:
        print_json({"checked_at": checked.isoformat(), "findings": [finding_json(r, actions.get(r.key)) for r in rows]})
    else:
        records = [finding_record(r.key, r.kind, r.customer, r.amount, r.explanation, actions.get(r.key)) for r in rows]
        if form is Form.CSV:
            print_csv(FINDING_COLUMNS, records)
        else:
            title = f"{len(rows)} open findings" + (f" of kind {kind}" if kind else "") + f", as of {_when(checked)}"
            show_records(title, FINDING_COLUMNS, records)
    if rows:
        raise typer.Exit(EXIT_FINDINGS)


def explain(
    number: Annotated[str, typer.Argument(help="an invoice or credit memo number")], as_json: JsonOption = False
) -> None:
    """Show one invoice or credit memo side by side in both systems, and what Tally thinks of it."""
    form = form_of(as_json)
    engine, _ = last_check_or_stop(load_settings(), form)
    view = explain_document(engine, number)
    if not view.found:
        err.print(f"No invoice or credit memo numbered {number} in either system (as of the last sync).")
        raise typer.Exit(EXIT_USAGE)
    with session_scope(engine) as session:
        actions = latest_actions(session, [row.key for row in view.findings])
    if form is Form.JSON:
        print_json(explain_json(view, actions))
        return
    console.print(side_by_side(view))
    for line in _detail_lines(view):
        console.print(line, soft_wrap=True, markup=False)
    if not view.findings:
        console.print("[green]Tally finds nothing wrong with it.[/]")
    for row in view.findings:
        console.print(f"[bold]{row.kind}[/] — {label(row.kind)} ({row.status}): {row.explanation}", soft_wrap=True)
        action = actions.get(row.key)
        if action is not None and action.undoes_action_id is not None:  # an undo: show the fix it reverses too
            with session_scope(engine) as session:
                fix = session.get(Action, action.undoes_action_id)
            if fix is not None:
                console.print(f"  {fix_sentence(fix)}", soft_wrap=True, markup=False)
        if action is not None:
            console.print(f"  {fix_sentence(action)}", soft_wrap=True, markup=False)


def fix_sentence(action: Action) -> str:
    """Name the fix (or the undo of one) and the command that decides it."""
    name = f"Undo #{action.id} of fix #{action.undoes_action_id}" if action.undoes_action_id else f"Fix #{action.id}"
    said = f"{name} ({action.kind}, {action.status}): {action.description}"
    if action.status in ("proposed", "approved"):
        return (
            f"{said} — approve with `tally approve {action.id}` or reject with `tally reject {action.id} --reason …`."
        )
    if action.status == "succeeded" and not action.undoes_action_id:
        said += f" — {action.result} Undo with `tally undo {action.id}` if it was wrong."
        return said
    return f"{said}{f' — {action.result}' if action.result else ''}"


def side_by_side(view: DocumentView) -> Table:
    """The document's figures in ConnectWise beside each QuickBooks copy."""
    cw_doc, qbo_docs = view.cw, view.qbo
    table = Table(title=f"{view.number}: ConnectWise and QuickBooks side by side")
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
    for name, cw_value, qbo_values in rows:
        table.add_row(name, cw_value, *qbo_values)
    return table


def _detail_lines(view: DocumentView) -> list[str]:
    lines = [
        f"  ConnectWise credit row: {money(c.amount)} from credit memo id {c.credit_memo_id}" for c in view.cw_rows
    ]
    lines += [
        f"  QuickBooks payment {k.payment_id} line {k.line_no}: {k.txn_type} {k.txn_id}, {money(k.amount)}"
        for k in view.qbo_links
    ]
    lines += [f"  {line}" for line in view.carried]
    return lines


def explain_json(view: DocumentView, actions: dict[str, Action]) -> dict[str, Any]:
    """``tally explain --json``: both sides, the rows behind them, the findings and their fixes."""
    cw_doc = view.cw
    return {
        "number": view.number,
        "cw": None
        if cw_doc is None
        else {
            "type": cw_doc.type,
            "date": str(cw_doc.invoice_date),
            "total": str(cw_doc.total),
            "payments": str(cw_doc.payments),
            "credits": str(cw_doc.credits),
            "balance": str(cw_doc.balance),
        },
        "qbo": [
            {"id": d.id, "entity": d.entity, "date": str(d.txn_date), "total": str(d.total), "balance": str(d.balance)}
            for d in view.qbo
        ],
        "cw_credit_rows": [{"amount": str(c.amount), "credit_memo_id": c.credit_memo_id} for c in view.cw_rows],
        "qbo_payment_links": [
            {"payment_id": k.payment_id, "line": k.line_no, "type": k.txn_type, "id": k.txn_id, "amount": str(k.amount)}
            for k in view.qbo_links
        ],
        "findings": [{**finding_json(row, actions.get(row.key)), "status": row.status} for row in view.findings],
        "carried_back": list(view.carried),
    }


AR_COLUMNS = (
    Column("customer", "customer"),
    Column("connectwise", "ConnectWise", number=True),
    Column("quickbooks", "QuickBooks", number=True),
    Column("difference", "difference", number=True),
    Column("explained_by", "explained by"),
)


def ar(
    customer: Annotated[str | None, typer.Argument(help="part of a customer name or account")] = None,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
) -> None:
    """Open accounts receivable per customer in each system, the difference, what explains it, and the total."""
    form = form_of(as_json, as_csv)
    settings = load_settings()
    engine, checked = last_check_or_stop(settings, form)
    lines = open_ar(engine, settings, customer=customer)
    cw_total, qbo_total = ar_totals(lines)
    records = [_ar_record(line) for line in lines]
    total = {"customer": "Total", "connectwise": money(cw_total), "quickbooks": money(qbo_total)}
    total["difference"] = money(cw_total - qbo_total)
    if form is Form.JSON:
        print_json(
            {
                "as_of": checked.isoformat(),
                "customers": [_ar_json(line) for line in lines],
                "total": {
                    "connectwise": str(cw_total),
                    "quickbooks": str(qbo_total),
                    "difference": str(cw_total - qbo_total),
                },
            }
        )
    elif form is Form.CSV:
        print_csv(AR_COLUMNS, [*records, total])
    else:
        show_records(f"Open AR by customer, as of {_when(checked)}", AR_COLUMNS, [*records, total])


def _ar_record(line: CustomerAR) -> Record:
    why = [f"{e.key} ({money(e.amount)})" for e in line.explained]
    if line.pending:
        why.append(f"awaiting sync {money(line.pending)}")
    if line.unexplained:
        why.append(f"unexplained {money(line.unexplained)}")
    return {
        "customer": line.name,
        "connectwise": money(line.cw_open),
        "quickbooks": money(line.qbo_open),
        "difference": money(line.difference),
        "explained_by": ", ".join(why) or "—",
    }


def _ar_json(line: CustomerAR) -> dict[str, Any]:
    return {
        "customer": line.name,
        "account": line.account,
        "connectwise": str(line.cw_open),
        "quickbooks": str(line.qbo_open),
        "difference": str(line.difference),
        "explained_by": [{"key": e.key, "kind": e.kind, "amount": str(e.amount)} for e in line.explained],
        "awaiting_sync": str(line.pending),
        "unexplained": str(line.unexplained),
    }


HISTORY_COLUMNS = (
    Column("at", "when"),
    Column("actor", "who"),
    Column("verb", "what"),
    Column("subject", "subject"),
    Column("amounts", "amount"),
    Column("detail", "detail"),
)


def history(
    limit: Annotated[int, typer.Option(help="how many events")] = 50,
    subject: Annotated[str | None, typer.Option(help="finding:<key> or action:<id>")] = None,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
) -> None:
    """Show the audit trail, newest first."""
    form = form_of(as_json, as_csv)
    if subject is not None and not _valid_subject(subject):
        raise typer.BadParameter(f"{subject!r} is not finding:<key> or action:<id>", param_hint="--subject")
    engine = existing_engine(load_settings())
    if engine is None:
        err.print(NO_CHECK)
        raise typer.Exit(EXIT_USAGE)
    with session_scope(engine) as session:
        events = audit_history(session, subject=subject, limit=limit)
        records = [_event_record(event) for event in events]
        documents = [_event_json(event) for event in events]
    if form is Form.JSON:
        print_json({"events": documents})
    elif form is Form.CSV:
        print_csv(HISTORY_COLUMNS, records)
    else:
        show_records("Audit trail (newest first)", HISTORY_COLUMNS, records)


def _valid_subject(subject: str) -> bool:
    kind, _, rest = subject.partition(":")
    return bool(rest) and (kind == "finding" or (kind == "action" and rest.isdigit()))


def _event_record(event: AuditEvent) -> Record:
    amounts = " → ".join(money(a) for a in (event.amount_before, event.amount_after) if a is not None)
    return {
        "at": event.at.strftime("%Y-%m-%d %H:%M:%S") if event.at else "",
        "actor": event.actor + (f" ({event.channel})" if event.channel else ""),
        "verb": event.verb,
        "subject": event.subject,
        "amounts": amounts,
        "detail": event.detail or "",
    }


def _event_json(event: AuditEvent) -> dict[str, Any]:
    return {
        "at": event.at.isoformat() if event.at else None,
        "actor": event.actor,
        "channel": event.channel,
        "verb": event.verb,
        "subject": event.subject,
        "amount_before": None if event.amount_before is None else str(event.amount_before),
        "amount_after": None if event.amount_after is None else str(event.amount_after),
        "remote_ids": json.loads(event.remote_ids) if event.remote_ids else None,
        "detail": event.detail,
    }


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M %Z").strip()


# The demo draws findings as a table whatever the terminal: kept for it.
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


def findings_table(lines: list[Line], *, title: str) -> Table:
    """Render findings as a terminal table."""
    table = Table(title=title)
    for column in ("kind", "documents", "customer", "amount", "fix", "what happened"):
        table.add_column(column, justify="right" if column == "amount" else "left", overflow="fold")
    for line in lines:
        table.add_row(*line)
    return table
