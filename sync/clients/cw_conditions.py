"""Build ConnectWise ``conditions`` strings from values, escaping every literal.

The grammar (ConnectWise developer guide): strings in double quotes, numbers bare, booleans ``True`` /
``False``, datetimes in ``[2024-01-15T00:00:00Z]``, reference paths like ``company/identifier``, operators
``= != < <= > >= contains like in``, combined with ``and``. Callers never splice a value into a string::

    where(eq("type", "CreditMemo"), ge("lastUpdated", since))
    # -> 'type = "CreditMemo" and lastUpdated >= [2024-01-15T00:00:00Z]'

Escaping inside ``"..."``: a backslash before ``"`` and before ``\\`` itself. The guide does not say how a
quote inside a string is written [U]; backslash escapes are the usual reading of its grammar and what the
sandbox parser accepts. URL encoding is left to httpx.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal

Value = str | int | Decimal | bool | datetime | date | None

_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)*$")
_OPERATORS = frozenset({"=", "!=", "<", "<=", ">", ">=", "contains", "like", "not contains", "not like"})


def quote(text: str) -> str:
    """Return ``text`` as a double-quoted conditions string, backslash-escaping ``\\`` and ``"``."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def stamp(moment: datetime | date) -> str:
    """Return a datetime (aware) or a date as ``[YYYY-MM-DDTHH:MM:SSZ]`` in UTC, to the second."""
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
    if moment.tzinfo is None:
        raise ValueError("a naive datetime is ambiguous in ConnectWise conditions; pass an aware one")
    return "[" + moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") + "]"


def literal(value: Value) -> str:
    """Render one value as a conditions literal."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return stamp(value)
    return quote(value)


def field(name: str) -> str:
    """Check that ``name`` is a plain field path such as ``company/identifier``; return it."""
    if not _FIELD.match(name):
        raise ValueError(f"{name!r} is not a ConnectWise field path")
    return name


def compare(name: str, op: str, value: Value) -> str:
    """Return ``name op value`` with the value escaped."""
    if op not in _OPERATORS:
        raise ValueError(f"{op!r} is not a ConnectWise conditions operator")
    return f"{field(name)} {op} {literal(value)}"


def eq(name: str, value: Value) -> str:
    """Return ``name = value``."""
    return compare(name, "=", value)


def ge(name: str, value: Value) -> str:
    """Return ``name >= value``."""
    return compare(name, ">=", value)


def gt(name: str, value: Value) -> str:
    """Return ``name > value``."""
    return compare(name, ">", value)


def in_(name: str, values: Iterable[Value]) -> str:
    """Return ``name in (v1, v2, ...)``; an empty list is refused (it would match nothing or everything)."""
    rendered = [literal(value) for value in values]
    if not rendered:
        raise ValueError(f"an empty list for {name!r}")
    return f"{field(name)} in ({', '.join(rendered)})"


def where(*parts: str | None) -> str | None:
    """Join conditions with ``and`` (each parenthesised when it holds an ``or``); None when there are none."""
    kept = [part for part in parts if part]
    if not kept:
        return None
    return " and ".join(f"({part})" if " or " in part.lower() else part for part in kept)
