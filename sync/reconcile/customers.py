"""Which QuickBooks customer is which ConnectWise company.

In order: the stored mapping (a person confirmed it), the account number the sync tool appends to the QBO
display name (``"Acme Co (ACME01)"`` — the Mobius/Wise-Sync "append account number" convention; the exact
format is not documented, so a trailing parenthesised token is read as the account), the exact name, then the
normalised name (case, punctuation, ``&``/``and``, legal suffixes). A name that matches two customers is not
guessed: the company stays unresolved and is reported.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from difflib import SequenceMatcher

from sync.reconcile.model import CwCompany, QboCustomer

_ACCOUNT = re.compile(r"\(([^()]+)\)\s*$")
_SUFFIXES = {
    *("inc", "incorporated", "llc", "pllc", "ltd", "limited", "corp", "corporation", "co", "company"),
    *("plc", "lp", "llp", "pc", "pa", "gmbh"),
}
_PUNCT = re.compile(r"[^\w\s]")
# Apostrophes (straight, curly, modifier) and dots are dropped, not spaced: "O'Brien" and "O’Brien" are "OBrien",
# "L.L.C." is "LLC", "J.P." is "JP".
_JOINING = re.compile(r"['\u2018\u2019\u02bc`.]")


def account_in(display_name: str) -> str | None:
    """Return the account number a sync tool appended to a QBO display name, if any."""
    found = _ACCOUNT.search(display_name)
    return found.group(1).strip().upper() if found else None


def base_name(display_name: str) -> str:
    """Return the display name without an appended account number."""
    return _ACCOUNT.sub("", display_name).strip()


def normalise_name(name: str) -> str:
    """Fold a company name to compare names typed differently in the two systems."""
    plain = "".join(ch for ch in unicodedata.normalize("NFKD", name) if not unicodedata.combining(ch))
    folded = _PUNCT.sub(" ", _JOINING.sub("", plain.casefold()).replace("&", " and "))
    words = folded.split()
    while words and words[-1] in _SUFFIXES:
        words.pop()
    return " ".join(words)


@dataclass(frozen=True)
class CustomerMap:
    """The resolved mapping and how each company was matched."""

    qbo_of: dict[int, str]
    how: dict[int, str]
    unresolved: tuple[int, ...]
    candidates: dict[int, tuple[str, ...]] = field(default_factory=dict)  # unresolved id -> likely customers

    def company_of(self) -> dict[str, int]:
        """Invert the mapping: QBO customer id -> CW company id."""
        return {qbo_id: company_id for company_id, qbo_id in self.qbo_of.items()}


def _unique_index(
    customers: Iterable[QboCustomer], key: Callable[[QboCustomer], Iterable[str | None]]
) -> dict[str, str | None]:
    index: dict[str, list[str]] = defaultdict(list)
    for customer in customers:
        for value in key(customer):
            if value:
                index[value].append(customer.id)
    return {value: ids[0] if len(set(ids)) == 1 else None for value, ids in index.items()}


def map_customers(
    companies: Iterable[CwCompany], customers: Iterable[QboCustomer], stored: dict[int, str]
) -> CustomerMap:
    """Resolve every CW company to one QBO customer, or leave it unresolved."""
    customer_list = list(customers)
    companies_list = list(companies)
    known = {customer.id for customer in customer_list}
    by_account = _unique_index(customer_list, lambda c: [account_in(c.display_name)])
    by_exact = _unique_index(customer_list, lambda c: {base_name(c.display_name), c.company_name or ""})
    by_norm = _unique_index(
        customer_list,
        lambda c: {normalise_name(base_name(c.display_name)), normalise_name(c.company_name or "")},
    )
    qbo_of: dict[int, str] = {}
    how: dict[int, str] = {}
    unresolved: list[int] = []
    for company in companies_list:
        candidates = (
            ("stored", stored.get(company.id) if stored.get(company.id) in known else None),
            ("account", by_account.get((company.account_number or "").strip().upper())),
            ("name", by_exact.get(company.name.strip())),
            ("normalised name", by_norm.get(normalise_name(company.name))),
        )
        for method, qbo_id in candidates:
            if qbo_id:
                qbo_of[company.id], how[company.id] = qbo_id, method
                break
        else:
            unresolved.append(company.id)
    taken = set(qbo_of.values())
    free = [customer for customer in customer_list if customer.id not in taken and customer.active]
    by_id = {company.id: company for company in companies_list}
    offered = {company_id: best_candidates(by_id[company_id], free) for company_id in unresolved}
    return CustomerMap(
        qbo_of=qbo_of,
        how=how,
        unresolved=tuple(unresolved),
        candidates={company_id: found for company_id, found in offered.items() if found},
    )


FUZZY_AT_LEAST = 0.8  # a name this similar is offered to a person as a mapping, never matched silently


def best_candidates(company: CwCompany, customers: Iterable[QboCustomer], limit: int = 3) -> tuple[str, ...]:
    """The QBO customers whose name is most like the company's (similarity at least ``FUZZY_AT_LEAST``)."""
    wanted = normalise_name(company.name)
    scored = []
    for customer in customers:
        names = {normalise_name(base_name(customer.display_name)), normalise_name(customer.company_name or "")}
        score = max(SequenceMatcher(None, wanted, name).ratio() for name in names if name) if any(names) else 0.0
        if score >= FUZZY_AT_LEAST:
            scored.append((-score, customer.id))
    return tuple(customer_id for _, customer_id in sorted(scored)[:limit])
