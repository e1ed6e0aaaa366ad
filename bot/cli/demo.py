"""``tally demo``: the whole story on the local sandbox, with nothing to configure.

Seeded books in a ConnectWise and a QuickBooks stand-in (in-process), Tally's embedded SQLite database in a
temporary folder, then: what each system holds, a check, the findings, the proposed fixes and the Slack alert
the bot would post for them, approval by two demo operators, execution, a second check (the fixable findings
are gone, the alert-only ones remain with their explanations), the alert updated in place, the audit trail, the
daily digest, and last one fix undone (proposed and approved like any fix) — every Slack message rendered in the
terminal from the very Block Kit the bot posts.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.rule import Rule
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import col

from bot.cli.actions import actions_table, operator_check
from bot.cli.check import finding_line, findings_table
from bot.cli.terminal import render
from bot.digest.blocks import digest_messages
from bot.digest.data import gather_digest
from bot.slack.blocks.findings import ActionView, finding_message
from bot.slack.notify import view_of
from sandbox.cli import RunningSandbox, start_sandbox
from sync.actions import approve, execute, offer_undo
from sync.audit import history
from sync.checks import CheckResult, run_check
from sync.db import session_scope
from sync.models import Action, Approval, FindingRecord, utcnow
from sync.people import Actor, terminal_actor
from sync.reconcile.text import money
from sync.reports import ar_totals, open_ar
from sync.settings import Settings
from sync.wiring import Clients, clients, open_engine

OPERATORS = ("ana", "ben")  # two demo operators: fixes above the dual-approval amount need both
PEOPLE = {"ana": "U0ANA", "ben": "U0BEN"}  # their logins mapped to people (TALLY_OPERATORS), so two of them count


def person(settings: Settings, login: str) -> Actor:
    """A demo operator at their own terminal, as ``TALLY_OPERATORS`` maps the login to a person."""
    return terminal_actor(settings.operators, login=login)


def demo(seed: Annotated[int, typer.Option(help="seed of the generated books")] = 7) -> None:
    """Run the whole story against the sandbox: check, propose, approve, fix, check again, audit."""
    console = Console()
    started = time.perf_counter()
    with console.status("Starting the ConnectWise and QuickBooks sandboxes with a small MSP's books…"):
        running = start_sandbox(dataset="small", seed=seed)
    workdir = Path(tempfile.mkdtemp(prefix="tally-demo-"))
    try:
        settings = demo_settings(running, workdir)
        engine = open_engine(settings)
        console.print(
            f"[bold]Sandbox up[/] in {time.perf_counter() - started:.1f}s: ConnectWise at "
            f"{running.cw_base_url}, QuickBooks at {running.qbo.url}/v3; Tally's database in {workdir}"
        )
        with clients(settings, engine) as both:
            console.print(_systems_table(both))
            _story(console, settings, engine, both, running)
        console.print(f"\n[bold green]Demo finished[/] in {time.perf_counter() - started:.1f}s.")
    finally:
        running.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def demo_settings(running: RunningSandbox, workdir: Path) -> Settings:
    """Settings pointing Tally at the in-process sandbox, with an embedded SQLite database."""
    values = {
        **running.env(),
        "DATABASE_URL": f"sqlite:///{workdir / 'tally.db'}",
        "TALLY_OPERATORS": ",".join(f"{login}:{person}" for login, person in PEOPLE.items()),
        "TALLY_APPROVERS": ",".join(PEOPLE.values()),
    }
    return Settings(**values)  # type: ignore[arg-type]


def _story(console: Console, settings: Settings, engine: Engine, both: Clients, running: RunningSandbox) -> None:
    planted = running.books.manifest.to_dict()["findings"]
    console.print(Rule("1. Tally checks both systems"))
    first = run_check(engine, settings, cw=both.cw, qbo=both.qbo, actor="scheduler")
    console.print(findings_table([finding_line(f) for f in first.findings], title=f"{len(first.findings)} findings"))
    found = {f.key for f in first.findings}
    console.print(
        f"Planted in the books: {len(planted)}; found: {len(found & {p['key'] for p in planted})}; "
        f"reported that were not planted: {len(found - {p['key'] for p in planted})}."
    )
    console.print(ar_line(settings, engine))
    console.print(Rule("2. The fixes it proposes, and the Slack alert for one of them"))
    proposed = _actions(engine, "proposed")
    console.print(actions_table(proposed, title=f"{len(proposed)} proposed fixes"))
    _show_alert(console, engine, first, proposed[-1] if proposed else None)
    console.print(Rule("3. Two operators approve; each fix is re-checked, then carried out exactly once"))
    for action in proposed:
        _decide(console, settings, engine, both, action)
    console.print(actions_table(_actions(engine, None), title="Where every fix stands"))
    console.print(Rule("4. Tally checks again"))
    second = run_check(engine, settings, cw=both.cw, qbo=both.qbo, actor="scheduler")
    console.print(
        findings_table(
            [finding_line(f) for f in second.findings],
            title=f"{len(second.findings)} findings remain — none of them fixable by Tally",
        )
    )
    console.print(
        f"{len(second.changes.resolved)} findings resolved since the first check; "
        f"{sum(1 for f in second.findings if f.fix)} fixable findings remain."
    )
    console.print(ar_line(settings, engine))
    console.print(Rule("5. The alert in Slack, updated in place after the fix"))
    _show_fixed_alert(console, engine, proposed[-1] if proposed else None)
    console.print(Rule("6. The audit trail"))
    console.print(_audit_table(engine))
    console.print(Rule("7. The daily digest the clock posts (here: today's, so the demo's own activity shows)"))
    now = utcnow()
    digest = gather_digest(engine, settings, day=now.astimezone(settings.zone).date(), now=now)
    for message in digest_messages(digest):
        console.print(render(message, title="Slack · #finance · daily digest"))
    console.print(Rule("8. A fix undone: proposed, approved and carried out like any fix"))
    _undo_one(console, settings, engine, both, proposed[-1] if proposed else None)


def _undo_one(console: Console, settings: Settings, engine: Engine, both: Clients, fix: Action | None) -> None:
    """Undo one fix that ran (Undo on its alert, or `tally undo N`), then check: its finding is back for a person."""
    if fix is None or fix.id is None:
        return
    offer = offer_undo(engine, fix.id, settings=settings, actor=person(settings, OPERATORS[1]).key)
    console.print(f"  {OPERATORS[1]} runs `tally undo {fix.id}`: {offer.sentence}")
    if offer.action is None:
        return
    _decide(console, settings, engine, both, offer.action)
    with session_scope(engine) as session:
        undo = session.get(Action, offer.action.id)
        finding = session.get(FindingRecord, fix.finding_key)
        view = view_of(session, undo, settings)
    if finding is not None:
        console.print(render(finding_message(finding, view), title="Slack · #finance (after the undo)"))
    third = run_check(engine, settings, cw=both.cw, qbo=both.qbo, actor="scheduler")
    back = third.actions.get(fix.finding_key)
    if back is not None:
        console.print(
            f"  The next check finds it again and proposes fix #{back.id} ({back.status}): a person undid it on "
            "purpose, so only a person approves it again."
        )
    console.print(ar_line(settings, engine))


def _decide(console: Console, settings: Settings, engine: Engine, both: Clients, action: Action) -> None:
    assert action.id is not None
    check = operator_check(settings)
    for operator in OPERATORS:
        who = person(settings, operator)  # each at their own terminal
        outcome = approve(engine, action.id, approver=who, is_approver=check)
        if outcome.ready:
            done = execute(engine, action.id, cw=both.cw, qbo=both.qbo, actor=who.key, tolerance=settings.tolerance)
            console.print(f"  #{action.id} {done.status}: {done.result or done.description}")
            return
        console.print(f"  #{action.id} {outcome.message}")


def _show_alert(console: Console, engine: Engine, result: CheckResult, action: Action | None) -> None:
    if action is None:
        return
    with session_scope(engine) as session:
        finding = session.get(FindingRecord, action.finding_key)
    if finding is not None:
        console.print(render(finding_message(finding, ActionView(action, ())), title="Slack · #finance"))


def _show_fixed_alert(console: Console, engine: Engine, action: Action | None) -> None:
    if action is None or action.id is None:
        return
    with session_scope(engine) as session:
        current = session.get(Action, action.id)
        finding = session.get(FindingRecord, action.finding_key)
        approvers = tuple(
            a.approver for a in session.execute(select(Approval).where(col(Approval.action_id) == action.id)).scalars()
        )
    if current is not None and finding is not None:
        console.print(
            render(finding_message(finding, ActionView(current, approvers)), title="Slack · #finance (updated)")
        )


def _actions(engine: Engine, status: str | None) -> list[Action]:
    with session_scope(engine) as session:
        statement = select(Action).order_by(col(Action.id))
        if status:
            statement = statement.where(col(Action.status) == status)
        return list(session.execute(statement).scalars())


def _audit_table(engine: Engine, limit: int = 25) -> Table:
    with session_scope(engine) as session:
        events = list(reversed(history(session, limit=limit)))
        approvals = session.execute(select(Approval)).scalars().all()
    table = Table(title=f"The last {len(events)} of the audit trail ({len(approvals)} approvals recorded)")
    for column in ("when", "who", "what", "subject", "amount"):
        table.add_column(column, overflow="fold")
    for event in events:
        amounts = " → ".join(money(a) for a in (event.amount_before, event.amount_after) if a is not None)
        table.add_row(f"{event.at:%H:%M:%S}" if event.at else "", event.actor, event.verb, event.subject, amounts)
    return table


def _systems_table(both: Clients) -> Table:
    counts = _live_counts(both)
    table = Table(title="What each system holds (read over its API by Tally's clients)")
    for column in ("system", "customers", "invoices", "credit memos", "payments"):
        table.add_column(column, justify="right" if column != "system" else "left")
    for name, side in (("ConnectWise", counts["cw"]), ("QuickBooks", counts["qbo"])):
        table.add_row(name, *(_fmt(side.get(key)) for key in ("customers", "invoices", "credit_memos", "payments")))
    return table


def ar_line(settings: Settings, engine: Engine) -> str:
    """Open AR in each system, counted as ``tally ar`` and the digest count it."""
    cw, qbo = ar_totals(open_ar(engine, settings))
    return (
        f"Open AR (as `tally ar` counts it): ConnectWise {money(cw)}, QuickBooks {money(qbo)}, "
        f"difference {money(cw - qbo)}."
    )


def _live_counts(both: Clients) -> dict[str, dict[str, Any]]:
    cw_invoices = list(both.cw.iter_invoices())
    qbo_invoices = list(both.qbo.iter_invoices())
    return {
        "cw": {
            "customers": sum(1 for _ in both.cw.iter_companies()),
            "invoices": sum(1 for i in cw_invoices if not i.is_credit_memo),
            "credit_memos": sum(1 for i in cw_invoices if i.is_credit_memo),
            "payments": None,  # ConnectWise lists payments per invoice only
        },
        "qbo": {
            "customers": both.qbo.count("Customer"),
            "invoices": len(qbo_invoices),
            "credit_memos": both.qbo.count("CreditMemo"),
            "payments": both.qbo.count("Payment"),
        },
    }


def _fmt(value: object) -> str:
    return "—" if value is None else f"{value:,}"
