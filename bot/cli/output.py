"""How the terminal commands print records: a table on a wide terminal, one block per record when the terminal is
narrow or the output is piped, JSON or CSV for scripts and accountants.

A command builds ``Record``s (ordered field → text) once and hands them to ``show``; the JSON and CSV forms use the
same field names (documented in docs/json.md), so every form says the same thing.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

WIDE = 100  # below this many columns (or when piped) records are stacked, one block each

console = Console()


class Form(StrEnum):
    """What a listing prints."""

    TEXT = "text"
    JSON = "json"
    CSV = "csv"


JsonOption = Annotated[bool, typer.Option("--json", help="print one JSON object for scripts")]
CsvOption = Annotated[bool, typer.Option("--csv", help="print CSV (one row per record) for a spreadsheet")]


def form_of(as_json: bool, as_csv: bool = False) -> Form:
    """The form the options ask for; both at once is a usage error."""
    if as_json and as_csv:
        raise typer.BadParameter("choose --json or --csv, not both")
    return Form.JSON if as_json else Form.CSV if as_csv else Form.TEXT


@dataclass(frozen=True)
class Column:
    """One field of a record: its JSON/CSV name, its heading, and whether it is a number (right-aligned)."""

    key: str
    heading: str
    number: bool = False


Record = dict[str, str]


def stacked(out: Console = console) -> bool:
    """Tell whether records should be stacked: piped output, or a terminal narrower than ``WIDE``."""
    return not out.is_terminal or out.width < WIDE


def show(
    title: str,
    columns: Sequence[Column],
    records: Sequence[Record],
    *,
    footer: Sequence[str] = (),
    out: Console = console,
) -> None:
    """Print records for a person: a table when wide, blocks when narrow or piped; ``footer`` lines after."""
    if stacked(out):
        out.print(escape(title), style="bold", soft_wrap=True)
        for record in records:
            out.print()
            first, *rest = columns
            out.print(escape(record.get(first.key, "")), style="bold", soft_wrap=True)
            for column in rest:
                if record.get(column.key):
                    out.print(f"  {column.heading}: {escape(record[column.key])}", soft_wrap=True)
    else:
        table = Table(title=escape(title))
        for column in columns:
            table.add_column(column.heading, justify="right" if column.number else "left", overflow="fold")
        for record in records:
            table.add_row(*(escape(record.get(column.key, "")) for column in columns))
        out.print(table)
    for line in footer:
        out.print(line, soft_wrap=True)


def print_json(document: Any) -> None:
    """Print one JSON object on standard output."""
    typer.echo(json.dumps(document, indent=2, default=str))


def print_csv(columns: Sequence[Column], records: Sequence[Record]) -> None:
    """Print CSV with a header row, on standard output."""
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow([column.key for column in columns])
    for record in records:
        writer.writerow([record.get(column.key, "") for column in columns])


def choice(value: str | None, valid: Sequence[str], option: str) -> str | None:
    """Refuse a value outside ``valid`` with the list of valid ones (exit 2)."""
    if value is not None and value not in valid:
        raise typer.BadParameter(f"{value!r} is not one of: {', '.join(valid)}", param_hint=option)
    return value
