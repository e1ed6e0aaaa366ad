"""Remember what disappeared from either system (``gone_record``), so an explanation can say "deleted in QuickBooks"
or "deleted in ConnectWise" rather than guess at the cause."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from sync.models import CWInvoice, GoneRecord, QBODocument, utcnow
from sync.reconcile.model import number_key


def remember_qbo(session: Any, entity: str, ids: Iterable[str]) -> None:
    """QuickBooks records about to leave the cache: deleted there (a CDC tombstone, or absent from a full read)."""
    wanted = sorted(ids)
    numbers: dict[str, str | None] = dict.fromkeys(wanted)
    if entity in ("Invoice", "CreditMemo"):
        table = QBODocument.__table__  # type: ignore[attr-defined]
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            rows = session.execute(
                select(table.c.id, table.c.doc_number).where(table.c.entity == entity, table.c.id.in_(chunk))
            )
            numbers.update({row_id: number for row_id, number in rows})
    _add(session, "QuickBooks", [(entity, remote_id, number) for remote_id, number in numbers.items()])


def remember_cw(session: Any, invoice_ids: Iterable[int]) -> None:
    """ConnectWise invoices and credit memos about to leave the cache: deleted in ConnectWise."""
    wanted = sorted(invoice_ids)
    table = CWInvoice.__table__  # type: ignore[attr-defined]
    found: list[tuple[str, str, str | None]] = []
    for start in range(0, len(wanted), 500):
        rows = session.execute(
            select(table.c.id, table.c.number, table.c.type).where(table.c.id.in_(wanted[start : start + 500]))
        )
        found += [
            ("CreditMemo" if kind == "CreditMemo" else "Invoice", str(row_id), number) for row_id, number, kind in rows
        ]
    _add(session, "ConnectWise", found)


def _add(session: Any, system: str, rows: list[tuple[str, str, str | None]]) -> None:
    now = utcnow()
    for entity, remote_id, number in rows:
        key = number_key(number) if number else None
        session.add(
            GoneRecord(system=system, entity=entity, remote_id=remote_id, number=number, number_key=key, at=now)
        )
