"""The payment engine over HTTP: documented examples, credit applications, refusals, and random-walk invariants."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.web import SandboxServer
from tests.sandbox.qbo_fixtures import QBO, fault, payment, running_qbo

ZERO = Decimal(0)


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with running_qbo() as running:
        yield running


@pytest.fixture
def qbo(server: SandboxServer) -> Iterator[QBO]:
    client = QBO(server, realm=f"e-{uuid.uuid4().hex[:10]}")
    yield client
    client.close()


def test_the_reference_sample_payment(qbo: QBO) -> None:
    customer = qbo.customer("Red Rock Diner")
    invoice = qbo.invoice(customer, "71")
    paid = qbo.create("Payment", payment(customer, "65", ("Invoice", invoice["Id"], "55")))
    assert paid["UnappliedAmt"] == Decimal(10)
    after = qbo.read("Invoice", invoice["Id"])
    assert after["Balance"] == Decimal(16)
    assert after["LinkedTxn"] == [{"TxnId": paid["Id"], "TxnType": "Payment"}]
    assert after["SyncToken"] == "1"
    assert qbo.read("Customer", customer)["Balance"] == Decimal(16) - Decimal(10)


def test_one_payment_pays_several_invoices(qbo: QBO) -> None:
    customer = qbo.customer("Several")
    first, second = qbo.invoice(customer, "100"), qbo.invoice(customer, "50")
    paid = qbo.create(
        "Payment", payment(customer, "150", ("Invoice", first["Id"], "100"), ("Invoice", second["Id"], "50"))
    )
    assert paid["UnappliedAmt"] == 0
    assert [qbo.read("Invoice", inv["Id"])["Balance"] for inv in (first, second)] == [0, 0]


@pytest.mark.parametrize("one_line", [False, True], ids=["two-lines", "one-line-two-links"])
def test_zero_total_payment_applies_a_credit_memo(qbo: QBO, one_line: bool) -> None:
    customer = qbo.customer("Credited")
    invoice, memo = qbo.invoice(customer, "300"), qbo.credit_memo(customer, "120")
    assert (memo["RemainingCredit"], memo["Balance"]) == (Decimal(120), Decimal(120))
    if one_line:
        links = [{"TxnId": memo["Id"], "TxnType": "CreditMemo"}, {"TxnId": invoice["Id"], "TxnType": "Invoice"}]
        body = {"CustomerRef": {"value": customer}, "TotalAmt": 0, "Line": [{"Amount": 120, "LinkedTxn": links}]}
    else:
        body = payment(customer, "0", ("Invoice", invoice["Id"], "120"), ("CreditMemo", memo["Id"], "120"))
    applied = qbo.create("Payment", body)
    assert applied["UnappliedAmt"] == 0
    assert qbo.read("Invoice", invoice["Id"])["Balance"] == Decimal(180)
    used = qbo.read("CreditMemo", memo["Id"])
    assert (used["RemainingCredit"], used["Balance"], used["SyncToken"]) == (0, 0, "1")
    assert qbo.read("Customer", customer)["Balance"] == Decimal(180)


def test_over_application_is_refused_and_changes_nothing(qbo: QBO) -> None:
    customer = qbo.customer("Greedy")
    invoice, memo = qbo.invoice(customer, "100"), qbo.credit_memo(customer, "30")
    before = [qbo.read("Invoice", invoice["Id"]), qbo.read("CreditMemo", memo["Id"])]
    attempts = [
        payment(customer, "150", ("Invoice", invoice["Id"], "150")),
        payment(customer, "0", ("Invoice", invoice["Id"], "50"), ("CreditMemo", memo["Id"], "50")),
        payment(customer, "10", ("Invoice", invoice["Id"], "50")),
    ]
    for body in attempts:
        response = qbo.post("/payment", body)
        assert response.status_code == 400
        assert fault(response)["code"] == "6000"
    assert [qbo.read("Invoice", invoice["Id"]), qbo.read("CreditMemo", memo["Id"])] == before
    assert qbo.query("select count(*) from Payment") == {"totalCount": 0}


def test_updating_and_deleting_a_payment_re_derives_balances(qbo: QBO) -> None:
    customer = qbo.customer("Changer")
    first, second = qbo.invoice(customer, "100"), qbo.invoice(customer, "100")
    paid = qbo.create("Payment", payment(customer, "80", ("Invoice", first["Id"], "80")))
    moved = qbo.create(
        "Payment",
        {"Id": paid["Id"], "SyncToken": paid["SyncToken"], **payment(customer, "80", ("Invoice", second["Id"], "30"))},
    )
    assert moved["UnappliedAmt"] == Decimal(50)
    assert [qbo.read("Invoice", inv["Id"])["Balance"] for inv in (first, second)] == [100, 70]
    assert qbo.read("Invoice", first["Id"])["LinkedTxn"] == []
    qbo.ok(qbo.post("/payment", {"Id": moved["Id"], "SyncToken": moved["SyncToken"]}, operation="delete"))
    assert qbo.read("Invoice", second["Id"])["Balance"] == 100
    assert qbo.read("Customer", customer)["Balance"] == 200


def test_payment_lines_must_link_the_payers_own_open_documents(qbo: QBO) -> None:
    mine, theirs = qbo.customer("Mine"), qbo.customer("Theirs")
    foreign = qbo.invoice(theirs, "10")
    wrong_customer = qbo.post("/payment", payment(mine, "10", ("Invoice", foreign["Id"], "10")))
    missing = qbo.post("/payment", payment(mine, "10", ("Invoice", "99999", "10")))
    assert [fault(wrong_customer)["code"], fault(missing)["code"]] == ["6000", "2500"]


# -- random walks ---------------------------------------------------------------------------------------------
INVOICES = (Decimal(100), Decimal(50), Decimal(80))
MEMOS = (Decimal(30), Decimal(60))
amounts = st.integers(min_value=0, max_value=120).map(Decimal)
operations = st.one_of(
    st.tuples(st.just("pay"), st.lists(st.tuples(st.integers(0, 2), amounts), min_size=0, max_size=3), amounts),
    st.tuples(st.just("credit"), st.integers(0, 2), st.integers(0, 1), amounts, st.booleans()),
    st.tuples(st.just("repay"), st.integers(0, 20), st.integers(0, 2), amounts),
    st.tuples(st.just("void_payment"), st.integers(0, 20)),
    st.tuples(st.just("delete_payment"), st.integers(0, 20)),
    st.tuples(st.just("void_invoice"), st.integers(0, 2)),
)


class Books:
    """One realm: a customer, three invoices and two credit memos, plus the payments the walk makes."""

    def __init__(self, qbo: QBO) -> None:
        self.qbo = qbo
        self.customer = qbo.customer("Walker")
        self.invoices = [qbo.invoice(self.customer, str(amount))["Id"] for amount in INVOICES]
        self.memos = [qbo.credit_memo(self.customer, str(amount))["Id"] for amount in MEMOS]

    def snapshot(self) -> dict[str, Any]:
        return {
            entity: self.qbo.query(f"select * from {entity} maxresults 1000").get(entity, [])  # noqa: S608
            for entity in ("Invoice", "CreditMemo", "Payment", "Customer")
        }

    def payment_ids(self) -> list[str]:
        return [row["Id"] for row in self.qbo.query("select * from Payment maxresults 1000").get("Payment", [])]

    def run(self, step: tuple[Any, ...]) -> int:
        kind = step[0]
        if kind == "pay":
            links = [("Invoice", self.invoices[index], amount) for index, amount in step[1]]
            return self.qbo.post("/payment", payment(self.customer, step[2], *links)).status_code
        if kind == "credit":
            _, inv, memo, amount, one_line = step
            links = [("Invoice", self.invoices[inv], amount), ("CreditMemo", self.memos[memo], amount)]
            body = payment(self.customer, "0", *links)
            if one_line:
                body["Line"] = [{"Amount": amount, "LinkedTxn": [line["LinkedTxn"][0] for line in body["Line"]]}]
            return self.qbo.post("/payment", body).status_code
        if kind == "void_invoice":
            current = self.qbo.read("Invoice", self.invoices[step[1]])
            body = {"Id": current["Id"], "SyncToken": current["SyncToken"]}
            return self.qbo.post("/invoice", body, operation="void").status_code
        return self._change_payment(step)

    def _change_payment(self, step: tuple[Any, ...]) -> int:
        existing = self.payment_ids()
        if not existing:
            return 0
        current = self.qbo.read("Payment", existing[step[1] % len(existing)])
        ident = {"Id": current["Id"], "SyncToken": current["SyncToken"]}
        if step[0] == "repay":
            body = {**ident, **payment(self.customer, step[3], ("Invoice", self.invoices[step[2]], step[3]))}
            return self.qbo.post("/payment", body).status_code
        if step[0] == "void_payment":
            return self.qbo.post("/payment", {**ident, "sparse": True}, operation="update", include="void").status_code
        return self.qbo.post("/payment", ident, operation="delete").status_code


def check_invariants(state: dict[str, Any]) -> None:
    applied: dict[str, Decimal] = {}
    for pay in state["Payment"]:
        linked = {"Invoice": ZERO, "CreditMemo": ZERO}
        for line in pay.get("Line", []):
            for link in line["LinkedTxn"]:
                linked[link["TxnType"]] += line["Amount"]
                applied[link["TxnId"]] = applied.get(link["TxnId"], ZERO) + line["Amount"]
        assert pay["UnappliedAmt"] == pay["TotalAmt"] - (linked["Invoice"] - linked["CreditMemo"])
        assert pay["UnappliedAmt"] >= 0
    for invoice in state["Invoice"]:
        assert invoice["Balance"] == invoice["TotalAmt"] - applied.get(invoice["Id"], ZERO) >= 0
    for memo in state["CreditMemo"]:
        assert memo["RemainingCredit"] == memo["Balance"] == memo["TotalAmt"] - applied.get(memo["Id"], ZERO) >= 0
    owed = sum((row["Balance"] for row in state["Invoice"]), ZERO)
    owed -= sum((row["UnappliedAmt"] for row in state["Payment"]), ZERO)
    owed -= sum((row["RemainingCredit"] for row in state["CreditMemo"]), ZERO)
    assert state["Customer"][0]["Balance"] == owed


@settings(max_examples=25, deadline=None)
@given(st.lists(operations, min_size=1, max_size=8))
def test_random_payment_histories_keep_every_balance_consistent(server: SandboxServer, steps: list[Any]) -> None:
    qbo = QBO(server, realm=f"w-{uuid.uuid4().hex[:10]}")
    books = Books(qbo)
    try:
        for step in steps:
            before = books.snapshot()
            status = books.run(step)
            after = books.snapshot()
            check_invariants(after)
            if status == 400:
                assert after == before, f"refused {step} changed the books"
            else:
                assert status in (0, 200), step
    finally:
        qbo.close()
