"""``tally demo``: the story, on the local sandbox, with nothing to configure.

It starts both API stand-ins in-process with a small MSP's seeded books and an embedded SQLite database in a
temporary folder, asks each system over its API (through Tally's own clients) what it holds, and shows what was
planted in the books for Tally to find.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from sandbox.cli import RunningSandbox, start_sandbox
from sync.settings import Settings
from sync.wiring import Clients, clients, open_engine


def demo(
    seed: Annotated[int, typer.Option(help="seed of the generated books")] = 7,
) -> None:
    """Start the sandbox with seeded books and show what each system holds and what was planted."""
    console = Console()
    started = time.perf_counter()
    with console.status("Starting the ConnectWise and QuickBooks sandboxes with a small MSP's books…"):
        running = start_sandbox(dataset="small", seed=seed)
    workdir = Path(tempfile.mkdtemp(prefix="tally-demo-"))
    try:
        settings = demo_settings(running, workdir)
        engine = open_engine(settings)
        console.print(
            f"[bold]Sandbox up[/] in {time.perf_counter() - started:.1f}s: "
            f"ConnectWise at {running.cw_base_url}, QuickBooks at {running.qbo.url}/v3; Tally's database {workdir}"
        )
        with clients(settings, engine) as both:
            console.print(_systems_table(running, both))
        console.print(_planted_table(running.books.manifest.to_dict()))
        console.print(
            "Each row above is a disagreement between the two systems that Tally must find, explain and, "
            "where it can, fix."
        )
    finally:
        running.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def demo_settings(running: RunningSandbox, workdir: Path) -> Settings:
    """Settings pointing Tally at the in-process sandbox, with an embedded SQLite database."""
    values = {**running.env(), "DATABASE_URL": f"sqlite:///{workdir / 'tally.db'}", "TALLY_OPERATOR": "demo"}
    return Settings(**values)  # type: ignore[arg-type]


def _systems_table(running: RunningSandbox, both: Clients) -> Table:
    counts = _live_counts(running, both)
    table = Table(title="What each system holds (counted over its API)")
    for column in ("system", "customers", "invoices", "credit memos", "payments", "open AR"):
        table.add_column(column, justify="right" if column != "system" else "left")
    cw, qbo = counts["cw"], counts["qbo"]
    table.add_row(
        "ConnectWise",
        *(_fmt(cw.get(key)) for key in ("customers", "invoices", "credit_memos", "payments")),
        _money(cw.get("open_ar")),
    )
    table.add_row(
        "QuickBooks",
        *(_fmt(qbo.get(key)) for key in ("customers", "invoices", "credit_memos", "payments")),
        _money(qbo.get("open_ar")),
    )
    return table


def _planted_table(manifest: dict[str, Any]) -> Table:
    table = Table(title=f"Planted discrepancies ({len(manifest['findings'])}) — the ground truth")
    for column in ("kind", "documents", "customer", "amount", "what happened"):
        table.add_column(column, justify="right" if column == "amount" else "left", overflow="fold")
    for finding in sorted(manifest["findings"], key=lambda item: (item["kind"], item["key"])):
        table.add_row(
            finding["kind"],
            ", ".join(finding["documents"]),
            finding.get("customer") or "",
            _money(Decimal(finding["amount"])),
            finding.get("note", ""),
        )
    kinds = Counter(finding["kind"] for finding in manifest["findings"])
    table.caption = ", ".join(f"{kind} {count}" for kind, count in sorted(kinds.items()))
    return table


def _live_counts(running: RunningSandbox, both: Clients) -> dict[str, dict[str, Any]]:
    cw, qbo = both.cw, both.qbo
    cw_invoices = list(cw.iter_invoices())
    qbo_invoices = list(qbo.iter_invoices())
    return {
        "cw": {
            "customers": sum(1 for _ in cw.iter_companies()),
            "invoices": sum(1 for i in cw_invoices if not i.is_credit_memo),
            "credit_memos": sum(1 for i in cw_invoices if i.is_credit_memo),
            "payments": None,  # ConnectWise lists payments per invoice only
            "open_ar": sum((i.balance for i in cw_invoices if not i.is_credit_memo), Decimal(0)),
        },
        "qbo": {
            "customers": qbo.count("Customer"),
            "invoices": len(qbo_invoices),
            "credit_memos": qbo.count("CreditMemo"),
            "payments": qbo.count("Payment"),
            "open_ar": sum((i.balance for i in qbo_invoices), Decimal(0)),
        },
    }


def _fmt(value: object) -> str:
    return "—" if value is None else f"{value:,}"


def _money(value: Decimal | None) -> str:
    return "—" if value is None else f"${value:,.2f}"
