"""ConnectWise checks: reachable with these keys, which codebase and API version, and whether the fields Tally
relies on look the way Tally reads them — on a sample of the real invoices, read only.

Assumptions checked (each is unverified for some ConnectWise versions, see ``sync/records/connectwise.py``):

- ``status.isClosed`` is sent on invoices (some versions send it missing or null: Tally then falls back to
  ``TALLY_CW_CLOSED_STATUSES``);
- ``_info.lastUpdated`` is sent (incremental syncs ask ``lastUpdated >= …``);
- a payment recorded on an invoice moves the invoice's ``lastUpdated`` (if not, only the full sweep sees it);
- credit memo totals come positive or negative (Tally reads both as magnitudes; doctor says which);
- ``/finance/invoices/{id}/payments`` answers (Tally reads and records payments there);
- forward-only paging is honoured, and which ``Link`` form comes back (Tally follows both forms and page numbers).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import httpx

from sync.clients.connectwise import API_VERSION, ConnectWiseClient
from sync.clients.errors import AuthError, NotConfiguredError, TallyAPIError
from sync.clients.http import parse_json
from sync.doctor.model import Check, Section
from sync.settings import Settings

SYSTEM = "ConnectWise"
SAMPLE = 50  # invoices looked at
PAYMENT_SAMPLE = 5  # invoices whose payments are read
_LINK_NEXT = re.compile(r"rel=\"?next\"?", re.IGNORECASE)
DEPENDENT = (
    ("cw.version", "Codebase and API version"),
    ("cw.closed_flag", "Invoices carry status.isClosed"),
    ("cw.last_updated", "Invoices carry _info.lastUpdated"),
    ("cw.credit_memo_sign", "Credit memo amounts"),
    ("cw.payments", "Payments endpoint"),
    ("cw.payments_touch", "Payments move the invoice's lastUpdated"),
    ("cw.paging", "Paging"),
)


def check_connectwise(settings: Settings) -> list[Check]:
    """Every ConnectWise check, in order; later ones are skipped when ConnectWise cannot be read at all."""
    section = Section(SYSTEM)
    try:
        client = ConnectWiseClient.from_settings(settings)
    except NotConfiguredError as exc:
        section.fail("cw.reachable", "ConnectWise reachable", exc.sentence, _settings_remedy())
        section.skip(DEPENDENT, "ConnectWise is not configured.")
        return section.checks
    with client:
        try:
            first = client.probe("/finance/invoices", params={"pageSize": 1}, forward_only=True)
        except AuthError as exc:
            section.fail(
                "cw.reachable",
                "ConnectWise reachable",
                exc.sentence,
                "Check CW_COMPANY_ID, CW_PUBLIC_KEY, CW_PRIVATE_KEY and CW_CLIENT_ID; the API member needs the "
                "Finance > Invoicing rights (System > Security Roles).",
            )
            section.skip(DEPENDENT, "ConnectWise refused the keys.")
            return section.checks
        except TallyAPIError as exc:
            section.fail(
                "cw.reachable",
                "ConnectWise reachable",
                exc.sentence,
                f"Check CW_BASE_URL (now {client.base_url}) or CW_SITE, and that this machine can reach it.",
            )
            section.skip(DEPENDENT, "ConnectWise could not be reached.")
            return section.checks
        section.passed("cw.reachable", "ConnectWise reachable", f"{client.base_url} answered with these keys.")
        _version(section, client, first)
        rows = _rows(client.probe("/finance/invoices", params={"pageSize": SAMPLE, "orderBy": "id desc"}))
        invoices = [row for row in rows if row.get("type") != "CreditMemo"]
        memos = _rows(
            client.probe(
                "/finance/invoices", params={"pageSize": 10, "conditions": 'type="CreditMemo"', "orderBy": "id desc"}
            )
        )
        _closed_flag(section, rows, settings.cw_closed_statuses)
        _last_updated(section, rows)
        _credit_memo_sign(section, memos)
        _payments(section, client, invoices)
        _paging(section, first)
    return section.checks


def _settings_remedy() -> str:
    return "Set CW_BASE_URL (or CW_SITE), CW_COMPANY_ID, CW_PUBLIC_KEY, CW_PRIVATE_KEY and CW_CLIENT_ID."


def _rows(response: httpx.Response) -> list[Mapping[str, Any]]:
    body = parse_json(response)
    return [row for row in body if isinstance(row, Mapping)] if isinstance(body, list) else []


def _version(section: Section, client: ConnectWiseClient, response: httpx.Response) -> None:
    title = "Codebase and API version"
    codebase = next((part for part in urlsplit(client.base_url).path.split("/") if part), "?")
    served = response.headers.get("api-current-version")
    build = ""
    parts = urlsplit(client.base_url)
    try:
        info = parse_json(client.probe(f"{parts.scheme}://{parts.netloc}/login/companyinfo/{settings_company(client)}"))
        if isinstance(info, Mapping):
            build = f", build {info.get('VersionNumber') or info.get('VersionCode') or '?'}"
    except TallyAPIError:
        pass  # companyinfo is a convenience; the API answered, which is what matters
    seen = (
        f"Codebase {codebase}{build}; the server's current API version is {served or 'not sent'}; "
        f"Tally asks for {API_VERSION}."
    )
    if served and _version_tuple(served) < _version_tuple(API_VERSION):
        section.warn(
            "cw.version",
            title,
            seen,
            f"This ConnectWise serves an API older than the {API_VERSION} models Tally reads; fields may be missing. "
            "Ask your ConnectWise admin (or ConnectWise, for cloud) when the server is upgraded, and re-run doctor.",
        )
    else:
        section.passed("cw.version", title, seen)


def settings_company(client: ConnectWiseClient) -> str:
    """The company id the client logs in with (the ``company+public`` of its Basic auth)."""
    return str(getattr(client, "_company_id", ""))


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:2]) or (0,)


def _closed_flag(section: Section, rows: Sequence[Mapping[str, Any]], closed: Sequence[str]) -> None:
    title = "Invoices carry status.isClosed"
    if not rows:
        section.warn(
            "cw.closed_flag",
            title,
            "ConnectWise has no invoices to look at.",
            "Run `tally doctor` again once ConnectWise has invoices.",
        )
        return
    lacking = [
        row for row in rows if not isinstance(row.get("status"), Mapping) or row["status"].get("isClosed") is None
    ]
    names = sorted(
        {str((row.get("status") or {}).get("name")) for row in rows if isinstance(row.get("status"), Mapping)}
    )
    if not lacking:
        section.passed("cw.closed_flag", title, f"All {len(rows)} sampled invoices say whether they are closed.")
        return
    unknown = [name for name in names if name.casefold() not in {c.casefold() for c in closed}]
    detail = (
        f"{len(lacking)} of {len(rows)} sampled invoices have no status.isClosed; Tally falls back to the status "
        f"names in TALLY_CW_CLOSED_STATUSES ({', '.join(closed) or 'none'}). Statuses seen: {', '.join(names)}."
    )
    remedy = (
        "Make TALLY_CW_CLOSED_STATUSES list exactly your closed (sent, final) invoice statuses "
        "(ConnectWise: Finance > Invoice statuses), or Tally treats closed invoices as drafts."
    )
    if unknown:
        remedy += f" Not in the list now: {', '.join(unknown)}."
    section.warn("cw.closed_flag", title, detail, remedy)


def _last_updated(section: Section, rows: Sequence[Mapping[str, Any]]) -> None:
    title = "Invoices carry _info.lastUpdated"
    lacking = [row for row in rows if not _updated(row)]
    if rows and not lacking:
        section.passed("cw.last_updated", title, f"All {len(rows)} sampled invoices carry _info.lastUpdated.")
    elif not rows:
        section.skip(DEPENDENT[2:3], "ConnectWise has no invoices to look at.")
    else:
        section.fail(
            "cw.last_updated",
            title,
            f"{len(lacking)} of {len(rows)} sampled invoices have no _info.lastUpdated, so changes since the last "
            "sync cannot be asked for.",
            "Set TALLY_SWEEP_AT so the full sweep re-reads everything, and ask ConnectWise support why _info is "
            "missing (the API member may lack rights to record details).",
        )


def _updated(row: Mapping[str, Any]) -> datetime | None:
    info = row.get("_info")
    value = info.get("lastUpdated") if isinstance(info, Mapping) else None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None
    except ValueError:
        return None


def _number(value: Any) -> Decimal | None:
    """A JSON amount (read as ``Decimal``, or a number) as ``Decimal``; ``None`` when it is not one."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int | float):
        return None
    return Decimal(str(value))


def _credit_memo_sign(section: Section, memos: Sequence[Mapping[str, Any]]) -> None:
    title = "Credit memo amounts"
    totals = [total for total in (_number(row.get("total")) for row in memos) if total]
    if not totals:
        section.passed("cw.credit_memo_sign", title, "No credit memo with an amount to look at; either sign is read.")
        return
    negative = sum(1 for total in totals if total < 0)
    if negative == len(totals):
        sign = "negative"
    elif negative == 0:
        sign = "positive"
    else:
        sign = f"mixed ({negative} negative, {len(totals) - negative} positive)"
    section.passed(
        "cw.credit_memo_sign",
        title,
        f"{len(totals)} sampled credit memos carry {sign} totals; Tally reads them as amounts credited either way.",
    )


def _payments(section: Section, client: ConnectWiseClient, invoices: Sequence[Mapping[str, Any]]) -> None:
    title = "Payments endpoint"
    paid = [row for row in invoices if _number(row.get("payments"))]
    sample = (paid or list(invoices))[:PAYMENT_SAMPLE]
    if not sample:
        section.skip(DEPENDENT[4:6], "ConnectWise has no invoices to look at.")
        return
    later: list[str] = []
    read = 0
    for row in sample:
        try:
            payments = _rows(client.probe(f"/finance/invoices/{row['id']}/payments"))
        except TallyAPIError as exc:
            section.fail(
                "cw.payments",
                title,
                exc.sentence,
                "Give the API member the Finance > Invoicing rights to view and add payments; Tally reads and "
                "records payments on /finance/invoices/{id}/payments.",
            )
            section.skip(DEPENDENT[5:6], "the payments could not be read.")
            return
        read += len(payments)
        invoice_time = _updated(row)
        for payment in payments:
            payment_time = _updated(payment)
            if invoice_time and payment_time and payment_time > invoice_time:
                later.append(str(row.get("invoiceNumber") or row["id"]))
                break
    section.passed("cw.payments", title, f"Read {read} payment rows on {len(sample)} invoices.")
    touch = "Payments move the invoice's lastUpdated"
    if later:
        section.warn(
            "cw.payments_touch",
            touch,
            f"{'Invoice' if len(later) == 1 else 'Invoices'} {', '.join(later)} "
            f"{'has' if len(later) == 1 else 'have'} a payment newer than the invoice's own lastUpdated:"
            " this ConnectWise "
            "does not mark an invoice changed when a payment is recorded, so incremental syncs miss such payments.",
            "Keep the full sweep on (TALLY_SWEEP_AT, nightly by default): it re-reads everything and counts what "
            "the incremental syncs missed (shown in `tally status` and the digest).",
        )
    elif not paid:
        section.skip((("cw.payments_touch", touch),), "no sampled invoice has a payment to compare.")
    else:
        section.passed("cw.payments_touch", touch, "No sampled payment is newer than its invoice's lastUpdated.")


def _paging(section: Section, response: httpx.Response) -> None:
    title = "Paging"
    link = response.headers.get("link")
    rows = _rows(response)
    if link is None:
        if len(rows) < 1:
            section.passed("cw.paging", title, "Only one page to read; nothing to page through.")
        else:
            section.warn(
                "cw.paging",
                title,
                "A one-row page came back without a Link header.",
                "Check that no proxy strips the Link header; Tally then pages by the last id seen, and a full "
                "read is checked against /count.",
            )
        return
    if "pageid=" in link.lower():
        kind = 'with rel="next"' if _LINK_NEXT.search(link) else "without rel (a bare <url>)"
        section.passed("cw.paging", title, f"Forward-only paging is honoured; the Link header comes {kind}.")
        return
    form = "page numbers"
    section.warn(
        "cw.paging",
        title,
        f"ConnectWise ignored forward-only paging and answered {form} (a codebase older than 2018.5?).",
        "Nothing to set: Tally follows page numbers, and every full read is checked against /count so a page "
        "shifted by a change during the read fails the sync instead of losing a record. Prefer quiet hours for "
        "the sweep (TALLY_SWEEP_AT).",
    )
