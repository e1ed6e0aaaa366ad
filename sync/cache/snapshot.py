"""The cache, read back as a ``Snapshot`` for the reconciliation engine.

Rows are read as plain column tuples (SQLAlchemy Core), not ORM objects: the large books hold ~400,000 rows
and building an ORM instance per row costs several times more than the reconciliation itself.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from sync.cache.store import table_of
from sync.models import CWCompany, CWInvoice, CWPayment, QBOCustomer, QBODocument, QBOPayment, QBOPaymentLink
from sync.reconcile.model import CwCompany, CwCredit, CwDoc, QboCustomer, QboDoc, QboLink, QboPayment, Snapshot


def _rows(session: Session, table: Table, *names: str, where: Any = None) -> Any:
    statement = select(*(table.c[name] for name in names))
    if where is not None:
        statement = statement.where(where)
    return session.execute(statement)


def load_snapshot(session: Session, *, customer_map: dict[int, str] | None = None) -> Snapshot:
    """Read every cached record needed to reconcile."""
    return Snapshot(
        cw_companies=_cw_companies(session),
        cw_docs=_cw_docs(session),
        cw_credits=_cw_credits(session),
        qbo_customers=_qbo_customers(session),
        qbo_docs=_qbo_docs(session),
        qbo_payments=_qbo_payments(session),
        customer_map=customer_map or {},
    )


def _cw_companies(session: Session) -> tuple[CwCompany, ...]:
    rows = _rows(session, table_of(CWCompany), "id", "identifier", "name", "account_number")
    return tuple(CwCompany(*row) for row in rows)


def _cw_docs(session: Session) -> tuple[CwDoc, ...]:
    columns = ("id", "number", "type", "company_id", "total", "payments", "credits", "balance", "is_closed")
    rows = _rows(session, table_of(CWInvoice), *columns, "invoice_date", "last_updated")
    return tuple(CwDoc(*row) for row in rows)


def _cw_credits(session: Session) -> tuple[CwCredit, ...]:
    table = table_of(CWPayment)
    rows = _rows(session, table, "invoice_id", "credit_memo_id", "amount", where=table.c.credit_memo_id.is_not(None))
    return tuple(CwCredit(*row) for row in rows)


def _qbo_customers(session: Session) -> tuple[QboCustomer, ...]:
    rows = _rows(session, table_of(QBOCustomer), "id", "display_name", "company_name", "active")
    return tuple(QboCustomer(*row) for row in rows)


def _qbo_docs(session: Session) -> tuple[QboDoc, ...]:
    columns = ("entity", "id", "doc_number", "customer_id", "total", "balance", "remaining_credit", "txn_date")
    table = table_of(QBODocument)
    # A voided document stays in QuickBooks with every amount zero and "Voided" prepended to its note (Intuit's
    # Invoice reference, https://developer.intuit.com/app/developer/qbo/docs/api/accounting/all-entities/invoice):
    # for reconciling it is gone, so a mirror Tally voided on undo is missing again.
    voided = (table.c.total == 0) & table.c.private_note.like("Voided%")
    return tuple(QboDoc(*row) for row in _rows(session, table, *columns, where=~voided))


def _qbo_payments(session: Session) -> tuple[QboPayment, ...]:
    links: dict[str, list[QboLink]] = defaultdict(list)
    link_table = table_of(QBOPaymentLink)
    ordered = select(*(link_table.c[n] for n in ("payment_id", "line_no", "txn_id", "txn_type", "amount")))
    for payment_id, line_no, txn_id, txn_type, amount in session.execute(
        ordered.order_by(link_table.c.payment_id, link_table.c.line_no, link_table.c.link_no)
    ):
        links[payment_id].append(QboLink(line_no, txn_id, txn_type, amount))
    rows = _rows(session, table_of(QBOPayment), "id", "customer_id", "total", "unapplied", "txn_date")
    return tuple(
        QboPayment(payment_id, customer_id, total, unapplied, tuple(links.get(payment_id, ())), day)
        for payment_id, customer_id, total, unapplied, day in rows
    )
