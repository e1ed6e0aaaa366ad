"""List queries over HTTP: navigable and forward-only paging, Link headers, orderBy, fields, count."""

from __future__ import annotations

import re
from decimal import Decimal
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from tests.sandbox.cw_fixtures import CW, cw, seed_company, seed_invoice

__all__ = ["cw"]

LINK = re.compile(r'<([^>]*)>; rel="(\w+)"')
FORWARD = {"pagination-type": "forward-only"}


def links(answer: httpx.Response) -> dict[str, str]:
    """Parse a Link header into {rel: url}."""
    return {rel: url for url, rel in LINK.findall(answer.headers.get("link", ""))}


def seed_books(cw: CW, count: int) -> list[int]:
    """Create ``count`` invoices across two companies; every third is a credit memo. Return the Standard ids."""
    first, second = seed_company(cw.store), seed_company(cw.store, "BETA", "Beta LLC", "B01")
    standard: list[int] = []
    for index in range(count):
        kind = "CreditMemo" if index % 3 == 0 else "Standard"
        invoice_id = seed_invoice(cw.store, (first, second)[index % 2], f"{1000 + index}", f"{index * 7 % 50}.25", kind)
        if kind == "Standard":
            standard.append(invoice_id)
    return standard


def test_navigable_paging_follows_next_links_with_conditions_kept(cw: CW) -> None:
    expected = seed_books(cw, 57)
    answer = cw.client.get("/finance/invoices", params={"conditions": 'type = "Standard"', "pageSize": 10})
    seen: list[int] = []
    pages = 0
    while True:
        assert answer.status_code == 200
        seen.extend(invoice["id"] for invoice in answer.json())
        pages += 1
        rels = links(answer)
        for url in rels.values():
            query = parse_qsl(urlsplit(url).query)
            assert query[-1][0] == "page"  # page= last, as clients' regexes expect
            assert ("conditions", 'type = "Standard"') in query
            assert ("pageSize", "10") in query
        if "next" not in rels:
            break
        answer = cw.client.get(rels["next"])
    assert seen == expected
    assert pages == 4  # 38 standard invoices
    assert set(rels) == {"first", "prev", "last"}


def test_link_rels_on_first_middle_and_beyond_the_last_page(cw: CW) -> None:
    seed_books(cw, 30)
    first = links(cw.client.get("/finance/invoices", params={"pageSize": 10}))
    assert set(first) == {"first", "next", "last"}
    assert first["last"].endswith("page=3")
    middle = links(cw.client.get("/finance/invoices", params={"pageSize": 10, "page": 2}))
    assert set(middle) == {"first", "prev", "next", "last"}
    assert middle["prev"].endswith("page=1")
    assert middle["next"].endswith("page=3")
    beyond = cw.client.get("/finance/invoices", params={"pageSize": 10, "page": 9})
    assert beyond.status_code == 200
    assert beyond.json() == []


def test_page_size_defaults_to_25_and_is_capped_at_1000(cw: CW) -> None:
    company = seed_company(cw.store)
    for index in range(1005):
        cw.store.create_invoice({"invoiceNumber": f"N{index}", "type": "Standard", "company": {"id": company}})
    assert len(cw.client.get("/finance/invoices").json()) == 25
    capped = cw.client.get("/finance/invoices", params={"pageSize": 5000})
    assert len(capped.json()) == 1000
    assert links(capped)["next"].endswith("pageSize=1000&page=2")
    bad = cw.client.get("/finance/invoices", params={"pageSize": "many"})
    assert bad.status_code == 400


@pytest.mark.parametrize("conditions", [None, 'type = "Standard"', "id > 1000"])
def test_forward_only_reaches_every_record_once_and_ends_with_an_empty_link(cw: CW, conditions: str | None) -> None:
    standard = seed_books(cw, 50)
    expected = {None: list(range(1, 51)), 'type = "Standard"': standard, "id > 1000": []}[conditions]
    params: dict[str, str | int] = {"pageSize": 7, **({"conditions": conditions} if conditions else {})}
    answer = cw.client.get("/finance/invoices", params=params, headers=FORWARD)
    seen: list[int] = []
    for _ in range(20):
        assert answer.status_code == 200
        seen.extend(invoice["id"] for invoice in answer.json())
        assert "link" in answer.headers  # present on every page, empty on the last
        if answer.headers["link"] == "":
            break
        url, rel = LINK.findall(answer.headers["link"])[0]
        assert rel == "next"
        assert url.endswith(f"pageSize=7&pageId={seen[-1]}")
        answer = cw.client.get(url, headers=FORWARD)
    assert seen == expected


def test_forward_only_page_id_means_id_greater_than_and_refuses_order_by(cw: CW) -> None:
    seed_books(cw, 10)
    after = cw.client.get("/finance/invoices", params={"pageId": 6, "page": 5}, headers=FORWARD)
    assert [invoice["id"] for invoice in after.json()] == [7, 8, 9, 10]
    ordered = cw.client.get("/finance/invoices", params={"orderBy": "total desc"}, headers=FORWARD)
    assert ordered.status_code == 400
    assert "orderBy" in ordered.json()["message"]


def test_order_by_sorts_on_one_or_more_fields(cw: CW) -> None:
    seed_books(cw, 20)
    by_total = cw.client.get("/finance/invoices", params={"orderBy": "total desc, id asc", "pageSize": 100}).json()
    keys = [(-Decimal(str(invoice["total"])), invoice["id"]) for invoice in by_total]
    assert keys == sorted(keys)
    by_company = cw.client.get("/finance/invoices", params={"orderBy": "company/name desc,id desc", "pageSize": 5})
    assert [invoice["company"]["name"] for invoice in by_company.json()] == ["Beta LLC"] * 5
    assert [invoice["id"] for invoice in by_company.json()] == [20, 18, 16, 14, 12]
    unknown = cw.client.get("/finance/invoices", params={"orderBy": "colour asc"})
    assert unknown.status_code == 400
    assert unknown.json()["errors"][0]["field"] == "colour"


def test_fields_returns_a_partial_response_with_nested_paths(cw: CW) -> None:
    seed_books(cw, 3)
    params: dict[str, str | int] = {"fields": "id,invoiceNumber,company/identifier,_info/lastUpdated", "pageSize": 2}
    page = cw.client.get("/finance/invoices", params=params).json()
    assert [set(invoice) for invoice in page] == [{"id", "invoiceNumber", "company", "_info"}] * 2
    assert page[0]["company"] == {"identifier": "ACME"}
    assert set(page[0]["_info"]) == {"lastUpdated"}
    one = cw.client.get("/finance/invoices/2", params={"fields": "id,balance"}).json()
    assert one == {"id": 2, "balance": 7.25}


def test_count_honours_conditions(cw: CW) -> None:
    standard = seed_books(cw, 31)
    count = cw.client.get("/finance/invoices/count", params={"conditions": 'type = "Standard"'})
    assert count.json() == {"count": len(standard)}
    assert cw.client.get("/finance/invoices/count").json() == {"count": 31}
    assert cw.client.get("/finance/invoices/count", params={"conditions": "nope = 1"}).status_code == 400
