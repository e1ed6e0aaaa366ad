"""Value conventions shared by the records: Decimal money, aware UTC times, calendar dates, the frozen base.

Money is ``Decimal`` (responses are parsed with ``parse_float=Decimal``; a stray float is read through
``str``), times are aware UTC datetimes, calendar dates are ``date``. Each record's ``from_api`` accepts the
payload shapes the research documents: optional keys missing, ``"Balance": 0``, string ``Id``s,
``null`` amounts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict


def money(value: object) -> Decimal:
    """Read an amount (JSON number, Decimal, string or null) as an exact Decimal; null is 0."""
    if value is None or value == "":
        return Decimal(0)
    if isinstance(value, float):
        return Decimal(str(value))
    return Decimal(str(value)) if not isinstance(value, Decimal) else value


def utc(value: object) -> dt.datetime | None:
    """Read an ISO timestamp as an aware UTC datetime."""
    if value is None or value == "":
        return None
    moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    if moment.tzinfo is None:  # CW and QBO both send offsets; a bare time is read as UTC, CW's convention
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def day(value: object) -> dt.date | None:
    """Read ``2024-01-15`` or ``2024-01-15T00:00:00Z`` as the calendar date written (no zone shift)."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


Money = Annotated[Decimal, BeforeValidator(money)]
UTCTime = Annotated[dt.datetime | None, BeforeValidator(utc)]
Day = Annotated[dt.date | None, BeforeValidator(day)]


class Record(BaseModel):
    """Base of every record: immutable, unknown fields refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def ref(payload: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """Return the nested object under ``key``, or an empty mapping."""
    value = payload.get(key)
    return value if isinstance(value, Mapping) else {}
