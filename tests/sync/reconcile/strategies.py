"""Hypothesis strategies for consistent books: everything mirrored, paid and credited alike in both systems.

Consistent here means what a working sync tool leaves behind: companies mapped to customers by the account number in
the DisplayName; every posted invoice and memo mirrored with the same number (spelled with QBO's whitespace or case)
and total (or a cent or three off, QBO rounding tax per line); payments whole, partial, in instalments, or one payment
across several invoices; memos applied in both systems, in QBO by a zero-total payment with two lines, one line
carrying both links (alone, or riding on a payment of cash for other invoices), or together with cash on the same
invoice; draft invoices and invoices still inside the sync
grace period with no mirror yet.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import strategies as st
from hypothesis.strategies import DrawFn

from tests.sync.reconcile.world import FORMS, NOW, Company, Credit, Doc, Line, Receipt, World

BASES = ("Acme Dental", "Harbor Law Group", "Summit Logistics", "Cedar Realty", "Maple Eye Care", "Quinn Plumbing")
SUFFIXES = ("", " LLC", ", Inc.", " PC")
FIRST_DAY = date(2025, 6, 1)
PENNIES = tuple(Decimal(c) for c in ("-0.03", "-0.02", "-0.01", "0.01", "0.02", "0.03"))


def cents(low: int, high: int) -> st.SearchStrategy[Decimal]:
    """Amounts from ``low`` to ``high`` cents, as two-place Decimals."""
    return st.integers(low, high).map(lambda c: Decimal(c).scaleb(-2))


def _c(amount: Decimal) -> int:
    return int(amount * 100)


class Builder:
    """Adds consistent documents and money to a world, drawing the details."""

    def __init__(self, draw: DrawFn, world: World) -> None:
        self.draw = draw
        self.world = world
        self.sequence = 10000

    def company(self, index: int, base: str) -> Company:
        """Add a company and its customer, DisplayName carrying the account number."""
        name = base + self.draw(st.sampled_from(SUFFIXES))
        account = f"{base[:4].upper()}{index + 1:03d}"
        company = Company(100 + index, name, account, self.world.new_qbo_id(), f"{name} ({account})")
        self.world.companies.append(company)
        return company

    def doc(self, company: Company, *, is_cm: bool = False, total: Decimal | None = None, mirrored: bool = True) -> Doc:
        """Add a posted document and (unless told not to) its mirror."""
        self.sequence += 1
        number = f"CM{self.sequence}" if is_cm else str(self.sequence)
        total = total if total is not None else self.draw(cents(100, 2_000_000))
        spelled = self.draw(st.sampled_from((number, number.lower(), f" {number}", f"{number[:2]} {number[2:]}")))
        day = FIRST_DAY + timedelta(days=self.draw(st.integers(0, 390)))
        qbo_id = self.world.new_qbo_id() if mirrored else None
        doc = Doc(self.sequence, number, is_cm, company, total, day, qbo_id, total, spelled)
        self.world.docs.append(doc)
        return doc

    def maybe_penny(self, doc: Doc) -> None:
        """Sometimes let QBO's total land a few cents from CW's (tax rounded per line)."""
        if doc.total > 1 and self.draw(st.integers(0, 4)) == 0:
            doc.qbo_total = doc.total + self.draw(st.sampled_from(PENNIES))
            doc.penny = True

    def memo(self, company: Company, invoices: list[Doc]) -> None:
        """Add a credit memo, applied in both systems to one of ``invoices`` with room, or left unapplied."""
        room = [i for i in invoices if _c(self.world.cw_balance(i)) >= 100 and not i.penny]
        if not room or self.draw(st.integers(0, 3)) == 0:
            self.doc(company, is_cm=True, total=self.draw(cents(100, 300_000)))
            return
        invoice = self.draw(st.sampled_from(room))
        self.apply(invoice, self.draw(cents(1, _c(self.world.cw_balance(invoice)))))

    def apply(self, invoice: Doc, amount: Decimal) -> Credit:
        """Raise a memo for at least ``amount`` and apply ``amount`` of it to ``invoice`` in both systems."""
        memo = self.doc(invoice.company, is_cm=True, total=amount + self.draw(cents(0, 50_000)))
        form = self.draw(st.sampled_from(FORMS))
        left = _c(self.world.cw_balance(invoice) - amount)
        cash = self.draw(cents(1, left)) if form == "with-cash" and left >= 1 else Decimal("0.00")
        credit = Credit(memo, invoice, amount, amount, form if cash or form != "with-cash" else "two-line", "", cash)
        credit.qbo_id = self.world.new_qbo_id()
        self.world.credits.append(credit)
        return credit

    def pay(self, invoice: Doc, batches: dict[int, Receipt]) -> None:
        """Let the client pay: nothing, in full (maybe in the company's batch payment), in part, or in instalments."""
        cw_due, qbo_due = self.world.cw_balance(invoice), self.world.qbo_balance(invoice)
        scheme = self.draw(st.sampled_from(("none", "full", "full", "partial", "instalments")))
        if scheme == "none" or min(cw_due, qbo_due) <= 0:
            return
        if scheme == "full":
            line = Line(invoice, qbo_due, cw_due)
            if not invoice.penny and self.draw(st.integers(0, 5)) == 0:
                line.cw -= Decimal("0.01")  # the CW user typed the payment a cent short
                invoice.penny = True
            batch = batches.get(invoice.company.id) if self.draw(st.booleans()) else None
            if batch is not None:
                batch.lines.append(line)
            else:
                batches[invoice.company.id] = self.receipt(invoice, [line])
            return
        parts = 2 if scheme == "partial" else self.draw(st.integers(2, 4))
        cuts = sorted(self.draw(st.sets(st.integers(1, _c(min(cw_due, qbo_due))), min_size=1, max_size=parts - 1)))
        for low, high in zip([0, *cuts], cuts, strict=False):
            amount = Decimal(high - low).scaleb(-2)
            self.receipt(invoice, [Line(invoice, amount, amount)])

    def ride(self, credit: Credit) -> None:
        """Maybe carry an application on a payment the client made for other invoices, after its cash lines."""
        company = credit.invoice.company
        receipts = [r for r in self.world.receipts if r.company is company and r.lines[0].invoice is not credit.invoice]
        if credit.form != "two-line" and receipts and self.draw(st.integers(0, 2)):
            credit.receipt = self.draw(st.sampled_from(receipts))

    def receipt(self, invoice: Doc, lines: list[Line]) -> Receipt:
        """Add a QBO payment from ``invoice``'s company."""
        day = invoice.day + timedelta(days=self.draw(st.integers(1, 60)))
        receipt = Receipt(self.world.new_qbo_id(), invoice.company, day, lines)
        self.world.receipts.append(receipt)
        return receipt

    def unsynced(self, company: Company) -> None:
        """Maybe add a draft (open) invoice, and maybe one closed minutes ago: neither has a mirror yet."""
        if self.draw(st.booleans()):
            self.doc(company, mirrored=False).closed = False
        if self.draw(st.booleans()):
            doc = self.doc(company, mirrored=False)
            doc.updated = NOW - timedelta(seconds=self.draw(st.integers(0, 30 * 60 - 1)))

    def spares(self) -> None:
        """Add one of each document the injections need: unpaid, unapplied memo, applied memo, paid alone."""
        company = self.draw(st.sampled_from(self.world.companies))
        self.doc(company, total=self.draw(cents(100, 500_000)))
        self.doc(company, is_cm=True, total=self.draw(cents(100, 100_000)))
        credited = self.doc(company, total=self.draw(cents(200, 500_000)))
        self.apply(credited, self.draw(cents(10, _c(credited.total) - 1)))
        paid = self.doc(company, total=self.draw(cents(100, 500_000)))
        self.receipt(paid, [Line(paid, paid.total, paid.total)])
        self.ride(self.world.credits[-1])


@st.composite
def worlds(draw: DrawFn, *, min_companies: int = 1, spares: bool = False) -> World:
    """Consistent books of 1-4 companies (at least ``min_companies``); ``spares`` guarantees injection targets."""
    world = World()
    build = Builder(draw, world)
    bases = draw(st.permutations(BASES))[: draw(st.integers(min_companies, 4))]
    companies = [build.company(i, base) for i, base in enumerate(bases)]
    invoices = {c.id: [build.doc(c) for _ in range(draw(st.integers(0, 4)))] for c in companies}
    for company in companies:
        for invoice in invoices[company.id]:
            build.maybe_penny(invoice)
        for _ in range(draw(st.integers(0, 2))):
            build.memo(company, invoices[company.id])
    batches: dict[int, Receipt] = {}
    for company in companies:
        for invoice in invoices[company.id]:
            build.pay(invoice, batches)
        build.unsynced(company)
    for credit in world.credits:
        build.ride(credit)
    if spares:
        build.spares()
    return world
