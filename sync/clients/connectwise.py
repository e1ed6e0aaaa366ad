"""ConnectWise Manage REST client: companies, invoices and invoice payments, read with forward-only paging.

Every request carries Basic auth ``company+public:private``, the integration's ``clientId`` and a pinned model
version. We pin ``2025.1``: ConnectWise serves the newest model at or below the pinned version and keeps
deprecated versions for only 12 months (developer guide), so the 2022.1 pin other clients use may already be
gone; every field read here exists in the 2025.1 models (research S2: ``model_invoice.go``,
``model_invoice_payment.go``) and unchanged in the 2025.8 spec.

Lists use forward-only paging (``pagination-type: forward-only``, ``pageSize=1000``, ``pageId`` = last id
seen) because it stays correct while records change underneath, unlike page numbers. We read ``pageId`` out of
the ``Link`` header and re-send our own parameters, so conditions are never lost between pages.

Both paging styles and both ``Link`` forms are accepted: a codebase older than 2018.5 ignores the forward-only
header (developer guide: forward-only paging "released 2018.5") and answers page numbers, whose ``page=`` the
client then follows; the next link is the one with ``rel="next"`` (RFC 5988, as the developer guide shows) or,
when the header carries no ``rel`` at all, its only ``<url>`` (the form ConnectWiseManageAPI's
``Invoke-CWMAllResult.ps1`` reads with ``Link.Split(';')[0]``, https://github.com/christaylorcodes/
ConnectWiseManageAPI). Which form a given codebase sends is unverified [U]; a full read's row count is checked
against ``/count`` either way (``sync.cache``).
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Self

import httpx
from pydantic import SecretStr

from sync.clients import cw_conditions as cw
from sync.clients.errors import CONNECTWISE, NotConfiguredError, NotFoundError, ServerError
from sync.clients.http import DEFAULT_TIMEOUT, ApiHttp, RetryPolicy, parse_json, timeout_of
from sync.records import CWCompany, CWInvoice, CWPayment
from sync.records.connectwise import DEFAULT_CLOSED_STATUSES
from sync.settings import Settings

log = logging.getLogger(__name__)

API_VERSION = "2025.1"
ACCEPT = f"application/vnd.connectwise.com+json; version={API_VERSION}"
PAGE_SIZE = 1000
# Cloud login hosts answer the API only under their ``api-`` twin (developer guide, research §1).
_CLOUD_LOGIN_HOST = re.compile(r"^(?:na|eu|au|aus|za)\.myconnectwise\.net$|^staging\.connectwisedev\.com$")
_NEXT_LINK = re.compile(r"<([^>]*)>\s*;\s*rel=\"?next\"?", re.IGNORECASE)
_ANY_LINK = re.compile(r"<([^>]*)>")
_PAGE_ID = re.compile(r"[?&]pageId=(\d+)", re.IGNORECASE)
_PAGE = re.compile(r"[?&]page=(\d+)", re.IGNORECASE)


class ConnectWiseClient:
    """Read invoices and companies from ConnectWise Manage and record payments on invoices."""

    def __init__(
        self,
        *,
        company_id: str,
        public_key: str,
        private_key: str | SecretStr,
        client_id: str,
        base_url: str | None = None,
        site: str | None = None,
        http: httpx.Client | None = None,
        retry: RetryPolicy | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        page_size: int = PAGE_SIZE,
        closed_statuses: Sequence[str] = DEFAULT_CLOSED_STATUSES,
    ) -> None:
        if not base_url and not site:
            raise NotConfiguredError(
                "ConnectWise is not configured: set CW_BASE_URL or CW_SITE.", system=CONNECTWISE.name
            )
        secret = private_key.get_secret_value() if isinstance(private_key, SecretStr) else private_key
        token = base64.b64encode(f"{company_id}+{public_key}:{secret}".encode()).decode()
        self._headers = {"Authorization": f"Basic {token}", "clientId": client_id, "Accept": ACCEPT}
        self._http = ApiHttp(CONNECTWISE, client=http, timeout=timeout, retry=retry)
        self._base_url = base_url.rstrip("/") if base_url else None
        self._site = site
        self._company_id = company_id
        self.page_size = page_size
        self.closed_statuses = tuple(closed_statuses)  # taken as closed when ``status.isClosed`` is not sent

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> Self:
        """Build from ``CW_*`` settings; ``options`` (``http``, ``retry``, ...) pass through."""
        missing = [
            name
            for name, value in (
                ("CW_COMPANY_ID", settings.cw_company_id),
                ("CW_PUBLIC_KEY", settings.cw_public_key),
                ("CW_PRIVATE_KEY", settings.cw_private_key),
                ("CW_CLIENT_ID", settings.cw_client_id),
            )
            if not value
        ]
        if missing or not (settings.cw_base_url or settings.cw_site):
            names = ", ".join(missing or ["CW_BASE_URL or CW_SITE"])
            raise NotConfiguredError(f"ConnectWise is not configured: set {names}.", system=CONNECTWISE.name)
        assert settings.cw_private_key is not None  # checked above; narrows the type
        options.setdefault("timeout", timeout_of(settings.http_timeout.total_seconds()))
        options.setdefault("retry", RetryPolicy(land_margin=settings.write_margin.total_seconds()))
        options.setdefault("closed_statuses", settings.cw_closed_statuses)
        return cls(
            company_id=str(settings.cw_company_id),
            public_key=str(settings.cw_public_key),
            private_key=settings.cw_private_key,
            client_id=str(settings.cw_client_id),
            base_url=settings.cw_base_url,
            site=settings.cw_site,
            **options,
        )

    def close(self) -> None:
        """Release the HTTP connections this client opened."""
        self._http.close()

    @property
    def write_window(self) -> timedelta:
        """How long after a write starts whatever it sent may still land in ConnectWise."""
        return self._http.landing_window()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reads ---------------------------------------------------------------------------------------------
    def iter_invoices(
        self, *, updated_since: datetime | None = None, types: Sequence[str] | None = None
    ) -> Iterator[CWInvoice]:
        """Yield every invoice and credit memo, optionally only those updated at/after ``updated_since``."""
        conditions = cw.where(_since(updated_since), cw.in_("type", types) if types else None)
        for row in self.iter_rows("/finance/invoices", conditions=conditions, what="invoices"):
            yield CWInvoice.from_api(row, closed_statuses=self.closed_statuses)

    def iter_companies(self, *, updated_since: datetime | None = None) -> Iterator[CWCompany]:
        """Yield every company, optionally only those updated at or after ``updated_since``."""
        for row in self.iter_rows("/company/companies", conditions=_since(updated_since), what="companies"):
            yield CWCompany.from_api(row)

    def count_invoices(self, *, conditions: str | None = None) -> int:
        """Count invoices matching ``conditions`` (build them with ``cw_conditions``)."""
        params = {"conditions": conditions} if conditions else None
        body = self._get("/finance/invoices/count", params=params, what="the invoice count")
        return int(body["count"])

    def count_companies(self, *, conditions: str | None = None) -> int:
        """Count companies matching ``conditions``."""
        params = {"conditions": conditions} if conditions else None
        body = self._get("/company/companies/count", params=params, what="the company count")
        return int(body["count"])

    def iter_invoice_ids(self) -> Iterator[int]:
        """Yield the id of every invoice that exists now (to notice deletions)."""
        for row in self.iter_rows("/finance/invoices", fields="id", what="invoice ids"):
            yield int(row["id"])

    def get_invoice(self, invoice_id: int) -> CWInvoice:
        """Read one invoice."""
        body = self._get(f"/finance/invoices/{invoice_id}", what=f"invoice id {invoice_id}")
        return CWInvoice.from_api(body, closed_statuses=self.closed_statuses)

    def list_payments(self, invoice_id: int) -> list[CWPayment]:
        """Return the payment and credit rows recorded on one invoice."""
        path = f"/finance/invoices/{invoice_id}/payments"
        rows = self.iter_rows(path, what=f"the payments of invoice id {invoice_id}")
        return [CWPayment.from_api(row, invoice_id=invoice_id) for row in rows]

    # -- writes --------------------------------------------------------------------------------------------
    def create_payment(
        self, invoice_id: int, amount: Decimal, date: date, credit_memo_id: int | None = None
    ) -> CWPayment:
        """Record a payment on an invoice, or apply credit memo ``credit_memo_id`` to it (never re-sent)."""
        body: dict[str, Any] = {
            # "Payment"/"Credit" are our reading of the free-text type [U]; ConnectWise stores what it gets.
            "type": "Credit" if credit_memo_id is not None else "Payment",
            "amount": amount,
            "paymentDate": f"{date.isoformat()}T00:00:00Z",
        }
        if credit_memo_id is not None:
            body["credit"] = {"id": credit_memo_id}
        what = f"the payment on invoice id {invoice_id}"
        response = self._http.send(
            "POST",
            self._url(f"/finance/invoices/{invoice_id}/payments"),
            headers=self._headers,
            body=body,
            what=what,
        )
        return CWPayment.from_api(parse_json(response), invoice_id=invoice_id)

    def delete_payment(self, invoice_id: int, payment_id: int) -> None:
        """Remove one payment row from an invoice."""
        url = self._url(f"/finance/invoices/{invoice_id}/payments/{payment_id}")
        self._http.send("DELETE", url, headers=self._headers, what=f"payment id {payment_id}")

    def probe(
        self, path: str, *, params: Mapping[str, str | int] | None = None, forward_only: bool = False
    ) -> httpx.Response:
        """One GET answered as it came, headers and all (``tally doctor`` looks at what ConnectWise sends).

        ``path`` is below the API base, or a full URL (``/login/companyinfo`` lives outside it).
        """
        headers = {**self._headers, "pagination-type": "forward-only"} if forward_only else self._headers
        url = path if "://" in path else self._url(path)
        return self._http.send("GET", url, params=params, headers=headers, what=path)

    # -- callbacks (``/system/callbacks``) ------------------------------------------------------------------
    def list_callbacks(self) -> list[dict[str, Any]]:
        """Every registered callback entry."""
        return [dict(row) for row in self.iter_rows("/system/callbacks", what="the callback entries")]

    def create_callback(self, entry: dict[str, Any]) -> dict[str, Any]:
        """Register a callback entry (never re-sent: a lost answer is settled by listing again)."""
        response = self._http.send(
            "POST", self._url("/system/callbacks"), headers=self._headers, body=entry, what="the callback entry"
        )
        created: dict[str, Any] = parse_json(response)
        return created

    def delete_callback(self, entry_id: int) -> None:
        """Remove one callback entry."""
        url = self._url(f"/system/callbacks/{entry_id}")
        self._http.send("DELETE", url, headers=self._headers, what=f"callback entry id {entry_id}")

    # -- plumbing ------------------------------------------------------------------------------------------
    def iter_rows(
        self, path: str, *, conditions: str | None = None, fields: str | None = None, what: str = "records"
    ) -> Iterator[Mapping[str, Any]]:
        """Yield every row of a list endpoint, following forward-only pages until the ``Link`` runs out."""
        params: dict[str, str | int] = {"pageSize": self.page_size}
        if conditions:
            params["conditions"] = conditions
        if fields:
            params["fields"] = fields
        headers = {**self._headers, "pagination-type": "forward-only"}
        position: tuple[str, int] | None = None  # ("pageId", last id) or ("page", number) of the next page
        while True:
            query = params if position is None else {**params, position[0]: position[1]}
            response = self._http.send("GET", self._url(path), params=query, headers=headers, what=what)
            rows = parse_json(response) or []
            yield from rows
            following = _next_position(response.headers.get("link"), rows, self.page_size)
            if following is None:
                return
            if position is not None and following[0] == position[0] and following[1] <= position[1]:
                raise ServerError(
                    f"ConnectWise's paging of {what} stopped moving forward; try again later.",
                    system=CONNECTWISE.name,
                    request_id=response.headers.get(CONNECTWISE.request_id_header),
                )
            position = following

    def _get(self, path: str, *, params: Mapping[str, str] | None = None, what: str) -> Any:
        response = self._http.send("GET", self._url(path), params=params, headers=self._headers, what=what)
        return parse_json(response)

    def _url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    @property
    def base_url(self) -> str:
        """The API base (``https://host/{codebase}apis/3.0``), looked up from ``site`` on first use."""
        if self._base_url is None:
            self._base_url = self._look_up_base_url()
        return self._base_url

    def _look_up_base_url(self) -> str:
        assert self._site is not None
        host = self._site if "://" in self._site else f"https://{_api_host(self._site)}"
        host = host.rstrip("/")
        what = f"company {self._company_id!r} (check CW_COMPANY_ID)"
        info = parse_json(self._http.send("GET", f"{host}/login/companyinfo/{self._company_id}", what=what))
        if not isinstance(info, dict) or not info.get("Codebase"):  # unknown companies answer 200 ``null``
            raise NotFoundError(f"ConnectWise has no {what} on {host}.", system=CONNECTWISE.name, status=200)
        codebase = str(info["Codebase"]).strip("/")
        log.info("ConnectWise codebase for %s is %s", self._company_id, codebase)
        return f"{host}/{codebase}/apis/3.0"


def _since(moment: datetime | None) -> str | None:
    """Return ``lastUpdated >= [moment]``: inclusive to the second, so callers de-duplicate by id."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return cw.ge("lastUpdated", moment)


def _api_host(site: str) -> str:
    return f"api-{site}" if _CLOUD_LOGIN_HOST.match(site) else site


def _next_position(link: str | None, rows: Sequence[Mapping[str, Any]], page_size: int) -> tuple[str, int] | None:
    """Return ``("pageId", id)`` or ``("page", n)`` for the next page, or None at the end."""
    if not rows:
        return None
    if link is None:
        # ConnectWise always sends ``Link`` on forward-only pages; if a proxy stripped it, a full page
        # means there may be more, and ``pageId`` is simply the last id seen (research §2).
        return ("pageId", int(rows[-1]["id"])) if len(rows) >= page_size else None
    found = _NEXT_LINK.search(link)
    if found is None:
        if "rel=" in link.lower():
            return None  # RFC 5988 links without a "next": the last page
        found = _ANY_LINK.search(link)  # the bare form: the only URL is the next page
        if found is None:
            return None
    url = found.group(1)
    page_id, page = _PAGE_ID.search(url), _PAGE.search(url)
    if page_id is not None:
        return ("pageId", int(page_id.group(1)))
    if page is not None:
        return ("page", int(page.group(1)))  # the forward-only header was ignored: follow page numbers
    raise ServerError(
        "ConnectWise sent a paging link without a pageId or page; try again later.", system=CONNECTWISE.name
    )
