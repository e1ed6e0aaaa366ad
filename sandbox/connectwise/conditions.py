"""The ``conditions`` query language: tokenizer, recursive-descent parser, AST and renderer.

Grammar (from the ConnectWise developer guide's tables; ``and`` binds tighter than ``or``)::

    expr       := and_expr ("or" and_expr)*
    and_expr   := primary ("and" primary)*
    primary    := "(" expr ")" | comparison
    comparison := FIELD operator operand
    operator   := "=" | "!=" | "<" | "<=" | ">" | ">=" | ["not"] ("contains" | "like" | "in")
    operand    := literal | "(" literal ("," literal)* ")"        -- lists only after in / not in
    literal    := "string" | 'string' | number | [datetime] | True | False | null

Keywords are case-insensitive; strings take backslash escapes. ``compile_conditions`` (in ``predicates``)
turns the tree into one Python predicate per request."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sandbox.connectwise.values import format_time, parse_time

Literal = str | Decimal | bool | datetime | None
COMPARISONS = ("=", "!=", "<", "<=", ">", ">=")
WORD_OPERATORS = ("contains", "like", "in")
KEYWORDS = frozenset({"and", "or", "not", "contains", "like", "in", "true", "false", "null"})


class ConditionError(Exception):
    """A conditions string that does not parse; the message says where."""


@dataclass(frozen=True)
class Comparison:
    """``field op value``; ``value`` is a tuple for ``in`` / ``not in``."""

    field: str
    op: str
    value: Literal | tuple[Literal, ...]


@dataclass(frozen=True)
class Logical:
    """``left and right`` or ``left or right``."""

    op: str
    left: Node
    right: Node


Node = Comparison | Logical


@dataclass(frozen=True)
class Token:
    kind: str  # string number datetime op lparen rparen comma word end
    text: str
    pos: int


_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
    |(?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    |(?P<datetime>\[[^\]]*\])
    |(?P<number>-?\d+(?:\.\d+)?(?![\w/]))
    |(?P<op>!=|<=|>=|=|<|>)
    |(?P<lparen>\()|(?P<rparen>\))|(?P<comma>,)
    |(?P<word>[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)*)
    """,
    re.VERBOSE | re.DOTALL,
)
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens; raise ``ConditionError`` at the first character that starts none."""
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        found = _TOKEN.match(text, pos)
        if found is None:
            if text[pos] in "\"'":
                raise ConditionError(f"unterminated string starting at position {pos + 1}")
            if text[pos] == "[":
                raise ConditionError(f"unterminated datetime starting at position {pos + 1}")
            raise ConditionError(f"unexpected character {text[pos]!r} at position {pos + 1}")
        kind = found.lastgroup or ""
        if kind != "ws":
            tokens.append(Token(kind, found.group(), pos))
        pos = found.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


def parse(text: str) -> Node:
    """Parse a conditions string into its tree; raise ``ConditionError`` with the position on bad syntax."""
    parser = _Parser(tokenize(text))
    node = parser.expr()
    if parser.peek().kind != "end":
        parser.fail("expected 'and', 'or' or the end of the conditions")
    return node


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.index = 0

    def peek(self) -> Token:
        return self.tokens[self.index]

    def take(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def fail(self, expected: str) -> None:
        token = self.peek()
        found = "the end of the conditions" if token.kind == "end" else repr(token.text)
        raise ConditionError(f"{expected} at position {token.pos + 1}, found {found}")

    def keyword(self, *words: str) -> str | None:
        token = self.peek()
        if token.kind == "word" and token.text.lower() in words:
            self.index += 1
            return token.text.lower()
        return None

    def expr(self) -> Node:
        node = self.and_expr()
        while self.keyword("or"):
            node = Logical("or", node, self.and_expr())
        return node

    def and_expr(self) -> Node:
        node = self.primary()
        while self.keyword("and"):
            node = Logical("and", node, self.primary())
        return node

    def primary(self) -> Node:
        if self.peek().kind == "lparen":
            self.take()
            node = self.expr()
            if self.peek().kind != "rparen":
                self.fail("expected ')'")
            self.take()
            return node
        token = self.peek()
        if token.kind != "word" or token.text.lower() in KEYWORDS:
            self.fail("expected a field name")
        self.take()
        op = self.operator()
        return Comparison(token.text, op, self.list_operand() if op.endswith("in") else self.literal())

    def operator(self) -> str:
        token = self.peek()
        if token.kind == "op":
            self.take()
            return token.text
        negated = self.keyword("not")
        word = self.keyword(*WORD_OPERATORS)
        if word is None:
            self.fail("expected 'contains', 'like' or 'in' after 'not'" if negated else "expected an operator")
        return f"not {word}" if negated else str(word)

    def list_operand(self) -> tuple[Literal, ...]:
        if self.peek().kind != "lparen":
            self.fail("expected '(' to open the list after 'in'")
        self.take()
        values = [self.literal()]
        while self.peek().kind == "comma":
            self.take()
            values.append(self.literal())
        if self.peek().kind != "rparen":
            self.fail("expected ',' or ')' in the list")
        self.take()
        return tuple(values)

    def literal(self) -> Literal:
        token = self.peek()
        if token.kind == "string":
            self.take()
            return _ESCAPE.sub(r"\1", token.text[1:-1])
        if token.kind == "number":
            self.take()
            return Decimal(token.text)
        if token.kind == "datetime":
            moment = parse_time(token.text[1:-1])
            if moment is None:
                raise ConditionError(f"invalid datetime {token.text} at position {token.pos + 1}")
            self.take()
            return moment
        word = self.keyword("true", "false", "null")
        if word is None:
            self.fail("expected a value (a quoted string, a number, [datetime], True, False or null)")
        return {"true": True, "false": False}.get(str(word))


def render_literal(value: Literal) -> str:
    """Write one literal in conditions syntax."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return f"[{format_time(value)}]"
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render(node: Node) -> str:
    """Write ``node`` back as conditions text that parses to an equal tree."""
    if isinstance(node, Comparison):
        if isinstance(node.value, tuple):
            operand = "(" + ", ".join(render_literal(item) for item in node.value) + ")"
        else:
            operand = render_literal(node.value)
        return f"{node.field} {node.op} {operand}"
    left, right = render(node.left), render(node.right)
    if node.op == "and" and isinstance(node.left, Logical) and node.left.op == "or":
        left = f"({left})"
    if isinstance(node.right, Logical) and (node.op == "and" or node.right.op == "or"):
        right = f"({right})"
    return f"{left} {node.op} {right}"
