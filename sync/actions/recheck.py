"""Re-read the live documents just before a write: is the fix still right?

The action's params hold what the books said when it was proposed. If ConnectWise or QuickBooks moved since
(someone recorded the payment or applied the credit by hand, the mirror now exists, the memo's credit was used
elsewhere, a total changed), the answer is a sentence saying so, and the executor writes nothing. Any movement
beyond the tolerance counts: a fix proposed against other numbers is proposed again at the next check rather
than guessed at now. A document that is gone is a reason too; any other failure to read propagates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TypeVar

from sync.actions.proposals import Params, params_of
from sync.clients import qbo_query as q
from sync.clients.connectwise import ConnectWiseClient
from sync.clients.errors import NotFoundError
from sync.clients.quickbooks import QuickBooksClient
from sync.models import Action
from sync.reconcile.documents import LookAlikes, why_alike
from sync.reconcile.model import QboDoc
from sync.reconcile.text import money
from sync.records import CWInvoice, QBOCreditMemo, QBOInvoice

T = TypeVar("T")
NOTHING = "so Tally wrote nothing"


@dataclass(frozen=True)
class Check:
    """The verdict: ``reason`` (None = go ahead), and what the write and a later settle need."""

    reason: str | None = None
    before: tuple[str, ...] = ()  # ids of the records that existed before the write
    balance: Decimal | None = None  # the open balance of the document the write changes
    cw_doc: CWInvoice | None = None
    qbo_memo: QBOCreditMemo | None = None
    qbo_invoice: QBOInvoice | None = None
    record: object = None  # an undo: the live record it deletes or voids, as just read


class _Gone(Exception):
    def __init__(self, sentence: str) -> None:
        self.sentence = sentence


def recheck(action: Action, *, cw: ConnectWiseClient, qbo: QuickBooksClient, tolerance: Decimal) -> Check:
    """Read the documents ``action`` writes to and say whether its fix is still right."""
    params = params_of(action)
    try:
        if action.kind == "backflow_payment":
            return _backflow(params, cw, qbo, tolerance)
        if action.kind == "apply_credit_memo":
            return _credit_in_qbo(params, cw, qbo, tolerance)
        if action.kind == "apply_credit_in_cw":
            return _credit_in_cw(params, cw, qbo, tolerance)
        return _mirror(action.kind, params, cw, qbo, tolerance)
    except _Gone as gone:
        return Check(reason=gone.sentence)


def cw_payment_ids(cw: ConnectWiseClient, invoice_id: int) -> tuple[str, ...]:
    """Return the ids of the payment and credit rows on a ConnectWise invoice."""
    return tuple(str(row.id) for row in cw.list_payments(invoice_id))


def qbo_numbered(qbo: QuickBooksClient, entity: str, number: str) -> list[QBOInvoice | QBOCreditMemo]:
    """Return the QuickBooks invoices or credit memos carrying DocNumber ``number``."""
    kind = QBOCreditMemo if entity == "CreditMemo" else QBOInvoice
    return [kind.from_api(row) for row in qbo.iter_query(q.select(entity, q.eq("DocNumber", number)))]


def mirror_entity(kind: str) -> str:
    """The QuickBooks entity a mirror fix creates."""
    return "CreditMemo" if kind == "mirror_credit_memo" else "Invoice"


def _read(what: str, reader: Callable[[], T]) -> T:
    try:
        return reader()
    except NotFoundError:
        raise _Gone(f"{what} no longer exists, {NOTHING}.") from None


def _moved(now: Decimal, expected: str, tolerance: Decimal, planned: str = "") -> bool:
    """Whether ``now`` is neither the value Tally saw nor one its own planned sibling fixes leave (``planned``)."""
    if not expected:
        return False
    allowed = [Decimal(expected), *(Decimal(value) for value in planned.split(",") if value)]
    return all(abs(now - value) > tolerance for value in allowed)


def _qbo_invoice(qbo: QuickBooksClient, params: Params, tolerance: Decimal, number: str) -> QBOInvoice:
    invoice = _read(f"QuickBooks invoice {number}", lambda: qbo.get(QBOInvoice, params["qbo_invoice_id"]))
    expected = params.get("qbo_balance", "")
    if _moved(invoice.balance, expected, tolerance, params.get("qbo_balance_ok", "")):
        raise _Gone(
            f"The balance of invoice {number} in QuickBooks moved from {money(Decimal(expected))} to "
            f"{money(invoice.balance)} since Tally proposed this (someone changed it by hand), {NOTHING}."
        )
    return invoice


def _enough(open_amount: Decimal, amount: Decimal, sentence: str) -> None:
    """The target refuses any amount above what is open: the tolerance forgives findings, never such a write."""
    if open_amount < amount:
        raise _Gone(f"{sentence}, {NOTHING}.")


def _cw_credits(params: Params, invoice: CWInvoice, tolerance: Decimal) -> None:
    if _moved(invoice.credits, params.get("cw_credits", ""), tolerance, params.get("cw_credits_ok", "")):
        raise _Gone(
            f"ConnectWise now records {money(invoice.credits)} of credits on invoice {invoice.number}, not the "
            f"{money(Decimal(params['cw_credits']))} Tally saw: someone changed the credit by hand, {NOTHING}."
        )


def _backflow(params: Params, cw: ConnectWiseClient, qbo: QuickBooksClient, tolerance: Decimal) -> Check:
    number, amount = params["number"], Decimal(params["amount"])
    invoice = _read(f"ConnectWise invoice {number}", lambda: cw.get_invoice(int(params["cw_invoice_id"])))
    if _moved(invoice.payments, params.get("cw_paid", ""), tolerance):
        raise _Gone(
            f"ConnectWise now records {money(invoice.payments)} paid on invoice {number}, not the "
            f"{money(Decimal(params['cw_paid']))} Tally saw: someone recorded the payment by hand, {NOTHING}."
        )
    if params.get("qbo_invoice_id"):
        _qbo_invoice(qbo, params, tolerance, number)
    _enough(invoice.balance, amount, f"ConnectWise invoice {number} has only {money(invoice.balance)} open")
    return Check(before=cw_payment_ids(cw, invoice.id), balance=invoice.balance)


def _credit_in_qbo(params: Params, cw: ConnectWiseClient, qbo: QuickBooksClient, tolerance: Decimal) -> Check:
    memo_no, number, amount = params["credit_memo"], params["invoice"], Decimal(params["amount"])
    if params.get("cw_invoice_id"):  # the application in ConnectWise is what this copies: is it still there?
        cw_invoice = _read(f"ConnectWise invoice {number}", lambda: cw.get_invoice(int(params["cw_invoice_id"])))
        _cw_credits(params, cw_invoice, tolerance)
    memo = _read(f"QuickBooks credit memo {memo_no}", lambda: qbo.get(QBOCreditMemo, params["qbo_credit_memo_id"]))
    invoice = _qbo_invoice(qbo, params, tolerance, number)
    remaining = memo.remaining_credit
    _enough(remaining, amount, f"Credit memo {memo_no} has only {money(remaining)} of credit left in QuickBooks")
    _enough(invoice.balance, amount, f"Invoice {number} has only {money(invoice.balance)} open in QuickBooks")
    if memo.customer_id != invoice.customer_id:
        raise _Gone(f"Credit memo {memo_no} and invoice {number} now belong to different customers, {NOTHING}.")
    before = tuple(invoice.linked_payment_ids)
    return Check(before=before, balance=invoice.balance, qbo_memo=memo, qbo_invoice=invoice)


def _credit_in_cw(params: Params, cw: ConnectWiseClient, qbo: QuickBooksClient, tolerance: Decimal) -> Check:
    memo_no, number, amount = params["credit_memo"], params["invoice"], Decimal(params["amount"])
    invoice = _read(f"ConnectWise invoice {number}", lambda: cw.get_invoice(int(params["cw_invoice_id"])))
    memo = _read(f"ConnectWise credit memo {memo_no}", lambda: cw.get_invoice(int(params["cw_credit_memo_id"])))
    _cw_credits(params, invoice, tolerance)
    if params.get("qbo_invoice_id"):
        _qbo_invoice(qbo, params, tolerance, number)
    # A memo's usable balance; abs() because the sign ConnectWise gives credit memos is unverified [U].
    left = abs(memo.balance)
    _enough(left, amount, f"Credit memo {memo_no} has only {money(left)} left to apply in ConnectWise")
    _enough(invoice.balance, amount, f"ConnectWise invoice {number} has only {money(invoice.balance)} open")
    return Check(before=cw_payment_ids(cw, invoice.id), balance=invoice.balance)


def _mirror(kind: str, params: Params, cw: ConnectWiseClient, qbo: QuickBooksClient, tolerance: Decimal) -> Check:
    entity, number, amount = mirror_entity(kind), params["number"], Decimal(params["amount"])
    word = "credit memo" if entity == "CreditMemo" else "invoice"
    doc = _read(f"ConnectWise {word} {number}", lambda: cw.get_invoice(int(params["cw_id"])))
    if abs(abs(doc.total) - amount) > tolerance:
        raise _Gone(
            f"ConnectWise {word} {number} now totals {money(abs(doc.total))}, not the {money(amount)} Tally "
            f"proposed to copy, {NOTHING}; the next check proposes the right copy."
        )
    existing = qbo_numbered(qbo, entity, number)
    voided = [found for found in existing if (found.private_note or "").startswith("Voided") and found.total == 0]
    if existing and len(voided) == len(existing):
        raise _Gone(
            f"QuickBooks holds {word} {number} voided (Id {voided[0].id}), as an undo left it: QuickBooks keeps the "
            f"number, so create the copy again by hand if it is wanted, {NOTHING}."
        )
    if existing:
        raise _Gone(
            f"QuickBooks now has {word} {number} (Id {existing[0].id}): it was copied since Tally proposed this, "
            f"{NOTHING}."
        )
    alike = look_alikes(qbo, entity, params, amount, doc.date)
    if alike is not None:
        raise _Gone(
            f"QuickBooks now has {word} {alike.doc_number or f'Id {alike.id}'} (Id {alike.id}) for the same "
            f"customer with {why_alike(number, amount, doc.date, _as_qbo_doc(entity, alike))}: it is "
            f"probably the copy, {NOTHING}; a person must confirm it."
        )
    return Check(before=(), cw_doc=doc)


def look_alikes(
    qbo: QuickBooksClient, entity: str, params: Params, amount: Decimal, day: date | None
) -> QBOInvoice | QBOCreditMemo | None:
    """Search the live QuickBooks the way the check does: the customer's documents with a look-alike number, or
    with the same total and date. Tally never creates a second copy of a document."""
    customer = params.get("qbo_customer_id")
    if not customer:
        return None
    kind = QBOCreditMemo if entity == "CreditMemo" else QBOInvoice
    rows = qbo.iter_query(q.select(entity, q.eq("CustomerRef", customer)))
    candidates = [kind.from_api(row) for row in rows]
    found = LookAlikes(_as_qbo_doc(entity, doc) for doc in candidates).of(
        entity == "CreditMemo", customer, params["number"], amount, day
    )
    return next((doc for doc in candidates if found and doc.id == found[0].id), None)


def _as_qbo_doc(entity: str, doc: QBOInvoice | QBOCreditMemo) -> QboDoc:
    return QboDoc(entity, doc.id, doc.doc_number, doc.customer_id, abs(doc.total), doc.balance, date=doc.txn_date)
