"""Plan the fixes for the books as a whole: per invoice, per credit memo and per customer, never one at a time.

The passes before this one each say what one disagreement needs. Executed together those writes can be wrong: a
backflow larger than what the ConnectWise invoice can still take once the credit Tally is about to apply lands, a
memo applied in both systems at once, a payment a tax penny above the balance that ConnectWise refuses. This pass
takes every finding's fix and makes the set consistent:

- Caps. A credit application never exceeds the memo's remaining credit (less what other planned applications take
  from it) nor the invoice's balance (less other planned credits); a backflow never exceeds the ConnectWise open
  balance after the credits Tally is about to apply there.
- Tolerance applies to writes. When what a fix would write and what the target can take differ by no more than
  the tolerance, the write takes exactly what is open, closes the document, and its explanation says so.
- Contradictions. A memo whose application differs in the two systems so that copying each side's application to
  the other would use its credit twice gets no write: a person decides which side is right.
- A company Tally cannot check (no confirmed or certain QuickBooks customer) gets no writes.
- Composition. Each fix carries the values its re-check may find once the other fixes planned for the same
  document ran (``<name>_ok``): Tally's own planned writes are not "changed by hand", in whichever order people
  approve them.

Pure: findings and the snapshot in, findings out.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import Decimal
from itertools import combinations

from sync.reconcile.model import ZERO, CwDoc, Finding, FixSpec, QboDoc
from sync.reconcile.text import money

BACKFLOW, CREDIT_QBO, CREDIT_CW = "backflow_payment", "apply_credit_memo", "apply_credit_in_cw"


@dataclass(frozen=True)
class PlanBooks:
    """What the planner needs to know about the documents the fixes write to."""

    cw_docs: dict[int, CwDoc]
    qbo_docs: dict[str, QboDoc]
    qbo_of_cw: dict[int, QboDoc]  # CW doc id -> its QBO mirror
    cw_of_qbo: dict[str, CwDoc]  # QBO doc id -> its CW source
    unchecked_companies: frozenset[int]  # CW company ids with no certain QuickBooks customer
    tolerance: Decimal


def _amount(fix: FixSpec) -> Decimal:
    return Decimal(fix.params["amount"])


def _with(finding: Finding, fix: FixSpec | None, note: str = "") -> Finding:
    explanation = f"{finding.explanation} {note}".strip() if note else finding.explanation
    return replace(finding, fix=fix, explanation=explanation)


def _fix(fix: FixSpec, **changes: str) -> FixSpec:
    return FixSpec(fix.kind, {**fix.params, **changes})


def _subset_values(start: Decimal, effects: Iterable[Decimal]) -> str:
    """Every value ``start`` may take once any subset of ``effects`` has happened, comma-joined."""
    effects = list(effects)
    values = {start}
    for size in range(1, len(effects) + 1):
        for chosen in combinations(effects, size):
            values.add(start + sum(chosen, ZERO))
    return ",".join(str(value) for value in sorted(values))


def plan_fixes(findings: list[Finding], books: PlanBooks) -> list[Finding]:
    """Return ``findings`` with every fix capped, reconciled with its siblings, or withheld with the reason."""
    planned = [_checkable(finding, books) for finding in findings]
    planned = _credits_in_both_systems(planned, books)
    planned = _cap_credits(planned, books, CREDIT_CW)
    planned = _cap_credits(planned, books, CREDIT_QBO)
    planned = _cap_backflows(planned, books)
    return _compose(planned, books)


def _cw_doc_of(finding: Finding, books: PlanBooks) -> CwDoc | None:
    fix = finding.fix
    if fix is None:
        return None
    raw = fix.params.get("cw_invoice_id") or fix.params.get("cw_id") or finding.cw.get("id")
    return books.cw_docs.get(int(raw)) if raw else None


def _checkable(finding: Finding, books: PlanBooks) -> Finding:
    doc = _cw_doc_of(finding, books)
    if doc is None or doc.company_id not in books.unchecked_companies:
        return finding
    return _with(
        finding,
        None,
        "Tally proposes no write: the ConnectWise company has no confirmed QuickBooks customer, so its books "
        "cannot be checked (map it with `tally map`).",
    )


def _memo_of(fix: FixSpec, books: PlanBooks) -> tuple[CwDoc | None, QboDoc | None]:
    if fix.kind == CREDIT_CW:
        cw_memo = books.cw_docs.get(int(fix.params["cw_credit_memo_id"]))
        return cw_memo, books.qbo_of_cw.get(cw_memo.id) if cw_memo else None
    q_memo = books.qbo_docs.get(fix.params["qbo_credit_memo_id"])
    return books.cw_of_qbo.get(q_memo.id) if q_memo else None, q_memo


def _cw_left(memo: CwDoc) -> Decimal:
    # A memo's usable balance; abs() because the sign ConnectWise gives credit memos is unverified.
    return abs(memo.balance)


def _qbo_left(memo: QboDoc) -> Decimal:
    return memo.remaining_credit if memo.remaining_credit is not None else memo.balance


def _credits_in_both_systems(findings: list[Finding], books: PlanBooks) -> list[Finding]:
    """A memo to apply in ConnectWise *and* in QuickBooks whose credit cannot cover both: no write is clearly right."""
    wanted: dict[tuple[str, int], Decimal] = defaultdict(lambda: ZERO)
    for finding in findings:
        if finding.fix is not None and finding.fix.kind in (CREDIT_CW, CREDIT_QBO):
            cw_memo, _ = _memo_of(finding.fix, books)
            if cw_memo is not None:
                wanted[(finding.fix.kind, cw_memo.id)] += _amount(finding.fix)
    torn: set[int] = set()
    for (kind, memo_id), need in wanted.items():
        if kind != CREDIT_CW or (CREDIT_QBO, memo_id) not in wanted:
            continue
        cw_memo = books.cw_docs[memo_id]
        q_memo = books.qbo_of_cw.get(memo_id)
        tol = books.tolerance
        if need > _cw_left(cw_memo) + tol or (
            q_memo is not None and wanted[(CREDIT_QBO, memo_id)] > _qbo_left(q_memo) + tol
        ):
            torn.add(memo_id)
    out = []
    for finding in findings:
        fix = finding.fix
        cw_memo = _memo_of(fix, books)[0] if fix is not None and fix.kind in (CREDIT_CW, CREDIT_QBO) else None
        if cw_memo is None or cw_memo.id not in torn:
            out.append(finding)
            continue
        out.append(
            _with(
                finding,
                None,
                f"Tally proposes no write: credit memo {cw_memo.number} is applied to different invoices in "
                "ConnectWise and QuickBooks, and its credit cannot cover both; copying either side's application "
                "to the other would use the memo twice. A person must decide which application is right and undo "
                "the other by hand.",
            )
        )
    return out


def _cap_credits(findings: list[Finding], books: PlanBooks, kind: str) -> list[Finding]:
    """Cap each credit application at the memo's remaining credit and the invoice's balance, in document order."""
    memo_used: dict[int | str, Decimal] = defaultdict(lambda: ZERO)
    invoice_used: dict[int | str, Decimal] = defaultdict(lambda: ZERO)
    out = []
    tol = books.tolerance
    for finding in findings:
        fix = finding.fix
        if fix is None or fix.kind != kind:
            out.append(finding)
            continue
        cw_memo, q_memo = _memo_of(fix, books)
        if kind == CREDIT_CW:
            invoice = books.cw_docs.get(int(fix.params["cw_invoice_id"]))
            memo_key: int | str | None = cw_memo.id if cw_memo else None
            memo_left = _cw_left(cw_memo) if cw_memo else None
            inv_key: int | str | None = invoice.id if invoice else None
            inv_left = invoice.balance if invoice else None
            system = "ConnectWise"
        else:
            q_invoice = books.qbo_docs.get(fix.params["qbo_invoice_id"])
            memo_key = q_memo.id if q_memo else None
            memo_left = _qbo_left(q_memo) if q_memo else None
            inv_key = q_invoice.id if q_invoice else None
            inv_left = q_invoice.balance if q_invoice else None
            system = "QuickBooks"
        if memo_key is None or inv_key is None or memo_left is None or inv_left is None:
            out.append(finding)
            continue
        room_memo = memo_left - memo_used[memo_key]
        room_invoice = inv_left - invoice_used[inv_key]
        need = _amount(fix)
        take = min(need, room_memo, room_invoice)
        memo_no, inv_no = fix.params["credit_memo"], fix.params["invoice"]
        if take <= 0:
            out.append(
                _with(
                    finding,
                    None,
                    f"Tally proposes no write: in {system} credit memo {memo_no} has {money(max(room_memo, ZERO))} "
                    f"of credit left and invoice {inv_no} has {money(max(room_invoice, ZERO))} open, so the "
                    "application cannot be made there.",
                )
            )
            continue
        note = ""
        if take < need:
            if need - take <= tol:
                note = (
                    f"Tally applies {money(take)}, all that is open, which closes it in {system} (the "
                    f"{money(need - take)} difference is within the tolerance)."
                )
            else:
                limit = "memo's remaining credit" if take == room_memo else "invoice's open balance"
                note = (
                    f"Tally applies only {money(take)}, the {limit} in {system}, not the {money(need)} the other "
                    "system shows: the rest cannot be applied there."
                )
        elif room_invoice - take <= tol and room_invoice - take > 0 and room_memo >= room_invoice:
            take = room_invoice
            note = (
                f"Tally applies {money(take)}, which closes invoice {inv_no} in {system} (the difference is "
                "within the tolerance)."
            )
        memo_used[memo_key] += take
        invoice_used[inv_key] += take
        out.append(_with(finding, _fix(fix, amount=str(take)) if take != need else fix, note))
    return out


def _cap_backflows(findings: list[Finding], books: PlanBooks) -> list[Finding]:
    """A backflow takes no more than the CW invoice has open once the planned ConnectWise credits land."""
    credits_planned: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for finding in findings:
        if finding.fix is not None and finding.fix.kind == CREDIT_CW:
            credits_planned[int(finding.fix.params["cw_invoice_id"])] += _amount(finding.fix)
    tol = books.tolerance
    out = []
    for finding in findings:
        fix = finding.fix
        if fix is None or fix.kind != BACKFLOW:
            out.append(finding)
            continue
        invoice = books.cw_docs.get(int(fix.params["cw_invoice_id"]))
        if invoice is None:
            out.append(finding)
            continue
        pending = credits_planned[invoice.id]
        room = invoice.balance - pending
        need = _amount(fix)
        after = f" after the {money(pending)} credit Tally is about to apply" if pending else ""
        if abs(need - room) <= tol and need != room and room > 0:
            note = (
                f"QuickBooks' paid amount and ConnectWise's open balance{after} ({money(room)}) differ by no more "
                f"than the tolerance, so Tally records {money(room)}, which closes the ConnectWise invoice."
            )
            out.append(_with(finding, _fix(fix, amount=str(room), closes="yes"), note))
        elif need > room:
            if room <= 0:
                note = (
                    f"Tally proposes no write: ConnectWise invoice {invoice.number} has nothing open{after} "
                    f"({money(room)}), though QuickBooks shows {money(need)} more paid. ConnectWise was probably "
                    "edited after the payment; a person must decide."
                )
                out.append(_with(finding, None, note))
            else:
                note = (
                    f"QuickBooks shows {money(need)} more paid than ConnectWise, but ConnectWise invoice "
                    f"{invoice.number} has only {money(room)} open{after} (it was probably edited after the "
                    f"payment): Tally records {money(room)}, which closes it, and the other "
                    f"{money(need - room)} needs a person."
                )
                out.append(_with(finding, _fix(fix, amount=str(room), closes="yes"), note))
        else:
            out.append(finding)
    return out


def _compose(findings: list[Finding], books: PlanBooks) -> list[Finding]:
    """Tell each fix which values its re-check may find once its siblings on the same documents ran."""
    cw_credit_effects: dict[int, list[Decimal]] = defaultdict(list)  # CW invoice id -> credits added
    qbo_balance_effects: dict[str, list[Decimal]] = defaultdict(list)  # QBO invoice id -> balance taken off
    for finding in findings:
        fix = finding.fix
        if fix is None:
            continue
        if fix.kind == CREDIT_CW:
            cw_credit_effects[int(fix.params["cw_invoice_id"])].append(_amount(fix))
        elif fix.kind == CREDIT_QBO:
            qbo_balance_effects[fix.params["qbo_invoice_id"]].append(-_amount(fix))
    out = []
    for finding in findings:
        fix = finding.fix
        if fix is None or fix.kind not in (BACKFLOW, CREDIT_CW, CREDIT_QBO):
            out.append(finding)
            continue
        changes: dict[str, str] = {}
        cw_id = _cw_invoice_id(fix, finding)
        q_id = fix.params.get("qbo_invoice_id") or finding.qbo.get("id")
        own = -_amount(fix)
        cw_effects = [e for e in cw_credit_effects.get(cw_id or -1, [])]
        q_effects = list(qbo_balance_effects.get(q_id or "", []))
        if fix.kind == CREDIT_CW and cw_effects:
            cw_effects.remove(-own)
        if fix.kind == CREDIT_QBO and q_effects:
            q_effects.remove(own)
        if cw_effects and fix.kind != BACKFLOW and "credits" in finding.cw:
            changes["cw_credits_ok"] = _subset_values(Decimal(finding.cw["credits"]), cw_effects)
        if q_effects and "balance" in finding.qbo:
            changes["qbo_balance_ok"] = _subset_values(Decimal(finding.qbo["balance"]), q_effects)
        out.append(_with(finding, _fix(fix, **changes)) if changes else finding)
    return out


def _cw_invoice_id(fix: FixSpec, finding: Finding) -> int | None:
    raw = fix.params.get("cw_invoice_id") or finding.cw.get("id")
    return int(raw) if raw else None
