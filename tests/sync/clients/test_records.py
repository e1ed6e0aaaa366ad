"""Records read the payload shapes the research documents: samples from Intuit's reference and ConnectWise's schema."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

from sync.records import (
    CDCResult,
    CWCompany,
    CWInvoice,
    CWPayment,
    LinkedTxn,
    QBOCreditMemo,
    QBOCustomer,
    QBOInvoice,
    QBOPayment,
)


def payload(text: str) -> dict[str, object]:
    loaded: dict[str, object] = json.loads(text, parse_float=Decimal)
    return loaded


CW_INVOICE = payload(
    """{"id":5012,"invoiceNumber":"10231","type":"Standard","status":{"id":6,"name":"Sent","isClosed":true},
    "company":{"id":250,"identifier":"AcmeCo","name":"Acme Co"},"accountNumber":"ACME01","applyToType":"Ticket",
    "billingTerms":{"id":1,"name":"Net 30"},"date":"2024-01-15T00:00:00Z","dueDate":"2024-02-14T00:00:00Z",
    "subtotal":1000.0,"salesTax":80.0,"total":1080.0,"payments":500.0,"credits":0.0,"balance":580.0,
    "_info":{"lastUpdated":"2024-01-20T10:00:00Z","updatedBy":"jdoe"}}"""
)
QBO_PAYMENT = payload(
    """{"Id": "163", "SyncToken": "0", "TxnDate": "2015-01-16", "TotalAmt": 65.0, "UnappliedAmt": 10.0,
    "CustomerRef": {"value": "20", "name": "Red Rock Diner"}, "DepositToAccountRef": {"value": "4"},
    "ProcessPayment": false, "domain": "QBO", "sparse": false,
    "Line": [{"Amount": 55.0, "LinkedTxn": [{"TxnId": "70", "TxnType": "Invoice"}],
              "LineEx": {"any": [{"name": "{http://schema.intuit.com/finance/v3}NameValue",
                                   "value": {"Name": "txnOpenBalance", "Value": "71.00"}}]}}],
    "MetaData": {"CreateTime": "2015-01-16T15:08:12-08:00", "LastUpdatedTime": "2015-01-16T15:08:12-08:00"}}"""
)


def test_cw_invoice_from_the_schema_sample() -> None:
    invoice = CWInvoice.from_api(CW_INVOICE)
    assert (invoice.number, invoice.company_id, invoice.company_identifier, invoice.account_number) == (
        "10231",
        250,
        "AcmeCo",
        "ACME01",
    )
    assert (invoice.date, invoice.due_date, invoice.status_name, invoice.is_closed) == (
        date(2024, 1, 15),
        date(2024, 2, 14),
        "Sent",
        True,
    )
    assert (invoice.total, invoice.payments, invoice.balance) == (Decimal("1080"), Decimal("500"), Decimal("580"))
    assert invoice.last_updated == datetime(2024, 1, 20, 10, tzinfo=UTC)
    assert not invoice.is_credit_memo


def test_cw_invoice_with_null_amounts_and_no_balance() -> None:
    bare = CWInvoice.from_api({"id": 1, "type": "CreditMemo", "total": 40, "payments": None, "credits": 15.5})
    assert (bare.balance, bare.credits, bare.subtotal, bare.number) == (
        Decimal("24.5"),
        Decimal("15.5"),
        Decimal(0),
        "",
    )
    assert bare.is_credit_memo
    assert bare.company_id is None
    assert bare.last_updated is None


def test_cw_payment_and_company() -> None:
    row = {"id": 9, "type": "Credit", "amount": 40.0, "paymentDate": "2024-02-02T00:00:00Z", "credit": {"id": 33}}
    payment = CWPayment.from_api(row, invoice_id=5012)
    assert (payment.invoice_id, payment.credit_memo_id, payment.amount, payment.payment_date) == (
        5012,
        33,
        Decimal("40"),
        date(2024, 2, 2),
    )
    company = CWCompany.from_api({"id": 250, "identifier": "AcmeCo", "name": "Acme Co"})
    assert company.account_number is None
    assert company.last_updated is None


def test_qbo_payment_from_intuits_sample() -> None:
    paid = QBOPayment.from_api(QBO_PAYMENT)
    assert (paid.id, paid.customer_id, paid.total, paid.unapplied) == ("163", "20", Decimal("65.0"), Decimal("10.0"))
    assert paid.lines[0].links == [LinkedTxn("70", "Invoice")]
    assert paid.applied_to("70") == Decimal("55")
    assert paid.last_updated == datetime(2015, 1, 16, 23, 8, 12, tzinfo=UTC)  # -08:00 read as UTC


def test_qbo_documents_with_missing_keys_and_zero_balances() -> None:
    used = QBOCreditMemo.from_api(
        {"Id": 150, "CustomerRef": {"value": 16}, "TotalAmt": 100.0, "RemainingCredit": 0, "Balance": 0}
    )
    assert (used.id, used.customer_id, used.remaining_credit, used.doc_number, used.txn_date) == (
        "150",
        "16",
        Decimal(0),
        None,
        None,
    )
    fresh = QBOCreditMemo.from_api({"Id": "151", "CustomerRef": {"value": "16"}, "TotalAmt": 50, "Balance": 50})
    assert fresh.remaining_credit == Decimal(50)  # no RemainingCredit key: the balance is what remains
    invoice = QBOInvoice.from_api(
        {"Id": "238", "SyncToken": "2", "CustomerRef": {"value": "1"}, "TotalAmt": 100.0, "Balance": 0,
         "LinkedTxn": [{"TxnId": "100", "TxnType": "Estimate"}, {"TxnId": "190", "TxnType": "Payment"}]}
    )  # fmt: skip
    assert invoice.balance == 0
    assert invoice.linked_payment_ids == ["190"]
    assert invoice.sync_token == "2"
    customer = QBOCustomer.from_api({"Id": "1", "SyncToken": "0", "DisplayName": "Amy's Bird Sanctuary"})
    assert customer.active
    assert customer.balance == 0
    assert customer.company_name is None


def test_cdc_answer_with_a_tombstone() -> None:
    body = {
        "CDCResponse": [
            {
                "QueryResponse": [
                    {"Customer": [{"Id": "1", "DisplayName": "TestCustomer"}], "startPosition": 1, "maxResults": 1},
                    {
                        "Invoice": [
                            {"Id": "130", "CustomerRef": {"value": "1"}, "TotalAmt": 5},
                            {"Id": "131", "status": "Deleted", "domain": "QBO", "MetaData": {"LastUpdatedTime": "x"}},
                        ],
                        "startPosition": 1,
                        "maxResults": 2,
                    },
                    {},
                ]
            }
        ],
        "time": "2016-01-01T00:00:00-08:00",
    }
    result = CDCResult.from_api(body)
    assert [c.display_name for c in result.customers] == ["TestCustomer"]
    assert [i.id for i in result.invoices] == ["130"]
    assert result.deleted == {"Invoice": ["131"]}
    assert result.as_of == datetime(2016, 1, 1, 8, tzinfo=UTC)
    assert not result.truncated
    assert CDCResult.from_api(body, cap=2).truncated
