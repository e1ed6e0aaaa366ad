"""The ConnectWise sandbox over loopback HTTP: companyinfo, auth, headers, invoices, companies, faults."""

from __future__ import annotations

import uuid
from decimal import Decimal

import httpx
import pytest

from sandbox.connectwise import CWError
from tests.sandbox.cw_fixtures import CREDS, CW, api_client, cw, seed_company, seed_invoice

__all__ = ["cw"]  # the fixture, imported for pytest


# -- companyinfo and routing ---------------------------------------------------------------------------------
def test_companyinfo_needs_no_auth_and_names_the_codebase(cw: CW) -> None:
    answer = httpx.get(f"{cw.server.url}/login/companyinfo/{CREDS.company_id}")
    assert answer.status_code == 200
    info = answer.json()
    assert info["Codebase"] == "v2025_1/"
    assert info["CompanyID"] == CREDS.company_id
    assert info["IsCloud"] == "True"
    assert info["VersionCode"] == "v2025.1"
    assert set(info) == {"CompanyName", "Codebase", "VersionCode", "VersionNumber", "CompanyID", "IsCloud"}


def test_companyinfo_for_an_unknown_company_is_json_null(cw: CW) -> None:
    answer = httpx.get(f"{cw.server.url}/LOGIN/CompanyInfo/nobody")
    assert answer.status_code == 200
    assert answer.content == b"null"


def test_any_codebase_any_case_and_trailing_slash_reach_the_api(cw: CW) -> None:
    seed_invoice(cw.store, seed_company(cw.store), "1001", "10.00")
    with api_client(cw.server.url) as client:
        for path in (
            "/v4_6_release/apis/3.0/finance/invoices",
            "/V2025_1/APIS/3.0/Finance/Invoices/",
            "/x/apis/3.0/finance/invoices/1",
        ):
            assert client.get(path).status_code == 200, path


def test_query_parameter_names_are_case_insensitive(cw: CW) -> None:
    company = seed_company(cw.store)
    for number in range(5):
        seed_invoice(cw.store, company, f"{1000 + number}", "10.00")
    answer = cw.client.get("/finance/invoices", params={"pagesize": 2, "PAGE": 2, "CONDITIONS": "id > 1"})
    assert [invoice["id"] for invoice in answer.json()] == [4, 5]


def test_unknown_endpoint_and_wrong_method(cw: CW) -> None:
    missing = cw.client.get("/finance/nothing")
    assert missing.status_code == 404
    assert missing.json() == {"code": "ConnectWiseApi", "message": "The endpoint does not exist."}
    assert cw.client.post("/finance/invoices/count").status_code == 405


# -- authentication and headers ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "auth",
    [
        (f"{CREDS.company_id}+{CREDS.public_key}", "wrong"),
        (f"other+{CREDS.public_key}", CREDS.private_key),
        (f"{CREDS.company_id}+wrong", CREDS.private_key),
        None,
    ],
)
def test_bad_or_missing_keys_are_401_with_the_error_shape(cw: CW, auth: tuple[str, str] | None) -> None:
    with httpx.Client(base_url=cw.base, auth=auth, headers={"clientId": CREDS.client_id}) as client:
        answer = client.get("/finance/invoices")
    assert answer.status_code == 401
    body = answer.json()
    assert body["code"] == "Unauthorized"
    assert body["errors"] is None
    assert isinstance(body["message"], str)
    assert body["message"]


@pytest.mark.parametrize("client_id", [None, "", "11111111-1111-4111-8111-111111111111"])
def test_missing_or_unknown_client_id_is_400_mentioning_it(cw: CW, client_id: str | None) -> None:
    headers = {} if client_id is None else {"clientId": client_id}
    with api_client(cw.base, headers=headers) as client:
        answer = client.get("/finance/invoices")
    assert answer.status_code == 400
    assert "clientId" in answer.json()["message"]


def test_client_id_header_name_and_value_case_do_not_matter(cw: CW) -> None:
    with api_client(cw.base, headers={"CLIENTID": CREDS.client_id.upper()}) as client:
        assert client.get("/finance/invoices").status_code == 200


def test_api_responses_carry_connectwise_headers(cw: CW) -> None:
    answer = cw.client.get("/finance/invoices")
    uuid.UUID(answer.headers["x-cw-request-id"])
    assert answer.headers["api-current-version"]
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.headers["x-cw-request-id"] != cw.client.get("/finance/invoices").headers["x-cw-request-id"]


# -- invoices ------------------------------------------------------------------------------------------------
def _new_invoice(cw: CW, **extra: object) -> dict[str, object]:
    company = seed_company(cw.store)
    body = {
        "invoiceNumber": "10231",
        "type": "Standard",
        "company": {"identifier": "acme"},
        "subtotal": 1000,
        "salesTax": 80,
    }
    answer = cw.client.post("/finance/invoices", json={**body, **extra})
    assert answer.status_code == 201, answer.text
    created: dict[str, object] = answer.json()
    assert created["company"] == {"id": company, "identifier": "ACME", "name": "Acme Co"}
    return created


def test_create_invoice_derives_amounts_and_stamps_info(cw: CW) -> None:
    created = _new_invoice(cw, reference="PO-7")
    assert created["total"] == 1080
    assert (created["payments"], created["credits"], created["balance"]) == (0, 0, 1080)
    assert created["accountNumber"] == "ACME01"
    assert created["status"] == {"id": 1, "name": "New", "isClosed": False}
    info = created["_info"]
    assert isinstance(info, dict)
    assert info["updatedBy"]
    assert len(info["lastUpdated"]) == 20
    assert info["lastUpdated"].endswith("Z")
    assert cw.client.get(f"/finance/invoices/{created['id']}").json() == created


@pytest.mark.parametrize("kind", ["Agreement", "CreditMemo", "DownPayment", "Miscellaneous", "Progress", "Standard"])
def test_every_invoice_type_is_accepted(cw: CW, kind: str) -> None:
    assert _new_invoice(cw, type=kind)["type"] == kind


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"type": None}, "MissingRequiredField", "type"),
        ({"type": "Downpayment "}, "InvalidField", "type"),
        ({"company": None}, "MissingRequiredField", "company"),
        ({"company": {"id": 999}}, "NotFound", "company/id"),
        ({"status": {"name": "Nope"}}, "NotFound", "status/name"),
        ({"total": "lots"}, "InvalidField", "total"),
        ({"invoiceNumber": "X" * 16}, "MaxLengthField", "invoiceNumber"),
    ],
)
def test_invalid_invoices_are_refused_field_by_field(cw: CW, change: dict[str, object], code: str, field: str) -> None:
    seed_company(cw.store)
    body = {"invoiceNumber": "1", "type": "Standard", "company": {"id": 250}, "total": 5, **change}
    answer = cw.client.post("/finance/invoices", json=body)
    assert answer.status_code == 400
    error = answer.json()
    assert error["code"] == "InvalidObject"
    assert error["message"] == "invoice object is invalid"
    assert [(e["code"], e["resource"], e["field"]) for e in error["errors"]] == [(code, "invoice", field)]
    assert cw.store.invoices() == []


def test_invoice_numbers_are_unique(cw: CW) -> None:
    _new_invoice(cw)
    again = cw.client.post(
        "/finance/invoices", json={"invoiceNumber": "10231", "type": "Standard", "company": {"id": 250}}
    )
    assert again.status_code == 400
    assert again.json()["errors"][0]["code"] == "ObjectExists"


def test_unknown_invoice_is_404_with_connectwise_body(cw: CW) -> None:
    for method in ("GET", "PUT", "PATCH", "DELETE"):
        answer = cw.client.request(method, "/finance/invoices/123", json=[])
        assert answer.status_code == 404
        assert answer.json() == {"code": "NotFound", "message": "Invoice 123 not found"}


def test_patch_replaces_fields_and_moves_last_updated(cw: CW) -> None:
    created = _new_invoice(cw)
    cw.advance(120)
    operations = [
        {"op": "replace", "path": "status", "value": {"name": "sent"}},
        {"op": "add", "path": "customerPO", "value": "PO-9"},
        {"op": "replace", "path": "total", "value": 1200.5},
    ]
    answer = cw.client.patch(f"/finance/invoices/{created['id']}", json=operations)
    assert answer.status_code == 200
    patched = answer.json()
    assert patched["status"] == {"id": 2, "name": "Sent", "isClosed": True}
    assert patched["customerPO"] == "PO-9"
    assert (patched["total"], patched["balance"]) == (1200.5, 1200.5)
    assert patched["_info"]["lastUpdated"] > created["_info"]["lastUpdated"]  # type: ignore[index]
    assert patched["_info"]["dateEntered"] == created["_info"]["dateEntered"]  # type: ignore[index]
    removed = cw.client.patch(f"/finance/invoices/{created['id']}", json=[{"op": "remove", "path": "customerPO"}])
    assert "customerPO" not in removed.json()


def test_patch_paths_are_case_sensitive_and_nested_paths_change_nothing(cw: CW) -> None:
    created = _new_invoice(cw)
    url = f"/finance/invoices/{created['id']}"
    wrong_case = cw.client.patch(url, json=[{"op": "replace", "path": "Status", "value": {"id": 2}}])
    assert wrong_case.status_code == 400
    assert wrong_case.json()["errors"][0]["field"] == "Status"
    nested = cw.client.patch(url, json=[{"op": "replace", "path": "status/id", "value": 2}])
    assert nested.status_code == 200  # the documented "false 200"
    assert cw.client.get(url).json()["status"]["id"] == 1
    assert cw.client.patch(url, json={"op": "replace"}).status_code == 400


def test_put_replaces_the_invoice_and_resets_omitted_fields(cw: CW) -> None:
    created = _new_invoice(cw, reference="R-1", customerPO="PO-1")
    url = f"/finance/invoices/{created['id']}"
    body = {"invoiceNumber": "10231", "type": "Progress", "company": {"id": 250}, "total": 50}
    answer = cw.client.put(url, json=body)
    assert answer.status_code == 200
    replaced = answer.json()
    assert replaced["type"] == "Progress"
    assert (replaced["subtotal"], replaced["total"], replaced["balance"]) == (50, 50, 50)
    assert "reference" not in replaced
    assert "customerPO" not in replaced
    assert replaced["status"]["name"] == "New"
    assert cw.client.put(url, json={"type": "Standard", "company": {"id": 250}}).status_code == 400


def test_delete_invoice_is_204_and_then_gone(cw: CW) -> None:
    created = _new_invoice(cw)
    answer = cw.client.delete(f"/finance/invoices/{created['id']}")
    assert answer.status_code == 204
    assert answer.content == b""
    assert cw.client.get(f"/finance/invoices/{created['id']}").status_code == 404
    assert cw.store.find_invoice("10231") is None


# -- companies -----------------------------------------------------------------------------------------------
def test_companies_create_list_count_get(cw: CW) -> None:
    answer = cw.client.post(
        "/company/companies",
        json={"identifier": "Beta", "name": "Beta LLC", "accountNumber": "B1", "city": "Tampa"},
    )
    assert answer.status_code == 201
    company = answer.json()
    assert company["_info"]["lastUpdated"].endswith("Z")
    assert cw.client.get(f"/company/companies/{company['id']}").json() == company
    assert cw.client.get("/company/companies").json() == [company]
    assert cw.client.get("/company/companies/count", params={"conditions": 'identifier = "beta"'}).json() == {
        "count": 1
    }
    duplicate = cw.client.post("/company/companies", json={"identifier": "BETA", "name": "Other", "city": "Tampa"})
    assert duplicate.status_code == 400
    assert duplicate.json()["errors"][0]["code"] == "ObjectExists"
    nameless = cw.client.post("/company/companies", json={"identifier": "Gamma"})
    assert nameless.json()["errors"][0] == {
        "code": "MissingRequiredField",
        "message": "The name field is required.",
        "resource": "company",
        "field": "name",
    }


def test_store_methods_raise_cw_error_like_the_api(cw: CW) -> None:
    with pytest.raises(CWError) as caught:
        cw.store.get_invoice(77)
    assert (caught.value.status, caught.value.body) == (404, {"code": "NotFound", "message": "Invoice 77 not found"})
    company = seed_company(cw.store)
    invoice = cw.store.create_invoice({"type": "Standard", "company": {"id": company}, "total": Decimal("5")})
    assert invoice["invoiceNumber"] == "1000"
    assert cw.store.find_invoice(invoice["invoiceNumber"]) == invoice


# -- faults --------------------------------------------------------------------------------------------------
def test_rate_limit_answers_429_with_retry_after(cw: CW) -> None:
    cw.admin("faults", {"rate_limit": 3})
    statuses = [cw.client.get("/finance/invoices").status_code for _ in range(3)]
    limited = cw.client.get("/finance/invoices")
    assert statuses == [200, 200, 200]
    assert limited.status_code == 429
    wait = int(limited.headers["Retry-After"])
    assert 1 <= wait <= 61
    assert limited.json() == {
        "error": "ConnectWiseAPI",
        "message": f"Too many requests. Please try again in {wait} seconds.",
    }
    cw.admin("faults", {"rate_limit": None})
    assert cw.client.get("/finance/invoices").status_code == 200


@pytest.mark.parametrize("status", [500, 503])
def test_fail_next_answers_the_status_and_writes_nothing(cw: CW, status: int) -> None:
    seed_company(cw.store)
    cw.admin("faults", {"fail_next": {"count": 1, "status": status}})
    failed = cw.client.post("/finance/invoices", json={"type": "Standard", "company": {"id": 250}, "total": 1})
    assert failed.status_code == status
    assert failed.json()["code"] == "ConnectWiseApi"
    assert cw.store.invoices() == []
    assert cw.client.post("/finance/invoices", json={"type": "Standard", "company": {"id": 250}}).status_code == 201


def test_drop_next_commits_the_write_but_the_client_sees_a_transport_error(cw: CW) -> None:
    seed_company(cw.store)
    cw.admin("faults", {"drop_next": {"count": 1, "match": "POST .*/finance/invoices"}})
    with pytest.raises(httpx.TransportError):
        cw.client.post("/finance/invoices", json={"invoiceNumber": "D-1", "type": "Standard", "company": {"id": 250}})
    assert cw.store.find_invoice("D-1") is not None
    assert cw.client.get("/finance/invoices/count").json() == {"count": 1}
