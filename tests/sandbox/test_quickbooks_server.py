"""The QuickBooks API stand-in over HTTP: documents, updates, errors, requestid, CDC, batch, auth, throttling."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest

from sandbox.web import SandboxServer
from tests.sandbox.qbo_fixtures import APP, QBO, admin, fault, payment, running_qbo, sales_form


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    with running_qbo() as running:
        yield running


@pytest.fixture
def qbo(server: SandboxServer) -> Iterator[QBO]:
    client = QBO(server)
    yield client
    client.close()


def count(qbo: QBO, entity: str) -> int:
    return int(qbo.query(f"select count(*) from {entity}")["totalCount"])  # noqa: S608


# -- documents ------------------------------------------------------------------------------------------------
def test_created_invoice_carries_the_fields_qbo_derives(qbo: QBO) -> None:
    customer = qbo.customer("Amy's Bird Sanctuary")
    lines = [
        {"DetailType": "SalesItemLineDetail", "Amount": 100, "SalesItemLineDetail": {"ItemRef": {"value": "1"}}},
        {"DetailType": "SalesItemLineDetail", "Amount": 50, "SalesItemLineDetail": {"Qty": 2, "UnitPrice": 25}},
        {"DetailType": "DiscountLineDetail", "Amount": 15, "DiscountLineDetail": {"PercentBased": False}},
    ]
    response = qbo.post(
        "/invoice", {"CustomerRef": {"value": customer}, "Line": lines, "TxnTaxDetail": {"TotalTax": 7.5}}
    )
    assert response.headers["intuit_tid"]
    body = qbo.ok(response)
    invoice = body["Invoice"]
    assert isinstance(invoice["Id"], str)
    assert invoice["SyncToken"] == "0"
    assert (invoice["domain"], invoice["sparse"]) == ("QBO", False)
    assert invoice["TotalAmt"] == Decimal("142.5") == invoice["Balance"]
    assert invoice["Line"][-1] == {"Amount": Decimal(150), "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}}
    assert invoice["CustomerRef"] == {"value": customer, "name": "Amy's Bird Sanctuary"}
    assert invoice["DocNumber"].isdigit()
    assert invoice["MetaData"]["CreateTime"][-6] in "+-"
    assert "time" in body


def test_sparse_update_changes_only_what_is_sent(qbo: QBO) -> None:
    invoice = qbo.invoice(qbo.customer("Sparse"), "80", PrivateNote="keep me", DueDate="2030-01-31")
    body = {"Id": invoice["Id"], "SyncToken": invoice["SyncToken"], "sparse": True, "DueDate": "2030-02-28"}
    updated = qbo.create("Invoice", body)
    assert updated["SyncToken"] == "1"
    assert (updated["DueDate"], updated["PrivateNote"], updated["TotalAmt"]) == ("2030-02-28", "keep me", Decimal(80))
    assert updated["sparse"] is False


def test_full_update_resets_omitted_writable_fields(qbo: QBO) -> None:
    customer = qbo.customer("Full")
    invoice = qbo.invoice(customer, "80", PrivateNote="forget me", DocNumber="F-1")
    body = {"Id": invoice["Id"], "SyncToken": invoice["SyncToken"], **sales_form(customer, "90", DocNumber="F-1")}
    updated = qbo.create("Invoice", body)
    assert "PrivateNote" not in updated
    assert (updated["TotalAmt"], updated["Balance"], updated["SyncToken"]) == (Decimal(90), Decimal(90), "1")


def test_stale_sync_token_is_the_documented_5010(qbo: QBO) -> None:
    invoice = qbo.invoice(qbo.customer("Stale"), "10")
    qbo.create("Invoice", {"Id": invoice["Id"], "SyncToken": "0", "sparse": True, "PrivateNote": "first"})
    response = qbo.post("/invoice", {"Id": invoice["Id"], "SyncToken": "0", "sparse": True, "PrivateNote": "second"})
    assert response.status_code == 400
    body = response.json()
    assert body["Fault"]["type"] == "ValidationFault"
    assert body["Fault"]["Error"] == [
        {
            "Message": "Stale Object Error",
            "Detail": "Stale Object Error : You and API API were working on this at the same time. API API "
            "finished before you did, so your work was not saved.",
            "code": "5010",
            "element": "",
        }
    ]
    assert qbo.read("Invoice", invoice["Id"])["PrivateNote"] == "first"


def test_doc_numbers_are_unique_per_type_unless_duplicates_are_allowed(qbo: QBO) -> None:
    customer = qbo.customer("Numbers")
    qbo.invoice(customer, "10", DocNumber="1037")
    duplicate = qbo.post("/invoice", sales_form(customer, "10", DocNumber="1037"))
    assert duplicate.status_code == 400
    assert fault(duplicate)["code"] == "6140"
    assert fault(duplicate)["Message"] == "Duplicate Document Number Error"
    allowed = qbo.create("Invoice", sales_form(customer, "10", DocNumber="1037"), include="allowduplicatedocnum")
    assert allowed["DocNumber"] == "1037"
    assert qbo.credit_memo(customer, "5", DocNumber="1037")["DocNumber"] == "1037"
    too_long = qbo.post("/invoice", sales_form(customer, "10", DocNumber="X" * 22))
    assert fault(too_long)["code"] == "2050"
    assert count(qbo, "Invoice") == 2


def test_customer_names_are_unique_and_customers_cannot_be_deleted(qbo: QBO) -> None:
    first = qbo.create("Customer", {"DisplayName": "Same Name"})
    again = qbo.post("/customer", {"DisplayName": "Same Name"})
    assert (again.status_code, fault(again)["code"]) == (400, "6240")
    deleted = qbo.post("/customer", {"Id": first["Id"], "SyncToken": "0"}, operation="delete")
    assert deleted.status_code == 400
    assert qbo.read("Customer", first["Id"])["Active"] is True


def test_delete_answers_a_tombstone_and_refuses_linked_invoices(qbo: QBO) -> None:
    customer = qbo.customer("Deleter")
    loose, paid = qbo.invoice(customer, "10"), qbo.invoice(customer, "20")
    qbo.create("Payment", payment(customer, "5", ("Invoice", paid["Id"], "5")))
    answer = qbo.ok(qbo.post("/invoice", {"Id": loose["Id"], "SyncToken": "0"}, operation="delete"))
    assert answer["Invoice"] == {"status": "Deleted", "domain": "QBO", "Id": loose["Id"]}
    gone = qbo.get(f"/invoice/{loose['Id']}")
    assert (gone.status_code, fault(gone)["code"]) == (400, "610")
    paid_now = qbo.read("Invoice", paid["Id"])
    refused = qbo.post("/invoice", {"Id": paid["Id"], "SyncToken": paid_now["SyncToken"]}, operation="delete")
    assert (refused.status_code, fault(refused)["code"]) == (400, "6000")
    assert qbo.read("Invoice", paid["Id"]) == paid_now


def test_void_invoice_zeroes_it_and_frees_the_payment(qbo: QBO) -> None:
    customer = qbo.customer("Voider")
    invoice = qbo.invoice(customer, "100", PrivateNote="late")
    paid = qbo.create("Payment", payment(customer, "40", ("Invoice", invoice["Id"], "40")))
    current = qbo.read("Invoice", invoice["Id"])
    voided = qbo.create("Invoice", {"Id": current["Id"], "SyncToken": current["SyncToken"]}, operation="void")
    assert (voided["TotalAmt"], voided["Balance"], voided["LinkedTxn"]) == (0, 0, [])
    assert voided["PrivateNote"].startswith("Voided")
    assert int(voided["SyncToken"]) > int(current["SyncToken"])
    freed = qbo.read("Payment", paid["Id"])
    assert (freed["Line"], freed["UnappliedAmt"]) == ([], Decimal(40))


def test_void_payment_restores_the_invoice_balance(qbo: QBO) -> None:
    customer = qbo.customer("Payment Voider")
    invoice = qbo.invoice(customer, "100")
    paid = qbo.create("Payment", payment(customer, "60", ("Invoice", invoice["Id"], "60")))
    assert qbo.read("Invoice", invoice["Id"])["Balance"] == 40
    body = {"Id": paid["Id"], "SyncToken": paid["SyncToken"], "sparse": True}
    voided = qbo.create("Payment", body, operation="update", include="void")
    assert (voided["TotalAmt"], voided["UnappliedAmt"], voided["Line"]) == (0, 0, [])
    assert voided["PrivateNote"] == "Voided"
    restored = qbo.read("Invoice", invoice["Id"])
    assert (restored["Balance"], restored["LinkedTxn"]) == (100, [])


def test_error_shapes_for_bad_bodies_and_unknown_things(qbo: QBO) -> None:
    broken = qbo.http.post("/invoice", content=b"{not json", headers={"Content-Type": "application/json"})
    assert (broken.status_code, fault(broken)["code"]) == (400, "2010")
    missing = qbo.post("/invoice", {"Line": []})
    assert (missing.status_code, fault(missing)["code"]) == (400, "2020")
    bad_ref = qbo.post("/invoice", sales_form("999", "10"))
    assert fault(bad_ref)["code"] == "2500"
    unknown = qbo.get("/widget/1")
    assert unknown.status_code == 400
    assert "Fault" in unknown.json()


def test_minorversion_below_75_is_served_as_75(qbo: QBO) -> None:
    customer = qbo.customer("Old Client")
    assert qbo.http.get(f"/customer/{customer}", params={"minorversion": "65"}).status_code == 200


# -- requestid ------------------------------------------------------------------------------------------------
def test_requestid_replays_the_first_answer_without_acting_again(qbo: QBO) -> None:
    customer = qbo.customer("Replayed")
    first = qbo.post("/invoice", sales_form(customer, "10"), requestid="req-1")
    second = qbo.post("/invoice", sales_form(customer, "99"), requestid="req-1")
    assert second.status_code == first.status_code == 200
    assert second.content == first.content
    assert count(qbo, "Invoice") == 1
    other = qbo.post("/invoice", sales_form(customer, "10"), requestid="req-2")
    assert other.json()["Invoice"]["Id"] != first.json()["Invoice"]["Id"]


def test_requestid_retry_after_a_dropped_commit_makes_one_document(server: SandboxServer, qbo: QBO) -> None:
    customer = qbo.customer("Dropped")
    admin(server, "faults", {"drop_next": {"count": 1, "match": "POST .*/invoice"}})
    with pytest.raises(httpx.TransportError):
        qbo.post("/invoice", sales_form(customer, "10"), requestid="after-drop")
    retried = qbo.post("/invoice", sales_form(customer, "10"), requestid="after-drop")
    assert retried.status_code == 200
    assert qbo.query("select * from Invoice")["Invoice"] == [retried.json(parse_float=Decimal)["Invoice"]]


def test_failures_are_not_remembered_for_a_requestid(server: SandboxServer, qbo: QBO) -> None:
    customer = qbo.customer("Failing")
    admin(server, "faults", {"fail_next": {"count": 1, "status": 503}})
    failed = qbo.post("/invoice", sales_form(customer, "10"), requestid="after-503")
    assert failed.status_code == 503
    assert qbo.post("/invoice", sales_form(customer, "10"), requestid="after-503").status_code == 200
    assert count(qbo, "Invoice") == 1


# -- CDC ------------------------------------------------------------------------------------------------------
def test_cdc_reports_changes_with_tombstones(server: SandboxServer, qbo: QBO) -> None:
    customer = qbo.customer("Changes")
    kept, dropped = qbo.invoice(customer, "10"), qbo.invoice(customer, "20")
    since = server.clock.now().isoformat()
    qbo.create("Invoice", {"Id": kept["Id"], "SyncToken": "0", "sparse": True, "PrivateNote": "edited"})
    qbo.ok(qbo.post("/invoice", {"Id": dropped["Id"], "SyncToken": "0"}, operation="delete"))
    body = qbo.ok(qbo.get("/cdc", entities="Invoice,Payment", changedSince=since))
    invoices, payments = body["CDCResponse"][0]["QueryResponse"]
    assert payments == {}
    assert invoices["startPosition"] == 1
    assert invoices["maxResults"] == 2
    edited, tombstone = invoices["Invoice"]
    assert edited["PrivateNote"] == "edited"
    assert tombstone["Id"] == dropped["Id"]
    assert (tombstone["status"], tombstone["domain"]) == ("Deleted", "QBO")
    assert "LastUpdatedTime" in tombstone["MetaData"]


def test_cdc_looks_back_30_days_at_most(server: SandboxServer, qbo: QBO) -> None:
    too_old = (server.clock.now() - timedelta(days=31)).strftime("%Y-%m-%dT%H:%M:%S")
    response = qbo.get("/cdc", entities="Invoice", changedSince=too_old)
    assert response.status_code == 400
    assert "older than" in fault(response)["Detail"]


def test_cdc_returns_the_oldest_1000_objects(server: SandboxServer, qbo: QBO) -> None:
    company = server.service.store.company(APP.realm_id)  # type: ignore[attr-defined]
    customer = company.create("Customer", {"DisplayName": "Bulk"})["Id"]
    start = server.clock.now()
    for number in range(1005):
        company.create("Invoice", sales_form(customer, "1"), at=start + timedelta(seconds=number))
    since = (start - timedelta(seconds=1)).isoformat()
    block = qbo.ok(qbo.get("/cdc", entities="Invoice", changedSince=since))["CDCResponse"][0]["QueryResponse"][0]
    assert block["maxResults"] == len(block["Invoice"]) == 1000
    assert [int(row["Id"]) for row in block["Invoice"]] == sorted(int(row["Id"]) for row in block["Invoice"])


# -- batch ----------------------------------------------------------------------------------------------------
def test_batch_answers_each_item_and_faults_only_the_bad_one(qbo: QBO) -> None:
    customer = qbo.customer("Batcher")
    items = [
        {"bId": "1", "operation": "create", "Invoice": sales_form(customer, "10")},
        {"bId": "2", "operation": "create", "Invoice": sales_form("424242", "10")},
        {"bId": "3", "Query": "select count(*) from Invoice"},
    ]
    answer = qbo.ok(qbo.post("/batch", {"BatchItemRequest": items}))
    first, second, third = answer["BatchItemResponse"]
    assert first["bId"] == "1"
    assert first["Invoice"]["TotalAmt"] == 10
    assert second["bId"] == "2"
    assert second["Fault"]["Error"][0]["code"] == "2500"
    assert third == {"bId": "3", "QueryResponse": {"totalCount": 1}}


def test_batch_of_more_than_30_items_is_refused(qbo: QBO) -> None:
    items = [{"bId": str(n), "Query": "select * from Item"} for n in range(31)]
    response = qbo.post("/batch", {"BatchItemRequest": items})
    assert response.status_code == 400
    assert "Fault" in response.json()


# -- auth -----------------------------------------------------------------------------------------------------
def test_missing_or_unknown_tokens_get_the_3200_fault(server: SandboxServer) -> None:
    base = f"{server.url}/v3/company/{APP.realm_id}"
    for headers in ({}, {"Authorization": "Bearer nope"}):
        response = httpx.get(f"{base}/item/1", headers=headers)
        assert response.status_code == 401
        assert response.headers["intuit_tid"]
        body = response.json()
        assert body["Fault"]["type"] == "AuthenticationFault"
        assert body["Fault"]["Error"][0]["code"] == "3200"
        assert "AuthenticationFailed" in body["Fault"]["Error"][0]["Message"]


def test_access_tokens_expire_on_the_sandbox_clock(server: SandboxServer, qbo: QBO) -> None:
    assert qbo.get("/item/1").status_code == 200
    httpx.post(f"{server.url}/_sandbox/clock", json={"advance_seconds": 3601})
    expired = qbo.get("/item/1")
    assert expired.status_code == 401
    assert fault(expired)["Detail"].startswith("Token expired")


def test_admin_can_expire_tokens_and_switch_to_the_lower_case_401(server: SandboxServer, qbo: QBO) -> None:
    admin(server, "expire-access-tokens")
    admin(server, "auth-fault-body", {"lowercase": True})
    body = qbo.get("/item/1").json()
    assert body["fault"]["error"][0]["code"] == "3200"
    assert body["fault"]["type"] == "AUTHENTICATION"
    assert isinstance(body["time"], int)


def test_a_token_for_another_company_is_refused(server: SandboxServer, qbo: QBO) -> None:
    response = qbo.http.get(f"{server.url}/v3/company/other-realm/item/1")
    assert response.status_code == 403


# -- throttling -----------------------------------------------------------------------------------------------
def test_requests_past_the_rate_get_a_json_3001_per_realm(server: SandboxServer, qbo: QBO) -> None:
    other = QBO(server, realm="second-realm")
    admin(server, "faults", {"rate_limit": 3})
    statuses = [qbo.get("/item/1").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    throttled = qbo.get("/item/1")
    assert "Retry-After" not in throttled.headers
    assert throttled.json()["Fault"]["Error"][0]["code"] == "3001"
    assert throttled.json()["Fault"]["type"] == "SERVICE"
    assert other.get("/item/1").status_code == 200
    other.close()


def test_throttle_body_can_be_xml(server: SandboxServer, qbo: QBO) -> None:
    admin(server, "faults", {"rate_limit": 1})
    admin(server, "throttle-body", {"xml": True})
    qbo.get("/item/1")
    throttled = qbo.get("/item/1")
    assert throttled.status_code == 429
    assert throttled.headers["content-type"].startswith("text/xml")
    assert '<Fault type="SERVICE"><Error code="3001">' in throttled.text


def test_xml_throttle_can_be_chosen_at_start() -> None:
    with running_qbo(xml_throttle=True) as server:
        assert httpx.get(f"{server.url}/_sandbox/throttle-body").json() == {"xml": True}


def test_more_than_10_concurrent_requests_are_throttled(server: SandboxServer, qbo: QBO) -> None:
    admin(server, "faults", {"latency_ms": 1000})
    clients = [httpx.Client(base_url=qbo.http.base_url, headers=qbo.http.headers, timeout=10) for _ in range(14)]
    start = threading.Barrier(len(clients))
    statuses: list[int] = []
    lock = threading.Lock()

    def call(client: httpx.Client) -> None:
        start.wait()
        status = client.get("/item/1").status_code
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=call, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for client in clients:
        client.close()
    assert sorted(statuses) == [200] * 10 + [429] * 4
