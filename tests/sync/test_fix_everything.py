"""Approving every proposed fix leaves no fixable finding, and both sandboxes' balances agree invoice by invoice."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sqlalchemy.engine import Engine

from sync.actions import approve, approver_check, execute
from sync.checks import run_check
from sync.settings import Settings
from tests.sandboxes import cw_client, qbo_client, sandbox


@pytest.mark.slow  # takes long: runs in make test-all (CI)
@pytest.mark.parametrize("seed", [2, 7])
def test_after_every_fix_the_books_agree_invoice_by_invoice(engine: Engine, database_url: str, seed: int) -> None:
    with sandbox("small", seed=seed) as running, cw_client(running) as cw, qbo_client(running) as qbo:
        settings = Settings(**{**running.env(), "DATABASE_URL": database_url, "TALLY_APPROVERS": "U0ANA,U0BEN"})  # type: ignore[arg-type]
        first = run_check(engine, settings, cw=cw, qbo=qbo, actor="scheduler")
        check = approver_check(settings)
        for action in first.actions.values():
            assert action.id is not None
            for approver in ("U0ANA", "U0BEN"):  # two people: enough for a fix above the dual-approval amount
                if approve(engine, action.id, approver=approver, is_approver=check).ready:
                    done = execute(engine, action.id, cw=cw, qbo=qbo, actor=approver, tolerance=settings.tolerance)
                    assert done.status == "succeeded", done.result
                    break
            else:
                raise AssertionError(f"fix #{action.id} never had the approvals it needs")
        second = run_check(engine, settings, cw=cw, qbo=qbo, actor="scheduler")
        assert [f.key for f in second.findings if f.fix is not None] == []
        held = [f for f in second.findings if f.qbo.get("possible_match") == "yes"]  # look-alikes, for a person
        assert {f.kind for f in held} <= {"invoice_missing_in_qbo", "credit_memo_missing_in_qbo"}
        assert {f.kind for f in second.findings if f not in held} <= {
            "amount_mismatch",
            "customer_mismatch",
            "duplicate_in_qbo",
            "orphan_in_qbo",
            "payment_only_in_cw",
            "balance_mismatch",
        }
        named = {number for f in second.findings for number in f.documents}
        cw_books = running.cw.service.store  # type: ignore[attr-defined]
        qbo_books = running.qbo.service.store.company(running.app.realm_id)  # type: ignore[attr-defined]
        mirrors = {(d.get("DocNumber"), kind): d for kind in ("Invoice", "CreditMemo") for d in qbo_books.all(kind)}
        compared = 0
        for invoice in cw_books.invoices():
            kind = "CreditMemo" if invoice["type"] == "CreditMemo" else "Invoice"
            mirror = mirrors.get((invoice["invoiceNumber"], kind))
            if invoice["invoiceNumber"] in named or mirror is None or not invoice["status"]["isClosed"]:
                continue
            qbo_open = Decimal(
                str(mirror.get("RemainingCredit", mirror["Balance"]) if kind == "CreditMemo" else mirror["Balance"])
            )
            assert abs(Decimal(str(invoice["balance"])) - qbo_open) <= settings.tolerance, json.dumps(
                invoice, default=str
            )
            compared += 1
        assert compared > 1000
