"""Invoice payments and credit-memo applications over HTTP: derived amounts, refusals, lastUpdated."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sandbox.connectwise import CWError
from sandbox.web import dumps
from tests.sandbox.cw_fixtures import CW, cw, seed_company, seed_invoice, shared_cw

__all__ = ["cw", "shared_cw"]


def amounts(invoice: dict[str, Any]) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    """Return (total, payments, credits, balance) of an invoice as exact decimals."""
    total, payments, credits, balance = (
        Decimal(str(invoice[key])) for key in ("total", "payments", "credits", "balance")
    )
    return total, payments, credits, balance


def get(cw: CW, invoice_id: int) -> dict[str, Any]:
    answer = cw.client.get(f"/finance/invoices/{invoice_id}")
    assert answer.status_code == 200
    result: dict[str, Any] = answer.json()
    return result


def pay(cw: CW, invoice_id: int, amount: str, credit: int | None = None) -> Any:
    body: dict[str, Any] = {"amount": Decimal(amount), "paymentDate": "2024-02-01T00:00:00Z"}
    if credit is not None:
        body["credit"] = {"id": credit}
    return cw.client.post(
        f"/finance/invoices/{invoice_id}/payments", content=dumps(body), headers={"Content-Type": "application/json"}
    )


@pytest.fixture
def books(cw: CW) -> dict[str, int]:
    company = seed_company(cw.store)
    return {
        "invoice": seed_invoice(cw.store, company, "5012", "1080.00"),
        "other": seed_invoice(cw.store, company, "5013", "200.00"),
        "memo": seed_invoice(cw.store, company, "CM77", "100.00", "CreditMemo"),
    }


def test_a_payment_is_201_and_lowers_the_balance(cw: CW, books: dict[str, int]) -> None:
    before = get(cw, books["invoice"])
    cw.advance(60)
    answer = pay(cw, books["invoice"], "250.00")
    assert answer.status_code == 201
    row = answer.json()
    assert row["amount"] == 250
    assert row["type"] == "Payment"
    assert row["invoice"]["id"] == books["invoice"]
    assert row["invoice"]["identifier"] == "5012"
    assert row["paymentDate"] == "2024-02-01T00:00:00Z"
    after = get(cw, books["invoice"])
    assert amounts(after) == (Decimal(1080), Decimal(250), Decimal(0), Decimal(830))
    assert after["_info"]["lastUpdated"] > before["_info"]["lastUpdated"]
    assert cw.client.get(f"/finance/invoices/{books['invoice']}/payments/{row['id']}").json()["amount"] == 250
    assert [p["id"] for p in cw.client.get(f"/finance/invoices/{books['invoice']}/payments").json()] == [row["id"]]


def test_deleting_a_payment_restores_the_balance_and_touches_the_invoice(cw: CW, books: dict[str, int]) -> None:
    row = pay(cw, books["invoice"], "80.00").json()
    paid = get(cw, books["invoice"])
    cw.advance(60)
    answer = cw.client.delete(f"/finance/invoices/{books['invoice']}/payments/{row['id']}")
    assert answer.status_code == 204
    restored = get(cw, books["invoice"])
    assert amounts(restored) == (Decimal(1080), Decimal(0), Decimal(0), Decimal(1080))
    assert restored["_info"]["lastUpdated"] > paid["_info"]["lastUpdated"]
    missing = cw.client.delete(f"/finance/invoices/{books['invoice']}/payments/{row['id']}")
    assert missing.status_code == 404
    assert cw.client.get(f"/finance/invoices/{books['other']}/payments/{row['id']}").status_code == 404


def test_applying_a_credit_memo_moves_credits_on_both_documents(cw: CW, books: dict[str, int]) -> None:
    memo_before = get(cw, books["memo"])
    cw.advance(60)
    answer = pay(cw, books["invoice"], "30.00", credit=books["memo"])
    assert answer.status_code == 201
    assert answer.json()["credit"]["id"] == books["memo"]
    assert answer.json()["credit"]["identifier"] == "CM77"
    invoice, memo = get(cw, books["invoice"]), get(cw, books["memo"])
    assert amounts(invoice) == (Decimal(1080), Decimal(0), Decimal(30), Decimal(1050))
    assert amounts(memo) == (Decimal(100), Decimal(0), Decimal(30), Decimal(70))
    assert memo["_info"]["lastUpdated"] > memo_before["_info"]["lastUpdated"]
    assert pay(cw, books["other"], "70.00", credit=books["memo"]).status_code == 201
    assert get(cw, books["memo"])["balance"] == 0


def _refusal(answer: Any) -> dict[str, Any]:
    assert answer.status_code == 400, answer.text
    body: dict[str, Any] = answer.json()
    assert body["code"] == "InvalidObject"
    assert body["message"] == "payment object is invalid"
    assert len(body["errors"]) == 1
    error: dict[str, Any] = body["errors"][0]
    assert error["resource"] == "payment"
    return error


def test_over_credit_is_refused_with_the_usable_balance_message(cw: CW, books: dict[str, int]) -> None:
    pay(cw, books["other"], "60.00", credit=books["memo"])
    error = _refusal(pay(cw, books["invoice"], "45.00", credit=books["memo"]))
    assert error == {
        "code": "InvalidField",
        "message": "The amount of $45.00 was attempted to be applied from Credit Memo CM77 toward invoice 5012; "
        "however, this Credit Memo only has a usable balance of $40.00",
        "resource": "payment",
        "field": "amount",
    }
    assert amounts(get(cw, books["invoice"]))[3] == Decimal(1080)


def test_over_payment_and_non_positive_amounts_are_refused(cw: CW, books: dict[str, int]) -> None:
    over = _refusal(pay(cw, books["other"], "200.01"))
    assert over["field"] == "amount"
    assert "$200.01" in over["message"]
    assert "$200.00" in over["message"]
    for amount in ("0", "-5.00"):
        assert _refusal(pay(cw, books["other"], amount))["field"] == "amount"
    missing = cw.client.post(f"/finance/invoices/{books['other']}/payments", json={"type": "Payment"})
    assert _refusal(missing)["code"] == "MissingRequiredField"
    assert pay(cw, books["other"], "200.00").status_code == 201
    assert get(cw, books["other"])["balance"] == 0


def test_credits_must_come_from_another_credit_memo(cw: CW, books: dict[str, int]) -> None:
    assert _refusal(pay(cw, books["invoice"], "5.00", credit=books["other"]))["field"] == "credit"
    assert _refusal(pay(cw, books["invoice"], "5.00", credit=999))["field"] == "credit/id"
    assert _refusal(pay(cw, books["memo"], "5.00"))["field"] == "invoice"
    assert cw.client.post("/finance/invoices/999/payments", json={"amount": 1}).status_code == 404


def test_an_invoice_in_use_cannot_be_deleted_or_shrunk_below_what_is_applied(cw: CW, books: dict[str, int]) -> None:
    pay(cw, books["invoice"], "30.00", credit=books["memo"])
    assert cw.client.delete(f"/finance/invoices/{books['memo']}").status_code == 400
    assert cw.client.delete(f"/finance/invoices/{books['invoice']}").status_code == 400
    shrink = [{"op": "replace", "path": "total", "value": 20}]
    assert cw.client.patch(f"/finance/invoices/{books['memo']}", json=shrink).status_code == 400
    retype = [{"op": "replace", "path": "type", "value": "Standard"}]
    assert cw.client.patch(f"/finance/invoices/{books['memo']}", json=retype).status_code == 400
    grow = [{"op": "replace", "path": "total", "value": 150}]
    assert get(cw, books["memo"])["balance"] == 70
    assert cw.client.patch(f"/finance/invoices/{books['memo']}", json=grow).json()["balance"] == 120


def test_store_payment_methods_follow_the_same_rules(cw: CW, books: dict[str, int]) -> None:
    row = cw.store.create_payment(books["other"], {"amount": Decimal("20"), "appliedBy": "loader"})
    assert row["appliedBy"] == "loader"
    assert [p["id"] for p in cw.store.payments(books["other"])] == [row["id"]]
    with pytest.raises(CWError) as caught:
        cw.store.create_payment(books["other"], {"amount": Decimal("500")})
    assert caught.value.status == 400
    cw.store.delete_payment(books["other"], row["id"])
    assert cw.store.get_invoice(books["other"])["balance"] == Decimal("200.00")


# -- the invariant under random sequences ------------------------------------------------------------------
operations = st.lists(
    st.one_of(
        st.tuples(st.just("pay"), st.integers(0, 2), st.integers(-500, 60000)),
        st.tuples(st.just("credit"), st.integers(0, 2), st.integers(-500, 40000)),
        st.tuples(st.just("delete"), st.integers(0, 20), st.just(0)),
    ),
    max_size=12,
)


def _snapshot(cw: CW, ids: list[int]) -> list[dict[str, Any]]:
    return [get(cw, invoice_id) for invoice_id in ids] + [
        row for invoice_id in ids for row in cw.client.get(f"/finance/invoices/{invoice_id}/payments").json()
    ]


def _check_invariant(cw: CW, invoices: list[int], memos: list[int]) -> None:
    rows = {i: cw.client.get(f"/finance/invoices/{i}/payments").json() for i in invoices}
    for invoice_id in invoices:
        total, payments, credits, balance = amounts(get(cw, invoice_id))
        own = rows[invoice_id]
        assert payments == sum((Decimal(str(r["amount"])) for r in own if "credit" not in r), Decimal(0))
        assert credits == sum((Decimal(str(r["amount"])) for r in own if "credit" in r), Decimal(0))
        assert balance == total - payments - credits
        assert balance >= 0
    for memo_id in memos:
        total, _, applied, usable = amounts(get(cw, memo_id))
        drawn = [r for rs in rows.values() for r in rs if r.get("credit", {}).get("id") == memo_id]
        assert applied == sum((Decimal(str(r["amount"])) for r in drawn), Decimal(0))
        assert usable == total - applied
        assert usable >= 0


@pytest.mark.slow  # takes long: runs in make test-all (CI)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations)
def test_balances_always_derive_from_payment_rows(shared_cw: CW, steps: list[tuple[str, int, int]]) -> None:
    cw = shared_cw
    company = cw.store.find_company("ACME") or cw.store.get_company(seed_company(cw.store))
    invoices = [
        cw.store.create_invoice({"type": "Standard", "company": {"id": company["id"]}, "total": t})["id"]
        for t in (300, 125)
    ]
    memos = [cw.store.create_invoice({"type": "CreditMemo", "company": {"id": company["id"]}, "total": 90})["id"]]
    targets = invoices + memos  # paying a memo must be refused
    rows: list[tuple[int, int]] = []
    for kind, index, cents in steps:
        before = _snapshot(cw, targets)
        if kind == "delete":
            if not rows:
                continue
            invoice_id, row_id = rows.pop(index % len(rows))
            assert cw.client.delete(f"/finance/invoices/{invoice_id}/payments/{row_id}").status_code == 204
            event("deleted")
        else:
            target = targets[index % len(targets)]
            amount = str(Decimal(cents) / 100)
            answer = pay(cw, target, amount, credit=memos[0] if kind == "credit" else None)
            event(f"{kind} {answer.status_code}")
            if answer.status_code == 201:
                rows.append((target, answer.json()["id"]))
            else:
                assert answer.status_code == 400
                assert _snapshot(cw, targets) == before  # a refusal changes nothing
        _check_invariant(cw, invoices, memos)
