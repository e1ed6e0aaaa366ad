"""Helpers for the action tests: findings from the sandbox's books, actions ready to act on, sandbox counts,
and the functions child processes run (importable by ``multiprocessing`` spawn)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from sandbox.cli import RunningSandbox
from sync.actions import approve, approver_check, execute, propose
from sync.cache import run_sync
from sync.cache.snapshot import load_snapshot
from sync.clients.connectwise import ConnectWiseClient
from sync.clients.quickbooks import QuickBooksClient
from sync.db import make_engine, session_scope
from sync.models import Action, AuditEvent, FindingRecord
from sync.reconcile import Finding, FixSpec, Policy, reconcile
from sync.settings import Settings, load_settings
from tests.sandboxes import SandboxTokens, cw_client, fast_retry, qbo_client, sandbox

APPROVERS = ("U1", "U2", "U3", "U4", "U5", "U6", "U7", "U8")
TOLERANCE = Decimal("0.05")


def settings(**env: str) -> Settings:
    """Settings as the environment would give them, ignoring any ``.env`` on this machine."""
    base = {"TALLY_APPROVERS": ",".join(APPROVERS), "TALLY_DUAL_APPROVAL_ABOVE": "5000"}
    return load_settings(_env_file=None, **{**base, **env})


IS_APPROVER = approver_check(settings())


def record_of(finding: Finding, *, now: datetime | None = None) -> FindingRecord:
    """A ``FindingRecord`` row as the findings store keeps a reconcile finding."""
    now = now or datetime.now(UTC)
    return FindingRecord(
        key=finding.key,
        kind=finding.kind,
        status="open",
        customer=finding.customer,
        documents=json.dumps(list(finding.documents)),
        amount=finding.amount,
        explanation=finding.explanation,
        cw=json.dumps(finding.cw),
        qbo=json.dumps(finding.qbo),
        fix_kind=finding.fix.kind if finding.fix else None,
        fix_params=json.dumps(finding.fix.params) if finding.fix else None,
        first_seen=now,
        last_seen=now,
    )


def store(engine: Engine, finding: Finding) -> FindingRecord:
    """Store (or overwrite) one finding and return it."""
    with session_scope(engine) as session:
        return session.merge(record_of(finding))


@contextmanager
def tiny_books() -> Iterator[RunningSandbox]:
    """Both sandboxes holding a few hand-made documents, one disagreement for every fix kind:

    - payment_not_synced 10231: $1,234.50 paid in QuickBooks on 2026-11-20, nothing in ConnectWise;
    - credit_not_applied_in_qbo CM1039 -> 1037 ($300.00), credit_not_applied_in_cw CM1041 -> 1040 ($100.00);
    - invoice_missing_in_qbo 10300 ($1,080.10) and 10400 ($9,706.00: two approvers), credit memo CM10301 ($50.00).
    """
    with sandbox("empty") as running:
        cw = running.cw.service.store  # type: ignore[attr-defined]
        books = running.qbo.service.store.company(running.app.realm_id)  # type: ignore[attr-defined]
        cw.create_company({"identifier": "AcmeCo", "name": "Acme Co", "accountNumber": "ACME01"})
        customer = books.create("Customer", {"DisplayName": "Acme Co (ACME01)", "CompanyName": "Acme Co"})["Id"]

        def cw_doc(number: str, total: str, kind: str = "Standard") -> int:
            body: dict[str, object] = {"invoiceNumber": number, "type": kind, "company": {"identifier": "AcmeCo"}}
            body |= {"status": {"name": "Sent"}, "date": "2026-11-02T00:00:00Z", "total": Decimal(total)}
            return int(cw.create_invoice(body)["id"])

        def qbo_doc(entity: str, number: str, total: str) -> str:
            line = {"DetailType": "SalesItemLineDetail", "Amount": Decimal(total)}
            line["SalesItemLineDetail"] = {"ItemRef": {"value": "1"}}
            body = {"DocNumber": number, "CustomerRef": {"value": customer}, "TxnDate": "2026-11-02", "Line": [line]}
            return str(books.create(entity, body)["Id"])

        def qbo_payment(total: str, *links: tuple[str, str, str], on: str = "2026-11-20") -> None:
            lines = [{"Amount": Decimal(amount), "LinkedTxn": [{"TxnId": i, "TxnType": t}]} for i, t, amount in links]
            body = {"CustomerRef": {"value": customer}, "TotalAmt": Decimal(total), "TxnDate": on, "Line": lines}
            books.create("Payment", body)

        cw_doc("10231", "1234.50")
        qbo_payment("1234.50", (qbo_doc("Invoice", "10231", "1234.50"), "Invoice", "1234.50"))
        invoice, memo = cw_doc("1037", "500.00"), cw_doc("CM1039", "300.00", "CreditMemo")
        cw.create_payment(invoice, {"amount": Decimal("300.00"), "credit": {"id": memo}})
        qbo_doc("Invoice", "1037", "500.00")
        qbo_doc("CreditMemo", "CM1039", "300.00")
        cw_doc("1040", "400.00")
        cw_doc("CM1041", "100.00", "CreditMemo")
        links = (qbo_doc("Invoice", "1040", "400.00"), "Invoice", "100.00")
        qbo_payment("0", links, (qbo_doc("CreditMemo", "CM1041", "100.00"), "CreditMemo", "100.00"))
        cw_doc("10300", "1080.10")
        cw_doc("CM10301", "50.00", "CreditMemo")
        cw_doc("10400", "9706.00")
        yield running


def findings_of(engine: Engine, running: RunningSandbox) -> list[Finding]:
    """Sync the sandbox's books into ``engine`` and reconcile them (no grace: report everything now)."""
    with cw_client(running) as cw, qbo_client(running) as qbo:
        run_sync(engine, cw, qbo, full=True)
    with session_scope(engine) as session:
        snapshot = load_snapshot(session)
    return reconcile(snapshot, Policy(now=running.clock.now(), grace=timedelta(0)))


def first(findings: list[Finding], fix_kind: str, *, index: int = 0) -> Finding:
    """The ``index``-th finding whose fix is ``fix_kind``."""
    return [finding for finding in findings if finding.fix and finding.fix.kind == fix_kind][index]


def synthetic(kind: str, fix_kind: str | None, params: dict[str, str], **fields: Any) -> Finding:
    """A finding shaped exactly as ``reconcile`` makes it, with chosen numbers (for exact wording)."""
    amount = Decimal(params.get("amount", "0"))
    number = params.get("number") or params.get("invoice", "0")
    return Finding(
        kind=kind,
        key=fields.pop("key", f"{kind}:{number}"),
        documents=(number,),
        customer=fields.pop("customer", "Acme Co"),
        amount=amount,
        explanation="",
        fix=FixSpec(fix_kind, params) if fix_kind else None,
        **fields,
    )


def proposed(engine: Engine, finding: Finding, *, actor: str = "scheduler", **env: str) -> int:
    """Store ``finding`` and propose its fix; return the action id."""
    store(engine, finding)
    with session_scope(engine, write_lock=True) as session:
        record = session.get(FindingRecord, finding.key)
        assert record is not None
        action = propose(session, record, settings=settings(**env), actor=actor)
        assert action is not None
        assert action.id is not None
        return action.id


def approved(engine: Engine, finding: Finding) -> int:
    """Store, propose and approve (by as many approvers as it needs); return the action id."""
    action_id = proposed(engine, finding)
    for approver in ("U1", "U2"):
        outcome = approve(engine, action_id, approver=approver, is_approver=IS_APPROVER)
        if outcome.ready:
            return action_id
    raise AssertionError("the action did not become approved")


def events(engine: Engine, action_id: int, verb: str | None = None) -> list[AuditEvent]:
    """The audit events of one action, oldest first."""
    with session_scope(engine) as session:
        statement = select(AuditEvent).where(AuditEvent.subject == f"action:{action_id}")  # type: ignore[arg-type]
        if verb is not None:
            statement = statement.where(AuditEvent.verb == verb)  # type: ignore[arg-type]
        return list(session.execute(statement.order_by(AuditEvent.id)).scalars())  # type: ignore[arg-type]


def count(engine: Engine, model: type, **where: object) -> int:
    """Count rows of ``model`` matching ``where``."""
    with session_scope(engine) as session:
        statement = select(func.count()).select_from(model)
        for name, value in where.items():
            statement = statement.where(getattr(model, name) == value)
        return int(session.execute(statement).scalar_one())


def status_of(engine: Engine, action_id: int) -> Action:
    """The action as stored."""
    with session_scope(engine) as session:
        action = session.get(Action, action_id)
        assert action is not None
        return action


# -- what the sandbox holds ---------------------------------------------------------------------------------------
def cw_rows(running: RunningSandbox, invoice_id: int | str) -> list[dict[str, Any]]:
    """The payment and credit rows ConnectWise holds on an invoice."""
    rows: list[dict[str, Any]] = running.cw.service.store.payments(int(invoice_id))  # type: ignore[attr-defined]
    return rows


def qbo_all(running: RunningSandbox, entity: str) -> list[dict[str, Any]]:
    """Every QuickBooks record of ``entity``."""
    rows: list[dict[str, Any]] = running.qbo.service.store.company(running.app.realm_id).all(entity)  # type: ignore[attr-defined]
    return rows


def qbo_numbered(running: RunningSandbox, entity: str, number: str) -> list[dict[str, Any]]:
    """The QuickBooks documents of ``entity`` numbered ``number``."""
    return [doc for doc in qbo_all(running, entity) if doc.get("DocNumber") == number]


def qbo_payments_linking(running: RunningSandbox, txn_id: str) -> list[dict[str, Any]]:
    """The QuickBooks payments with a line linking ``txn_id``."""
    return [
        payment
        for payment in qbo_all(running, "Payment")
        if any(link["TxnId"] == txn_id for line in payment.get("Line", []) for link in line.get("LinkedTxn", []))
    ]


# -- clients for another process ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Endpoints:
    """Everything a child process needs to reach the database and both sandboxes (picklable)."""

    database_url: str
    cw_base_url: str
    cw_company_id: str
    cw_public_key: str
    cw_private_key: str
    cw_client_id: str
    qbo_base_url: str
    realm_id: str
    access_token: str


class StaticTokens:
    """A TokenSource with one access token (child processes live far shorter than it does)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def access_token(self) -> str:
        return self._token

    def refresh_after_401(self, rejected: str) -> str:
        return self._token


def endpoints(running: RunningSandbox, database_url: str) -> Endpoints:
    """Describe the sandbox and database for a child process."""
    creds = running.credentials
    return Endpoints(
        database_url=database_url,
        cw_base_url=running.cw_base_url,
        cw_company_id=creds.company_id,
        cw_public_key=creds.public_key,
        cw_private_key=creds.private_key,
        cw_client_id=creds.client_id,
        qbo_base_url=f"{running.qbo.url}/v3",
        realm_id=running.app.realm_id,
        access_token=SandboxTokens(running.qbo).access_token(),
    )


@contextmanager
def clients_for(ep: Endpoints) -> Iterator[tuple[ConnectWiseClient, QuickBooksClient]]:
    """Both clients, built from ``Endpoints``."""
    cw = ConnectWiseClient(
        company_id=ep.cw_company_id,
        public_key=ep.cw_public_key,
        private_key=ep.cw_private_key,
        client_id=ep.cw_client_id,
        base_url=ep.cw_base_url,
        retry=fast_retry(),
    )
    qbo = QuickBooksClient(
        base_url=ep.qbo_base_url, realm_id=ep.realm_id, tokens=StaticTokens(ep.access_token), retry=fast_retry()
    )
    with cw, qbo:
        yield cw, qbo


def child_execute_then_crash(ep: Endpoints, action_id: int) -> None:
    """Execute ``action_id`` and die the instant the remote write returns, before Tally records it."""
    engine = make_engine(ep.database_url)
    with clients_for(ep) as (cw, qbo):
        execute(engine, action_id, cw=cw, qbo=qbo, actor="clock", tolerance=TOLERANCE, after_remote_write=_die)


def _die() -> None:
    os._exit(1)


def child_race(ep: Endpoints, action_id: int, approver: str, barrier: Any) -> None:
    """Wait for the other process, then approve and execute the same action."""
    engine = make_engine(ep.database_url)
    with clients_for(ep) as (cw, qbo):
        barrier.wait(timeout=30)
        approve(engine, action_id, approver=approver, is_approver=IS_APPROVER)
        execute(engine, action_id, cw=cw, qbo=qbo, actor=approver, tolerance=TOLERANCE)
    engine.dispose()


def today() -> date:
    """Today in UTC."""
    return datetime.now(UTC).date()
