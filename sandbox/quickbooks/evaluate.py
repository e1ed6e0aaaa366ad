"""Run a parsed query against a company: field schema, typed comparisons, ordering, paging.

Which properties are filterable follows Intuit's reference pages; a property the entity has but that is not
filterable is answered 4001 "property 'X' is not queryable" [V3], an unknown one 4001 "Property X not found".
Field and entity names are case-insensitive (Intuit's own sample writes ``Metadata.LastUpdatedTime``).
Name lists (Customer, Item, Account) return only active objects unless the query tests ``Active`` [V D-QUERY].

Choices where the docs are silent [I]: string ``=``/``IN`` are case-sensitive, ``LIKE`` is not; date-only
literals compared with timestamps mean company-local midnight; ``totalCount`` in a page is the page's size.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from sandbox.quickbooks.catalog import Catalog
from sandbox.quickbooks.faults import query_invalid
from sandbox.quickbooks.query import Condition, Query, Value
from sandbox.quickbooks.values import id_key, parse_datetime

MAX_RESULTS = 1000
DEFAULT_RESULTS = 100
_META = {"Id": "id", "MetaData.CreateTime": "datetime", "MetaData.LastUpdatedTime": "datetime"}
_TXN = {"TxnDate": "date", "CustomerRef": "ref", "TotalAmt": "money"}
_SALES = {**_TXN, "DocNumber": "str", "Balance": "money"}
SCHEMA: dict[str, dict[str, str]] = {
    "Invoice": {**_META, **_SALES, "DueDate": "date", "EmailStatus": "str", "PrintStatus": "str"},
    "CreditMemo": {**_META, **_SALES, "RemainingCredit": "money"},
    "Payment": {**_META, **_TXN, "PaymentRefNum": "str", "UnappliedAmt": "money"},
    "Customer": {
        **_META,
        "DisplayName": "str",
        "GivenName": "str",
        "FamilyName": "str",
        "CompanyName": "str",
        "FullyQualifiedName": "str",
        "PrimaryEmailAddr": "email",
        "Active": "bool",
        "Balance": "money",
        "Job": "bool",
        "ParentRef": "ref",
    },
    "Item": {
        **_META,
        "Name": "str",
        "FullyQualifiedName": "str",
        "Active": "bool",
        "Type": "str",
        "Sku": "str",
    },
    "Account": {
        **_META,
        "Name": "str",
        "FullyQualifiedName": "str",
        "Active": "bool",
        "AccountType": "str",
        "Classification": "str",
    },
}
_KNOWN_OTHER = frozenset(
    name.lower()
    for name in [
        "SyncToken",
        "domain",
        "sparse",
        "Line",
        "PrivateNote",
        "CustomerMemo",
        "TxnTaxDetail",
        "LinkedTxn",
        "CustomField",
        "BillEmail",
        "BillAddr",
        "ShipAddr",
        "SalesTermRef",
        "CurrencyRef",
        "Deposit",
        "HomeBalance",
        "ApplyTaxAfterDiscount",
        "DepositToAccountRef",
        "PaymentMethodRef",
        "ARAccountRef",
        "ProcessPayment",
        "Taxable",
        "Notes",
        "PrimaryPhone",
        "Mobile",
        "WebAddr",
        "UnitPrice",
        "IncomeAccountRef",
        "Description",
        "BalanceWithJobs",
        "PrintOnCheckName",
        "PreferredDeliveryMethod",
        "MetaData",
    ]
)
_LOOKUP = {entity: {name.lower(): name for name in fields} for entity, fields in SCHEMA.items()}
_NAME_LISTS = ("Customer", "Item", "Account")

Getter = Callable[[dict[str, Any]], Any]


def entity_name(name: str) -> str:
    """Resolve an entity name case-insensitively (4001 if not queryable here)."""
    for entity in SCHEMA:
        if entity.lower() == name.lower():
            return entity
    raise query_invalid(f"Entity {name} is not supported for query")  # wording [I]


def field_name(entity: str, name: str) -> tuple[str, str]:
    """Resolve a property to (canonical name, kind), or answer 4001."""
    found = _LOOKUP[entity].get(name.lower())
    if found is not None:
        return found, SCHEMA[entity][found]
    if name.lower() in _KNOWN_OTHER:
        raise query_invalid(f"property '{name}' is not queryable")
    raise query_invalid(f"Property {name} not found for Entity {entity}")


def _getter(name: str, kind: str, *, raw: bool = False) -> Getter:
    path = name.split(".")
    leaf = {"ref": "value", "email": "Address"}.get(kind)

    def get(row: dict[str, Any]) -> Any:
        value: Any = row
        for part in path:
            value = value.get(part) if isinstance(value, dict) else None
        if leaf is not None:
            value = value.get(leaf) if isinstance(value, dict) else None
        return value if raw or value is None else _typed(value, kind)

    return get


def _typed(value: Any, kind: str) -> Any:
    if kind == "datetime":
        return parse_datetime(str(value))
    if kind == "money":
        return value if isinstance(value, Decimal) else Decimal(str(value))
    if kind == "id" or kind == "ref":
        return id_key(str(value))
    return value


def coerce(value: Value, kind: str, field: str) -> Any:
    """Turn a literal into the comparable form of a property's kind (4001 if it cannot be)."""
    try:
        if kind == "bool":
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("true", "false"):
                return str(value).lower() == "true"
            raise ValueError(value)
        if isinstance(value, bool):
            raise ValueError(value)
        if kind == "money":
            return Decimal(str(value))
        if kind == "datetime":
            return parse_datetime(str(value))
        if kind in ("id", "ref"):
            return id_key(str(value))
        return str(value)
    except (ValueError, InvalidOperation):
        raise query_invalid(f"invalid value {value!r} for property {field}") from None


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: bool(a == b),
    "<": lambda a, b: bool(a < b),
    ">": lambda a, b: bool(a > b),
    "<=": lambda a, b: bool(a <= b),
    ">=": lambda a, b: bool(a >= b),
}


def predicate(entity: str, cond: Condition) -> Callable[[dict[str, Any]], bool]:
    """Compile one condition into a row test."""
    name, kind = field_name(entity, cond.field)
    get = _getter(name, kind)
    if cond.op == "LIKE":
        text = str(cond.values[0])
        pattern = re.compile("^" + ".*".join(re.escape(part) for part in text.split("%")) + "$", re.I | re.S)
        text_of = _getter(name, kind, raw=True)
        return lambda row: (value := text_of(row)) is not None and bool(pattern.match(str(value)))
    literals = [coerce(value, kind, name) for value in cond.values]
    if cond.op == "IN":
        wanted = set(literals)
        return lambda row: get(row) in wanted
    compare, literal = _COMPARE[cond.op], literals[0]

    def test(row: dict[str, Any]) -> bool:
        value = get(row)
        try:
            return value is not None and compare(value, literal)
        except TypeError:
            return False

    return test


def _sort_key(entity: str, field: str) -> Getter:
    name, kind = field_name(entity, field)
    get = _getter(name, kind)

    def key(row: dict[str, Any]) -> tuple[bool, Any]:
        value = get(row)
        return value is None, value

    return key


class QueryRunner:
    """Evaluates queries, caching filtered/sorted results per (realm, query) until the company changes."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, Any], tuple[int, list[dict[str, Any]]]] = {}
        self._lock = threading.Lock()

    def run(self, company: Catalog, query: Query) -> dict[str, Any]:
        """Answer a query with the ``QueryResponse`` object."""
        entity = entity_name(query.entity)
        for field in query.fields:
            field_name(entity, field)
        where = list(query.where)
        tests = [predicate(entity, cond) for cond in where]
        if entity in _NAME_LISTS and not any(field_name(entity, c.field)[0] == "Active" for c in where):
            tests.append(lambda row: bool(row.get("Active", True)))
        keys = [(_sort_key(entity, o.field), o.descending, field_name(entity, o.field)[0]) for o in query.order]
        start = max(query.start or 1, 1)
        size = DEFAULT_RESULTS if query.max_results is None else query.max_results
        if size > MAX_RESULTS:
            raise query_invalid(f"value {size} is too large. Max allowed value is: {MAX_RESULTS}")  # [I]
        if query.count:
            total = company.count(entity) if not tests else len(self._matching(company, entity, query, tests, []))
            return {"totalCount": total}
        by_id = [desc for _, desc, name in keys if name == "Id"]
        if not tests and (not keys or (len(keys) == 1 and by_id)):
            rows = company.page(entity, start - 1, size, descending=bool(by_id and by_id[0]))
        else:
            rows = self._matching(company, entity, query, tests, keys)[start - 1 : start - 1 + size]
        if not rows:
            return {}
        return {entity: rows, "startPosition": start, "maxResults": len(rows), "totalCount": len(rows)}

    def _matching(
        self,
        company: Catalog,
        entity: str,
        query: Query,
        tests: list[Any],
        keys: list[tuple[Getter, bool, str]],
    ) -> list[dict[str, Any]]:
        cache_key = (company.realm_id, (entity, query.where, query.order))
        with self._lock:
            cached = self._cache.get(cache_key)
        if cached is not None and cached[0] == company.version:
            return cached[1]
        version = company.version
        rows = [row for row in self._candidates(company, entity, query) if all(test(row) for test in tests)]
        for key, descending, _ in reversed(keys):
            rows.sort(key=key, reverse=descending)
        with self._lock:
            if len(self._cache) > 64:
                self._cache.clear()
            self._cache[cache_key] = (version, rows)
        return rows

    def _candidates(self, company: Catalog, entity: str, query: Query) -> list[dict[str, Any]]:
        for cond in query.where:
            name, _ = field_name(entity, cond.field)
            if cond.op not in ("=", "IN") or name not in ("Id", "DocNumber"):
                continue
            wanted = [str(value) for value in cond.values if not isinstance(value, bool)]
            with company.lock:
                if name == "Id":
                    found = [company.rows[entity].get(value) for value in wanted]
                else:
                    index = company.docnumbers.get(entity, {})
                    found = [company.rows[entity].get(i) for value in wanted for i in index.get(value, [])]
            unique = {id(row): row for row in found if row is not None}
            return sorted(unique.values(), key=lambda row: id_key(row["Id"]))
        return company.snapshot(entity)
