"""TALLY_BUSINESS_HOURS: when scheduled checks may run, read the way a finance team writes it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from sync.settings import BusinessHours, load_settings, parse_business_hours


def hours(text: str) -> BusinessHours:
    parsed = parse_business_hours(text)
    assert parsed is not None
    return parsed


def test_empty_means_always() -> None:
    assert parse_business_hours("") is None
    assert parse_business_hours("   ") is None
    settings = load_settings(_env_file=None, TALLY_BUSINESS_HOURS="")
    assert settings.in_business_hours(datetime(2026, 11, 29, 3, 0, tzinfo=UTC))  # a Sunday night


def test_weekday_range_and_times() -> None:
    parsed = hours("Mon-Fri 08:00-18:00")
    assert parsed == BusinessHours(days=frozenset(range(5)), start=8 * 60, end=18 * 60)
    assert parsed.contains(datetime(2026, 11, 27, 8, 0, tzinfo=UTC))  # Friday 08:00: inside
    assert not parsed.contains(datetime(2026, 11, 27, 18, 0, tzinfo=UTC))  # 18:00 is the end, outside
    assert not parsed.contains(datetime(2026, 11, 28, 12, 0, tzinfo=UTC))  # Saturday


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("Mon,Wed,Fri 09:00-17:00", {0, 2, 4}),
        ("monday-tuesday 09:00-17:00", {0, 1}),
        ("Fri-Mon 09:00-17:00", {4, 5, 6, 0}),  # wraps over the weekend
        ("Sun 00:00-24:00", {6}),
    ],
)
def test_day_lists(text: str, days: set[int]) -> None:
    assert hours(text).days == frozenset(days)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("weekdays", "is not business hours"),
        ("Mon-Fri 18:00-08:00", "ends before it starts"),
        ("Mon-Fry 08:00-18:00", "'Fry' is not a weekday"),
        ("Mon-Fri 08:00-25:00", "is not a time of day"),
    ],
)
def test_mistakes_are_refused_with_a_sentence(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_business_hours(text)
    with pytest.raises(ValidationError, match=says):
        load_settings(_env_file=None, TALLY_BUSINESS_HOURS=text)


def test_hours_are_read_in_the_configured_timezone() -> None:
    settings = load_settings(
        _env_file=None, TALLY_BUSINESS_HOURS="Mon-Fri 08:00-18:00", TALLY_TIMEZONE="America/New_York"
    )
    assert settings.in_business_hours(datetime(2026, 11, 27, 13, 30, tzinfo=UTC))  # 08:30 in New York
    assert not settings.in_business_hours(datetime(2026, 11, 27, 12, 30, tzinfo=UTC))  # 07:30 in New York
    assert not settings.in_business_hours(datetime(2026, 11, 28, 0, 30, tzinfo=UTC))  # Friday 19:30 in New York
