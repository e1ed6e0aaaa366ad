"""A small model of both books, kept as events (documents, receipts, credit applications), and the Snapshot it implies.

Every derived number the engine reads — CW ``payments``/``credits``/``balance``, QBO ``Balance``/``RemainingCredit``,
payment lines and ``UnappliedAmt`` — is computed here from the events, so a test changes one event and both systems'
figures follow, the way they would in the real books.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sync.reconcile.model import (
    ZERO,
    CwCompany,
    CwCredit,
    CwDoc,
    Policy,
    QboCustomer,
    QboDoc,
    QboLink,
    QboPayment,
    Snapshot,
)

NOW = datetime(2026, 6, 30, 15, 0, tzinfo=UTC)
POLICY = Policy(now=NOW, tolerance=Decimal("0.05"), grace=timedelta(minutes=30))
LONG_AGO = NOW - timedelta(days=2)
FORMS = ("two-line", "one-line", "with-cash")  # how QBO records a credit-memo application


def live_policy() -> Policy:
    """The check as a team would configure it, run now: a 5-cent tolerance and 30 minutes of sync grace."""
    return Policy(now=datetime.now(UTC), tolerance=Decimal("0.05"), grace=timedelta(minutes=30))


@dataclass(eq=False)
class Company:
    """A CW company and the QBO customer the sync tool made for it."""

    id: int
    name: str
    account: str
    qbo_id: str
    display: str


@dataclass(eq=False)
class Doc:
    """A CW invoice or credit memo and (when ``qbo_id`` is set) its QBO mirror."""

    cw_id: int
    number: str
    is_cm: bool
    company: Company
    total: Decimal
    day: date
    qbo_id: str | None
    qbo_total: Decimal
    qbo_number: str
    qbo_customer: Company | None = None  # None: the company's own customer
    closed: bool = True
    updated: datetime = LONG_AGO
    penny: bool = False  # carries a rounding cent somewhere: injections that assert exact amounts avoid it

    @property
    def customer(self) -> Company:
        """The company whose QBO customer holds the mirror."""
        return self.qbo_customer or self.company


@dataclass(eq=False)
class Line:
    """Cash for one invoice: a QBO payment line and the CW payment row carried back (zero: absent on that side)."""

    invoice: Doc
    qbo: Decimal
    cw: Decimal


@dataclass(eq=False)
class Receipt:
    """A QBO payment (lines to several invoices possible) and, per line, its CW counterpart."""

    qbo_id: str
    company: Company
    day: date
    lines: list[Line]
    unapplied: Decimal = ZERO


@dataclass(eq=False)
class Credit:
    """A credit memo applied to an invoice: in CW (``cw``), and in QBO (``qbo``) by a payment of form ``form``."""

    memo: Doc
    invoice: Doc
    cw: Decimal
    qbo: Decimal
    form: str
    qbo_id: str
    cash: Decimal = ZERO  # "with-cash": cash paid on the same invoice line, recorded in CW too
    receipt: Receipt | None = None  # "one-line" / "with-cash": may ride on a client's payment for other invoices


@dataclass(eq=False)
class Extra:
    """A QBO document with no CW source."""

    qbo_id: str
    number: str | None
    is_cm: bool
    customer: Company
    total: Decimal
    day: date


@dataclass(eq=False)
class World:
    """Both books as events."""

    companies: list[Company] = field(default_factory=list)
    docs: list[Doc] = field(default_factory=list)
    receipts: list[Receipt] = field(default_factory=list)
    credits: list[Credit] = field(default_factory=list)
    extras: list[Extra] = field(default_factory=list)
    stored: dict[int, str] = field(default_factory=dict)
    last_qbo_id: int = 1000

    def new_qbo_id(self) -> str:
        """Return the next QBO Id (ids only grow, as in QBO)."""
        self.last_qbo_id += 1
        return str(self.last_qbo_id)

    def lines_of(self, doc: Doc) -> Iterator[Line]:
        """Every cash line on ``doc``."""
        return (line for receipt in self.receipts for line in receipt.lines if line.invoice is doc)

    def credits_of(self, doc: Doc) -> list[Credit]:
        """Every credit application ``doc`` takes part in (as memo or as invoice)."""
        return [c for c in self.credits if doc in (c.memo, c.invoice)]

    def cash(self, doc: Doc, side: str) -> Decimal:
        """Cash applied to ``doc`` in one system (``"cw"`` or ``"qbo"``)."""
        lines = sum((getattr(line, side) for line in self.lines_of(doc)), ZERO)
        return lines + sum((c.cash for c in self.credits if c.invoice is doc), ZERO)

    def credited(self, doc: Doc, side: str) -> Decimal:
        """Credit applied to an invoice, or taken from a memo, in one system."""
        return sum((getattr(c, side) for c in self.credits_of(doc)), ZERO)

    def cw_balance(self, doc: Doc) -> Decimal:
        """CW's balance: what is still owed on an invoice, or usable on a memo."""
        return doc.total - (ZERO if doc.is_cm else self.cash(doc, "cw")) - self.credited(doc, "cw")

    def qbo_balance(self, doc: Doc) -> Decimal:
        """QBO's Balance (a memo's RemainingCredit)."""
        return doc.qbo_total - (ZERO if doc.is_cm else self.cash(doc, "qbo")) - self.credited(doc, "qbo")

    def touched(self, doc: Doc) -> bool:
        """Whether any money (cash or credit) was applied to or from ``doc`` on either side."""
        return any(True for _ in self.lines_of(doc)) or bool(self.credits_of(doc))

    def snapshot(self) -> Snapshot:
        """Return both books as the cache would hold them."""
        return Snapshot(
            cw_companies=tuple(CwCompany(c.id, f"Co{c.id}", c.name, c.account) for c in self.companies),
            cw_docs=tuple(self._cw_doc(doc) for doc in self.docs),
            cw_credits=tuple(CwCredit(c.invoice.cw_id, c.memo.cw_id, c.cw) for c in self.credits if c.cw),
            qbo_customers=tuple(QboCustomer(c.qbo_id, c.display, c.name) for c in self.companies),
            qbo_docs=(*(self._qbo_doc(doc) for doc in self.docs if doc.qbo_id), *map(_extra_doc, self.extras)),
            qbo_payments=(*self._receipts(), *self._applications()),
            customer_map=dict(self.stored),
        )

    def _cw_doc(self, doc: Doc) -> CwDoc:
        payments = ZERO if doc.is_cm else self.cash(doc, "cw")
        return CwDoc(
            id=doc.cw_id,
            number=doc.number,
            type="CreditMemo" if doc.is_cm else "Standard",
            company_id=doc.company.id,
            total=doc.total,
            payments=payments,
            credits=self.credited(doc, "cw"),
            balance=self.cw_balance(doc),
            is_closed=doc.closed,
            date=doc.day,
            last_updated=doc.updated,
        )

    def _qbo_doc(self, doc: Doc) -> QboDoc:
        assert doc.qbo_id is not None
        balance = self.qbo_balance(doc)
        entity = "CreditMemo" if doc.is_cm else "Invoice"
        remaining = balance if doc.is_cm else None
        return QboDoc(
            entity, doc.qbo_id, doc.qbo_number, doc.customer.qbo_id, doc.qbo_total, balance, remaining, doc.day
        )

    def _receipts(self) -> Iterator[QboPayment]:
        for receipt in self.receipts:
            links = [_link(n, line.invoice, "Invoice", line.qbo) for n, line in enumerate(receipt.lines) if line.qbo]
            riding = [c for c in self.credits if c.receipt is receipt and (c.qbo or c.cash)]
            memo_lines = []
            for n, c in enumerate(riding, start=len(receipt.lines)):
                if c.form == "one-line":
                    links += [_link(n, c.invoice, "Invoice", c.qbo), _link(n, c.memo, "CreditMemo", c.qbo)]
                else:  # with-cash: the invoice's line carries cash and credit; the memo's line comes after all
                    links.append(_link(n, c.invoice, "Invoice", c.cash + c.qbo))
                    memo_lines += [(c.memo, c.qbo)] if c.qbo else []
            start = len(receipt.lines) + len(riding)
            links += [_link(n, memo, "CreditMemo", amount) for n, (memo, amount) in enumerate(memo_lines, start=start)]
            cash = sum((line.qbo for line in receipt.lines), ZERO) + sum((c.cash for c in riding), ZERO)
            if links or receipt.unapplied:
                total = cash + receipt.unapplied
                yield QboPayment(
                    receipt.qbo_id, receipt.company.qbo_id, total, receipt.unapplied, tuple(links), receipt.day
                )

    def _applications(self) -> Iterator[QboPayment]:
        for c in self.credits:
            if c.receipt is not None:
                continue
            if c.form == "with-cash" and (c.qbo or c.cash):
                links = [_link(0, c.invoice, "Invoice", c.cash + c.qbo)]
                links += [_link(1, c.memo, "CreditMemo", c.qbo)] if c.qbo else []
            elif c.qbo:
                memo_line = 0 if c.form == "one-line" else 1  # one line carrying both LinkedTxn, or two lines
                links = [_link(0, c.invoice, "Invoice", c.qbo), _link(memo_line, c.memo, "CreditMemo", c.qbo)]
            else:
                continue
            yield QboPayment(c.qbo_id, c.invoice.customer.qbo_id, c.cash, ZERO, tuple(links), c.memo.day)


def _link(line_no: int, doc: Doc, txn_type: str, amount: Decimal) -> QboLink:
    assert doc.qbo_id is not None, "money applied in QBO to a document QBO does not have"
    return QboLink(line_no, doc.qbo_id, txn_type, amount)


def _extra_doc(extra: Extra) -> QboDoc:
    entity = "CreditMemo" if extra.is_cm else "Invoice"
    remaining = extra.total if extra.is_cm else None
    return QboDoc(
        entity, extra.qbo_id, extra.number, extra.customer.qbo_id, extra.total, extra.total, remaining, extra.day
    )


def cw_ar(world: World, company: Company) -> Decimal:
    """ConnectWise open AR of ``company``, from the events: posted invoices owed less memos' usable credit."""
    docs = [d for d in world.docs if d.company is company and d.closed]
    return sum(((-1 if d.is_cm else 1) * world.cw_balance(d) for d in docs), ZERO)


def qbo_ar(world: World, company: Company) -> Decimal:
    """QuickBooks open AR of ``company``'s customer: invoices owed less memo credit less unapplied payments."""
    mirrors = sum(
        ((-1 if d.is_cm else 1) * world.qbo_balance(d) for d in world.docs if d.qbo_id and d.customer is company),
        ZERO,
    )
    extras = sum(((-1 if e.is_cm else 1) * e.total for e in world.extras if e.customer is company), ZERO)
    unapplied = sum((r.unapplied for r in world.receipts if r.company is company), ZERO)
    return mirrors + extras - unapplied
