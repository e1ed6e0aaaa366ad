"""One invoice or credit memo in both systems, side by side, with the findings that name it (``explain``)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import col

from sync.db import session_scope
from sync.models import CWInvoice, CWPayment, FindingRecord, QBODocument, QBOPaymentLink
from sync.reconcile.model import number_key


@dataclass(frozen=True)
class DocumentView:
    """What the cache holds about one document number, in both systems, and what Tally thinks of it."""

    number: str
    cw: CWInvoice | None
    qbo: list[QBODocument]
    cw_rows: list[CWPayment]  # payment and credit rows on the ConnectWise document
    qbo_links: list[QBOPaymentLink]  # QuickBooks payment lines linking the QuickBooks documents
    findings: list[FindingRecord]  # open and resolved findings naming the number

    @property
    def found(self) -> bool:
        """Whether either system has the document."""
        return self.cw is not None or bool(self.qbo)


def explain_document(engine: Engine, number: str) -> DocumentView:
    """Read document ``number`` from the cache (as of the last sync) in both systems."""
    key = number_key(number)
    with session_scope(engine) as session:
        cw_doc = session.execute(select(CWInvoice).where(col(CWInvoice.number_key) == key)).scalars().first()
        qbo_docs = list(session.execute(select(QBODocument).where(col(QBODocument.number_key) == key)).scalars())
        rows = select(CWPayment).where(col(CWPayment.invoice_id) == (cw_doc.id if cw_doc else -1))
        links = select(QBOPaymentLink).where(col(QBOPaymentLink.txn_id).in_([d.id for d in qbo_docs]))
        related = [
            row
            for row in session.execute(select(FindingRecord)).scalars()
            if key in {number_key(n) for n in json.loads(row.documents)}
        ]
        return DocumentView(
            number=number,
            cw=cw_doc,
            qbo=qbo_docs,
            cw_rows=list(session.execute(rows).scalars()),
            qbo_links=list(session.execute(links).scalars()),
            findings=related,
        )
