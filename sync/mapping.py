"""Customer mapping as a workflow: which ConnectWise companies Tally cannot check, their best QuickBooks candidates,
and a person's confirmation, stored (``customer_map``) and audited. A confirmed mapping wins over every heuristic.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.engine import Engine

from sync import audit
from sync.cache.snapshot import load_snapshot
from sync.db import session_scope
from sync.models import CustomerLink, utcnow
from sync.reconcile.customers import map_customers
from sync.reconcile.model import ZERO, CwCompany, QboCustomer, Snapshot


class MappingError(ValueError):
    """A company or customer that cannot be found, said in a sentence."""


@dataclass(frozen=True)
class Unmapped:
    """A CW company Tally cannot check, what it has open in ConnectWise, and the QBO customers it may be."""

    company: CwCompany
    open_amount: Decimal
    candidates: tuple[QboCustomer, ...]

    @property
    def label(self) -> str:
        """How finance people know the company: its account number, else its identifier."""
        return self.company.account_number or self.company.identifier


def unmapped(engine: Engine) -> list[Unmapped]:
    """Every CW company with no confirmed or certain QBO customer, largest open amount first (from the cache)."""
    with session_scope(engine) as session:
        snapshot = load_snapshot(session, customer_map=stored(engine))
    return unmapped_in(snapshot)


def unmapped_in(snapshot: Snapshot) -> list[Unmapped]:
    """``unmapped`` of one snapshot (its ``customer_map`` holds the confirmed mappings)."""
    cmap = map_customers(snapshot.cw_companies, snapshot.qbo_customers, snapshot.customer_map)
    customers = {customer.id: customer for customer in snapshot.qbo_customers}
    companies = {company.id: company for company in snapshot.cw_companies}
    open_amount: dict[int | None, Decimal] = defaultdict(lambda: ZERO)
    for doc in snapshot.cw_docs:
        if doc.is_closed:
            open_amount[doc.company_id] += -abs(doc.balance) if doc.is_cm else doc.balance
    found = [
        Unmapped(
            companies[company_id],
            open_amount.get(company_id, ZERO),
            tuple(customers[c] for c in cmap.candidates.get(company_id, ()) if c in customers),
        )
        for company_id in cmap.unresolved
    ]
    return sorted(found, key=lambda item: (-item.open_amount, item.company.name))


def stored(engine: Engine) -> dict[int, str]:
    """The confirmed mappings: CW company id -> QBO customer id."""
    with session_scope(engine) as session:
        return {row.cw_company_id: row.qbo_customer_id for row in session.execute(select(CustomerLink)).scalars()}


def find_company(companies: list[CwCompany], text: str) -> CwCompany:
    """A company named by id, identifier, account number or exact name (case-insensitive)."""
    wanted = text.strip().casefold()
    for company in companies:
        names = {str(company.id), company.identifier, company.account_number or "", company.name}
        if wanted in {name.casefold() for name in names if name}:
            return company
    raise MappingError(f"No ConnectWise company is called {text!r}; `tally map` lists the companies to map.")


def find_customer(customers: list[QboCustomer], text: str) -> QboCustomer:
    """A customer named by QBO id or exact display name (case-insensitive)."""
    wanted = text.strip().casefold()
    for customer in customers:
        if wanted in {customer.id.casefold(), customer.display_name.casefold()}:
            return customer
    raise MappingError(f"No QuickBooks customer is called {text!r}; use its Id or its exact display name.")


def confirm(engine: Engine, company_text: str, customer_text: str, *, actor: str) -> tuple[CwCompany, QboCustomer]:
    """Store that ``company_text`` is ``customer_text`` in QuickBooks (audited ``mapping.confirmed``)."""
    with session_scope(engine) as session:
        snapshot = load_snapshot(session)
    company = find_company(list(snapshot.cw_companies), company_text)
    customer = find_customer(list(snapshot.qbo_customers), customer_text)
    with session_scope(engine, write_lock=True) as session:
        row = session.get(CustomerLink, company.id)
        before = row.qbo_customer_id if row else None
        if row is None:
            row = CustomerLink(cw_company_id=company.id, qbo_customer_id=customer.id)
            session.add(row)
        row.qbo_customer_id, row.confirmed_by, row.at = customer.id, actor, utcnow()
        was = f" (was QuickBooks customer Id {before})" if before and before != customer.id else ""
        audit.record(
            session,
            actor=actor,
            verb="mapping.confirmed",
            subject=f"company:{company.id}",
            detail=(
                f"ConnectWise company {company.name} ({company.account_number or company.identifier}) is QuickBooks "
                f"customer {customer.display_name} (Id {customer.id}){was}."
            ),
        )
    return company, customer
