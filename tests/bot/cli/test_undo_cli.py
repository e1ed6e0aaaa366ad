"""``tally undo N`` in a terminal: it proposes the reverse write, ``tally approve`` carries it out, and ``explain``
and ``history`` show the fix and its undo together."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest
from click.testing import Result
from typer.testing import CliRunner

from bot.cli import app
from bot.cli.support import EXIT_REFUSED
from sync.people import os_login
from tests.sandboxes import sandbox


@pytest.fixture
def tally(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Result]]:
    folder = tmp_path_factory.mktemp("undo-cli")
    with sandbox("small", seed=3) as running:
        env = {
            **running.env(),
            "DATABASE_URL": f"sqlite:///{folder / 'tally.db'}",
            "TALLY_APPROVERS": os_login(),  # the login itself, unmapped: enough for one approval
            "COLUMNS": "200",
        }

        def run(*args: str) -> Result:
            return CliRunner().invoke(app, list(args), env=env)

        yield run


def test_tally_undo_proposes_the_reverse_and_approve_carries_it_out(tally: Callable[..., Result]) -> None:
    run = tally  # one fix under the dual-approval amount: the unmapped login may approve it alone
    assert run("check").exit_code == 1
    findings = json.loads(run("findings", "--json").stdout)["findings"]
    fix = next(
        f["action"]
        for f in findings
        if f["kind"] == "payment_not_synced" and f["action"] and Decimal(str(f["amount"])) <= 5000
    )
    number = next(f["documents"][0] for f in findings if f["action"] and f["action"]["id"] == fix["id"])
    approved = run("approve", str(fix["id"]))
    assert approved.exit_code == 0, approved.output
    assert "succeeded" in approved.stdout

    asked = run("undo", str(fix["id"]))
    assert asked.exit_code == 0, asked.output
    found = re.search(r"Proposed undo #(\d+): Delete the \$[\d,.]+ payment dated \S+ that Tally recorded", asked.stdout)
    assert found is not None, asked.stdout
    undo_id = found.group(1)
    assert f"tally approve {undo_id}" in asked.stdout
    assert "already proposed" in run("undo", str(fix["id"])).stdout

    done = run("approve", undo_id)
    assert done.exit_code == 0, done.output
    assert f"#{undo_id}: succeeded — Deleted the" in done.stdout

    listed = {row["id"]: row for row in json.loads(run("actions", "--json").stdout)["fixes"]}
    assert (listed[int(undo_id)]["kind"], listed[int(undo_id)]["undoes"]) == ("undo_backflow_payment", fix["id"])
    explained = run("explain", number).stdout
    assert f"Fix #{fix['id']} (backflow_payment, succeeded)" in explained
    assert f"Undo #{undo_id} of fix #{fix['id']} (undo_backflow_payment, succeeded)" in explained
    trail = run("history", "--subject", f"action:{fix['id']}", "--json").stdout
    assert [e["verb"] for e in json.loads(trail)["events"]][:2] == ["action.undone", "action.undo_proposed"]

    again = run("undo", str(fix["id"]))
    assert again.exit_code == EXIT_REFUSED
    assert f"already undone by #{undo_id}" in again.stderr
    assert "itself an undo" in run("undo", undo_id).stderr
    missing = run("undo", "99999")
    assert (missing.exit_code, "There is no fix number 99999." in missing.stderr) == (2, True)
