"""The resource handlers behind ``/{codebase}/apis/3.0/``: invoices, invoice payments, companies.

Each handler parses the request, makes one store call and renders the answer; the service wraps them with
authentication, ``CWError`` mapping and the standard response headers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sandbox.connectwise import listing
from sandbox.connectwise.errors import bad_request
from sandbox.connectwise.records import Record
from sandbox.connectwise.schema import COMPANY, INVOICE, PAYMENT, Resource
from sandbox.connectwise.store import CWStore
from sandbox.web import Request, Response

ApiHandler = Callable[[Request], Response]


def routes(store: CWStore, actor: str) -> list[tuple[str, str, ApiHandler]]:
    """Return (method, path pattern under the API prefix, handler) for every resource route."""
    invoices = _Invoices(store, actor)
    payments = _Payments(store, actor)
    companies = _Companies(store, actor)
    one, pay = r"/finance/invoices/(?P<id>\d+)", r"/finance/invoices/(?P<id>\d+)/payments"
    return [
        ("GET", "/finance/invoices", invoices.index),
        ("POST", "/finance/invoices", invoices.create),
        ("GET", "/finance/invoices/count", invoices.count),
        ("GET", one, invoices.get),
        ("PUT", one, invoices.replace),
        ("PATCH", one, invoices.patch),
        ("DELETE", one, invoices.delete),
        ("GET", pay, payments.index),
        ("POST", pay, payments.create),
        ("GET", pay + r"/(?P<payment>\d+)", payments.get),
        ("DELETE", pay + r"/(?P<payment>\d+)", payments.delete),
        ("GET", "/company/companies", companies.index),
        ("POST", "/company/companies", companies.create),
        ("GET", "/company/companies/count", companies.count),
        ("GET", r"/company/companies/(?P<id>\d+)", companies.get),
    ]


def body(request: Request) -> Any:
    """Parse the JSON body or answer 400."""
    try:
        return request.json()
    except (ValueError, UnicodeDecodeError):
        raise bad_request("The request body is not valid JSON.") from None


def page_response(request: Request, query: listing.Plan, page: listing.Page) -> Response:
    """Render a list page with its ``Link`` header."""
    items = listing.project(page.items, query.fields) if query.fields is not None else page.items
    return Response.json(items, headers=[("Link", listing.link_header(request, query, page))])


def one_response(request: Request, record: Record, resource: Resource, status: int = 200) -> Response:
    """Render one record, honouring ``fields``."""
    plan = listing.plan(request, resource)
    if plan.fields is not None:
        record = listing.project([record], plan.fields)[0]
    return Response.json(record, status=status)


def no_content() -> Response:
    """Answer 204 with an empty body."""
    return Response(status=204)


class _Invoices:
    def __init__(self, store: CWStore, actor: str) -> None:
        self.store, self.actor = store, actor

    def index(self, request: Request) -> Response:
        query = listing.plan(request, INVOICE)
        page = self.store.query_invoices(lambda ids, records: listing.select(query, ids, records))
        return page_response(request, query, page)

    def count(self, request: Request) -> Response:
        query = listing.plan(request, INVOICE)
        return Response.json({"count": self.store.query_invoices(lambda ids, rs: listing.count(query, ids, rs))})

    def get(self, request: Request) -> Response:
        return one_response(request, self.store.get_invoice(int(request.params["id"])), INVOICE)

    def create(self, request: Request) -> Response:
        return Response.json(self.store.create_invoice(body(request), updated_by=self.actor), status=201)

    def replace(self, request: Request) -> Response:
        invoice_id = int(request.params["id"])
        return Response.json(self.store.replace_invoice(invoice_id, body(request), updated_by=self.actor))

    def patch(self, request: Request) -> Response:
        invoice_id = int(request.params["id"])
        return Response.json(self.store.patch_invoice(invoice_id, body(request), updated_by=self.actor))

    def delete(self, request: Request) -> Response:
        self.store.delete_invoice(int(request.params["id"]))
        return no_content()


class _Payments:
    def __init__(self, store: CWStore, actor: str) -> None:
        self.store, self.actor = store, actor

    def index(self, request: Request) -> Response:
        query = listing.plan(request, PAYMENT)
        rows = self.store.payments(int(request.params["id"]))
        page = listing.select(query, [row["id"] for row in rows], {row["id"]: row for row in rows})
        return page_response(request, query, page)

    def get(self, request: Request) -> Response:
        row = self.store.get_payment(int(request.params["id"]), int(request.params["payment"]))
        return one_response(request, row, PAYMENT)

    def create(self, request: Request) -> Response:
        row = self.store.create_payment(int(request.params["id"]), body(request), updated_by=self.actor)
        return Response.json(row, status=201)

    def delete(self, request: Request) -> Response:
        invoice_id, payment_id = int(request.params["id"]), int(request.params["payment"])
        self.store.delete_payment(invoice_id, payment_id, updated_by=self.actor)
        return no_content()


class _Companies:
    def __init__(self, store: CWStore, actor: str) -> None:
        self.store, self.actor = store, actor

    def index(self, request: Request) -> Response:
        query = listing.plan(request, COMPANY)
        page = self.store.query_companies(lambda ids, records: listing.select(query, ids, records))
        return page_response(request, query, page)

    def count(self, request: Request) -> Response:
        query = listing.plan(request, COMPANY)
        return Response.json({"count": self.store.query_companies(lambda ids, rs: listing.count(query, ids, rs))})

    def get(self, request: Request) -> Response:
        return one_response(request, self.store.get_company(int(request.params["id"])), COMPANY)

    def create(self, request: Request) -> Response:
        return Response.json(self.store.create_company(body(request), updated_by=self.actor), status=201)
