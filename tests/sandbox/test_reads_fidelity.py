"""Sandbox fidelity found by independent clients (issue 10 §3), and Tally's handling of it, over loopback HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from sandbox.web import SandboxServer
from sync.clients import qbo_query as q
from tests.sandbox.cw_fixtures import CW, cw
from tests.sandbox.qbo_fixtures import APP, BASIC, QBO, admin, fault, running_qbo
from tests.sandboxes import fast_retry
from tests.sync.clients.servers import SandboxTokens

__all__ = ["cw"]


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    with running_qbo() as running:
        yield running


# -- the query lexer and the curly apostrophe ---------------------------------------------------------------
def test_a_curly_apostrophe_in_a_query_is_a_4000_lexical_error(server: SandboxServer) -> None:
    qbo = QBO(server)
    answer = qbo.get("/query", query="select * from Customer where DisplayName = 'O’Brien’s'")
    assert answer.status_code == 400
    error = fault(answer)
    assert error["code"] == "4000"
    assert "Lexical error at line 1, column 46" in error["Detail"]
    assert '"\\u2019" (8217)' in error["Detail"]
    qbo.close()


def test_tally_finds_a_customer_whose_name_has_curly_apostrophes(server: SandboxServer) -> None:
    from sync.clients.quickbooks import QuickBooksClient

    qbo = QBO(server)
    curly = qbo.customer("O’Brien’s Café")
    qbo.customer("O'Brien's Café")  # straight quotes: a different customer that must not be returned
    qbo.close()
    client = QuickBooksClient(
        base_url=f"{server.url}/v3", realm_id=APP.realm_id, tokens=SandboxTokens(server), retry=fast_retry()
    )
    with client:
        rows = list(client.iter_query(q.select("Customer", q.eq("DisplayName", "O’Brien’s Café"))))
    assert [row["Id"] for row in rows] == [curly]


# -- OAuth: RFC 7009 revoke, client_secret_post, the hard expiry ------------------------------------------------
def _refresh(server: SandboxServer, refresh: str, **form: str) -> httpx.Response:
    auth = None if "client_secret" in form else BASIC
    data = {"grant_type": "refresh_token", "refresh_token": refresh, **form}
    return httpx.post(f"{server.url}/oauth2/v1/tokens/bearer", data=data, auth=auth)


def test_token_endpoint_accepts_client_secret_post_and_reports_the_hard_expiry(server: SandboxServer) -> None:
    refresh = admin(server, "issue-refresh-token", {})["refresh_token"]
    answer = _refresh(server, refresh, client_id=APP.client_id, client_secret=APP.client_secret)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert 5 * 365 * 86400 <= body["x_refresh_token_hard_expires_in"] <= 1826 * 86400
    assert body["x_refresh_token_expires_in"] <= body["x_refresh_token_hard_expires_in"]
    wrong = _refresh(server, body["refresh_token"], client_id=APP.client_id, client_secret="wrong")
    assert wrong.status_code == 401


def test_past_the_hard_expiry_the_refresh_token_is_dead(server: SandboxServer) -> None:
    admin(server, "switches", {"qbo_hard_expiry_days": 1})
    refresh = admin(server, "issue-refresh-token", {})["refresh_token"]
    first = _refresh(server, refresh).json()
    assert 86000 <= first["x_refresh_token_hard_expires_in"] <= 86400
    admin(server, "clock", {"advance_seconds": 2 * 86400})
    late = _refresh(server, first["refresh_token"])
    assert late.status_code == 400
    assert late.json()["error"] == "invalid_grant"


@pytest.mark.parametrize("form", [True, False], ids=["rfc7009-form", "json"])
def test_revoke_takes_the_form_body_and_json(server: SandboxServer, form: bool) -> None:
    refresh = admin(server, "issue-refresh-token", {})["refresh_token"]
    url = f"{server.url}/oauth2/v1/tokens/revoke"
    answer = (
        httpx.post(url, data={"token": refresh}, auth=BASIC)
        if form
        else httpx.post(url, json={"token": refresh}, auth=BASIC)
    )
    assert answer.status_code == 200
    assert _refresh(server, refresh).json()["error"] == "invalid_grant"


# -- QBO batch items do not see what earlier items created ---------------------------------------------------
def test_batch_items_do_not_see_objects_created_earlier_in_the_batch(server: SandboxServer) -> None:
    qbo = QBO(server)
    first = int(qbo.customer("First Co"))
    upcoming = str(first + 1)
    line = {"DetailType": "SalesItemLineDetail", "Amount": 10, "SalesItemLineDetail": {"ItemRef": {"value": "1"}}}
    batch = {
        "BatchItemRequest": [
            {"bId": "1", "operation": "create", "Customer": {"DisplayName": "New Co"}},
            {"bId": "2", "operation": "create", "Invoice": {"CustomerRef": {"value": upcoming}, "Line": [line]}},
            {"bId": "3", "Query": "select * from Customer where DisplayName = 'New Co'"},
        ]
    }
    answers = {item["bId"]: item for item in qbo.ok(qbo.post("/batch", batch))["BatchItemResponse"]}
    assert answers["1"]["Customer"]["Id"] == upcoming
    assert answers["2"]["Fault"]["Error"][0]["code"] == "2500"
    assert not answers["3"]["QueryResponse"].get("Customer")
    assert qbo.query("select * from Customer where DisplayName = 'New Co'")["Customer"][0]["Id"] == upcoming
    qbo.close()


# -- ConnectWise error bodies and company create ----------------------------------------------------------------
def test_invalid_object_answers_carry_an_errors_list(cw: CW) -> None:
    answer = cw.client.get("/finance/invoices", params={"conditions": "total >"})
    assert answer.status_code == 400
    body = answer.json()
    assert body["code"] == "InvalidObject"
    assert isinstance(body["errors"], list)
    assert body["errors"]
    assert body["errors"][0]["message"] == body["message"]


def test_company_create_requires_an_address_field(cw: CW) -> None:
    bare = cw.client.post("/company/companies", json={"identifier": "Delta", "name": "Delta Inc"})
    assert bare.status_code == 400
    assert bare.json()["errors"][0]["code"] == "MissingRequiredField"
    assert "address" in bare.json()["errors"][0]["message"]
    placed = cw.client.post("/company/companies", json={"identifier": "Delta", "name": "Delta Inc", "zip": "33602"})
    assert placed.status_code == 201
