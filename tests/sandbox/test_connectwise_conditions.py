"""The conditions language: parser round trips, semantics against a reference evaluator, rejections, HTTP use."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox.connectwise.conditions import Comparison, ConditionError, Literal, Logical, Node, parse
from sandbox.connectwise.predicates import compile_node
from sandbox.connectwise.schema import INVOICE, UnknownField
from sandbox.connectwise.values import format_time
from tests.sandbox.cw_fixtures import CW, cw, seed_company, seed_invoice

__all__ = ["cw"]

# -- generators ----------------------------------------------------------------------------------------------
KINDS = {
    "invoiceNumber": "text",
    "company/identifier": "text",
    "total": "number",
    "taxableFlag": "bool",
    "status/isClosed": "bool",
    "date": "time",
    "lastUpdated": "time",
}
OPS = {
    "text": ["=", "!=", "<", "<=", ">", ">=", "contains", "not contains", "like", "not like", "in", "not in"],
    "number": ["=", "!=", "<", "<=", ">", ">=", "in", "not in"],
    "bool": ["=", "!="],
    "time": ["=", "!=", "<", "<=", ">", ">=", "in", "not in"],
}
TIMES = [datetime(2024, 1, day, hour, tzinfo=UTC) for day in (1, 2) for hour in (0, 12)]
texts = st.text(alphabet="aAbB%*'\"\\ _", max_size=4)
numbers = st.decimals(min_value=-3, max_value=3, places=1, allow_nan=False, allow_infinity=False)
VALUES: dict[str, st.SearchStrategy[Any]] = {
    "text": texts,
    "number": numbers,
    "bool": st.booleans(),
    "time": st.sampled_from(TIMES),
}


def _cased(name: str) -> st.SearchStrategy[str]:
    return st.lists(st.booleans(), min_size=len(name), max_size=len(name)).map(
        lambda flips: "".join(c.upper() if flip else c.lower() for c, flip in zip(name, flips, strict=True))
    )


@st.composite
def comparisons(draw: st.DrawFn) -> Comparison:
    field = draw(st.sampled_from(sorted(KINDS)))
    kind = KINDS[field]
    op = draw(st.sampled_from(OPS[kind]))
    if op.endswith("in"):
        value: Literal | tuple[Literal, ...] = tuple(draw(st.lists(VALUES[kind], min_size=1, max_size=3)))
    elif op in ("=", "!=") and draw(st.integers(0, 5)) == 0:
        value = None
    else:
        value = draw(VALUES[kind])
    return Comparison(draw(_cased(field)), op, value)


trees: st.SearchStrategy[Node] = st.recursive(
    comparisons(),
    lambda children: st.builds(Logical, st.sampled_from(["and", "or"]), children, children),
    max_leaves=6,
)
records = st.fixed_dictionaries(
    {
        "invoiceNumber": st.none() | texts,
        "total": st.none() | numbers,
        "taxableFlag": st.none() | st.booleans(),
        "date": st.none() | st.sampled_from(TIMES).map(format_time),
        "company": st.fixed_dictionaries({"identifier": st.none() | texts}),
        "status": st.fixed_dictionaries({"isClosed": st.booleans()}),
        "_info": st.fixed_dictionaries({"lastUpdated": st.sampled_from(TIMES).map(format_time)}),
    }
)


# -- an independent renderer (random quoting, keyword case, spacing, redundant parentheses) ------------------
def _word(draw: st.DrawFn, word: str) -> str:
    return draw(_cased(word))


def _literal(draw: st.DrawFn, value: Literal) -> str:
    if value is None:
        return _word(draw, "null")
    if isinstance(value, bool):
        return _word(draw, str(value))
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return "[" + value.strftime("%Y-%m-%dT%H:%M:%SZ") + "]"
    quote = draw(st.sampled_from(["'", '"']))
    return quote + value.replace("\\", "\\\\").replace(quote, "\\" + quote) + quote


def _render(draw: st.DrawFn, node: Node) -> str:
    if isinstance(node, Comparison):
        if isinstance(node.value, tuple):
            operand = "(" + ",".join(_literal(draw, item) for item in node.value) + ")"
        else:
            operand = _literal(draw, node.value)
        if node.op[0].isalpha():
            op = " ".join(_word(draw, word) for word in node.op.split())
            return f"{node.field} {op} {operand}"
        gap = draw(st.sampled_from(["", " ", "  "]))
        return f"{node.field}{gap}{node.op}{gap}{operand}"
    left, right = _render(draw, node.left), _render(draw, node.right)
    needs_left = node.op == "and" and isinstance(node.left, Logical) and node.left.op == "or"
    needs_right = isinstance(node.right, Logical) and (node.op == "and" or node.right.op == "or")
    if needs_left or draw(st.integers(0, 6)) == 0:
        left = f"({left})"
    if needs_right or draw(st.integers(0, 6)) == 0:
        right = f"( {right} )"
    return f"{left} {_word(draw, node.op)} {right}"


@st.composite
def rendered(draw: st.DrawFn) -> tuple[Node, str]:
    node = draw(trees)
    return node, _render(draw, node)


# -- a reference evaluator of the documented semantics -------------------------------------------------------
def _value(record: dict[str, Any], field: str) -> Any:
    path = {"lastupdated": "_info/lastUpdated"}.get(field.lower(), next(k for k in KINDS if k.lower() == field.lower()))
    value: Any = record
    for part in path.split("/"):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _key(value: Any) -> Any:
    if isinstance(value, str):
        return value.casefold()
    if isinstance(value, datetime):
        return format_time(value).casefold()
    return value


def _holds(node: Node, record: dict[str, Any]) -> bool:
    if isinstance(node, Logical):
        left, right = _holds(node.left, record), _holds(node.right, record)
        return (left and right) if node.op == "and" else (left or right)
    value, op, literal = _value(record, node.field), node.op, node.value
    if literal is None:
        return (value is None) == (op == "=")
    if value is None:
        return False
    negate = op.startswith("not ")
    base = op.removeprefix("not ")
    if isinstance(literal, tuple):
        result = _key(value) in [_key(item) for item in literal if item is not None]
    elif base == "contains":
        result = str(literal).casefold() in str(value).casefold()
    elif base == "like":
        pattern = "".join(".*" if c in "%*" else re.escape(c) for c in str(literal))
        result = re.fullmatch(pattern, str(value), re.IGNORECASE | re.DOTALL) is not None
    else:
        compare = {"=": "__eq__", "!=": "__ne__", "<": "__lt__", "<=": "__le__", ">": "__gt__", ">=": "__ge__"}[op]
        result = getattr(_key(value), compare)(_key(literal))
    return result != negate


# -- properties ----------------------------------------------------------------------------------------------
@pytest.mark.slow  # takes long: runs in make test-all (CI)
@settings(max_examples=300, deadline=None)
@given(rendered(), st.lists(records, min_size=1, max_size=6))
def test_rendered_conditions_parse_back_to_the_same_tree_and_meaning(
    case: tuple[Node, str], sample: list[dict[str, Any]]
) -> None:
    tree, text = case
    parsed = parse(text)
    assert parsed == tree, text
    predicate = compile_node(parsed, INVOICE)
    for record in sample:
        assert predicate(record) == _holds(tree, record), (text, record)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="abc/=!<>()[]\"'\\,. 01-_ANDORNOTINLIKE", max_size=30))
def test_arbitrary_text_parses_or_fails_with_a_position(text: str) -> None:
    problem: Exception | None = None
    try:
        compile_node(parse(text), INVOICE)
    except (ConditionError, UnknownField) as exc:
        problem = exc
    if isinstance(problem, ConditionError):
        assert "position" in str(problem)
    if isinstance(problem, UnknownField):
        assert problem.path


# -- examples ------------------------------------------------------------------------------------------------
def test_documented_examples_parse() -> None:
    examples = [
        'summary = "This is my string"',
        "board/id = 123",
        "closedFlag = True",
        "lastUpdated > [2016-08-20T18:04:26Z]",
        'company/identifier = "ABC"',
        'summary not contains "Low Priority"',
        "board/id in (3, 2, 4)",
        "status/id not in (1,2)",
        "lastUpdated>[2016-08-20T18:04:26Z]",
        "summary like 'test'",
        "url like '%example%'",
        "value != null",
        "LastUpdated >= [2024-01-01T00:00:00Z] AND LastUpdated <= [2024-02-01T00:00:00Z]",
        '(contact/name like "Fred%" and closedFlag = false) and dateEntered > [2015-12-23T05:53:27Z] '
        'or summary contains "test"',
    ]
    for text in examples:
        parse(text)


def test_and_binds_tighter_than_or() -> None:
    tree = parse("a = 1 or b = 2 AND c = 3")
    assert isinstance(tree, Logical)
    assert tree.op == "or"
    assert isinstance(tree.right, Logical)
    assert tree.right.op == "and"


def test_escapes_in_strings() -> None:
    assert parse(r'x = "say \"hi\" \\ bye"') == Comparison("x", "=", 'say "hi" \\ bye')
    assert parse(r"x = 'it\'s'") == Comparison("x", "=", "it's")


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('invoiceNumber = "open', "position 17"),
        ("total = ", "position 9"),
        ("total 5", "position 7"),
        ("(total = 5", "position 11"),
        ("total = 5 and", "position 14"),
        ("total in 5", "position 10"),
        ("total not = 5", "position 11"),
        ("date > [yesterday]", "position 8"),
        ("total = 5 total = 6", "position 11"),
        ("total = 5 # 6", "position 11"),
    ],
)
def test_malformed_conditions_say_where(text: str, where: str) -> None:
    with pytest.raises(ConditionError, match=where):
        parse(text)


# -- over HTTP -----------------------------------------------------------------------------------------------
def _books(cw: CW) -> None:
    acme, beta = seed_company(cw.store), seed_company(cw.store, "BETA", "Beta LLC", "B01")
    seed_invoice(cw.store, acme, "1001", "100.00", status={"name": "Sent"}, reference="PO-1")
    seed_invoice(cw.store, acme, "1002", "250.50")
    seed_invoice(cw.store, beta, "CM1003", "40.00", "CreditMemo", status={"name": "Closed"})
    seed_invoice(cw.store, beta, "1004", "99.99", date="2023-06-01T00:00:00Z")


@pytest.mark.parametrize(
    ("conditions", "numbers"),
    [
        ('company/identifier = "acme"', ["1001", "1002"]),
        ("status/isClosed = true", ["1001", "CM1003"]),
        ('type = "CreditMemo"', ["CM1003"]),
        ("total >= 100 and total < 250.5", ["1001"]),
        ('invoiceNumber like "10%" and not_a_field = 1', None),
        ('invoiceNumber like "cm*" or company/name contains "ACME"', ["1001", "1002", "CM1003"]),
        ("invoiceNumber in ('1001', '1004')", ["1001", "1004"]),
        ('invoiceNumber not in ("1001", "1004")', ["1002", "CM1003"]),
        ("reference = null", ["1002", "CM1003", "1004"]),
        ("reference != null", ["1001"]),
        ("date < [2024-01-01T00:00:00Z]", ["1004"]),
        ("lastUpdated > [2000-01-01T00:00:00Z] and _info/updatedBy = 'sandbox'", ["1001", "1002", "CM1003", "1004"]),
        ("(total > 50 or type = 'CreditMemo') and company/id = 251", ["CM1003", "1004"]),
    ],
)
def test_conditions_filter_invoices_over_http(cw: CW, conditions: str, numbers: list[str] | None) -> None:
    _books(cw)
    answer = cw.client.get("/finance/invoices", params={"conditions": conditions})
    if numbers is None:
        assert answer.status_code == 400
        return
    assert answer.status_code == 200, answer.text
    assert [invoice["invoiceNumber"] for invoice in answer.json()] == numbers


@pytest.mark.parametrize("field", ["colour", "company/colour", "total/amount", "status/isClosed/x"])
def test_unknown_fields_are_400_naming_the_field(cw: CW, field: str) -> None:
    answer = cw.client.get("/finance/invoices", params={"conditions": f"{field} = 1"})
    assert answer.status_code == 400
    body = answer.json()
    assert body["code"] == "InvalidObject"
    assert field in body["message"]
    assert body["errors"][0]["field"] == field


def test_syntax_errors_are_400_saying_where(cw: CW) -> None:
    answer = cw.client.get("/finance/invoices/count", params={"conditions": 'total = 5 and (type = "x"'})
    assert answer.status_code == 400
    assert "position 26" in answer.json()["message"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet="ab/=<>()[]\"', 01 andortlk", max_size=20))
def test_the_server_never_fails_on_odd_conditions(cw: CW, text: str) -> None:
    answer = cw.client.get("/finance/invoices", params={"conditions": text})
    assert answer.status_code in (200, 400)
    if answer.status_code == 400:
        assert answer.json()["message"]
