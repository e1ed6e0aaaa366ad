"""Money and time as the store keeps them: ``Decimal`` amounts and canonical ``YYYY-MM-DDTHH:MM:SSZ`` strings.

Times are stored as canonical UTC strings, not ``datetime``: that is the wire format ConnectWise uses, and
strings of one fixed format sort chronologically, so conditions and ``orderBy`` compare them without parsing
100,000 values."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation

from sandbox.connectwise.errors import invalid

ZERO = Decimal("0")
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def format_time(moment: datetime) -> str:
    """Render an aware (or naive-as-UTC) datetime the way ConnectWise does."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime(TIME_FORMAT)


def parse_time(value: object) -> datetime | None:
    """Read a datetime from ISO text, a ``datetime`` or a ``date``; ``None`` if it is none of those."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(0), tzinfo=UTC)
    if not isinstance(value, str):
        return None
    text = value.strip()
    try:
        moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def time_field(value: object, resource: str, field: str) -> str | None:
    """Normalise a body's datetime field to the canonical string; 400 if it is not a datetime."""
    if value is None:
        return None
    moment = parse_time(value)
    if moment is None:
        raise invalid(resource, "InvalidField", f"The {field} field must be a valid date and time.", field)
    return format_time(moment)


def to_money(value: object) -> Decimal | None:
    """Read an amount (Decimal, int, float or numeric text) exactly; ``None`` if it is not one."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, int | float | str):
        try:
            amount = Decimal(str(value).strip())
        except InvalidOperation:
            return None
        return amount if amount.is_finite() else None
    return None


def money_field(value: object, resource: str, field: str) -> Decimal | None:
    """Normalise a body's money field; 400 if present but not a number."""
    if value is None:
        return None
    amount = to_money(value)
    if amount is None:
        raise invalid(resource, "InvalidField", f"The {field} field must be a number.", field)
    return amount


def dollars(amount: Decimal) -> str:
    """Render an amount as ConnectWise messages do, e.g. ``$1,250.00``."""
    return f"${amount:,.2f}"
