"""Sales-form lines (Invoice, CreditMemo): normalise what a client sent and total it the way QBO does.

TotalAmt = Σ SalesItem and Group line amounts − Σ discount lines + ``TxnTaxDetail.TotalTax``. QBO appends a
``SubTotalLineDetail`` line carrying the pre-discount, pre-tax subtotal; any subtotal line a client sends is
recomputed, not trusted.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from sandbox.quickbooks.faults import amount_mismatch, business, invalid_value, required
from sandbox.quickbooks.values import ZERO, cents, money, quantity

SALES_ITEM = "SalesItemLineDetail"
GROUP = "GroupLineDetail"
DISCOUNT = "DiscountLineDetail"
SUBTOTAL = "SubTotalLineDetail"
DESCRIPTION = "DescriptionOnly"
DETAIL_TYPES = (SALES_ITEM, GROUP, DISCOUNT, SUBTOTAL, DESCRIPTION)


class Refs(Protocol):
    """Resolves references to the company's name lists (raising faults for bad ones)."""

    def customer_ref(self, ref: Any) -> dict[str, str]: ...

    def item_ref(self, ref: Any) -> dict[str, str]: ...


@dataclass
class Totals:
    subtotal: Decimal = ZERO
    discount: Decimal = ZERO
    counted_lines: int = 0


def sales_lines(raw: Any, refs: Refs, *, keep_ids: bool) -> tuple[list[dict[str, Any]], Totals]:
    """Normalise the lines of a sales form; return them (subtotal line appended) and their totals."""
    if raw is None:
        raw = []
    if not isinstance(raw, list):
        raise invalid_value("Line", raw)
    totals = Totals()
    kept: list[dict[str, Any]] = []
    discounts: list[dict[str, Any]] = []
    for item in raw:
        if not isinstance(item, dict):
            raise invalid_value("Line", item)
        kind = _detail_type(item)
        if kind == SUBTOTAL:
            continue
        line = _normalise(item, kind, refs)
        if kind in (SALES_ITEM, GROUP):
            totals.subtotal += line["Amount"]
            totals.counted_lines += 1
        elif kind == DISCOUNT:
            discounts.append(line)
        kept.append(line)
    for line in discounts:
        totals.discount += _discount_amount(line, totals.subtotal)
    _number(kept, keep_ids=keep_ids)
    kept.append({"Amount": cents(totals.subtotal), "DetailType": SUBTOTAL, SUBTOTAL: {}})
    return kept, totals


def _detail_type(item: dict[str, Any]) -> str:
    kind = item.get("DetailType")
    if kind is None:
        inferred = [name for name in DETAIL_TYPES if name in item]
        if len(inferred) != 1:
            raise required("Line.DetailType")
        kind = inferred[0]
    if kind not in DETAIL_TYPES:
        raise invalid_value("Line.DetailType", kind)
    return str(kind)


def _normalise(item: dict[str, Any], kind: str, refs: Refs) -> dict[str, Any]:
    line = {key: value for key, value in item.items() if key not in ("LineNum", "LinkedTxn")}
    line["DetailType"] = kind
    if kind == SALES_ITEM:
        line["Amount"], line[SALES_ITEM] = _sales_item(item, refs)
    elif kind == GROUP:
        line["Amount"], line[GROUP] = _group(item, refs)
    elif kind == DISCOUNT:
        detail = dict(item.get(DISCOUNT) or {})
        if "DiscountPercent" in detail:
            detail["DiscountPercent"] = quantity(detail["DiscountPercent"], "DiscountPercent")
        line[DISCOUNT] = detail
        if item.get("Amount") is not None:
            line["Amount"] = money(item["Amount"], "Line.Amount")
        elif not detail.get("PercentBased"):
            raise required("Line.Amount")
    elif item.get("Amount") is not None:
        line["Amount"] = money(item["Amount"], "Line.Amount")
    return line


def _sales_item(item: dict[str, Any], refs: Refs) -> tuple[Decimal, dict[str, Any]]:
    detail = dict(item.get(SALES_ITEM) or {})
    qty = quantity(detail["Qty"], "Qty") if detail.get("Qty") is not None else None
    price = quantity(detail["UnitPrice"], "UnitPrice") if detail.get("UnitPrice") is not None else None
    for name, number in (("Qty", qty), ("UnitPrice", price)):
        if number is not None:
            detail[name] = number
    if item.get("Amount") is None:
        if qty is None or price is None:
            raise required("Line.Amount")
        amount = cents(qty * price)
    else:
        amount = money(item["Amount"], "Line.Amount")
        # PQB-style clients send Qty 0 / UnitPrice 0 with an Amount; only a real pair must multiply out.
        if qty and price and cents(qty * price) != amount:
            raise amount_mismatch(amount)
    detail["ItemRef"] = refs.item_ref(detail.get("ItemRef") or {"value": "1"})
    detail.setdefault("TaxCodeRef", {"value": "NON"})
    return amount, detail


def _group(item: dict[str, Any], refs: Refs) -> tuple[Decimal, dict[str, Any]]:
    detail = dict(item.get(GROUP) or {})
    inner: list[dict[str, Any]] = []
    total = ZERO
    for sub in detail.get("Line") or []:
        if not isinstance(sub, dict):
            raise invalid_value("GroupLineDetail.Line", sub)
        line = _normalise(sub, SALES_ITEM, refs)
        total += line["Amount"]
        inner.append(line)
    detail["Line"] = inner
    amount = money(item["Amount"], "Line.Amount") if item.get("Amount") is not None else cents(total)
    return amount, detail


def _discount_amount(line: dict[str, Any], subtotal: Decimal) -> Decimal:
    detail = line[DISCOUNT]
    if "Amount" not in line:
        percent = detail.get("DiscountPercent")
        if percent is None:
            raise required("DiscountLineDetail.DiscountPercent")
        line["Amount"] = cents(subtotal * percent / 100)
    amount: Decimal = line["Amount"]
    if amount < 0:
        raise business("A discount cannot be negative.")
    return amount


def _number(lines: list[dict[str, Any]], *, keep_ids: bool) -> None:
    used = {str(line["Id"]) for line in lines if keep_ids and str(line.get("Id", "")).isdigit()}
    next_id = max((int(value) for value in used), default=0) + 1
    seen: set[str] = set()
    for position, line in enumerate(lines, start=1):
        line_id = str(line.get("Id", "")) if keep_ids else ""
        if not line_id.isdigit() or line_id in seen:
            line_id = str(next_id)
            next_id += 1
        seen.add(line_id)
        line["Id"] = line_id
        line["LineNum"] = position


def zero_lines(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return voided copies of ``lines``: every amount and quantity zero."""
    voided: list[dict[str, Any]] = []
    for line in lines:
        copy = dict(line)
        if "Amount" in copy:
            copy["Amount"] = ZERO
        detail = copy.get(SALES_ITEM)
        if isinstance(detail, dict) and "Qty" in detail:
            copy[SALES_ITEM] = {**detail, "Qty": Decimal(0)}
        voided.append(copy)
    return voided
