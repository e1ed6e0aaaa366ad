"""One invoice or credit memo in both systems, side by side, with the findings that name it (``explain``)."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from sqlmodel import col

from sync.db import session_scope
from sync.models import (
    Action,
    CWInvoice,
    CWPayment,
    FindingRecord,
    GoneRecord,
    QBODocument,
    QBOPayment,
    QBOPaymentLink,
)
from sync.reconcile.model import Finding, number_key


@dataclass(frozen=True)
class DocumentView:
    """What the cache holds about one document number, in both systems, and what Tally thinks of it."""

    number: str
    cw: CWInvoice | None
    qbo: list[QBODocument]
    cw_rows: list[CWPayment]  # payment and credit rows on the ConnectWise document
    qbo_links: list[QBOPaymentLink]  # QuickBooks payment lines linking the QuickBooks documents
    findings: list[FindingRecord]  # open and resolved findings naming the number
    carried: tuple[str, ...] = ()  # each CW payment Tally recorded, beside the QuickBooks payment(s) behind it

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
            carried=carried_back(session, cw_doc.id) if cw_doc else (),
        )


def carried_back(session: Session, cw_invoice_id: int) -> tuple[str, ...]:
    """Each payment Tally recorded on a CW invoice, side by side with the QuickBooks payment(s) it carried back."""
    lines = []
    statement = select(Action).where(col(Action.kind) == "backflow_payment", col(Action.status) == "succeeded")
    for action in session.execute(statement.order_by(col(Action.id))).scalars():
        params = json.loads(action.params or "{}")
        if params.get("cw_invoice_id") != str(cw_invoice_id):
            continue
        behind = params.get("qbo_payment_ids") or "not recorded (fixed before Tally kept it)"
        lines.append(
            f"ConnectWise payment {action.remote_id} (${Decimal(params['amount']):,.2f}, fix #{action.id}) "
            f"carries back QuickBooks payment {behind}"
        )
    return tuple(lines)


# -- the real cause of a finding -----------------------------------------------------------------------------------
TALLY_NOTE = "Tally: copy of ConnectWise"  # how every mirror Tally creates begins its private note (executor)
HAND_TYPED = "it was typed by hand in QuickBooks, so ConnectWise's AR does not include it."


def explain_causes(session: Session, findings: list[Finding]) -> list[Finding]:
    """Name the real cause where Tally can see it: voided or deleted in QuickBooks, deleted or re-opened in
    ConnectWise, a QuickBooks payment Tally carried back that was voided or deleted since, a copy Tally mirrored
    itself. "Typed by hand" stays only for documents Tally never saw a ConnectWise source for."""
    causes = _Causes(session)
    out = []
    for finding in findings:
        cause = causes.of(finding)
        out.append(finding if cause is None else replace(finding, explanation=cause))
    return out


class _Causes:
    def __init__(self, session: Session) -> None:
        self.session = session

    def of(self, finding: Finding) -> str | None:
        if finding.kind in ("invoice_missing_in_qbo", "credit_memo_missing_in_qbo"):
            return self._copy_gone(finding)
        if finding.kind == "orphan_in_qbo":
            return self._source_gone(finding)
        if finding.kind == "payment_only_in_cw":
            return self._payment_gone(finding)
        return None

    def _copy_gone(self, finding: Finding) -> str | None:
        if finding.qbo.get("possible_match"):
            return None
        key = number_key(finding.documents[0])
        table = QBODocument.__table__  # type: ignore[attr-defined]
        voided = self.session.execute(
            select(table.c.id).where(table.c.number_key == key, table.c.private_note.like("Voided%"))
        ).first()
        if voided is not None:
            return f"{finding.explanation} Its QuickBooks copy (Id {voided[0]}) was voided in QuickBooks."
        gone = self._gone("QuickBooks", key)
        if gone is not None:
            return (
                f"{finding.explanation} Its QuickBooks copy (Id {gone.remote_id}) was deleted in QuickBooks "
                f"(seen {gone.at:%Y-%m-%d})."
            )
        return None

    def _source_gone(self, finding: Finding) -> str | None:
        number = finding.documents[0]
        key = number_key(number)
        qbo_id = finding.qbo.get("id", "")
        mirrored = self._mirrored_by(qbo_id)
        cw_doc = self.session.execute(select(CWInvoice).where(col(CWInvoice.number_key) == key)).scalars().first()
        deleted = self._gone("ConnectWise", key)
        if cw_doc is not None and not cw_doc.is_closed:
            source = f"ConnectWise {number} was re-opened in ConnectWise (it is no longer closed), so it is not posted"
        elif deleted is not None:
            source = f"ConnectWise {number} was deleted in ConnectWise (seen {deleted.at:%Y-%m-%d})"
        elif mirrored is None:
            return None
        else:
            source = f"its ConnectWise source {number} is no longer there"
        copy = f"a copy Tally mirrored itself ({mirrored})" if mirrored else "the QuickBooks copy of it"
        head = finding.explanation.split(" has no source in ConnectWise")[0]
        return (
            f"{head} is {copy}, but {source}; ConnectWise's AR no longer includes it. A person decides which is right."
        )

    def _mirrored_by(self, qbo_id: str) -> str | None:
        if not qbo_id:
            return None
        action = (
            self.session.execute(
                select(Action).where(
                    col(Action.kind).in_(("mirror_invoice", "mirror_credit_memo")),
                    col(Action.status) == "succeeded",
                    col(Action.remote_id) == qbo_id,
                )
            )
            .scalars()
            .first()
        )
        if action is not None:
            return f"fix #{action.id}"
        table = QBODocument.__table__  # type: ignore[attr-defined]
        note = self.session.execute(select(table.c.private_note).where(table.c.id == qbo_id)).scalar()
        return "its note says so" if note and str(note).startswith(TALLY_NOTE) else None

    def _payment_gone(self, finding: Finding) -> str | None:
        cw_id = finding.cw.get("id", "")
        said = []
        for action in self.session.execute(
            select(Action).where(col(Action.kind) == "backflow_payment", col(Action.status) == "succeeded")
        ).scalars():
            params = json.loads(action.params or "{}")
            if params.get("cw_invoice_id") != cw_id:
                continue
            for payment_id in filter(None, str(params.get("qbo_payment_ids", "")).split(",")):
                how = self._payment_state(payment_id)
                if how:
                    said.append(
                        f"QuickBooks payment {payment_id}, which Tally carried back to ConnectWise with fix "
                        f"#{action.id}, was {how} in QuickBooks since."
                    )
        return f"{finding.explanation} {' '.join(said)}" if said else None

    def _payment_state(self, payment_id: str) -> str | None:
        payment = self.session.get(QBOPayment, payment_id)
        if payment is not None:
            return "voided" if payment.total == 0 else None
        gone = (
            self.session.execute(
                select(GoneRecord).where(
                    col(GoneRecord.system) == "QuickBooks",
                    col(GoneRecord.entity) == "Payment",
                    col(GoneRecord.remote_id) == payment_id,
                )
            )
            .scalars()
            .first()
        )
        return "deleted" if gone is not None else None

    def _gone(self, system: str, key: str) -> GoneRecord | None:
        statement = (
            select(GoneRecord)
            .where(col(GoneRecord.system) == system, col(GoneRecord.number_key) == key)
            .order_by(col(GoneRecord.id).desc())
        )
        return self.session.execute(statement).scalars().first()
