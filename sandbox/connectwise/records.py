"""Turn request bodies into stored records: validation, defaults, references.

Stored records are in API shape (what GET returns) and are never mutated after they are stored: a change
stores a new dict. Readers may therefore serialise records outside the store's lock."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from sandbox.connectwise.errors import bad_request, invalid, required
from sandbox.connectwise.schema import COMPANY, INVOICE, Resource
from sandbox.connectwise.values import ZERO, format_time, money_field, parse_time, time_field

Record = dict[str, Any]
CompanyLookup = Callable[[Any, str], Record]  # (reference body, field name) -> stored company

INVOICE_TYPES = ("Agreement", "CreditMemo", "DownPayment", "Miscellaneous", "Progress", "Standard")
APPLY_TO_TYPES = ("All", "Agreement", "Project", "ProjectPhase", "SalesOrder", "Ticket")
# A small fixed billing-status table [I]: sites configure their own; closed ones are postable.
BILLING_STATUSES: tuple[Record, ...] = (
    {"id": 1, "name": "New", "isClosed": False},
    {"id": 2, "name": "Sent", "isClosed": True},
    {"id": 3, "name": "Closed", "isClosed": True},
    {"id": 4, "name": "Paid", "isClosed": True},
)
DEFAULT_TERMS: Record = {"id": 1, "name": "Net 30"}
DEFAULT_COMPANY_STATUS: Record = {"id": 1, "name": "Active"}
DEFAULT_COMPANY_TYPES: list[Record] = [{"id": 1, "name": "Client"}]
READ_ONLY = frozenset({"id", "payments", "credits", "balance", "_info"})
_INVOICE_MONEY = frozenset(
    str.split(
        """serviceTotal expenseTotal productTotal agreementAmount serviceAdjustmentAmount downpaymentApplied
    previousProgressApplied remainingDownpayment"""
    )
)


def build_invoice(body: Any, lookup_company: CompanyLookup, now_text: str) -> Record:
    """Validate an invoice body (POST or PUT) and return the record without id, ledger fields or ``_info``."""
    body = as_object(body, INVOICE)
    company = lookup_company(present(body, "company", INVOICE), "company")
    kind = enum(present(body, "type", INVOICE), INVOICE_TYPES, "type", INVOICE)
    record: Record = {
        "invoiceNumber": bounded_text(body.get("invoiceNumber"), "invoiceNumber", 15, INVOICE),
        "type": kind,
        "status": billing_status(body.get("status")),
        "company": company_ref(company),
        "billToCompany": _other_company(body, "billToCompany", company, lookup_company),
        "shipToCompany": _other_company(body, "shipToCompany", company, lookup_company),
        "accountNumber": bounded_text(body.get("accountNumber"), "accountNumber", 50, INVOICE)
        or company.get("accountNumber"),
        "applyToType": enum(body.get("applyToType") or "All", APPLY_TO_TYPES, "applyToType", INVOICE),
        "billingTerms": copy_value(body.get("billingTerms") or DEFAULT_TERMS),
        **_dates(body, now_text),
        **_amounts(body),
        "specialInvoiceFlag": bool(body.get("specialInvoiceFlag", kind == "CreditMemo")),
    }
    record.update(passthrough(body, INVOICE, record, _INVOICE_MONEY))
    return {key: value for key, value in record.items() if value is not None}


def _other_company(body: Record, field: str, company: Record, lookup: CompanyLookup) -> Record:
    value = body.get(field)
    return company_ref(lookup(value, field) if value else company)


def _dates(body: Record, now_text: str) -> Record:
    date = time_field(body.get("date"), INVOICE.name, "date") or now_text
    due = time_field(body.get("dueDate"), INVOICE.name, "dueDate")
    if due is None:
        start = parse_time(date)
        assert start is not None  # canonical text always parses
        due = format_time(start + timedelta(days=30))
    return {"date": date, "dueDate": due}


def _amounts(body: Record) -> Record:
    subtotal = money_field(body.get("subtotal"), INVOICE.name, "subtotal")
    tax = money_field(body.get("salesTax"), INVOICE.name, "salesTax") or ZERO
    total = money_field(body.get("total"), INVOICE.name, "total")
    if total is None:
        total = (subtotal or ZERO) + tax
    if subtotal is None:
        subtotal = total - tax
    # payments / credits / balance are placeholders here; the store derives them from payment rows.
    return {
        "subtotal": subtotal,
        "salesTax": tax,
        "total": total,
        "payments": ZERO,
        "credits": ZERO,
        "balance": total,
    }


def build_company(body: Any) -> Record:
    """Validate a company body and return the record without id or ``_info``."""
    body = as_object(body, COMPANY)
    record: Record = {
        "identifier": bounded_text(present(body, "identifier", COMPANY), "identifier", 30, COMPANY),
        "name": bounded_text(present(body, "name", COMPANY), "name", 50, COMPANY),
        "status": copy_value(body.get("status") or DEFAULT_COMPANY_STATUS),
        "types": copy_value(body.get("types") or DEFAULT_COMPANY_TYPES),
        "accountNumber": bounded_text(body.get("accountNumber"), "accountNumber", 50, COMPANY),
        "deletedFlag": bool(body.get("deletedFlag", False)),
    }
    record.update(passthrough(body, COMPANY, record, frozenset({"annualRevenue"})))
    return {key: value for key, value in record.items() if value is not None}


def company_ref(company: Record) -> Record:
    """Return the CompanyReference an invoice embeds."""
    return {"id": company["id"], "identifier": company["identifier"], "name": company["name"]}


def invoice_ref(invoice: Record) -> Record:
    """Return the InvoiceReference a payment embeds."""
    return {
        "id": invoice["id"],
        "identifier": invoice.get("invoiceNumber"),
        "billingType": invoice["type"],
        "applyToType": invoice.get("applyToType"),
        "invoiceDate": invoice.get("date"),
    }


def billing_status(value: Any) -> Record:
    """Resolve a BillingStatusReference given by id or name; the first status when absent."""
    if value is None:
        return dict(BILLING_STATUSES[0])
    if not isinstance(value, Mapping):
        raise invalid(INVOICE.name, "InvalidField", "The status field must be an object.", "status")
    if value.get("id") is not None:
        found = next((s for s in BILLING_STATUSES if str(s["id"]) == str(value["id"])), None)
        field, ident = "status/id", value["id"]
    else:
        name = str(value.get("name") or "")
        found = next((s for s in BILLING_STATUSES if str(s["name"]).lower() == name.lower()), None)
        field, ident = "status/name", name
    if found is None:
        raise invalid(INVOICE.name, "NotFound", f"Billing Status {ident} not found", field)
    return dict(found)


def as_object(body: Any, resource: Resource) -> Record:
    """Refuse a body that is not a JSON object."""
    if not isinstance(body, Mapping):
        raise bad_request(f"The request body must be a {resource.name} object.")
    return dict(body)


def present(body: Record, field: str, resource: Resource) -> Any:
    """Return a required field's value or raise the 400 ConnectWise answers when it is missing."""
    value = body.get(field)
    if value is None or value == "":
        raise required(resource.name, field)
    return value


def bounded_text(value: Any, field: str, limit: int, resource: Resource) -> str | None:
    """Check a string field and its maximum length."""
    if value is None:
        return None
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise invalid(resource.name, "InvalidField", f"The {field} field must be a string.", field)
    text = str(value)
    if len(text) > limit:
        message = f"The field {field} must be a string with a maximum length of {limit}."
        raise invalid(resource.name, "MaxLengthField", message, field)
    return text


def enum(value: Any, allowed: tuple[str, ...], field: str, resource: Resource) -> str:
    """Match an enum value case-insensitively and return its canonical spelling."""
    found = next((name for name in allowed if name.lower() == str(value).lower()), None)
    if found is None:
        message = f"The {field} field must be one of: {', '.join(allowed)}."
        raise invalid(resource.name, "InvalidField", message, field)
    return found


def passthrough(body: Record, resource: Resource, handled: Record, money: frozenset[str]) -> Record:
    """Keep the other schema fields a body sets (unknown keys are ignored, as ConnectWise does [I])."""
    out: Record = {}
    for field, value in body.items():
        if value is None or field in handled or field in READ_ONLY or resource.canonical(field) is None:
            continue
        if field in money:
            out[field] = money_field(value, resource.name, field)
        else:
            out[field] = copy_value(value)
    return out


def copy_record(record: Record) -> Record:
    """Copy a record deeply enough that the caller may mutate it."""
    return {key: copy_value(value) for key, value in record.items()}


def copy_value(value: Any) -> Any:
    """Copy nested dicts and lists (records handed out must not alias stored ones)."""
    if isinstance(value, dict):
        return {key: copy_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [copy_value(item) for item in value]
    return value
