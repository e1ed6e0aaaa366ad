"""The QBO query language: tokenizer, parser and renderer.

Grammar (D-QUERY; keywords case-insensitive, ``ORDERBY`` and ``ORDER BY`` both accepted)::

    SELECT (* [, field]... | field [, field]... | COUNT(*)) FROM Entity
        [WHERE cond [AND cond]...] [ORDERBY field [ASC|DESC] [, ...]] [STARTPOSITION n] [MAXRESULTS n]
    cond := field (= | < | > | <= | >=) value | field IN (value [, value]...) | field LIKE 'text%'
    value := 'quoted, with \\' escapes' | number | true | false

``OR``, parentheses around conditions, ``GROUP BY`` and anything else are syntax errors, answered 4000 with
a JavaCC-style ``Encountered ...`` detail as the real parser gives. Field projections parse but, as in QBO,
every property is returned.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from sandbox.quickbooks.faults import QBOFault, query_parse_error

Value = str | Decimal | bool
OPERATORS = ("=", "<", ">", "<=", ">=")
KEYWORDS = frozenset(
    [
        "select",
        "from",
        "where",
        "and",
        "or",
        "in",
        "like",
        "orderby",
        "order",
        "by",
        "asc",
        "desc",
        "startposition",
        "maxresults",
        "count",
        "true",
        "false",
        "not",
        "null",
        "is",
        "group",
        "join",
        "limit",
        "offset",
        "having",
        "between",
    ]
)
_TOKEN = re.compile(
    r"""(?P<ws>\s+)
      |(?P<string>'(?:[^'\\]|\\.)*')
      |(?P<number>-?\d+(?:\.\d+)?(?![A-Za-z_]))
      |(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
      |(?P<op><=|>=|<>|!=|[=<>*(),])""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    kind: str  # "string" | "number" | "name" | "keyword" | "op" | "eof"
    text: str
    column: int
    value: Value | None = None


@dataclass(frozen=True)
class Condition:
    """One ``field op value(s)`` test; IN carries several values, the rest one."""

    field: str
    op: str
    values: tuple[Value, ...]


@dataclass(frozen=True)
class Order:
    field: str
    descending: bool = False


@dataclass(frozen=True)
class Query:
    """A parsed query."""

    entity: str
    count: bool = False
    fields: tuple[str, ...] = ()
    where: tuple[Condition, ...] = ()
    order: tuple[Order, ...] = ()
    start: int | None = None
    max_results: int | None = None


# Characters QBO's lexer refuses even inside a quoted literal. The curly apostrophe is on record
# ('Lexical error at line 1, column N. Encountered: "\u2019" (8217), after : ""', ruckus/quickbooks-ruby issues
# #54 and #309, https://github.com/ruckus/quickbooks-ruby/issues/309); the en dash is reported the same way by
# integrators [I]. Which other non-Latin-1 characters it refuses is unverified [U]: the sandbox accepts the rest.
REFUSED_CHARACTERS = frozenset("\u2019\u2013")


def tokenize(text: str) -> list[Token]:
    """Split a query into tokens; a character no token starts with is a lexical error (4000)."""
    for index, char in enumerate(text):
        if char in REFUSED_CHARACTERS:
            raise query_parse_error(
                f"Invalid content. Lexical error at line 1, column {index + 1}.  "
                f'Encountered: "\\u{ord(char):04x}" ({ord(char)}), after : ""'
            )
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        found = _TOKEN.match(text, position)
        if found is None:
            raise query_parse_error(
                f'Lexical error at line 1, column {position + 1}.  Encountered: "{text[position]}" after : ""'
            )
        kind = found.lastgroup or ""
        chunk = found.group()
        if kind != "ws":
            tokens.append(_token(kind, chunk, position + 1))
        position = found.end()
    tokens.append(Token("eof", "<EOF>", len(text) + 1))
    return tokens


def _token(kind: str, chunk: str, column: int) -> Token:
    if kind == "string":
        return Token("string", chunk, column, re.sub(r"\\(.)", r"\1", chunk[1:-1], flags=re.DOTALL))
    if kind == "number":
        return Token("number", chunk, column, Decimal(chunk))
    if kind == "name" and chunk.lower() in KEYWORDS:
        value = {"true": True, "false": False}.get(chunk.lower())
        return Token("keyword", chunk, column, value)
    return Token(kind, chunk, column)


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.index = 0

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def fail(self, *expected: str) -> QBOFault:
        token = self.current
        kind = {"string": "<STRING>", "number": "<NUMBER>", "name": "<ID>", "eof": "<EOF>"}.get(
            token.kind, f'"{token.text.lower()}"'
        )
        wanted = "\n".join(f"    {item} ..." for item in expected)
        where = f"at line 1, column {token.column}"
        return query_parse_error(f'Encountered " {kind} "{token.text} "" {where}.\nWas expecting one of:\n{wanted}')

    def keyword(self, *words: str) -> str | None:
        token = self.current
        if token.kind == "keyword" and token.text.lower() in words:
            self.index += 1
            return token.text.lower()
        return None

    def expect_keyword(self, word: str) -> None:
        if self.keyword(word) is None:
            raise self.fail(f'"{word}"')

    def op(self, *symbols: str) -> str | None:
        token = self.current
        if token.kind == "op" and token.text in symbols:
            self.index += 1
            return token.text
        return None

    def expect_op(self, symbol: str) -> None:
        if self.op(symbol) is None:
            raise self.fail(f'"{symbol}"')

    def name(self) -> str:
        token = self.current
        if token.kind != "name":
            raise self.fail("<ID>")
        self.index += 1
        return token.text

    def integer(self) -> int:
        token = self.current
        if token.kind != "number" or not token.text.isdigit():
            raise self.fail("<INTEGER>")
        self.index += 1
        return int(token.text)

    def value(self) -> Value:
        token = self.current
        if token.kind in ("string", "number") or (token.kind == "keyword" and token.value is not None):
            self.index += 1
            assert token.value is not None
            return token.value
        raise self.fail("<STRING>", "<NUMBER>", '"true"', '"false"')


def parse(text: str) -> Query:
    """Parse a query string, raising a 4000 ``QBOFault`` on any syntax error."""
    parser = _Parser(text)
    parser.expect_keyword("select")
    count, fields = _projection(parser)
    parser.expect_keyword("from")
    entity = parser.name()
    where: list[Condition] = []
    if parser.keyword("where"):
        where.append(_condition(parser))
        while parser.keyword("and"):
            where.append(_condition(parser))
    order = _order(parser)
    start, max_results = _paging(parser)
    if parser.current.kind != "eof":
        expected = ['"and"'] if where else ['"where"']
        raise parser.fail(*expected, '"orderby"', '"startposition"', '"maxresults"', "<EOF>")
    return Query(entity, count, fields, tuple(where), order, start, max_results)


def _projection(parser: _Parser) -> tuple[bool, tuple[str, ...]]:
    if parser.keyword("count"):
        parser.expect_op("(")
        parser.expect_op("*")
        parser.expect_op(")")
        return True, ()
    fields: list[str] = []
    if parser.op("*") is None:
        fields.append(parser.name())
    while parser.op(","):
        fields.append(parser.name())
    return False, tuple(fields)


def _condition(parser: _Parser) -> Condition:
    field = parser.name()
    if parser.keyword("in"):
        parser.expect_op("(")
        values = [parser.value()]
        while parser.op(","):
            values.append(parser.value())
        parser.expect_op(")")
        return Condition(field, "IN", tuple(values))
    if parser.keyword("like"):
        token = parser.current
        if token.kind != "string":
            raise parser.fail("<STRING>")
        parser.index += 1
        assert isinstance(token.value, str)
        return Condition(field, "LIKE", (token.value,))
    symbol = parser.op(*OPERATORS)
    if symbol is None:
        raise parser.fail(*(f'"{item}"' for item in OPERATORS), '"in"', '"like"')
    return Condition(field, symbol, (parser.value(),))


def _order(parser: _Parser) -> tuple[Order, ...]:
    if parser.keyword("order"):
        parser.expect_keyword("by")
    elif parser.keyword("orderby") is None:
        return ()
    order: list[Order] = []
    while True:
        field = parser.name()
        direction = parser.keyword("asc", "desc")
        order.append(Order(field, direction == "desc"))
        if parser.op(",") is None:
            return tuple(order)


def _paging(parser: _Parser) -> tuple[int | None, int | None]:
    start: int | None = None
    max_results: int | None = None
    for _ in range(2):
        word = parser.keyword(*(w for w, v in (("startposition", start), ("maxresults", max_results)) if v is None))
        if word == "startposition":
            start = parser.integer()
        elif word == "maxresults":
            max_results = parser.integer()
    return start, max_results


def quote(value: str) -> str:
    """Quote a string literal, escaping quotes and backslashes."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def render_value(value: Value) -> str:
    """Render a literal."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return str(value)
    return quote(value)


def render(query: Query, *, order_by: str = "ORDERBY", case: Callable[[str], str] = str.upper) -> str:
    """Render a query back to text (``parse(render(q)) == q``); ``case`` styles the keywords."""
    projection = case("count(*)") if query.count else ", ".join(query.fields) or "*"
    parts = [f"{case('select')} {projection} {case('from')} {query.entity}"]
    conditions = []
    for cond in query.where:
        if cond.op == "IN":
            conditions.append(f"{cond.field} {case('in')} ({', '.join(render_value(v) for v in cond.values)})")
        else:
            operator = case(cond.op) if cond.op == "LIKE" else cond.op
            conditions.append(f"{cond.field} {operator} {render_value(cond.values[0])}")
    if conditions:
        parts.append(case("where") + " " + f" {case('and')} ".join(conditions))
    if query.order:
        keys = ", ".join(f"{o.field} {case('desc' if o.descending else 'asc')}" for o in query.order)
        parts.append(f"{case(order_by)} {keys}")
    if query.start is not None:
        parts.append(f"{case('startposition')} {query.start}")
    if query.max_results is not None:
        parts.append(f"{case('maxresults')} {query.max_results}")
    return " ".join(parts)
