"""Made-up findings, fixes and events for rendering tests (nothing here touches a database)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

from sync.models import Action, AuditEvent, FindingRecord

NOW = datetime(2026, 11, 20, 14, 5, tzinfo=UTC)


def finding(n: int, *, kind: str = "payment_not_synced", long: bool = False, fixable: bool = True) -> FindingRecord:
    """A finding on invoice ``10000 + n``; ``long`` gives it a customer name and explanation far past any limit."""
    customer = ("Northwind Managed Services of the Greater Metropolitan Area " * (40 if long else 1)).strip()
    return FindingRecord(
        key=f"{kind}:{10000 + n}",
        kind=kind,
        status="open",
        customer=customer,
        documents=json.dumps([str(10000 + n)]),
        amount=Decimal("1234.50") + n,
        explanation=("QuickBooks recorded a payment ConnectWise never got. " * (80 if long else 1)).strip(),
        cw=json.dumps({"id": str(n), "total": "1234.50", "paid": "0.00", "balance": "1234.50", "date": "2026-11-01"}),
        qbo=json.dumps({"id": str(n), "total": "1234.50", "balance": "0.00"}),
        fix_kind="backflow_payment" if fixable else None,
        first_seen=NOW,
        last_seen=NOW,
    )


def action(n: int, *, status: str = "proposed", needed: int = 1, long: bool = False) -> Action:
    """A payment backflow for invoice ``10000 + n``."""
    customer = "Northwind " * (60 if long else 1)
    return Action(
        id=n,
        finding_key=f"payment_not_synced:{10000 + n}",
        kind="backflow_payment",
        status=status,
        params=json.dumps({"number": str(10000 + n), "amount": "1234.50", "customer": customer}),
        amount=Decimal("1234.50") + n,
        description=f"Record a $1,234.50 payment dated 2026-11-20 on ConnectWise invoice {10000 + n}"
        + (f" for {customer}" if long else ""),
        requested_by="scheduler",
        approvals_needed=needed,
        result="Rejected by U0ANA: paid by card" if status == "rejected" else None,
        created_at=NOW,
        updated_at=NOW,
    )


def event(n: int, *, long: bool = False) -> AuditEvent:
    """An approval in the audit trail."""
    return AuditEvent(
        id=n,
        at=NOW,
        actor="U0ANA",
        verb="action.approved",
        subject=f"action:{n}",
        amount_after=Decimal("1234.50"),
        detail="1 of 1 approvals" + (" and a very long note" * 200 if long else ""),
    )
