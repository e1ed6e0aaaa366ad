"""The bookkeeping commands as a person or a script uses them: check, findings, explain, fixes, ar, history."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from click.testing import Result
from typer.testing import CliRunner

from bot.cli import app
from sync import people
from tests.sandboxes import sandbox


class Tally:
    """Runs ``tally`` commands against one sandbox and one database, as the OS login ``ana`` (mapped to U0ANA)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def __call__(self, *args: str, operator: str = "ana") -> Result:
        with pytest.MonkeyPatch.context() as patch:  # the login the system reports for this process
            patch.setattr(people, "os_login", lambda: operator)
            return CliRunner().invoke(app, list(args), env=self.env)


@pytest.fixture(scope="module")
def tally(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tally]:
    database = tmp_path_factory.mktemp("cli") / "tally.db"
    with sandbox("small", seed=12) as running:
        env = {**running.env(), "DATABASE_URL": f"sqlite:///{database}", "COLUMNS": "220"}
        env |= {"TALLY_OPERATORS": "ana:U0ANA,ben:U0BEN", "TALLY_APPROVERS": "U0ANA,U0BEN"}
        yield Tally(env)


def test_check_json_lists_findings_and_exits_1_while_books_disagree(tally: Tally) -> None:
    result = tally("check", "--json")
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document["summary"]["open"] == len(document["findings"]) > 0
    assert {f["kind"] for f in document["findings"]} >= {"payment_not_synced", "orphan_in_qbo"}
    with_fix = [f for f in document["findings"] if f["action"]]
    assert with_fix
    assert all(f["action"]["status"] == "proposed" for f in with_fix)


def test_findings_filters_by_kind_and_explain_shows_both_sides(tally: Tally) -> None:
    tally("check")
    listed = tally("findings", "--kind", "payment_not_synced")
    assert listed.exit_code == 1, listed.output
    assert "payment_not_synced" in listed.stdout
    assert "orphan_in_qbo" not in listed.stdout
    document = json.loads(tally("check", "--json", "--offline").stdout)
    number = next(f["invoice_number"] for f in document["findings"] if f["kind"] == "payment_not_synced")
    explained = tally("explain", number)
    assert explained.exit_code == 0, explained.output
    assert "ConnectWise" in explained.stdout
    assert "QuickBooks" in explained.stdout
    assert "never carried back" in explained.stdout, explained.output
    assert tally("explain", "NO-SUCH-99").exit_code == 2


def test_a_non_approver_is_refused_and_an_approver_carries_the_fix_out(tally: Tally) -> None:
    document = json.loads(tally("check", "--json").stdout)
    action = next(f["action"] for f in document["findings"] if f["action"] and f["kind"] == "payment_not_synced")
    refused = tally("approve", str(action["id"]), operator="mallory")
    assert refused.exit_code == 1
    assert "You may not approve fixes" in refused.stdout
    done = tally("approve", str(action["id"]))
    assert done.exit_code in (0, 1)  # 1 when the amount needs a second approver
    if "1 of 2" in done.stdout:
        done = tally("approve", str(action["id"]), operator="ben")
    assert "succeeded" in done.stdout
    assert str(action["id"]) in tally("actions", "--status", "succeeded").stdout
    assert "action.succeeded" in tally("history").stdout


def test_reject_needs_a_reason_and_records_it(tally: Tally) -> None:
    document = json.loads(tally("check", "--json").stdout)
    action = next(f["action"] for f in document["findings"] if f["action"] and f["action"]["status"] == "proposed")
    assert tally("reject", str(action["id"])).exit_code == 2  # --reason is required: usage help
    rejected = tally("reject", str(action["id"]), "--reason", "customer disputes it")
    assert rejected.exit_code == 0
    assert "customer disputes it" in tally("history", "--subject", f"action:{action['id']}").stdout
    assert tally("approve", "999999").exit_code == 2


def test_ar_explains_each_customers_difference(tally: Tally) -> None:
    document = json.loads(tally("check", "--json").stdout)
    missing = next(f for f in document["findings"] if f["kind"] == "invoice_missing_in_qbo")
    result = tally("ar")
    assert result.exit_code == 0
    block = next(block for block in result.stdout.split("\n\n") if missing["key"] in block)
    assert block.splitlines()[0] == missing["customer"]  # piped output: one block per customer, named first
    assert "Total" in result.stdout.split("\n\n")[-1]
