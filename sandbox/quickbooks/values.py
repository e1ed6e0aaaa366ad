"""Value conventions of the QuickBooks Online wire format: money, dates, timestamps, ids.

QBO stamps ``MetaData`` times and the response ``time`` in the company's time zone with an offset
(``2015-07-24T10:33:39-07:00``); sandbox companies are on Pacific time, so this one is too.
"""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from sandbox.quickbooks.faults import invalid_value

COMPANY_TZ = ZoneInfo("America/Los_Angeles")
CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def money(value: Any, field: str) -> Decimal:
    """Read an amount sent as a JSON number or numeric string, rounded to cents."""
    if isinstance(value, bool) or value is None:
        raise invalid_value(field, value)
    try:
        amount = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise invalid_value(field, value) from None
    if not amount.is_finite():
        raise invalid_value(field, value)
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def quantity(value: Any, field: str) -> Decimal:
    """Read a quantity or unit price (kept at its own precision)."""
    if isinstance(value, bool) or value is None:
        raise invalid_value(field, value)
    try:
        number = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise invalid_value(field, value) from None
    if not number.is_finite():
        raise invalid_value(field, value)
    return number


def cents(value: Decimal) -> Decimal:
    """Round to cents, half up."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def stamp(moment: datetime) -> str:
    """Format a ``MetaData`` time: seconds, company offset."""
    return moment.astimezone(COMPANY_TZ).replace(microsecond=0).isoformat()


def response_time(moment: datetime) -> str:
    """Format the response ``time``: milliseconds, company offset."""
    return moment.astimezone(COMPANY_TZ).isoformat(timespec="milliseconds")


def company_date(moment: datetime) -> str:
    """Return the company-local calendar date of ``moment`` as ``YYYY-MM-DD``."""
    return moment.astimezone(COMPANY_TZ).date().isoformat()


def parse_date(value: Any, field: str) -> str:
    """Validate a ``YYYY-MM-DD`` date and return it."""
    if not isinstance(value, str):
        raise invalid_value(field, value)
    try:
        return date.fromisoformat(value[:10]).isoformat()
    except ValueError:
        raise invalid_value(field, value) from None


def parse_datetime(text: str) -> datetime:
    """Parse a date or ISO datetime; values without an offset are company-local time."""
    text = text.strip()
    try:
        if len(text) == 10:
            moment = datetime.combine(date.fromisoformat(text), time(0))
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"not a date or datetime: {text!r}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=COMPANY_TZ)
    return moment


def ref_value(ref: Any) -> str | None:
    """Return the ``value`` of a reference object (or a bare id)."""
    if isinstance(ref, dict):
        value = ref.get("value")
        return None if value in (None, "") else str(value)
    if isinstance(ref, str | int) and not isinstance(ref, bool):
        return str(ref)
    return None


def id_key(value: str) -> tuple[int, str]:
    """Sort key for QBO ids: numeric ids numerically, others after them."""
    return (int(value), "") if value.isdigit() else (1 << 62, value)
