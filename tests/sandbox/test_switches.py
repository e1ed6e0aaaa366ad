"""The sandboxes' run-time switches: each one changes what the API answers over HTTP, and bad input is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from typer.testing import CliRunner

from bot.cli import app
from sandbox.cli import start_sandbox
from sandbox.switches import CW_SWITCHES, QBO_SWITCHES, parse_assignments
from tests.sandbox.cw_fixtures import CW, cw, seed_company, seed_invoice
from tests.sandbox.qbo_fixtures import QBO, admin, running_qbo

__all__ = ["cw"]


def _switch(cw: CW, **values: object) -> dict[str, object]:
    answer = httpx.post(f"{cw.server.url}/_sandbox/switches", json=values)
    assert answer.status_code == 200, answer.text
    result: dict[str, object] = answer.json()
    return result


def test_cw_switches_listed_with_defaults(cw: CW) -> None:
    answer = httpx.get(f"{cw.server.url}/_sandbox/switches").json()
    assert answer["cw_payments_touch_last_updated"] is True
    assert answer["cw_closed_flag"] == "present"
    assert answer["cw_link_style"] == "rel"


def test_unknown_switch_or_bad_value_is_refused_with_a_sentence(cw: CW) -> None:
    answer = httpx.post(f"{cw.server.url}/_sandbox/switches", json={"cw_no_such": True})
    assert answer.status_code == 400
    assert "no switch called 'cw_no_such'" in answer.json()["message"]
    answer = httpx.post(f"{cw.server.url}/_sandbox/switches", json={"cw_closed_flag": "maybe", "cw_drop_row": 1})
    assert answer.status_code == 400
    assert "present, missing, null" in answer.json()["message"]
    assert httpx.get(f"{cw.server.url}/_sandbox/switches").json()["cw_drop_row"] == 0  # nothing half-applied


def test_payments_stop_touching_last_updated(cw: CW) -> None:
    company = seed_company(cw.store)
    invoice = seed_invoice(cw.store, company, "INV-1", "100.00", status={"name": "Sent"})
    before = cw.client.get(f"/finance/invoices/{invoice}").json()
    cw.advance(60)
    _switch(cw, cw_payments_touch_last_updated=False)
    cw.client.post(f"/finance/invoices/{invoice}/payments", json={"amount": 40}).raise_for_status()
    after = cw.client.get(f"/finance/invoices/{invoice}").json()
    assert Decimal(str(after["balance"])) == Decimal("60")
    assert after["_info"]["lastUpdated"] == before["_info"]["lastUpdated"]
    _switch(cw, cw_payments_touch_last_updated=True)
    cw.advance(60)
    cw.client.post(f"/finance/invoices/{invoice}/payments", json={"amount": 10}).raise_for_status()
    assert (
        cw.client.get(f"/finance/invoices/{invoice}").json()["_info"]["lastUpdated"] != before["_info"]["lastUpdated"]
    )


def test_credit_memo_sign_and_closed_flag(cw: CW) -> None:
    company = seed_company(cw.store)
    memo = seed_invoice(cw.store, company, "CM-1", "25.00", kind="CreditMemo", status={"name": "Closed"})
    _switch(cw, cw_credit_memo_negative=True, cw_closed_flag="null")
    one = cw.client.get(f"/finance/invoices/{memo}").json()
    assert Decimal(str(one["total"])) == Decimal("-25")
    assert Decimal(str(one["balance"])) == Decimal("-25")
    assert one["status"]["isClosed"] is None
    _switch(cw, cw_closed_flag="missing", cw_credit_memo_negative=False)
    listed = cw.client.get("/finance/invoices").json()
    assert "isClosed" not in listed[0]["status"]
    assert Decimal(str(listed[0]["total"])) == Decimal("25")


def test_bare_links_and_page_numbers(cw: CW) -> None:
    company = seed_company(cw.store)
    for number in range(5):
        seed_invoice(cw.store, company, f"INV-{number}", "10.00")
    _switch(cw, cw_link_style="bare", cw_forward_only=False)
    answer = cw.client.get("/finance/invoices", params={"pageSize": 2}, headers={"pagination-type": "forward-only"})
    link = answer.headers["link"]
    assert "rel=" not in link
    assert link.endswith("page=2>")  # forward-only ignored: page numbers answer
    last = cw.client.get("/finance/invoices", params={"pageSize": 2, "page": 3})
    assert last.headers["link"] == ""
    assert len(last.json()) == 1


def test_drop_row_loses_a_row_the_count_still_has(cw: CW) -> None:
    company = seed_company(cw.store)
    for number in range(3):
        seed_invoice(cw.store, company, f"INV-{number}", "10.00")
    _switch(cw, cw_drop_row=2)
    assert [row["invoiceNumber"] for row in cw.client.get("/finance/invoices").json()] == ["INV-0", "INV-2"]
    assert cw.client.get("/finance/invoices/count").json() == {"count": 3}


def test_qbo_preferences_switch_per_company() -> None:
    with running_qbo() as server:
        qbo, other = QBO(server), QBO(server, realm="4620816365000000000")
        prefs = qbo.ok(qbo.get("/preferences"))["Preferences"]
        assert prefs["SalesFormsPrefs"]["CustomTxnNumbers"] is True
        admin(server, "switches", {"qbo_custom_txn_numbers": False, "qbo_multicurrency": True, "realm": qbo.realm})
        prefs = qbo.ok(qbo.get("/preferences"))["Preferences"]
        assert prefs["SalesFormsPrefs"]["CustomTxnNumbers"] is False
        assert prefs["CurrencyPrefs"]["MultiCurrencyEnabled"] is True
        assert other.ok(other.get("/preferences"))["Preferences"]["SalesFormsPrefs"]["CustomTxnNumbers"] is True
        customer = qbo.customer("Acme")
        assert qbo.invoice(customer, "10.00", DocNumber="CW-1001")["DocNumber"] != "CW-1001"  # numbered by QBO
        qbo.close()
        other.close()


def test_qbo_cdc_cap_and_drop_row() -> None:
    with running_qbo() as server:
        qbo = QBO(server)
        customer = qbo.customer("Acme")
        for _ in range(3):
            qbo.invoice(customer, "10.00")
        admin(server, "switches", {"qbo_cdc_cap": 2, "qbo_drop_row": 1})
        since = "2000-01-01T00:00:00Z"
        answer = qbo.get("/cdc", entities="Customer,Invoice", changedSince=since)
        assert answer.status_code == 400  # far past the 30-day window: the cap is not what answers
        changed = qbo.ok(qbo.get("/cdc", entities="Customer,Invoice", changedSince=_recent()))
        blocks = changed["CDCResponse"][0]["QueryResponse"]
        assert sum(len(rows) for block in blocks for key, rows in block.items() if isinstance(rows, list)) == 2
        assert len(qbo.query("select * from Invoice")["Invoice"]) == 2
        assert qbo.query("select count(*) from Invoice")["totalCount"] == 3
        qbo.close()


def _recent() -> str:
    return (datetime.now(UTC) - timedelta(days=1)).isoformat(timespec="seconds")


def test_command_line_assignments() -> None:
    assert parse_assignments(["cw_closed_flag=null", "cw_drop_row=3"], CW_SWITCHES) == {
        "cw_closed_flag": "null",
        "cw_drop_row": 3,
    }
    assert parse_assignments(["qbo_custom_txn_numbers=false"], QBO_SWITCHES) == {"qbo_custom_txn_numbers": False}
    with pytest.raises(ValueError, match="name=value"):
        parse_assignments(["cw_nothing=1"], CW_SWITCHES)


def test_serve_refuses_an_unknown_switch_with_a_sentence() -> None:
    result = CliRunner().invoke(
        app, ["sandbox", "serve", "--cw-port", "0", "--qbo-port", "0", "--slack-port", "0", "--cw-switch", "cw_nope=1"]
    )
    assert result.exit_code == 2
    assert "cw_nope=1" in result.output


def test_switches_given_at_start_apply_once_the_books_are_loaded() -> None:
    running = start_sandbox(
        dataset="empty", cw_switch={"cw_closed_flag": "null"}, qbo_switch={"qbo_custom_txn_numbers": False}
    )
    try:
        assert httpx.get(f"{running.cw.url}/_sandbox/switches").json()["cw_closed_flag"] == "null"
        assert httpx.get(f"{running.qbo.url}/_sandbox/switches").json()["qbo_custom_txn_numbers"] is False
    finally:
        running.stop()
