"""``tally sweep``, and the latest sweep in ``tally status`` and the digest's health, against the sandbox."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import httpx
from typer.testing import CliRunner

from bot.cli import app
from bot.digest.blocks import health_blocks
from bot.digest.data import gather_digest
from sync.db import make_engine
from sync.models import utcnow
from sync.settings import load_settings
from tests.sandboxes import sandbox
from tests.sync.test_sweep import seed


def test_sweep_reports_a_missed_payment_in_status_and_the_digest(tmp_path: Path) -> None:
    with sandbox("empty") as running:
        env = {**running.env(), "DATABASE_URL": f"sqlite:///{tmp_path / 'tally.db'}", "COLUMNS": "200"}
        store, invoice = seed(running)
        runner = CliRunner()
        assert runner.invoke(app, ["sync"], env=env).exit_code == 0
        before = runner.invoke(app, ["status", "--json"], env=env)
        assert json.loads(before.output)["sweep"] is None
        httpx.post(f"{running.cw.url}/_sandbox/switches", json={"cw_payments_touch_last_updated": False})
        store.create_payment(invoice, {"amount": Decimal("40.00")})
        swept = runner.invoke(app, ["sweep"], env=env)
        status = runner.invoke(app, ["status"], env=env)
        as_json = runner.invoke(app, ["status", "--json"], env=env)
        settings = load_settings(_env_file=None, **env)
    assert swept.exit_code == 0, swept.output
    assert "found 1 record(s) the incremental syncs had missed: 1 in ConnectWise" in swept.output
    assert status.exit_code == 0, status.output
    drawn = " ".join(status.output.replace("│", " ").split())
    assert "Full sweep" in drawn
    assert "1 in ConnectWise, 0 in QuickBooks" in drawn
    sweep = json.loads(as_json.output)["sweep"]
    assert sweep["status"] == "done"
    assert sweep["missed"] == {"ConnectWise": 1, "QuickBooks": 0}
    assert sweep["examples"] == ["ConnectWise invoice INV-7"]
    engine = make_engine(env["DATABASE_URL"])
    digest = gather_digest(engine, settings, day=utcnow().date(), now=utcnow())
    engine.dispose()
    text = json.dumps([block for block in health_blocks(digest)])
    assert ":warning: Full sweep: The last full sweep" in text
    assert "1 in ConnectWise" in text


def test_check_stops_with_a_sentence_when_a_page_loses_a_row(tmp_path: Path) -> None:
    with sandbox("empty") as running:
        env = {**running.env(), "DATABASE_URL": f"sqlite:///{tmp_path / 'tally.db'}", "COLUMNS": "200"}
        seed(running)
        httpx.post(f"{running.cw.url}/_sandbox/switches", json={"cw_drop_row": 1})
        result = CliRunner().invoke(app, ["check"], env=env)
        findings = CliRunner().invoke(app, ["findings", "--json"], env=env)
    assert result.exit_code == 3, result.output
    drawn = " ".join(result.output.split())
    assert "ConnectWise counts 2 invoices but sent only 1" in drawn
    assert "nothing was deleted or reconciled" in drawn
    assert findings.exit_code == 0, findings.output
    # Nothing was reconciled from the partial copy (reconciled, the hour-old INV-7 would lack its QBO mirror).
    assert json.loads(findings.output)["findings"] == []


def test_check_warns_loudly_when_no_invoice_carries_the_closed_flag(tmp_path: Path) -> None:
    with sandbox("empty") as running:
        env = {**running.env(), "DATABASE_URL": f"sqlite:///{tmp_path / 'tally.db'}", "COLUMNS": "200"}
        seed(running)
        httpx.post(f"{running.cw.url}/_sandbox/switches", json={"cw_closed_flag": "missing"})
        result = CliRunner().invoke(app, ["check", "--json"], env=env)
    drawn = " ".join(result.output.split())
    assert "Warning: ConnectWise sent none of the 2 invoices read with a closed flag" in drawn
    assert "TALLY_CW_CLOSED_STATUSES" in drawn
