"""QuickBooks Online Accounting API client: queries, change data capture, reads and idempotent creates.

- Every request goes through a per-realm limiter (under 500 a minute, at most 10 in flight) and carries
  ``minorversion=75`` (Intuit ignores anything lower since August 2025).
- On a 401 the client asks its ``TokenSource`` for a fresh token once and retries; a second 401 raises
  ``AuthError`` ("QuickBooks needs reconnecting"). The OAuth lifecycle itself lives elsewhere.
- Every create sends ``?requestid=<uuid4>`` and the same id on each retry: QBO answers a repeated id with the
  first answer instead of creating again, so a create whose reply was lost is retried without duplicating.
- A 429 without ``Retry-After`` (QBO never sends one) waits ``throttle_wait`` seconds, Intuit's advice being 60.
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol, Self, TypeVar

import httpx

from sync.clients import qbo_query as q
from sync.clients.errors import QUICKBOOKS, AuthError, CDCWindowError, NotConfiguredError
from sync.clients.http import DEFAULT_TIMEOUT, ApiHttp, RetryPolicy, parse_json, timeout_of
from sync.clients.limiter import RateLimiter, shared_limiter
from sync.records import CDCResult, DocumentLine, QBOCreditMemo, QBOCustomer, QBOInvoice, QBOPayment, QBORecord
from sync.settings import Settings

MINOR_VERSION = 75
PAGE_SIZE = 1000
CDC_CAP = 1000  # objects in one CDC answer, all entities together (Intuit's change-data-capture page)
CDC_WINDOW = timedelta(days=30)
THROTTLE_WAIT = 60.0
BASE_URLS = {
    "production": "https://quickbooks.api.intuit.com/v3",
    "prod": "https://quickbooks.api.intuit.com/v3",
    "sandbox": "https://sandbox-quickbooks.api.intuit.com/v3",
    "sand": "https://sandbox-quickbooks.api.intuit.com/v3",
}
RecordT = TypeVar("RecordT", QBOInvoice, QBOCreditMemo, QBOPayment, QBOCustomer)


class TokenSource(Protocol):
    """Where the client gets OAuth access tokens (implemented by the QBO auth module)."""

    def access_token(self) -> str:
        """Return a current access token."""
        ...

    def refresh_after_401(self, rejected: str) -> str:
        """Return a fresh access token after ``rejected`` was refused (refresh unless someone already did)."""
        ...


class QuickBooksClient:
    """Read and write one QuickBooks Online company (realm)."""

    def __init__(
        self,
        *,
        base_url: str,
        realm_id: str,
        tokens: TokenSource,
        http: httpx.Client | None = None,
        minorversion: int = MINOR_VERSION,
        retry: RetryPolicy | None = None,
        throttle_wait: float = THROTTLE_WAIT,
        limiter: RateLimiter | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        page_size: int = PAGE_SIZE,
    ) -> None:
        base_url = base_url.rstrip("/")
        policy = retry or RetryPolicy()
        if policy.throttle_wait is None:
            policy = replace(policy, throttle_wait=throttle_wait)
        self.limiter = limiter or shared_limiter(f"{base_url}|{realm_id}")
        self._http = ApiHttp(QUICKBOOKS, client=http, timeout=timeout, retry=policy, limiter=self.limiter)
        self._company_url = f"{base_url}/company/{realm_id}"
        self._tokens = tokens
        self._clock = clock
        self.realm_id = realm_id
        self.minorversion = minorversion
        self.page_size = page_size
        self.cdc_cap = CDC_CAP

    @classmethod
    def from_settings(cls, settings: Settings, tokens: TokenSource, **options: Any) -> Self:
        """Build from ``QBO_*`` settings; the base URL defaults from ``QBO_ENVIRONMENT``."""
        base_url = settings.qbo_base_url or BASE_URLS.get(settings.qbo_environment.lower())
        if not base_url or not settings.qbo_realm_id:
            names = " and ".join(
                name
                for name, value in (("QBO_BASE_URL", base_url), ("QBO_REALM_ID", settings.qbo_realm_id))
                if not value
            )
            raise NotConfiguredError(f"QuickBooks is not configured: set {names}.", system=QUICKBOOKS.name)
        options.setdefault("timeout", timeout_of(settings.http_timeout.total_seconds()))
        options.setdefault("retry", RetryPolicy(land_margin=settings.write_margin.total_seconds()))
        return cls(base_url=base_url, realm_id=settings.qbo_realm_id, tokens=tokens, **options)

    def close(self) -> None:
        """Release the HTTP connections this client opened."""
        self._http.close()

    @property
    def write_window(self) -> timedelta:
        """How long after a create starts whatever it sent may still land in QuickBooks."""
        return self._http.landing_window()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- queries -----------------------------------------------------------------------------------------
    def iter_query(self, query: str | q.Query, *, start: int = 1) -> Iterator[dict[str, Any]]:
        """Yield every row of a query (SQL without paging), 1000 a page from row ``start``, until a short page."""
        sql = query if isinstance(query, str) else query.sql()
        while True:
            body = self._call("GET", "query", params={"query": q.paged(sql, start, self.page_size)}, what="a query")
            rows = q.rows(body.get("QueryResponse"))
            for row in rows:
                if isinstance(query, str) or query.matches(row):
                    yield row
            if len(rows) < self.page_size:
                return
            start += len(rows)

    def iter_pages(self, query: q.Query, expected: int, *, workers: int | None = None) -> Iterator[dict[str, Any]]:
        """Yield every row of ``query`` like ``iter_query``, reading the pages ``expected`` rows fill concurrently.

        A full read knows how many rows there are (``count``), so its pages need not wait for each other: up to
        ``workers`` are in flight at once (the realm's limiter still caps the process at 10 [V: Intuit allows 10
        concurrent requests per realm, https://developer.intuit.com/app/developer/qbo/docs/learn/rest-api-features#limits-and-throttles]).
        Rows come out in page order. Should the last expected page be full (rows were added meanwhile), the rest is
        read page by page as ``iter_query`` does; what changed during the read is caught by the caller's counts.
        """
        sql, size = query.sql(), self.page_size
        pages = max(1, -(-expected // size))
        workers = workers or self.limiter.in_flight

        def page(number: int) -> list[dict[str, Any]]:
            params = {"query": q.paged(sql, 1 + number * size, size)}
            return q.rows(self._call("GET", "query", params=params, what="a query").get("QueryResponse"))

        rows: list[dict[str, Any]] = []
        with ThreadPoolExecutor(max_workers=max(1, min(workers, pages)), thread_name_prefix="qbo-pages") as pool:
            ahead: deque[Future[list[dict[str, Any]]]] = deque()
            for number in range(pages):  # at most ``workers`` pages held ahead of the reader: memory stays flat
                ahead.append(pool.submit(page, number))
                if len(ahead) >= workers:
                    rows = ahead.popleft().result()
                    yield from (row for row in rows if query.matches(row))
            while ahead:
                rows = ahead.popleft().result()
                yield from (row for row in rows if query.matches(row))
        if len(rows) == size:  # the last expected page was full: read on as a plain query does
            yield from self.iter_query(query, start=1 + pages * size)

    def iter_all(self, kind: type[RecordT], expected: int) -> Iterator[RecordT]:
        """Yield every record of ``kind`` (a full read), ``expected`` being its ``count``: pages read concurrently."""
        for row in self.iter_pages(q.select(kind.ENTITY, order_by="Id"), expected):
            yield kind.from_api(row)

    def iter_invoices(self, *, updated_since: datetime | None = None) -> Iterator[QBOInvoice]:
        """Yield every invoice, optionally only those updated at or after ``updated_since``."""
        return self._iter(QBOInvoice, updated_since)

    def iter_credit_memos(self, *, updated_since: datetime | None = None) -> Iterator[QBOCreditMemo]:
        """Yield every credit memo, optionally only those updated at or after ``updated_since``."""
        return self._iter(QBOCreditMemo, updated_since)

    def iter_payments(self, *, updated_since: datetime | None = None) -> Iterator[QBOPayment]:
        """Yield every payment, optionally only those updated at or after ``updated_since``."""
        return self._iter(QBOPayment, updated_since)

    def iter_customers(self, *, updated_since: datetime | None = None) -> Iterator[QBOCustomer]:
        """Yield every customer, optionally only those updated at or after ``updated_since``."""
        return self._iter(QBOCustomer, updated_since)

    def count(self, entity: str | type[QBORecord], where: Sequence[q.Condition] = ()) -> int:
        """Count the rows of ``entity`` matching ``where`` (counted row by row if a condition was widened)."""
        query = q.select(_entity_name(entity), *where)
        if not query.exact:
            return sum(1 for _ in self.iter_query(query))
        body = self._call("GET", "query", params={"query": query.count_sql()}, what="a count")
        return int((body.get("QueryResponse") or {}).get("totalCount", 0))

    def _iter(self, kind: type[RecordT], updated_since: datetime | None) -> Iterator[RecordT]:
        since = q.ge("MetaData.LastUpdatedTime", _aware(updated_since)) if updated_since else None
        # Ordered by Id so rows updated while we page do not move between pages [I: Id is sortable].
        for row in self.iter_query(q.select(kind.ENTITY, since, order_by="Id")):
            yield kind.from_api(row)

    # -- reads -------------------------------------------------------------------------------------------
    def get(self, entity: type[RecordT], entity_id: str) -> RecordT:
        """Read one record, e.g. ``client.get(QBOInvoice, "130")``."""
        body = self._call("GET", f"{entity.ENTITY.lower()}/{entity_id}", what=f"{_label(entity)} id {entity_id}")
        return entity.from_api(body[entity.ENTITY])

    def preferences(self) -> dict[str, Any]:
        """The company's preferences (``GET /company/{realm}/preferences``): sales forms, currency, tax, …"""
        body = self._call("GET", "preferences", what="the company preferences")
        found = body.get("Preferences")
        return found if isinstance(found, dict) else {}

    def cdc(self, entities: Iterable[str | type[QBORecord]], since: datetime) -> CDCResult:
        """Return what changed since ``since`` (at most 30 days back, else ``CDCWindowError``)."""
        names = [_entity_name(entity) for entity in entities]
        since = _aware(since)
        if since < self._clock() - CDC_WINDOW:
            raise CDCWindowError(
                "QuickBooks only reports changes from the last 30 days; read the documents in full instead.",
                system=QUICKBOOKS.name,
            )
        params = {"entities": ",".join(names), "changedSince": since.isoformat(timespec="seconds")}
        return CDCResult.from_api(self._call("GET", "cdc", params=params, what="recent changes"), cap=self.cdc_cap)

    # -- writes ------------------------------------------------------------------------------------------
    def create_invoice(
        self,
        doc_number: str,
        customer_id: str,
        txn_date: date,
        lines: Sequence[DocumentLine],
        tax: Decimal = Decimal(0),
        due_date: date | None = None,
        *,
        private_note: str | None = None,
        request_id: str | None = None,
    ) -> QBOInvoice:
        """Create the QBO mirror of a CW invoice (same number, customer, date; total = lines + tax)."""
        body = _document(doc_number, customer_id, txn_date, lines, tax, private_note)
        if due_date is not None:
            body["DueDate"] = due_date.isoformat()
        return QBOInvoice.from_api(self._create("Invoice", body, request_id, f"invoice {doc_number}"))

    def create_credit_memo(
        self,
        doc_number: str,
        customer_id: str,
        txn_date: date,
        lines: Sequence[DocumentLine],
        tax: Decimal = Decimal(0),
        *,
        private_note: str | None = None,
        request_id: str | None = None,
    ) -> QBOCreditMemo:
        """Create the QBO mirror of a CW credit memo."""
        body = _document(doc_number, customer_id, txn_date, lines, tax, private_note)
        return QBOCreditMemo.from_api(self._create("CreditMemo", body, request_id, f"credit memo {doc_number}"))

    def create_payment(
        self,
        customer_id: str,
        total: Decimal,
        txn_date: date,
        applied: Sequence[tuple[str, Decimal]],
        method: str | None = None,
        ref: str | None = None,
        *,
        private_note: str | None = None,
        request_id: str | None = None,
    ) -> QBOPayment:
        """Create a payment of ``total`` applied to ``(invoice_id, amount)`` pairs; the rest stays unapplied."""
        body: dict[str, Any] = {
            "CustomerRef": {"value": customer_id},
            "TotalAmt": total,
            "TxnDate": txn_date.isoformat(),
            "Line": [_link_line(invoice_id, amount, "Invoice") for invoice_id, amount in applied],
        }
        if method is not None:
            body["PaymentMethodRef"] = {"value": method}
        if ref is not None:
            body["PaymentRefNum"] = ref
        if private_note is not None:
            body["PrivateNote"] = private_note
        return QBOPayment.from_api(self._create("Payment", body, request_id, "the payment"))

    def apply_credit_memo(
        self,
        credit_memo: QBOCreditMemo,
        invoice: QBOInvoice,
        amount: Decimal,
        *,
        txn_date: date | None = None,
        request_id: str | None = None,
    ) -> QBOPayment:
        """Apply ``amount`` of a credit memo to an invoice: a zero-total Payment with one line for each."""
        if credit_memo.customer_id != invoice.customer_id:
            raise ValueError("a credit memo can only be applied to an invoice of the same customer")
        if amount <= 0:
            raise ValueError("the amount to apply must be positive")
        body: dict[str, Any] = {
            "CustomerRef": {"value": invoice.customer_id},
            "TotalAmt": Decimal(0),
            "PrivateNote": f"Tally: apply credit memo {credit_memo.doc_number} to invoice {invoice.doc_number}",
            # The two-line form from Intuit's Payment sample: invoice line and credit-memo line, equal amounts.
            "Line": [_link_line(invoice.id, amount, "Invoice"), _link_line(credit_memo.id, amount, "CreditMemo")],
        }
        if txn_date is not None:
            body["TxnDate"] = txn_date.isoformat()
        what = f"the application of credit memo {credit_memo.doc_number}"
        return QBOPayment.from_api(self._create("Payment", body, request_id, what))

    # -- reversing Tally's own writes (undo, issue 13) ------------------------------------------------------
    def delete_payment(self, payment: QBOPayment, *, request_id: str | None = None) -> None:
        """Delete a payment: ``POST /payment?operation=delete`` with its Id and SyncToken.

        Used to undo a credit application, a zero-total payment: deleting it removes the link and gives the memo
        its credit and the invoice its balance back, leaving the books as before (a void would leave an empty
        zero-total "Voided" payment behind, which records no money either way). Intuit's Payment reference,
        "Delete a payment": https://developer.intuit.com/app/developer/qbo/docs/api/accounting/all-entities/payment
        (the same call as python-quickbooks' ``DeleteMixin.delete``,
        https://github.com/ej2/python-quickbooks/blob/master/quickbooks/mixins.py). A SyncToken that moved is
        refused by QuickBooks (Stale Object Error 5010), so a payment changed since it was read is never deleted.
        """
        body = {"Id": payment.id, "SyncToken": payment.sync_token}
        params = {"operation": "delete", "requestid": request_id or str(uuid.uuid4())}
        self._call("POST", "payment", params=params, body=body, idempotent=True, what=f"payment Id {payment.id}")

    def void_document(self, document: QBOInvoice | QBOCreditMemo, *, request_id: str | None = None) -> None:
        """Void an invoice or credit memo: it stays, with every amount zero and "Voided" in its note.

        Invoice: ``POST /invoice?operation=void`` with Id and SyncToken (Intuit's Invoice reference, "Void an
        invoice": https://developer.intuit.com/app/developer/qbo/docs/api/accounting/all-entities/invoice). Credit
        memo: the same form on ``/creditmemo``; Intuit's CreditMemo page lists no void in the copies Tally's
        authors could read, so this reading is unverified and the sandbox plays it (a memo with credit applied
        is refused).
        """
        entity = document.ENTITY
        body = {"Id": document.id, "SyncToken": document.sync_token}
        params = {"operation": "void", "requestid": request_id or str(uuid.uuid4())}
        word = "credit memo" if entity == "CreditMemo" else "invoice"
        self._call(
            "POST", entity.lower(), params=params, body=body, idempotent=True, what=f"{word} {document.doc_number}"
        )

    # -- plumbing ----------------------------------------------------------------------------------------
    def _create(self, entity: str, body: dict[str, Any], request_id: str | None, what: str) -> Mapping[str, Any]:
        params = {"requestid": request_id or str(uuid.uuid4())}
        answer = self._call("POST", entity.lower(), params=params, body=body, idempotent=True, what=what)
        created: Mapping[str, Any] = answer[entity]
        return created

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: object = None,
        idempotent: bool | None = None,
        what: str,
    ) -> dict[str, Any]:
        """Send one request with a bearer token; on 401 refresh once and resend the same request."""
        url = f"{self._company_url}/{path}"
        query = {**(params or {}), "minorversion": str(self.minorversion)}
        token = self._tokens.access_token()
        for refreshed in (False, True):
            headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
            try:
                response = self._http.send(
                    method, url, params=query, headers=headers, body=body, idempotent=idempotent, what=what
                )
            except AuthError as exc:
                if exc.status != 401 or refreshed:
                    raise
                token = self._tokens.refresh_after_401(token)
                continue
            answer: dict[str, Any] = parse_json(response)
            return answer
        raise AssertionError("unreachable: the second pass returns or raises")


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _entity_name(entity: str | type[QBORecord]) -> str:
    return entity if isinstance(entity, str) else entity.ENTITY


def _label(entity: type[QBORecord]) -> str:
    return {"CreditMemo": "credit memo"}.get(entity.ENTITY, entity.ENTITY.lower())


def _link_line(txn_id: str, amount: Decimal, txn_type: str) -> dict[str, Any]:
    return {"Amount": amount, "LinkedTxn": [{"TxnId": txn_id, "TxnType": txn_type}]}


def _document(
    doc_number: str,
    customer_id: str,
    txn_date: date,
    lines: Sequence[DocumentLine],
    tax: Decimal,
    private_note: str | None,
) -> dict[str, Any]:
    """Build the body shared by invoices and credit memos."""
    body: dict[str, Any] = {
        "DocNumber": doc_number,
        "CustomerRef": {"value": customer_id},
        "TxnDate": txn_date.isoformat(),
        "Line": [line.to_api() for line in lines],
        # Real QBO computes tax from tax codes; an explicit TotalTax overrides it for a mirror [I].
        "TxnTaxDetail": {"TotalTax": tax},
    }
    if private_note is not None:
        body["PrivateNote"] = private_note
    return body
