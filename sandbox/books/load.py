"""Create generated books in the sandbox stores, in creation order, with their original timestamps."""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sandbox.books.books import Books
from sandbox.books.truth import Record

if TYPE_CHECKING:
    from sandbox.connectwise import CWStore
    from sandbox.quickbooks import QBOCompany


def _cw_at(record: Record) -> str:
    return str(record["_info"]["dateEntered"])


def _qbo_at(record: Record) -> str:
    return str(record["MetaData"]["CreateTime"])


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text)


def load(books: Books, cw_store: CWStore, qbo_company: QBOCompany) -> None:
    """Create ``books`` in ``cw_store`` and ``qbo_company``: parties first, then documents and payments by time."""
    load_cw(books, cw_store)
    load_qbo(books, qbo_company)


def load_cw(books: Books, store: CWStore) -> None:
    """Create the CW companies, invoices, credit memos and payment rows (the store resolves company identifiers)."""
    for company in books.stream("cw_companies"):
        store.create_company(company, at=_when(_cw_at(company)))
    ids: dict[str, int] = {}
    for record in heapq.merge(
        _tag(books.stream("cw_invoices"), 0), _tag(books.stream("cw_payments"), 1), key=lambda t: t[0]
    ):
        stamp, kind, body = record
        if kind == 0:
            ids[body["invoiceNumber"]] = store.create_invoice(body, at=_when(stamp))["id"]
        else:
            store.create_payment(ids[body["invoice"]["identifier"]], body, at=_when(stamp))


def _tag(records: Iterable[Record], kind: int, qbo: bool = False) -> Iterator[tuple[str, int, Record]]:
    stamp = _qbo_at if qbo else _cw_at
    return ((stamp(r), kind, r) for r in records)


def load_qbo(books: Books, company: QBOCompany) -> None:
    """Create the QBO customers, then invoices, credit memos and payments, mapping names and numbers to Ids."""
    customers: dict[str, dict[str, str]] = {}
    for customer in books.stream("qbo_customers"):
        created = company.create("Customer", customer, at=_when(_qbo_at(customer)))
        customers[customer["DisplayName"]] = {"value": created["Id"], "name": created["DisplayName"]}
    ids: dict[tuple[str, str], str] = {}
    streams = (
        _tag(books.stream("qbo_invoices"), 0, qbo=True),
        _tag(books.stream("qbo_credit_memos"), 1, qbo=True),
        _tag(books.stream("qbo_payments"), 2, qbo=True),
    )
    for stamp, kind, record in heapq.merge(*streams, key=lambda t: t[0]):
        body = {**record, "CustomerRef": customers[record["CustomerRef"]["name"]]}
        at = _when(stamp)
        if kind == 2:
            body["Line"] = [_linked(line, ids) for line in record["Line"]]
            company.create("Payment", body, at=at)
            continue
        entity = "Invoice" if kind == 0 else "CreditMemo"
        key = (entity, record["DocNumber"])
        created = company.create(entity, body, at=at, allow_duplicate_docnum=key in ids)
        ids.setdefault(key, created["Id"])


def _linked(line: Record, ids: dict[tuple[str, str], str]) -> dict[str, Any]:
    links = [{"TxnId": ids[(x["TxnType"], x["DocNumber"])], "TxnType": x["TxnType"]} for x in line["LinkedTxn"]]
    return {"Amount": line["Amount"], "LinkedTxn": links}
