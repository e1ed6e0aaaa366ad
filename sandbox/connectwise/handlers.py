"""The resource handlers behind ``/{codebase}/apis/3.0/``: invoices, invoice payments, companies.

Each handler parses the request, makes one store call and renders the answer; the service wraps them with
authentication, ``CWError`` mapping and the standard response headers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sandbox.connectwise import listing, readings
from sandbox.connectwise.errors import bad_request
from sandbox.connectwise.records import Record
from sandbox.connectwise.schema import COMPANY, INVOICE, PAYMENT, Resource
from sandbox.connectwise.store import CWStore
from sandbox.switches import Switches
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


def page_response(
    request: Request, query: listing.Plan, page: listing.Page, switches: Switches, *, drop: bool = False
) -> Response:
    """Render a list page with its ``Link`` header (in the switched style)."""
    items = [readings.invoice(item, switches) for item in page.items]
    if drop:
        items = readings.drop_row(items, switches)
    items = listing.project(items, query.fields) if query.fields is not None else items
    link = listing.link_header(request, query, page, bare=switches.get("cw_link_style") == "bare")
    return Response.json(items, headers=[("Link", link)])


def one_response(
    request: Request, record: Record, resource: Resource, switches: Switches, status: int = 200
) -> Response:
    """Render one record, honouring ``fields``."""
    record = readings.invoice(record, switches)
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
        query = listing.plan(request, INVOICE, forward_only_known=self.store.switches.get("cw_forward_only"))
        page = self.store.query_invoices(lambda ids, records: listing.select(query, ids, records))
        return page_response(request, query, page, self.store.switches, drop=True)

    def count(self, request: Request) -> Response:
        query = listing.plan(request, INVOICE)
        return Response.json({"count": self.store.query_invoices(lambda ids, rs: listing.count(query, ids, rs))})

    def get(self, request: Request) -> Response:
        return one_response(request, self.store.get_invoice(int(request.params["id"])), INVOICE, self.store.switches)

    def create(self, request: Request) -> Response:
        created = self.store.create_invoice(body(request), updated_by=self.actor)
        return Response.json(readings.invoice(created, self.store.switches), status=201)

    def replace(self, request: Request) -> Response:
        invoice_id = int(request.params["id"])
        replaced = self.store.replace_invoice(invoice_id, body(request), updated_by=self.actor)
        return Response.json(readings.invoice(replaced, self.store.switches))

    def patch(self, request: Request) -> Response:
        invoice_id = int(request.params["id"])
        patched = self.store.patch_invoice(invoice_id, body(request), updated_by=self.actor)
        return Response.json(readings.invoice(patched, self.store.switches))

    def delete(self, request: Request) -> Response:
        self.store.delete_invoice(int(request.params["id"]))
        return no_content()


class _Payments:
    def __init__(self, store: CWStore, actor: str) -> None:
        self.store, self.actor = store, actor

    def index(self, request: Request) -> Response:
        query = listing.plan(request, PAYMENT, forward_only_known=self.store.switches.get("cw_forward_only"))
        rows = self.store.payments(int(request.params["id"]))
        page = listing.select(query, [row["id"] for row in rows], {row["id"]: row for row in rows})
        return page_response(request, query, page, self.store.switches)

    def get(self, request: Request) -> Response:
        row = self.store.get_payment(int(request.params["id"]), int(request.params["payment"]))
        return one_response(request, row, PAYMENT, self.store.switches)

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
        query = listing.plan(request, COMPANY, forward_only_known=self.store.switches.get("cw_forward_only"))
        page = self.store.query_companies(lambda ids, records: listing.select(query, ids, records))
        return page_response(request, query, page, self.store.switches, drop=True)

    def count(self, request: Request) -> Response:
        query = listing.plan(request, COMPANY)
        return Response.json({"count": self.store.query_companies(lambda ids, rs: listing.count(query, ids, rs))})

    def get(self, request: Request) -> Response:
        return one_response(request, self.store.get_company(int(request.params["id"])), COMPANY, self.store.switches)

    def create(self, request: Request) -> Response:
        created = self.store.create_company(body(request), updated_by=self.actor, require_address=True)
        return Response.json(created, status=201)
