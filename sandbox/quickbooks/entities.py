"""Build the stored form of each entity from what a client sent: defaults, validation, derived totals.

Builders see only the *writable* fields (read-only ones such as ``Balance`` or ``UnappliedAmt`` are dropped
and derived by the store and the payment engine). They do not assign ``Id``/``SyncToken``/``MetaData``.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sandbox.quickbooks.faults import business, invalid_value, required, too_long
from sandbox.quickbooks.lines import Refs, sales_lines
from sandbox.quickbooks.values import ZERO, money, parse_date, ref_value

ENTITIES = ("Customer", "Item", "Invoice", "CreditMemo", "Payment", "Account")
WRITABLE_ENTITIES = ("Customer", "Item", "Invoice", "CreditMemo", "Payment")
USD = {"value": "USD", "name": "United States Dollar"}

_ALWAYS_READ_ONLY = {"Id", "SyncToken", "MetaData", "domain", "sparse", "status"}
READ_ONLY: dict[str, set[str]] = {
    "Customer": _ALWAYS_READ_ONLY | {"Balance", "BalanceWithJobs", "FullyQualifiedName"},
    "Item": _ALWAYS_READ_ONLY | {"FullyQualifiedName"},
    "Invoice": _ALWAYS_READ_ONLY | {"TotalAmt", "Balance", "HomeBalance", "HomeTotalAmt", "LinkedTxn"},
    "CreditMemo": _ALWAYS_READ_ONLY | {"TotalAmt", "Balance", "RemainingCredit", "HomeTotalAmt", "LinkedTxn"},
    "Payment": _ALWAYS_READ_ONLY | {"UnappliedAmt", "LinkedTxn"},
    "Account": _ALWAYS_READ_ONLY,
}
NAME_FIELD = {"Customer": "DisplayName", "Item": "Name"}
DOCNUMBER_MAX = 21


DEFAULT_ACCOUNTS = (
    ("1", "Services", "Income", "ServiceFeeIncome", "Revenue"),
    ("2", "Sales of Product Income", "Income", "SalesOfProductIncome", "Revenue"),
    ("3", "Accounts Receivable (A/R)", "Accounts Receivable", "AccountsReceivable", "Asset"),
    ("4", "Undeposited Funds", "Other Current Asset", "UndepositedFunds", "Asset"),
)
DEFAULT_ITEMS = (("1", "Services"), ("2", "Hours"))


def seed_rows() -> list[tuple[str, dict[str, Any]]]:
    """Return the Accounts and Items a new company starts with (Undeposited Funds is Account "4")."""
    rows: list[tuple[str, dict[str, Any]]] = []
    for account_id, name, kind, sub_type, classification in DEFAULT_ACCOUNTS:
        account: dict[str, Any] = {"Name": name, "FullyQualifiedName": name, "AccountType": kind}
        account.update(AccountSubType=sub_type, Classification=classification, Active=True, SubAccount=False)
        rows.append(("Account", {"Id": account_id, "SyncToken": "0", **account, "CurrentBalance": ZERO}))
    for item_id, name in DEFAULT_ITEMS:
        rows.append(("Item", {"Id": item_id, "SyncToken": "0", **build_item({"Name": name})}))
    return rows


def writable(entity: str, body: dict[str, Any]) -> dict[str, Any]:
    """Return ``body`` without the entity's read-only fields."""
    hidden = READ_ONLY[entity]
    return {key: value for key, value in body.items() if key not in hidden}


def build(entity: str, src: dict[str, Any], refs: Refs, today: str, *, keep_line_ids: bool) -> dict[str, Any]:
    """Build the stored fields of ``entity`` from writable ``src`` fields."""
    if entity == "Customer":
        return build_customer(src)
    if entity == "Item":
        return build_item(src)
    if entity == "Payment":
        return build_payment(src, refs, today)
    return build_sales_form(entity, src, refs, today, keep_line_ids=keep_line_ids)


def build_customer(src: dict[str, Any]) -> dict[str, Any]:
    """Build a Customer; DisplayName defaults from the person's or company's name."""
    doc = _present(src)
    name = doc.get("DisplayName")
    if name in (None, ""):
        parts = [doc.get(key) for key in ("Title", "GivenName", "MiddleName", "FamilyName", "Suffix")]
        name = " ".join(str(part) for part in parts if part) or doc.get("CompanyName")
    if not isinstance(name, str) or not name.strip():
        raise required("DisplayName")
    name = name.strip()
    if len(name) > 500:
        raise too_long("DisplayName", 500, len(name))
    if ":" in name:
        raise invalid_value("DisplayName", name)  # QBO forbids colons in names [V3]
    doc["DisplayName"] = name
    doc["FullyQualifiedName"] = name
    doc["PrintOnCheckName"] = doc.get("PrintOnCheckName") or name
    doc["Active"] = _flag(doc.get("Active", True), "Active")
    doc.setdefault("Job", False)
    doc.setdefault("BillWithParent", False)
    doc.setdefault("Taxable", False)
    doc.setdefault("PreferredDeliveryMethod", "Print")
    doc.setdefault("CurrencyRef", USD)
    return doc


def build_item(src: dict[str, Any]) -> dict[str, Any]:
    """Build an Item (a Service unless told otherwise)."""
    doc = _present(src)
    name = doc.get("Name")
    if not isinstance(name, str) or not name.strip():
        raise required("Name")
    doc["Name"] = name.strip()
    doc["FullyQualifiedName"] = doc["Name"]
    doc["Active"] = _flag(doc.get("Active", True), "Active")
    doc.setdefault("Type", "Service")
    doc["UnitPrice"] = money(doc.get("UnitPrice", 0), "UnitPrice")
    doc.setdefault("Taxable", False)
    doc.setdefault("IncomeAccountRef", {"value": "1", "name": "Services"})
    return doc


def build_sales_form(
    entity: str, src: dict[str, Any], refs: Refs, today: str, *, keep_line_ids: bool
) -> dict[str, Any]:
    """Build an Invoice or CreditMemo with its lines numbered and totalled (Balance is the store's)."""
    doc = _present(src)
    if "CustomerRef" not in doc:
        raise required("CustomerRef")
    doc["CustomerRef"] = refs.customer_ref(doc["CustomerRef"])
    lines, totals = sales_lines(doc.get("Line"), refs, keep_ids=keep_line_ids)
    if totals.counted_lines == 0:
        raise business("You must fill out at least one split line.")
    # Real QBO computes tax from tax codes and rates; the sandbox takes TxnTaxDetail.TotalTax as given.
    tax_detail = dict(doc.get("TxnTaxDetail") or {})
    tax = money(tax_detail.get("TotalTax", 0), "TxnTaxDetail.TotalTax")
    tax_detail["TotalTax"] = tax
    total = totals.subtotal - totals.discount + tax
    if total < 0:
        raise business("Transaction total cannot be negative.")  # wording [I]
    doc.update(Line=lines, TxnTaxDetail=tax_detail, TotalAmt=total, CurrencyRef=doc.get("CurrencyRef", USD))
    doc["TxnDate"] = parse_date(doc.get("TxnDate", today), "TxnDate")
    if "DocNumber" in doc:
        doc["DocNumber"] = _docnumber(doc["DocNumber"])
    doc.setdefault("PrintStatus", "NotSet")
    doc.setdefault("EmailStatus", "NotSet")
    doc.setdefault("ApplyTaxAfterDiscount", False)
    if entity == "Invoice":
        default_due = (date.fromisoformat(doc["TxnDate"]) + timedelta(days=30)).isoformat()  # Net 30 terms
        doc["DueDate"] = parse_date(doc.get("DueDate", default_due), "DueDate")
        doc["Deposit"] = money(doc.get("Deposit", 0), "Deposit")
        if doc["Deposit"] > total:
            raise business("The deposit cannot be more than the transaction total.")
    return doc


def build_payment(src: dict[str, Any], refs: Refs, today: str) -> dict[str, Any]:
    """Build a Payment; its lines' links are checked and applied by the payment engine."""
    doc = _present(src)
    if "CustomerRef" not in doc:
        raise required("CustomerRef")
    if "TotalAmt" not in doc:
        raise required("TotalAmt")
    doc["CustomerRef"] = refs.customer_ref(doc["CustomerRef"])
    doc["TotalAmt"] = money(doc["TotalAmt"], "TotalAmt")
    if doc["TotalAmt"] < 0:
        raise business("The payment amount cannot be negative.")  # wording [I]
    doc["Line"] = [_payment_line(line) for line in _list(doc.get("Line"), "Line")]
    doc["TxnDate"] = parse_date(doc.get("TxnDate", today), "TxnDate")
    doc.setdefault("DepositToAccountRef", {"value": "4", "name": "Undeposited Funds"})
    doc.setdefault("ProcessPayment", False)
    doc.setdefault("CurrencyRef", USD)
    return doc


def _payment_line(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise invalid_value("Line", raw)
    if raw.get("Amount") is None:
        raise required("Line.Amount")
    amount = money(raw["Amount"], "Line.Amount")
    if amount < ZERO:
        raise business("A payment line amount cannot be negative.")  # wording [I]
    links = []
    for link in _list(raw.get("LinkedTxn"), "Line.LinkedTxn"):
        txn_id = ref_value({"value": link.get("TxnId")}) if isinstance(link, dict) else None
        if txn_id is None:
            raise required("Line.LinkedTxn.TxnId")
        txn_type = link.get("TxnType")
        if not isinstance(txn_type, str) or not txn_type:
            raise required("Line.LinkedTxn.TxnType")
        links.append({"TxnId": txn_id, "TxnType": txn_type})
    if not links:
        raise required("Line.LinkedTxn")
    line: dict[str, Any] = {"Amount": amount, "LinkedTxn": links}
    return line


def _present(src: dict[str, Any]) -> dict[str, Any]:
    # Clients built from Intuit's SDK models send "" for unset strings and dates (PQB sends TxnDate: "").
    return {key: value for key, value in src.items() if value is not None and value != ""}


def _docnumber(value: Any) -> str:
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise invalid_value("DocNumber", value)
    text = str(value)
    if len(text) > DOCNUMBER_MAX:
        raise too_long("DocNumber", DOCNUMBER_MAX, len(text))
    return text


def _list(value: Any, field: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise invalid_value(field, value)
    return value


def _flag(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise invalid_value(field, value)
