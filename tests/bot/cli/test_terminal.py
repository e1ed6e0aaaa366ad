"""Terminal conventions: JSON and CSV shapes, refused values, "no check has run yet", the stacked layout, --version."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import Result
from rich.console import Console
from typer.testing import CliRunner

from bot.cli import app
from bot.cli.check import KINDS
from bot.cli.output import Column, show
from tests.sandboxes import sandbox


class Tally:
    """Runs ``tally`` commands against one sandbox and one database."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def __call__(self, *args: str) -> Result:
        return CliRunner().invoke(app, list(args), env=self.env)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    folder = tmp_path_factory.mktemp("terminal")
    with sandbox("small", seed=3) as running:
        database = f"sqlite:///{folder / 'tally.db'}"
        yield {**running.env(), "DATABASE_URL": database, "TALLY_APPROVERS": "ana", "COLUMNS": "200"}


@pytest.fixture(scope="module")
def tally(env: dict[str, str]) -> Tally:
    checked = Tally(env)
    assert checked("check").exit_code == 1
    return checked


def money(text: str) -> Decimal:
    return Decimal(text.replace("$", "").replace(",", ""))


def test_findings_json_names_each_finding_its_label_and_its_fix(tally: Tally) -> None:
    result = tally("findings", "--json")
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document["checked_at"]
    kinds = {f["kind"] for f in document["findings"]}
    assert kinds <= set(KINDS)
    backflow = next(f for f in document["findings"] if f["kind"] == "payment_not_synced")
    assert backflow["label"] == "Payment not carried back to ConnectWise"
    assert backflow["action"]["kind"] == "backflow_payment"
    assert Decimal(backflow["amount"]) > 0


def test_findings_text_shows_the_key_and_the_fix_number(tally: Tally) -> None:
    document = json.loads(tally("findings", "--json").stdout)
    fixed = next(f for f in document["findings"] if f["action"])
    text = tally("findings").stdout
    block = next(b for b in text.split("\n\n") if b.startswith(fixed["key"]))
    assert f"fix: #{fixed['action']['id']} {fixed['action']['kind']}" in block


def test_findings_csv_has_a_header_and_a_row_per_finding(tally: Tally) -> None:
    rows = list(csv.DictReader(io.StringIO(tally("findings", "--csv").stdout)))
    document = json.loads(tally("findings", "--json").stdout)
    assert [row["key"] for row in rows] == [f["key"] for f in document["findings"]]
    assert set(rows[0]) == {"key", "label", "customer", "amount", "fix", "explanation"}


def test_an_unknown_kind_is_refused_with_the_valid_list(tally: Tally) -> None:
    result = tally("findings", "--kind", "payment_missing")
    assert result.exit_code == 2
    assert "'payment_missing' is not one of" in result.output
    assert "payment_not_synced" in result.output
    history = tally("history", "--subject", "invoice:11")
    assert history.exit_code == 2
    assert "finding:<key> or action:<id>" in history.output


def test_ar_has_a_total_row_that_adds_up_and_says_as_of_when(tally: Tally) -> None:
    document = json.loads(tally("ar", "--json").stdout)
    total = document["total"]
    assert Decimal(total["connectwise"]) == sum(Decimal(c["connectwise"]) for c in document["customers"])
    assert Decimal(total["difference"]) == Decimal(total["connectwise"]) - Decimal(total["quickbooks"])
    assert document["as_of"]
    rows = list(csv.DictReader(io.StringIO(tally("ar", "--csv").stdout)))
    assert rows[-1]["customer"] == "Total"
    assert money(rows[-1]["connectwise"]) == Decimal(total["connectwise"])
    assert "as of" in tally("ar").stdout.splitlines()[0]


def test_explain_names_the_fix_and_the_command_that_approves_it(tally: Tally) -> None:
    document = json.loads(tally("findings", "--json").stdout)
    fixed = next(f for f in document["findings"] if f["action"] and f["action"]["status"] == "proposed")
    number = fixed["documents"][0]
    text = tally("explain", number).stdout
    assert f"Fix #{fixed['action']['id']}" in text
    assert f"tally approve {fixed['action']['id']}" in text
    shown = json.loads(tally("explain", number, "--json").stdout)
    assert shown["number"] == number
    assert any(f["action"] and f["action"]["id"] == fixed["action"]["id"] for f in shown["findings"])


def test_history_json_and_csv_say_the_same_events(tally: Tally) -> None:
    events = json.loads(tally("history", "--json", "--limit", "5").stdout)["events"]
    rows = list(csv.DictReader(io.StringIO(tally("history", "--csv", "--limit", "5").stdout)))
    assert [e["verb"] for e in events] == [r["verb"] for r in rows]
    assert len(events) == 5


def test_before_any_check_the_reports_say_so_and_create_nothing(env: dict[str, str], tmp_path: Path) -> None:
    fresh = {**env, "DATABASE_URL": f"sqlite:///{tmp_path / 'never.db'}"}
    for command in (["findings"], ["ar"], ["explain", "1"], ["history"]):
        result = CliRunner().invoke(app, command, env=fresh)
        assert result.exit_code == 2, (command, result.output)
        assert "No check has run yet" in result.stderr
        assert "0 open findings" not in result.output
    as_json = CliRunner().invoke(app, ["findings", "--json"], env=fresh)
    assert json.loads(as_json.stdout)["checked_at"] is None
    assert not (tmp_path / "never.db").exists()


def test_records_are_a_table_when_wide_and_stacked_when_narrow() -> None:
    columns = (Column("key", "finding"), Column("label", "what"), Column("amount", "amount", number=True))
    records = [{"key": "credit_not_applied_in_qbo:CM1001", "label": "Credit memo not applied", "amount": "$1.00"}]
    wide, narrow = io.StringIO(), io.StringIO()
    show("1 open finding", columns, records, out=Console(file=wide, force_terminal=True, width=160))
    show("1 open finding", columns, records, out=Console(file=narrow, force_terminal=True, width=60))
    assert "┃" in wide.getvalue()  # a table
    assert "┃" not in narrow.getvalue()
    assert "credit_not_applied_in_qbo:CM1001" in narrow.getvalue()  # never squeezed mid-word
    assert "  what: Credit memo not applied" in narrow.getvalue()


def test_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.startswith("tally ")


def test_apply_without_a_terminal_asks_for_yes_and_approves_nothing(tally: Tally) -> None:
    before = json.loads(tally("payments", "--json").stdout)["fixes"]
    assert before
    result = tally("payments", "--apply")
    assert result.exit_code == 2
    total = sum(Decimal(f["amount"]) for f in before)
    assert f"Approve and carry out {len(before)} fixes totalling ${total:,.2f}?" in result.stderr
    assert "add --yes" in result.stderr
    after = json.loads(tally("actions", "--json").stdout)["fixes"]
    assert {f["id"]: f["status"] for f in after if f["id"] in {b["id"] for b in before}} == {
        b["id"]: b["status"] for b in before
    }


def test_actions_refuse_an_unknown_status_and_list_as_json(tally: Tally) -> None:
    refused = tally("actions", "--status", "done")
    assert refused.exit_code == 2
    assert "succeeded" in refused.output
    proposed = json.loads(tally("actions", "--status", "proposed", "--json").stdout)["fixes"]
    assert proposed
    assert {f["status"] for f in proposed} == {"proposed"}


def test_status_and_the_digest_print_in_the_terminal_as_in_slack(tally: Tally) -> None:
    status = json.loads(tally("status", "--json").stdout)
    findings = json.loads(tally("findings", "--json").stdout)["findings"]
    assert status["open"] == len(findings)
    assert status["last_check"]
    drawn = tally("status")
    assert drawn.exit_code == 0
    assert "Tally status" in drawn.stdout
    digest = tally("digest", "--print")
    assert digest.exit_code == 0, digest.output
    assert "Tally daily digest" in digest.stdout
