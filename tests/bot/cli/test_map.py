"""`tally map` (issue 9 rule 8): list the companies Tally cannot check with their candidates, confirm one, audited."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from bot.cli import app
from tests.sync.actions.handmade import handmade


def test_tally_map_lists_a_fuzzy_company_and_a_confirmed_mapping_makes_it_checkable(tmp_path: Path) -> None:
    with handmade() as hand:
        hand.cw.create_company({"identifier": "Brite", "name": "Brightside Dental", "accountNumber": "BRT01"})
        brite = str(hand.qbo.create("Customer", {"DisplayName": "Brightsyde Dental"})["Id"])
        hand.cw_doc("8001", "420.00", company="Brite")
        hand.qbo_doc("Invoice", "8001", "420.00", customer=brite)
        env = {**hand.running.env(), "DATABASE_URL": f"sqlite:///{tmp_path / 'tally.db'}", "COLUMNS": "200"}
        runner = CliRunner()
        assert runner.invoke(app, ["check"], env=env).exit_code in (0, 1)
        listed = runner.invoke(app, ["map", "--json"], env=env)
        assert listed.exit_code == 0, listed.output
        (row,) = json.loads(listed.output)["unmapped"]
        assert row["account"] == "BRT01"
        assert row["open_amount"] == "420.00"
        assert row["candidates"] == [{"id": brite, "name": "Brightsyde Dental"}]
        refused = runner.invoke(app, ["map", "BRT01", "Nobody Ltd"], env=env)
        assert refused.exit_code == 2
        assert "No QuickBooks customer is called 'Nobody Ltd'" in refused.output
        confirmed = runner.invoke(app, ["map", "BRT01", brite], env=env)
        assert confirmed.exit_code == 0, confirmed.output
        assert "Mapped ConnectWise company Brightside Dental to QuickBooks customer Brightsyde Dental" in (
            confirmed.output
        )
        assert json.loads(runner.invoke(app, ["map", "--json"], env=env).output)["unmapped"] == []
        checked = runner.invoke(app, ["check", "--json"], env=env)
        kinds = {finding["kind"] for finding in json.loads(checked.output)["findings"]}
        assert "customer_mismatch" not in kinds
        history = runner.invoke(app, ["history"], env=env)
        assert "mapping.confirmed" in history.output
