"""API records → cache rows (plain dicts for bulk upserts)."""

from __future__ import annotations

from typing import Any

from sync.reconcile.model import number_key
from sync.records import CWCompany, CWInvoice, CWPayment, QBOCreditMemo, QBOCustomer, QBOInvoice, QBOPayment


def cw_company_row(record: CWCompany) -> dict[str, Any]:
    """A ``cw_company`` row."""
    return {
        "id": record.id,
        "identifier": record.identifier,
        "name": record.name,
        "account_number": record.account_number,
        "last_updated": record.last_updated,
    }


def cw_invoice_row(record: CWInvoice) -> dict[str, Any]:
    """A ``cw_invoice`` row (payment rows are read separately)."""
    return {
        "id": record.id,
        "number": record.number,
        "number_key": number_key(record.number),
        "type": record.type,
        "company_id": record.company_id,
        "account_number": record.account_number,
        "invoice_date": record.date,
        "due_date": record.due_date,
        "status_name": record.status_name,
        "is_closed": record.is_closed,
        "subtotal": record.subtotal,
        "sales_tax": record.sales_tax,
        "total": record.total,
        "payments": record.payments,
        "credits": record.credits,
        "balance": record.balance,
        "last_updated": record.last_updated,
        "rows_synced_at": None,
    }


def cw_payment_row(record: CWPayment) -> dict[str, Any]:
    """A ``cw_payment`` row."""
    return {
        "id": record.id,
        "invoice_id": record.invoice_id,
        "type": record.type,
        "amount": record.amount,
        "payment_date": record.payment_date,
        "credit_memo_id": record.credit_memo_id,
    }


def qbo_customer_row(record: QBOCustomer) -> dict[str, Any]:
    """A ``qbo_customer`` row."""
    return {
        "id": record.id,
        "display_name": record.display_name,
        "company_name": record.company_name,
        "active": record.active,
        "balance": record.balance,
        "last_updated": record.last_updated,
    }


def qbo_document_row(record: QBOInvoice | QBOCreditMemo) -> dict[str, Any]:
    """A ``qbo_document`` row for an invoice or a credit memo."""
    is_memo = isinstance(record, QBOCreditMemo)
    return {
        "entity": "CreditMemo" if is_memo else "Invoice",
        "id": record.id,
        "sync_token": record.sync_token,
        "doc_number": record.doc_number,
        "number_key": number_key(record.doc_number) if record.doc_number else None,
        "customer_id": record.customer_id,
        "txn_date": record.txn_date,
        "due_date": record.due_date,
        "total": record.total,
        "balance": record.balance,
        "remaining_credit": record.remaining_credit if isinstance(record, QBOCreditMemo) else None,
        "private_note": record.private_note,
        "last_updated": record.last_updated,
    }


def qbo_payment_row(record: QBOPayment) -> dict[str, Any]:
    """A ``qbo_payment`` row."""
    return {
        "id": record.id,
        "sync_token": record.sync_token,
        "customer_id": record.customer_id,
        "txn_date": record.txn_date,
        "total": record.total,
        "unapplied": record.unapplied,
        "last_updated": record.last_updated,
    }


def qbo_link_rows(record: QBOPayment) -> list[dict[str, Any]]:
    """The ``qbo_payment_link`` rows of a payment: one per linked transaction of each line."""
    return [
        {
            "payment_id": record.id,
            "line_no": line_no,
            "link_no": link_no,
            "txn_id": link.txn_id,
            "txn_type": link.txn_type,
            "amount": line.amount,
        }
        for line_no, line in enumerate(record.lines)
        for link_no, link in enumerate(line.links)
    ]
