"""``tally doctor``'s checks against the sandboxes, with each unverified reading switched on in turn.

Each test flips the sandbox switches (``POST /_sandbox/switches``) to one reading of a fact the research could not
verify, runs the checks as ``tally doctor`` does, and asserts what they say; the switches are reset afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from slack_sdk import WebClient
from sqlalchemy.engine import Engine

from bot.slack.doctor import check_slack
from sandbox.cli import RunningSandbox
from sandbox.slack import SlackService, SlackWorkspace
from sandbox.switches import CW_SWITCHES, QBO_SWITCHES
from sync.db import make_engine
from sync.doctor import Check, Section, Status, run_doctor
from sync.doctor.connectwise import check_connectwise
from sync.doctor.database import check_database
from sync.doctor.quickbooks import _preferences, check_quickbooks
from sync.migrate import upgrade
from sync.settings import Settings, load_settings
from tests.sandboxes import cw_client, sandbox


@pytest.fixture(scope="module")
def running() -> Iterator[RunningSandbox]:
    with sandbox("small", seed=3) as started:
        yield started


@pytest.fixture(autouse=True)
def defaults(running: RunningSandbox) -> Iterator[None]:
    yield
    for server, specs in ((running.cw, CW_SWITCHES), (running.qbo, QBO_SWITCHES)):
        reset = {spec.name: spec.default for spec in specs}
        httpx.post(f"{server.url}/_sandbox/switches", json=reset).raise_for_status()


def switch(running: RunningSandbox, system: str, **values: Any) -> None:
    server = running.cw if system == "cw" else running.qbo
    answer = httpx.post(f"{server.url}/_sandbox/switches", json=values)
    assert answer.status_code == 200, answer.text


def settings_of(running: RunningSandbox, tmp_path: Path, **extra: str) -> Settings:
    env = {**running.env(), "DATABASE_URL": f"sqlite:///{tmp_path / 'tally.db'}", **extra}
    return load_settings(_env_file=None, **env)


def migrated(settings: Settings) -> Engine:
    engine = make_engine(settings.database_url)
    upgrade(engine)
    return engine


def by_key(checks: list[Check]) -> dict[str, Check]:
    return {check.key: check for check in checks}


# -- ConnectWise ---------------------------------------------------------------------------------------------
def test_connectwise_as_the_sandbox_plays_it_by_default_passes(running: RunningSandbox, tmp_path: Path) -> None:
    checks = by_key(check_connectwise(settings_of(running, tmp_path)))
    assert {key: check.status for key, check in checks.items()} == {
        "cw.reachable": Status.PASS,
        "cw.version": Status.PASS,
        "cw.closed_flag": Status.PASS,
        "cw.last_updated": Status.PASS,
        "cw.credit_memo_sign": Status.PASS,
        "cw.payments": Status.PASS,
        "cw.payments_touch": Status.PASS,
        "cw.paging": Status.PASS,
    }
    assert "positive totals" in checks["cw.credit_memo_sign"].detail
    assert 'rel="next"' in checks["cw.paging"].detail


@pytest.mark.parametrize("reading", ["missing", "null"])
def test_a_missing_closed_flag_warns_and_names_the_fallback(
    running: RunningSandbox, tmp_path: Path, reading: str
) -> None:
    switch(running, "cw", cw_closed_flag=reading)
    check = by_key(check_connectwise(settings_of(running, tmp_path, TALLY_CW_CLOSED_STATUSES="Closed")))[
        "cw.closed_flag"
    ]
    assert check.status is Status.WARN
    assert "50 of 50 sampled invoices have no status.isClosed" in check.detail
    assert "TALLY_CW_CLOSED_STATUSES" in (check.remedy or "")
    assert "Not in the list now: Sent" in (check.remedy or "")  # the sandbox's "Sent" is closed, but not listed


def test_negative_credit_memos_are_named_and_pass(running: RunningSandbox, tmp_path: Path) -> None:
    switch(running, "cw", cw_credit_memo_negative=True)
    check = by_key(check_connectwise(settings_of(running, tmp_path)))["cw.credit_memo_sign"]
    assert check.status is Status.PASS
    assert "negative totals" in check.detail


def test_a_bare_link_header_is_named(running: RunningSandbox, tmp_path: Path) -> None:
    switch(running, "cw", cw_link_style="bare")
    check = by_key(check_connectwise(settings_of(running, tmp_path)))["cw.paging"]
    assert check.status is Status.PASS
    assert "without rel" in check.detail


def test_ignored_forward_only_paging_warns(running: RunningSandbox, tmp_path: Path) -> None:
    switch(running, "cw", cw_forward_only=False)
    check = by_key(check_connectwise(settings_of(running, tmp_path)))["cw.paging"]
    assert check.status is Status.WARN
    assert "page numbers" in check.detail
    assert "/count" in (check.remedy or "")


def test_payments_that_do_not_move_last_updated_warn_about_the_sweep(running: RunningSandbox, tmp_path: Path) -> None:
    settings = settings_of(running, tmp_path)
    assert by_key(check_connectwise(settings))["cw.payments_touch"].status is Status.PASS
    switch(running, "cw", cw_payments_touch_last_updated=False)
    with cw_client(running) as cw:
        newest = max(cw.iter_invoices(), key=lambda invoice: invoice.id)
        running.clock.advance(3600)
        cw.create_payment(newest.id, Decimal("1.00"), running.clock.now().date())
    check = by_key(check_connectwise(settings))["cw.payments_touch"]
    assert check.status is Status.WARN
    assert newest.number in check.detail
    assert "TALLY_SWEEP_AT" in (check.remedy or "")


def test_wrong_keys_fail_and_skip_the_rest(running: RunningSandbox, tmp_path: Path) -> None:
    checks = check_connectwise(settings_of(running, tmp_path, CW_PRIVATE_KEY="wrong"))
    assert checks[0].status is Status.FAIL
    assert "CW_PRIVATE_KEY" in (checks[0].remedy or "")
    assert {check.status for check in checks[1:]} == {Status.SKIP}


def test_an_unreachable_connectwise_fails_with_the_url(running: RunningSandbox, tmp_path: Path) -> None:
    checks = check_connectwise(settings_of(running, tmp_path, CW_BASE_URL="http://127.0.0.1:9/v2025_1/apis/3.0"))
    assert checks[0].status is Status.FAIL
    assert "127.0.0.1:9" in (checks[0].remedy or "")


# -- QuickBooks ----------------------------------------------------------------------------------------------
def test_quickbooks_preferences_as_switched(running: RunningSandbox, tmp_path: Path) -> None:
    settings = settings_of(running, tmp_path)
    engine = migrated(settings)
    checks = by_key(check_quickbooks(settings, engine))
    assert [checks[key].status for key in ("qbo.token", "qbo.reachable", "qbo.custom_numbers")] == [Status.PASS] * 3
    assert checks["qbo.multicurrency"].status is Status.PASS
    switch(running, "qbo", qbo_custom_txn_numbers=False, qbo_multicurrency=True, qbo_sales_tax=True)
    checks = by_key(check_quickbooks(settings, engine))
    assert checks["qbo.custom_numbers"].status is Status.FAIL
    assert "Custom transaction numbers" in (checks["qbo.custom_numbers"].remedy or "")
    assert checks["qbo.multicurrency"].status is Status.WARN
    assert checks["qbo.sales_tax"].detail == "Sales tax is on (manual rates)."


def test_the_token_check_names_the_refresh_expiry(running: RunningSandbox, tmp_path: Path) -> None:
    settings = settings_of(running, tmp_path)
    check = by_key(check_quickbooks(settings, migrated(settings)))["qbo.token"]
    assert check.status is Status.PASS
    assert "the refresh token lasts until 20" in check.detail


def test_no_quickbooks_connection_fails_and_skips(running: RunningSandbox, tmp_path: Path) -> None:
    settings = settings_of(running, tmp_path, QBO_REFRESH_TOKEN="")
    checks = by_key(check_quickbooks(settings, migrated(settings)))
    assert checks["qbo.token"].status is Status.FAIL
    assert "tally qbo connect" in (checks["qbo.token"].remedy or "")
    assert checks["qbo.custom_numbers"].status is Status.SKIP


def test_a_missing_webhook_verifier_warns(running: RunningSandbox, tmp_path: Path) -> None:
    settings = settings_of(running, tmp_path, QBO_WEBHOOK_VERIFIER="")
    check = by_key(check_quickbooks(settings, migrated(settings)))["qbo.webhooks"]
    assert check.status is Status.WARN
    assert "QBO_WEBHOOK_VERIFIER" in (check.remedy or "")


# -- the database --------------------------------------------------------------------------------------------
def test_a_database_behind_fails_and_is_not_migrated_by_the_doctor(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0005")
    (check,) = check_database(engine)
    assert check.status is Status.FAIL
    assert "0005" in check.detail
    assert "tally db upgrade" in (check.remedy or "")
    assert check_database(engine)[0].detail == check.detail  # still behind: doctor changed nothing
    upgrade(engine)
    assert check_database(engine)[0].status is Status.PASS


def test_an_unmigrated_database_skips_the_quickbooks_token(running: RunningSandbox, tmp_path: Path) -> None:
    report = run_doctor(settings_of(running, tmp_path))
    checks = by_key(report.checks)
    assert checks["db.migrated"].status is Status.FAIL
    assert checks["qbo.token"].status is Status.SKIP
    assert report.exit_code == 1


# -- Slack ---------------------------------------------------------------------------------------------------
def slack_client(running: RunningSandbox) -> WebClient:
    env = running.env()
    return WebClient(token=env["SLACK_BOT_TOKEN"], base_url=env["SLACK_API_URL"])


def with_workspace(running: RunningSandbox, workspace: SlackWorkspace) -> None:
    service = running.slack.service
    assert isinstance(service, SlackService)
    service.store.workspace = workspace
    service.store.reset()


@pytest.fixture
def slack_workspace(running: RunningSandbox) -> Iterator[None]:
    service = running.slack.service
    assert isinstance(service, SlackService)
    original = service.store.workspace
    yield
    service.store.workspace = original


def test_slack_passes_in_the_default_workspace(running: RunningSandbox, tmp_path: Path) -> None:
    checks = by_key(check_slack(settings_of(running, tmp_path), slack_client(running)))
    assert {check.status for check in checks.values()} == {Status.PASS}
    assert "member of #finance" in checks["slack.channel"].detail
    assert "Socket Mode" in checks["slack.mode"].detail


@pytest.mark.usefixtures("slack_workspace")
def test_a_bot_outside_a_private_channel_and_missing_scopes_fail(running: RunningSandbox, tmp_path: Path) -> None:
    with_workspace(
        running,
        SlackWorkspace(
            scopes=("commands", "chat:write", "channels:read", "groups:read"),
            private_channels=frozenset({"C0FINANCE"}),
            bot_channels=frozenset(),
        ),
    )
    checks = by_key(check_slack(settings_of(running, tmp_path), slack_client(running)))
    assert checks["slack.scopes"].status is Status.FAIL
    assert "chat:write.public, usergroups:read" in checks["slack.scopes"].detail
    assert checks["slack.channel"].status is Status.FAIL
    assert "channel_not_found" in checks["slack.channel"].detail
    assert checks["slack.approvers"].status is Status.FAIL  # usergroups:read is missing


@pytest.mark.usefixtures("slack_workspace")
def test_a_public_channel_without_membership_passes_with_chat_write_public(
    running: RunningSandbox, tmp_path: Path
) -> None:
    with_workspace(running, SlackWorkspace(bot_channels=frozenset()))
    check = by_key(check_slack(settings_of(running, tmp_path), slack_client(running)))["slack.channel"]
    assert check.status is Status.PASS
    assert "chat:write.public" in check.detail


def test_an_unknown_approver_group_and_a_bot_token_as_app_token_fail(running: RunningSandbox, tmp_path: Path) -> None:
    settings = settings_of(running, tmp_path, TALLY_APPROVER_GROUP="S0NOBODY", SLACK_APP_TOKEN="xoxb-sandbox-token")
    checks = by_key(check_slack(settings, slack_client(running)))
    assert checks["slack.approvers"].status is Status.FAIL
    assert "no_such_subteam" in checks["slack.approvers"].detail
    assert checks["slack.mode"].status is Status.FAIL
    assert "holds a bot token" in checks["slack.mode"].detail


def test_a_revoked_bot_token_fails_and_skips_the_rest(running: RunningSandbox, tmp_path: Path) -> None:
    settings = settings_of(running, tmp_path, SLACK_BOT_TOKEN="xoxb-revoked")
    client = WebClient(token="xoxb-revoked", base_url=running.env()["SLACK_API_URL"])
    checks = by_key(check_slack(settings, client))
    assert checks["slack.token"].status is Status.FAIL
    assert "invalid_auth" in checks["slack.token"].detail
    assert checks["slack.channel"].status is Status.SKIP


def test_automated_sales_tax_warns_and_a_missing_custom_numbers_flag_warns() -> None:
    section = Section("QuickBooks")
    _preferences(section, {"TaxPrefs": {"UsingSalesTax": True, "PartnerTaxEnabled": True}})
    checks = by_key(section.checks)
    assert checks["qbo.sales_tax"].status is Status.WARN
    assert "tally explain" in (checks["qbo.sales_tax"].remedy or "")
    assert checks["qbo.custom_numbers"].status is Status.WARN  # the preferences do not say: check by hand
