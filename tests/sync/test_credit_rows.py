"""A sync reads ConnectWise credit rows only where the credit totals disagree, and the findings stay the same.

Over real loopback HTTP against the seeded sandbox books: the findings (and the fixes they propose) after a sync that
read only the disagreeing invoices' rows equal those after one that read every invoice's rows; a change made in
QuickBooks alone makes the next sync read the rows it now needs; a sync that stopped while reading rows is finished
by the next one although nothing changed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from sync.cache import run_sync
from sync.cache.snapshot import load_snapshot
from sync.clients.connectwise import ConnectWiseClient
from sync.db import make_engine, session_scope
from sync.migrate import upgrade
from sync.models import CWPayment, utcnow
from sync.reconcile import Finding
from sync.reconcile.credit_rows import unread_credit_rows
from sync.reconcile.engine import reconcile
from sync.reconcile.model import Policy
from sync.records import QBOPayment
from tests.sandboxes import cw_client, qbo_client, sandbox


def findings(engine: Engine) -> list[tuple[str, str, str, str | None, dict[str, str] | None]]:
    with session_scope(engine) as session:
        found: list[Finding] = reconcile(load_snapshot(session), Policy(now=utcnow()))
    return sorted(
        (f.kind, f.key, str(f.amount), f.fix.kind if f.fix else None, dict(f.fix.params) if f.fix else None)
        for f in found
    )


def credit_row_invoices(engine: Engine) -> int:
    with session_scope(engine) as session:
        return int(session.execute(select(func.count(func.distinct(CWPayment.invoice_id)))).scalar_one())


def other_engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'every-row.db'}")
    upgrade(engine)
    return engine


@pytest.mark.slow  # two full syncs of two books: runs in make test-all (CI)
@pytest.mark.parametrize("seed", [4, 13])
def test_reading_only_disagreeing_rows_finds_what_reading_every_row_finds(
    engine: Engine, tmp_path: Path, seed: int
) -> None:
    with sandbox("small", seed=seed) as running, cw_client(running) as cw, qbo_client(running) as qbo:
        some = run_sync(engine, cw, qbo, full=True)
        every_engine = other_engine(tmp_path)
        every = run_sync(every_engine, cw, qbo, full=True, all_rows=True)
        credited = sum(
            1
            for i in running.cw.service.store.invoices()
            if i["type"] != "CreditMemo" and i.get("credits")  # type: ignore[attr-defined]
        )
        assert findings(engine) == findings(every_engine)
        assert credit_row_invoices(every_engine) == credited  # the sweep's way: every invoice with credit
        assert credit_row_invoices(engine) < credited / 4  # the check's way: only where the totals disagree
        assert some.streams["cw.invoices"].api_calls < every.streams["cw.invoices"].api_calls


def qbo_credit_application(qbo_books: Any, invoice_id: str) -> dict[str, Any] | None:
    for payment in qbo_books.all("Payment"):
        kinds = {link["TxnType"] for line in payment.get("Line", []) for link in line.get("LinkedTxn", [])}
        ids = {link["TxnId"] for line in payment.get("Line", []) for link in line.get("LinkedTxn", [])}
        if payment.get("TotalAmt") in (0, "0", "0.00") and kinds == {"Invoice", "CreditMemo"} and invoice_id in ids:
            return dict(payment)
    return None


def test_a_credit_undone_in_quickbooks_alone_makes_the_next_sync_read_that_invoices_rows(engine: Engine) -> None:
    with sandbox("small", seed=4) as running, cw_client(running) as cw, qbo_client(running) as qbo:
        run_sync(engine, cw, qbo, full=True)
        qbo_books = running.qbo.service.store.company(running.app.realm_id)  # type: ignore[attr-defined]
        with session_scope(engine) as session:
            snapshot = load_snapshot(session)
        unread = unread_credit_rows(snapshot.cw_docs, snapshot.cw_credits)
        mirrors = {d["DocNumber"]: d for d in qbo_books.all("Invoice")}
        target = next(
            (doc, mirrors[doc.number], payment)
            for doc in snapshot.cw_docs
            if doc.id in unread
            and doc.number in mirrors
            and (payment := qbo_credit_application(qbo_books, mirrors[doc.number]["Id"])) is not None
        )
        doc, mirror, payment = target
        before = findings(engine)
        assert not [f for f in before if doc.number in f[1] and f[0].startswith("credit_")]

        qbo.delete_payment(qbo.get(QBOPayment, payment["Id"]))  # someone removes the credit in QuickBooks only
        report = run_sync(engine, cw, qbo)

        assert report.streams["cw.invoices"].api_calls >= 1
        with session_scope(engine) as session:
            read = {row for (row,) in session.execute(select(CWPayment.invoice_id).distinct())}
        assert doc.id in read
        after = [f for f in findings(engine) if f[0] == "credit_not_applied_in_qbo" and doc.number in f[1]]
        assert after, "the credit ConnectWise still shows is proposed again in QuickBooks"
        assert after[0][3] == "apply_credit_memo"
        assert {"qbo_invoice_id": mirror["Id"]}.items() <= (after[0][4] or {}).items()


class Flaky(ConnectWiseClient):
    """A client whose credit-row reads fail the first ``failures`` times."""

    failures = 1

    def list_payments(self, invoice_id: int) -> Any:
        if Flaky.failures:
            Flaky.failures -= 1
            raise ConnectionError("the line dropped")
        return super().list_payments(invoice_id)


def test_a_sync_that_stopped_reading_rows_is_finished_by_the_next_although_nothing_changed(engine: Engine) -> None:
    Flaky.failures = 1  # per run: the test runs once per database
    with sandbox("small", seed=13) as running, cw_client(running) as cw, qbo_client(running) as qbo:
        cw.__class__ = Flaky
        with pytest.raises(ConnectionError):
            run_sync(engine, cw, qbo, full=True)
        assert credit_row_invoices(engine) == 0
        report = run_sync(engine, cw, qbo)
        assert report.changed == 0
        assert report.streams["cw.invoices"].api_calls > 1  # the rows the first sync did not get to
        assert credit_row_invoices(engine) > 0
        quiet = run_sync(engine, cw, qbo)
        assert quiet.streams["cw.invoices"].api_calls <= 1  # settled: only the deletion count
