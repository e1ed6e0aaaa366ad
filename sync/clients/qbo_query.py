"""Build QuickBooks query-language statements from values, escaping every literal.

The language (Intuit "data queries"): ``SELECT * | COUNT(*) FROM Entity [WHERE c AND c ...] [ORDERBY f]
[STARTPOSITION n] [MAXRESULTS n]``; no ``OR``, operators ``= < > <= >= IN LIKE`` (``%`` the only wildcard),
string literals in single quotes with backslash escapes (``O\\'Brien``), so a backslash is escaped too.

Typographic characters: QBO's lexer rejects some characters outside Latin-1 even inside quotes (``’`` U+2019
and ``–`` U+2013 are on record: "Lexical error ... Encountered: "\\u2019" (8217)"). Which ones exactly is
unknown [U], so every character above U+00FF (and every control character) is treated as unsafe: an equality
on such a value is *widened* to ``LIKE`` with ``%`` in place of each unsafe character, and the condition keeps an
exact client-side check (``Query.matches``) that ``iter_query`` applies. A customer called ``O’Brien’s`` is
still found, and ``O'Brien's`` (straight quotes) is not returned in its place.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

Value = str | int | Decimal | bool | date | datetime

_ENTITY = re.compile(r"^[A-Za-z]+$")
_FIELD = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:\.[A-Za-z][A-Za-z0-9]*)*$")
_OPERATORS = frozenset({"=", "<", ">", "<=", ">=", "LIKE"})


def is_safe(text: str) -> bool:
    """Tell whether QBO's lexer is known to accept every character of ``text`` inside quotes."""
    return all(" " <= char <= "\xff" and char != "\x7f" for char in text)


def quote(text: str) -> str:
    """Return ``text`` as a single-quoted literal: ``\\`` becomes ``\\\\`` and ``'`` becomes ``\\'``."""
    if not is_safe(text):
        raise ValueError("the value holds characters QuickBooks' query lexer rejects; use eq() to widen it")
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def literal(value: Value) -> str:
    """Render one value: strings and numbers quoted, booleans bare, dates ISO, datetimes with offset in UTC."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        if value.tzinfo is None:  # QBO reads an offset-less time as the company's local time: never send one
            raise ValueError("a naive datetime is ambiguous in a QuickBooks query; pass an aware one")
        return quote(value.astimezone(UTC).isoformat(timespec="seconds"))
    if isinstance(value, date):
        return quote(value.isoformat())
    return quote(str(value))


def _field(name: str) -> str:
    if not _FIELD.match(name):
        raise ValueError(f"{name!r} is not a QuickBooks field name")
    return name


def _lookup(payload: Mapping[str, Any], name: str) -> Any:
    """Read a dotted field from a payload; a reference (``{"value": ..}``) reads as its value."""
    value: Any = payload
    for part in name.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value.get("value") if isinstance(value, Mapping) else value


@dataclass(frozen=True)
class Condition:
    """One ``WHERE`` term; ``exact`` is False when the SQL was widened and ``matches`` must confirm rows."""

    sql: str
    field: str
    expected: str | None = None
    exact: bool = True

    def matches(self, payload: Mapping[str, Any]) -> bool:
        """Apply the exact test the SQL could only approximate (always True for exact conditions)."""
        return self.exact or _lookup(payload, self.field) == self.expected


def compare(name: str, op: str, value: Value) -> Condition:
    """Return ``name op value``; ``op`` is one of ``= < > <= >= LIKE``."""
    op = op.upper()
    if op not in _OPERATORS:
        raise ValueError(f"{op!r} is not a QuickBooks query operator")
    return Condition(f"{_field(name)} {op} {literal(value)}", name)


def eq(name: str, value: Value) -> Condition:
    """Return ``name = value``, widened to ``LIKE`` (plus an exact check) when the value has unsafe characters."""
    if isinstance(value, str) and not is_safe(value):
        pattern = "".join(char if is_safe(char) else "%" for char in value)
        return Condition(f"{_field(name)} LIKE {quote(pattern)}", name, expected=value, exact=False)
    return compare(name, "=", value)


def ge(name: str, value: Value) -> Condition:
    """Return ``name >= value``."""
    return compare(name, ">=", value)


def like(name: str, pattern: str) -> Condition:
    """Return ``name LIKE pattern`` (``%`` is the wildcard)."""
    return compare(name, "LIKE", pattern)


def in_(name: str, values: Iterable[Value]) -> Condition:
    """Return ``name IN (v1, v2, ...)``; unsafe strings are refused (an IN list cannot be widened)."""
    rendered = [literal(value) for value in values]
    if not rendered:
        raise ValueError(f"an empty IN list for {name!r}")
    return Condition(f"{_field(name)} IN ({', '.join(rendered)})", name)


@dataclass(frozen=True)
class Query:
    """A ``SELECT`` over one entity; ``sql()`` has no paging (``iter_query`` adds it)."""

    entity: str
    conditions: tuple[Condition, ...] = ()
    order_by: str | None = None

    def sql(self) -> str:
        """Render ``SELECT * FROM ... [WHERE ...] [ORDERBY ...]``."""
        text = f"SELECT * FROM {self.entity}{self._where()}"  # noqa: S608 -- every literal is quoted
        return f"{text} ORDERBY {_field(self.order_by)}" if self.order_by else text

    def count_sql(self) -> str:
        """Render ``SELECT COUNT(*) FROM ... [WHERE ...]``."""
        return f"SELECT COUNT(*) FROM {self.entity}{self._where()}"  # noqa: S608 -- as in sql()

    @property
    def exact(self) -> bool:
        """Tell whether the SQL alone selects exactly the wanted rows."""
        return all(condition.exact for condition in self.conditions)

    def matches(self, payload: Mapping[str, Any]) -> bool:
        """Confirm a returned row against the conditions the SQL had to widen."""
        return all(condition.matches(payload) for condition in self.conditions)

    def _where(self) -> str:
        return f" WHERE {' AND '.join(c.sql for c in self.conditions)}" if self.conditions else ""


def select(entity: str, *conditions: Condition | None, order_by: str | None = None) -> Query:
    """Build a query over ``entity`` with the given conditions (None entries are skipped)."""
    if not _ENTITY.match(entity):
        raise ValueError(f"{entity!r} is not a QuickBooks entity name")
    return Query(entity, tuple(c for c in conditions if c is not None), order_by)


def paged(sql: str, start: int, size: int) -> str:
    """Append ``STARTPOSITION start MAXRESULTS size`` (1-based start)."""
    return f"{sql} STARTPOSITION {start} MAXRESULTS {size}"


def rows(query_response: Any) -> list[dict[str, Any]]:
    """Return the entity list of a ``QueryResponse`` (the key is absent when nothing matched)."""
    if not isinstance(query_response, dict):
        return []
    for value in query_response.values():
        if isinstance(value, list):
            return value
    return []
