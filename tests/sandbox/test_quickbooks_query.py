"""The QBO query language: the parser on its own (round trips, rejections) and queries served over HTTP."""

from __future__ import annotations

import operator
import uuid
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.quickbooks import QBOFault
from sandbox.quickbooks.query import REFUSED_CHARACTERS, Condition, Order, Query, parse, render
from sandbox.web import SandboxServer
from tests.sandbox.qbo_fixtures import QBO, fault, running_qbo

FIELDS = ["Id", "DocNumber", "TotalAmt", "MetaData.LastUpdatedTime", "CustomerRef", "Balance", "TxnDate"]
ENTITIES = ["Invoice", "Payment", "CreditMemo", "Customer", "Item"]

# The characters QBO's lexer refuses even in quotes are left out (test_reads_fidelity checks them).
strings = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="".join(REFUSED_CHARACTERS)), max_size=12
)
decimals = st.integers(min_value=-(10**8), max_value=10**8).map(lambda cents: Decimal(cents) / 100)
literals = st.one_of(strings, decimals, st.booleans())
conditions = st.one_of(
    st.builds(Condition, st.sampled_from(FIELDS), st.sampled_from(["=", "<", ">", "<=", ">="]), st.tuples(literals)),
    st.builds(Condition, st.sampled_from(FIELDS), st.just("IN"), st.lists(literals, min_size=1, max_size=4).map(tuple)),
    st.builds(Condition, st.sampled_from(FIELDS), st.just("LIKE"), st.tuples(strings.map(lambda s: s + "%"))),
)
queries = st.builds(
    Query,
    entity=st.sampled_from(ENTITIES),
    count=st.booleans(),
    where=st.lists(conditions, max_size=4).map(tuple),
    order=st.lists(st.builds(Order, st.sampled_from(FIELDS), st.booleans()), max_size=3).map(tuple),
    start=st.none() | st.integers(min_value=1, max_value=10**6),
    max_results=st.none() | st.integers(min_value=1, max_value=1000),
)
keyword_case = st.sampled_from([str.upper, str.lower, str.title])


# -- parser ---------------------------------------------------------------------------------------------------
@given(queries, st.sampled_from(["ORDERBY", "ORDER BY"]), keyword_case)
def test_rendered_queries_parse_back_to_the_same_query(query: Query, order_by: str, case: object) -> None:
    assert parse(render(query, order_by=order_by, case=case)) == query  # type: ignore[arg-type]


@given(queries.filter(lambda q: len(q.where) >= 2))
def test_or_between_conditions_is_a_4000_parse_error(query: Query) -> None:
    text = render(query)
    broken = text.replace(" AND ", " OR ", 1)
    with pytest.raises(QBOFault) as caught:
        parse(broken)
    assert caught.value.code == "4000"
    assert caught.value.message == "Error parsing query"
    assert caught.value.detail.startswith("QueryParserError: Encountered")


@given(st.text(max_size=60))
def test_garbage_is_rejected_with_4000_or_parses(text: str) -> None:
    try:
        parse(text)
    except QBOFault as exc:
        refused = exc
    else:
        return
    assert refused.code == "4000"
    assert refused.detail.startswith("QueryParserError: ")


@pytest.mark.parametrize(
    "text",
    [
        "select * from Invoice where Id = '1' or Id = '2'",
        "select * from Invoice where (Id = '1')",
        "select * from Invoice where DocNumber != '1'",
        "select * from Invoice group by CustomerRef",
        "select * from Invoice where DocNumber = 'unterminated",
        "select from Invoice",
        "select * from Invoice maxresults ten",
    ],
)
def test_unsupported_syntax_is_a_parse_error(text: str) -> None:
    with pytest.raises(QBOFault) as caught:
        parse(text)
    assert caught.value.code == "4000"


def test_backslash_escapes_a_quote_and_keywords_are_case_insensitive() -> None:
    query = parse("sElEcT * FrOm Customer WhErE DisplayName = 'Amy\\'s Bird' Order By Metadata.LastUpdatedTime Desc")
    assert query.where == (Condition("DisplayName", "=", ("Amy's Bird",)),)
    assert query.order == (Order("Metadata.LastUpdatedTime", descending=True),)


def test_paging_clauses_may_come_in_either_order() -> None:
    assert parse("select * from Invoice maxresults 5 startposition 3") == Query("Invoice", start=3, max_results=5)


# -- served over HTTP -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with running_qbo() as running:
        yield running


@pytest.fixture(scope="module")
def books(server: SandboxServer) -> Iterator[QBO]:
    """A realm with 25 invoices (amounts 10, 20, ... 250) for two customers."""
    qbo = QBO(server, realm=f"q-{uuid.uuid4().hex[:8]}")
    first, second = qbo.customer("Amy's Bird Sanctuary"), qbo.customer("Red Rock Diner")
    for number in range(1, 26):
        qbo.invoice(first if number % 2 else second, str(number * 10), DocNumber=f"INV-{number:03d}")
    yield qbo
    qbo.close()


def ids(response: dict[str, object], entity: str = "Invoice") -> list[int]:
    rows = response.get(entity, [])
    assert isinstance(rows, list)
    return [int(row["Id"]) for row in rows]


def test_pages_are_one_based_and_empty_pages_omit_the_entity(books: QBO) -> None:
    every = ids(books.query("select * from Invoice maxresults 1000"))
    assert len(every) == 25
    page = books.query("select * from Invoice startposition 11 maxresults 10")
    assert ids(page) == every[10:20]
    assert (page["startPosition"], page["maxResults"]) == (11, 10)
    assert books.query("select * from Invoice startposition 26") == {}


def test_maxresults_defaults_to_100_and_is_capped_at_1000(books: QBO) -> None:
    answer = books.get("/query", query="select * from Invoice maxresults 1001")
    assert answer.status_code == 400
    assert fault(answer)["code"] == "4001"
    assert len(ids(books.query("select * from Invoice"))) == 25


def test_count_answers_total_count_only(books: QBO) -> None:
    assert books.query("select count(*) from Invoice") == {"totalCount": 25}
    assert books.query("SELECT COUNT(*) FROM Invoice WHERE TotalAmt > '200'") == {"totalCount": 5}


def test_query_may_be_posted_as_application_text(books: QBO) -> None:
    answer = books.http.post(
        "/query",
        content=b"select * from Invoice where DocNumber = 'INV-007'",
        headers={"Content-Type": "application/text"},
    )
    assert [row["DocNumber"] for row in books.ok(answer)["QueryResponse"]["Invoice"]] == ["INV-007"]


def test_filters_compare_refs_ids_money_and_text(books: QBO) -> None:
    amy = books.query("select * from Customer where DisplayName = 'Amy\\'s Bird Sanctuary'")["Customer"][0]["Id"]
    mine = books.query(f"select * from Invoice where CustomerRef = '{amy}' maxresults 1000")  # noqa: S608
    assert len(ids(mine)) == 13
    chosen = books.query("select * from Invoice where Id in ('3', '5', '999')")
    assert ids(chosen) == [3, 5]
    like = books.query("select * from Invoice where DocNumber like 'INV-01%'")
    assert sorted(row["DocNumber"] for row in like["Invoice"]) == [f"INV-01{n}" for n in range(10)]
    ordered = books.query("select * from Invoice where Balance >= '100' orderby TotalAmt desc maxresults 3")
    assert [row["TotalAmt"] for row in ordered["Invoice"]] == [Decimal(250), Decimal(240), Decimal(230)]


def test_unknown_and_unqueryable_properties_are_4001(books: QBO) -> None:
    unknown = books.get("/query", query="select * from Invoice where Colour = 'red'")
    hidden = books.get("/query", query="select * from Invoice where PrivateNote = 'x'")
    assert [fault(unknown)["code"], fault(hidden)["code"]] == ["4001", "4001"]
    assert "not queryable" in fault(hidden)["Detail"]


def test_or_over_http_is_a_4000_fault(books: QBO) -> None:
    answer = books.get("/query", query="select * from Invoice where Id = '1' or Id = '2'")
    assert answer.status_code == 400
    body = answer.json()
    assert body["Fault"]["type"] == "ValidationFault"
    assert fault(answer)["code"] == "4000"
    assert fault(answer)["Message"] == "Error parsing query"


def test_datetime_literals_compare_as_instants(server: SandboxServer) -> None:
    qbo = QBO(server, realm=f"t-{uuid.uuid4().hex[:8]}")
    customer = qbo.customer("Clock Watcher")
    old = qbo.invoice(customer, "10")
    httpx.post(f"{server.url}/_sandbox/clock", json={"advance_seconds": 120})
    new = qbo.invoice(customer, "20")
    stamp = old["MetaData"]["LastUpdatedTime"]  # offset form, e.g. 2026-01-05T10:00:00-08:00
    later = qbo.query(f"select * from Invoice where MetaData.LastUpdatedTime > '{stamp}'")  # noqa: S608
    assert ids(later) == [int(new["Id"])]
    as_utc = qbo.query("select * from Invoice where Metadata.LastUpdatedTime >= '2015-01-16'")
    assert len(ids(as_utc)) == 2
    qbo.close()


def test_name_lists_return_active_objects_unless_asked(server: SandboxServer) -> None:
    qbo = QBO(server, realm=f"a-{uuid.uuid4().hex[:8]}")
    kept, gone = qbo.create("Customer", {"DisplayName": "Kept"}), qbo.create("Customer", {"DisplayName": "Gone"})
    qbo.ok(qbo.post("/customer", {"Id": gone["Id"], "SyncToken": gone["SyncToken"], "sparse": True, "Active": False}))
    assert ids(qbo.query("select * from Customer"), "Customer") == [int(kept["Id"])]
    both = qbo.query("select * from Customer where Active in (true, false)")
    assert ids(both, "Customer") == [int(kept["Id"]), int(gone["Id"])]
    qbo.close()


@settings(max_examples=40, deadline=None)
@given(
    op=st.sampled_from(["=", "<", ">", "<=", ">="]),
    threshold=st.integers(min_value=0, max_value=26).map(lambda n: n * 10),
    descending=st.booleans(),
)
def test_served_filters_agree_with_a_direct_filter(books: QBO, op: str, threshold: int, descending: bool) -> None:
    compare = {"=": operator.eq, "<": operator.lt, ">": operator.gt, "<=": operator.le, ">=": operator.ge}[op]
    expected = [n for n in range(1, 26) if compare(n * 10, threshold)]
    expected.sort(reverse=descending)
    direction = "desc" if descending else "asc"
    sql = f"select * from Invoice where TotalAmt {op} '{threshold}' order by TotalAmt {direction} maxresults 1000"  # noqa: S608
    rows = books.query(sql).get("Invoice", [])
    assert [int(row["TotalAmt"]) // 10 for row in rows] == expected
