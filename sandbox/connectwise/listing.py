"""List endpoints: conditions, orderBy, fields, navigable and forward-only paging, Link headers, counts.

Navigable paging (``page``/``pageSize``, default 25, capped at 1000) answers a ``Link`` header (RFC 5988)
with ``first``/``prev``/``next``/``last``; ``prev``/``next`` are left out where there is none, ``page=`` is
the last query parameter of each URL (clients parse it with ``page=(\\d+)>; rel=...``) and every other
parameter, ``conditions`` included, is kept. Forward-only paging (header ``pagination-type: forward-only``)
walks ids upward from ``pageId`` and links the next ``pageId`` until the last page, which carries an empty
``Link`` header."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from sandbox.connectwise.conditions import ConditionError
from sandbox.connectwise.errors import CWError, bad_request
from sandbox.connectwise.predicates import Getter, Predicate, compile_conditions, getter
from sandbox.connectwise.records import Record
from sandbox.connectwise.schema import Resource, UnknownField
from sandbox.web import Request

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 1000
_PAGING_NAMES = frozenset({"page", "pagesize", "pageid"})


@dataclass(frozen=True)
class Plan:
    """One list request, parsed and compiled once."""

    predicate: Predicate | None
    order: tuple[tuple[Getter, bool], ...]  # (field reader, descending)
    fields: tuple[tuple[str, ...], ...] | None
    page: int
    page_size: int
    page_id: int
    forward_only: bool


@dataclass(frozen=True)
class Page:
    """The records of one page and what the Link header needs."""

    items: list[Record]
    total: int
    more: bool


def plan(request: Request, resource: Resource, *, forward_only_known: bool = True) -> Plan:
    """Parse a list request's query (parameter names case-insensitive); raise ``CWError`` 400 on bad input.

    ``forward_only_known=False`` plays a codebase older than 2018.5, which ignores ``pagination-type``.
    """
    asked = (request.header("pagination-type") or "").strip().lower() == "forward-only"
    forward_only = asked and forward_only_known
    order_by = (request.arg("orderBy", ignore_case=True) or "").strip()
    if forward_only and order_by:
        raise bad_request("orderBy is not supported with forward-only pagination; results are ordered by id.")
    fields = (request.arg("fields", ignore_case=True) or "").strip()
    return Plan(
        predicate=predicate(request.arg("conditions", ignore_case=True), resource),
        order=_order(order_by, resource),
        fields=_fields(fields, resource) if fields else None,
        page=max(1, _integer(request, "page", 1)),
        page_size=_page_size(_integer(request, "pageSize", DEFAULT_PAGE_SIZE)),
        page_id=max(0, _integer(request, "pageId", 0)),
        forward_only=forward_only,
    )


def predicate(conditions: str | None, resource: Resource) -> Predicate | None:
    """Compile a ``conditions`` value; ``None`` when empty; 400 on syntax errors and unknown fields."""
    if not conditions or not conditions.strip():
        return None
    try:
        return compile_conditions(conditions, resource)
    except ConditionError as exc:
        raise bad_request(f"The conditions are invalid: {exc}.") from None
    except UnknownField as exc:
        raise unknown_field(exc, "conditions") from None


def unknown_field(exc: UnknownField, parameter: str) -> CWError:
    """Build the 400 for a field the resource does not have [I: exact ConnectWise text unknown]."""
    message = f"Unknown field '{exc.path}' on {exc.resource}."
    error = {"code": "InvalidField", "message": message, "resource": exc.resource, "field": exc.path}
    body = {"code": "InvalidObject", "message": f"The {parameter} are invalid: {message}", "errors": [error]}
    return CWError(400, body)


def _order(order_by: str, resource: Resource) -> tuple[tuple[Getter, bool], ...]:
    terms: list[tuple[Getter, bool]] = []
    for part in filter(None, (piece.strip() for piece in order_by.split(","))):
        words = part.split()
        direction = words[1].lower() if len(words) == 2 else "asc"
        if len(words) > 2 or direction not in ("asc", "desc"):
            raise bad_request(f"The orderBy term '{part}' is invalid; use 'field asc' or 'field desc'.")
        try:
            terms.append((getter(resource.resolve(words[0])), direction == "desc"))
        except UnknownField as exc:
            raise unknown_field(exc, "orderBy") from None
    return tuple(terms)


def _fields(fields: str, resource: Resource) -> tuple[tuple[str, ...], ...]:
    paths: list[tuple[str, ...]] = []
    for name in filter(None, (piece.strip() for piece in fields.split(","))):
        try:
            paths.append(resource.resolve(name))
        except UnknownField:
            continue  # unknown names simply select nothing [I]
    return tuple(paths)


def _integer(request: Request, name: str, default: int) -> int:
    raw = request.arg(name, ignore_case=True)
    if raw is None or not raw.strip():
        return default
    try:
        return int(raw)
    except ValueError:
        raise bad_request(f"The value '{raw}' is not valid for {name}.") from None


def _page_size(size: int) -> int:
    # Past 1000 ConnectWise sends at most 1000 [I]; zero or negative fall back to the default [I].
    return DEFAULT_PAGE_SIZE if size < 1 else min(size, MAX_PAGE_SIZE)


def select(query: Plan, ids: Sequence[int], records: Mapping[int, Record]) -> Page:
    """Pick the page's records (run under the store's lock; records are returned, not copied)."""
    size = query.page_size
    if query.forward_only:
        found: list[Record] = []
        for index in range(bisect_right(ids, query.page_id), len(ids)):
            record = records[ids[index]]
            if query.predicate is None or query.predicate(record):
                found.append(record)
                if len(found) > size:
                    break
        return Page(found[:size], len(found), len(found) > size)
    start = (query.page - 1) * size
    if query.predicate is None and not query.order:
        return Page([records[i] for i in ids[start : start + size]], len(ids), start + size < len(ids))
    match = query.predicate
    matched = [records[i] for i in ids] if match is None else [r for r in map(records.__getitem__, ids) if match(r)]
    for get, descending in reversed(query.order):
        matched.sort(key=_sorter(get), reverse=descending)
    return Page(matched[start : start + size], len(matched), start + size < len(matched))


def count(query: Plan, ids: Sequence[int], records: Mapping[int, Record]) -> int:
    """Count the records the conditions select."""
    if query.predicate is None:
        return len(ids)
    match = query.predicate
    return sum(1 for record_id in ids if match(records[record_id]))


def _sorter(get: Getter) -> Callable[[Record], tuple[int, Any]]:
    return lambda record: _sort_key(get(record))


def _sort_key(value: Any) -> tuple[int, Any]:
    # Nulls first ascending, as SQL Server sorts them; strings case-insensitively (default collation) [I].
    if value is None:
        return (0, 0)
    if isinstance(value, bool):
        return (1, value)
    if isinstance(value, int | float | Decimal):
        return (2, value)
    if isinstance(value, str):
        return (3, value.casefold())
    return (4, str(value))


def project(items: list[Record], fields: tuple[tuple[str, ...], ...]) -> list[Record]:
    """Keep only the requested (possibly nested) fields of each record."""
    out: list[Record] = []
    for record in items:
        picked: Record = {}
        for path in fields:
            _copy_path(record, picked, path)
        out.append(picked)
    return out


def _copy_path(source: Record, target: Record, path: tuple[str, ...]) -> None:
    head, rest = path[0], path[1:]
    if head not in source:
        return
    value = source[head]
    if not rest:
        target[head] = value
    elif isinstance(value, dict):
        child = target.setdefault(head, {})
        if isinstance(child, dict):
            _copy_path(value, child, rest)


def link_header(request: Request, query: Plan, page: Page, *, bare: bool = False) -> str:
    """Build the ``Link`` header value for a page (empty on the last forward-only page).

    ``bare`` sends only the next page's ``<url>``, no ``rel`` (empty on the last page): the reading of the
    header that ConnectWiseManageAPI's ``Invoke-CWMAllResult.ps1`` tolerates by splitting on ``;``
    (https://github.com/christaylorcodes/ConnectWiseManageAPI) [U: whether any codebase sends it so].
    """
    if query.forward_only:
        if not page.more:
            return ""
        url = _url(request, query.page_size, "pageId", page.items[-1]["id"])
        return f"<{url}>" if bare else f'<{url}>; rel="next"'
    pages = max(1, -(-page.total // query.page_size))
    if bare:
        return f"<{_url(request, query.page_size, 'page', query.page + 1)}>" if query.page < pages else ""
    links: list[tuple[str, int]] = [("first", 1)]
    if query.page > 1:
        links.append(("prev", min(query.page - 1, pages)))
    if query.page < pages:
        links.append(("next", query.page + 1))
    links.append(("last", pages))
    return ", ".join(f'<{_url(request, query.page_size, "page", number)}>; rel="{rel}"' for rel, number in links)


def _url(request: Request, page_size: int, name: str, value: int) -> str:
    parts = urlsplit(request.url)
    kept = [
        (key, item) for key, item in parse_qsl(parts.query, keep_blank_values=True) if key.lower() not in _PAGING_NAMES
    ]
    query = urlencode([*kept, ("pageSize", str(page_size)), (name, str(value))], quote_via=quote)
    return f"{parts.scheme}://{parts.netloc}{parts.path}?{query}"
