"""Compile a conditions tree into one Python predicate over stored records.

Semantics, chosen to match the SQL Server that answers ConnectWise queries [I: inferred, not documented]:

- string comparisons (``=``, ``<``, ``contains``, ``like``...) are case-insensitive (default collation);
- a field holding null matches only ``= null``; every other test on it is false (``!=``, ``not ...`` too);
- ``like`` takes ``%`` and ``*`` as "any run of characters"; other characters are literal;
- datetimes compare as canonical ``YYYY-MM-DDTHH:MM:SSZ`` text, which sorts chronologically;
- a number compared with text (``id = "5"``, ``invoiceNumber = 10231``) is converted where it can be.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from sandbox.connectwise.conditions import Comparison, Literal, Logical, Node, parse
from sandbox.connectwise.schema import Resource
from sandbox.connectwise.values import format_time

Record = Mapping[str, Any]
Predicate = Callable[[Record], bool]
Getter = Callable[[Record], Any]
_MISS = object()
_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


@lru_cache(maxsize=256)
def compile_conditions(text: str, resource: Resource) -> Predicate:
    """Parse and compile ``text`` for ``resource``; raise ``ConditionError`` or ``UnknownField``."""
    return compile_node(parse(text), resource)


def compile_node(node: Node, resource: Resource) -> Predicate:
    """Compile a parsed tree for ``resource`` (field names resolved once, here)."""
    if isinstance(node, Comparison):
        return _comparison(node, resource.resolve(node.field))
    parts = [compile_node(child, resource) for child in _flatten(node, node.op)]
    return _all(parts) if node.op == "and" else _any(parts)


def _all(parts: list[Predicate]) -> Predicate:
    # Short chains get a dedicated closure: a generator per record costs more than the tests themselves.
    if len(parts) == 2:
        first, second = parts
        return lambda record: first(record) and second(record)
    if len(parts) == 3:
        first, second, third = parts
        return lambda record: first(record) and second(record) and third(record)
    return lambda record: all(part(record) for part in parts)


def _any(parts: list[Predicate]) -> Predicate:
    if len(parts) == 2:
        first, second = parts
        return lambda record: first(record) or second(record)
    if len(parts) == 3:
        first, second, third = parts
        return lambda record: first(record) or second(record) or third(record)
    return lambda record: any(part(record) for part in parts)


def _flatten(node: Node, op: str) -> list[Node]:
    """Collect the operands of a chain of one operator without recursing per link (long ``or`` chains)."""
    out: list[Node] = []
    stack: list[Node] = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, Logical) and item.op == op:
            stack.extend((item.right, item.left))
        else:
            out.append(item)
    return out


def getter(path: tuple[str, ...]) -> Getter:
    """Return a fast reader of ``path`` in a record (``None`` where absent)."""
    if len(path) == 1:
        (key,) = path
        return lambda record: record.get(key)
    if len(path) == 2:
        outer, inner = path

        def get2(record: Record) -> Any:
            value = record.get(outer)
            return value.get(inner) if isinstance(value, dict) else None

        return get2

    def get_n(record: Record) -> Any:
        value: Any = record
        for key in path:
            if not isinstance(value, dict):
                return None
            value = value.get(key)
        return value

    return get_n


def _comparison(node: Comparison, path: tuple[str, ...]) -> Predicate:
    op, value = node.op, node.value
    get = getter(path)
    if isinstance(value, tuple):
        return _membership(get, value, negate=op == "not in")
    if op.endswith(("contains", "like")):
        return _text_match(get, op, value)
    if value is None:
        return _null_test(get, op)
    return _ordered(path, _ORDER[op], value)


def _ordered(path: tuple[str, ...], test: Callable[[Any, Any], bool], value: Literal) -> Predicate:
    """Compare with ``= != < <= > >=``; common value types skip the general coercion."""
    coerce, key = _coercer(value)
    fast: tuple[type, ...] = (
        (int, Decimal) if isinstance(value, Decimal) else (str,) if isinstance(value, datetime) else ()
    )

    def slow(found: Any) -> bool:
        found = coerce(found)
        return found is not _MISS and test(found, key)

    if len(path) == 2:  # the hot path (company/id, _info/lastUpdated) inlined: one call per record, not three
        outer, inner = path

        def compare_nested(record: Record) -> bool:
            found = record.get(outer)
            if found.__class__ is not dict:
                return False
            found = found.get(inner)
            if found is None:
                return False
            return test(found, key) if found.__class__ in fast else slow(found)

        return compare_nested
    get = getter(path)

    def compare(record: Record) -> bool:
        found = get(record)
        if found is None:
            return False
        return test(found, key) if found.__class__ in fast else slow(found)

    return compare


def _null_test(get: Getter, op: str) -> Predicate:
    if op == "=":
        return lambda record: get(record) is None
    if op == "!=":
        return lambda record: get(record) is not None
    return lambda record: False  # ordering against null is unknown in SQL, so never true


def _membership(get: Getter, values: tuple[Literal, ...], *, negate: bool) -> Predicate:
    tests = [(coerce, key) for coerce, key in map(_coercer, values) if key is not _MISS]

    def member(record: Record) -> bool:
        raw = get(record)
        if raw is None:
            return False  # SQL: null is neither in nor not in any list
        hit = any(found is not _MISS and found == key for found, key in ((c(raw), k) for c, k in tests))
        return hit != negate

    return member


def _text_match(get: Getter, op: str, value: Literal | tuple[Literal, ...]) -> Predicate:
    pattern = _literal_text(value)
    negate = op.startswith("not ")
    if op.endswith("like"):
        regex = re.compile(_like_regex(pattern), re.IGNORECASE | re.DOTALL)

        def matches(text: str) -> bool:
            return regex.fullmatch(text) is not None

    else:
        needle = pattern.casefold()

        def matches(text: str) -> bool:
            return needle in text.casefold()

    def text_test(record: Record) -> bool:
        raw = get(record)
        if raw is None or isinstance(raw, dict | list):
            return False
        return matches(_as_display(raw)) != negate

    return text_test


def _like_regex(pattern: str) -> str:
    return "".join(".*" if char in "%*" else re.escape(char) for char in pattern)


def _literal_text(value: Literal | tuple[Literal, ...]) -> str:
    if isinstance(value, tuple) or value is None:
        return ""
    return _as_display(value)


def _as_display(value: Any) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _coercer(value: Literal) -> tuple[Callable[[Any], Any], Any]:
    """Return (convert a record value, the literal's comparable form) for one literal."""
    if value is None:
        return (lambda raw: _MISS), _MISS
    if isinstance(value, bool):
        return _as_bool, value
    if isinstance(value, Decimal):
        return _as_number, value
    if isinstance(value, datetime):
        return _as_time_text, format_time(value)
    return _as_text, value.casefold()


def _as_bool(raw: Any) -> Any:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    return _MISS


def _as_number(raw: Any) -> Any:
    if isinstance(raw, bool) or raw is None:
        return _MISS
    if isinstance(raw, int | Decimal | float):
        return raw
    if isinstance(raw, str):
        try:
            number = Decimal(raw)
        except InvalidOperation:
            return _MISS
        return number if number.is_finite() else _MISS
    return _MISS


def _as_time_text(raw: Any) -> Any:
    return raw if isinstance(raw, str) else _MISS


def _as_text(raw: Any) -> Any:
    if raw is None or isinstance(raw, dict | list):
        return _MISS
    return _as_display(raw).casefold()
