"""Configuration: read once from the environment (and an optional ``.env``), then passed down.

Nothing else in Tally reads ``os.environ``. Secrets are ``SecretStr`` so they never print by accident.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BeforeValidator, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from sync.people import parse_operators, terminal_actor

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$", re.IGNORECASE)
_UNITS = {"": 60, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: object) -> timedelta:
    """Parse ``15m``, ``2h``, ``30s``, ``1d`` or a bare number of minutes into a timedelta."""
    if isinstance(value, timedelta):
        return value
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"{value!r} is not a duration; use e.g. 30s, 15m, 2h or 1d")
    amount, unit = match.groups()
    return timedelta(seconds=float(amount) * _UNITS[unit.lower()])


def _split_ids(value: object) -> list[str]:
    if isinstance(value, list | tuple):
        return [str(item).strip() for item in value if str(item).strip()]
    return [part.strip() for part in str(value or "").split(",") if part.strip()]


FIX_KINDS = ("backflow_payment", "apply_credit_memo", "apply_credit_in_cw", "mirror_invoice", "mirror_credit_memo")
_LIMIT = re.compile(r"^\s*([a-z_]+)\s*<=\s*\$?\s*(\d+(?:\.\d{1,2})?)\s*$")


def parse_auto_approve(value: object) -> dict[str, Decimal]:
    """Parse ``backflow_payment<=250,apply_credit_memo<=500`` into fix kind -> largest amount; empty = off."""
    if isinstance(value, dict):
        parts = [f"{kind}<={limit}" for kind, limit in value.items()]
    else:
        parts = [part for part in str(value or "").split(",") if part.strip()]
    limits: dict[str, Decimal] = {}
    for part in parts:
        match = _LIMIT.match(part)
        if not match:
            raise ValueError(f"{part.strip()!r} is not KIND<=AMOUNT, e.g. backflow_payment<=250")
        kind, limit = match.groups()
        if kind not in FIX_KINDS:
            raise ValueError(f"{kind!r} is not a fix Tally makes; use one of {', '.join(FIX_KINDS)}")
        limits[kind] = Decimal(limit)
    return limits


_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_HOURS = re.compile(r"^\s*(?P<days>[a-z][a-z ,\-]*?)\s+(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})\s*$", re.I)


@dataclass(frozen=True)
class BusinessHours:
    """Weekdays (0 = Monday) and a daily window in minutes after local midnight; ``end`` may be 1440 (24:00)."""

    days: frozenset[int]
    start: int
    end: int

    def contains(self, moment: datetime) -> bool:
        """Tell whether ``moment`` (already in the local timezone) falls inside these hours."""
        minute = moment.hour * 60 + moment.minute
        return moment.weekday() in self.days and self.start <= minute < self.end


def _minutes(text: str) -> int:
    hours, minutes = (int(part) for part in text.split(":"))
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        raise ValueError(f"{text} is not a time of day; use HH:MM between 00:00 and 24:00")
    return hours * 60 + minutes


def _day(name: str) -> int:
    word = name.strip().lower()
    for index, day in enumerate(_DAY_NAMES):
        if word in (day, day[:3]):
            return index
    raise ValueError(f"{name.strip()!r} is not a weekday; use Mon, Tue, Wed, Thu, Fri, Sat or Sun")


def _days(text: str) -> frozenset[int]:
    days: set[int] = set()
    for part in text.split(","):
        first, _, last = part.partition("-")
        start = _day(first)
        stop = _day(last) if last.strip() else start
        days.update((start + step) % 7 for step in range((stop - start) % 7 + 1))  # Fri-Mon wraps the weekend
    return frozenset(days)


def parse_business_hours(value: object) -> BusinessHours | None:
    """Parse ``Mon-Fri 08:00-18:00`` (or ``Mon,Wed,Fri 09:00-17:00``); empty means always (``None``)."""
    if isinstance(value, BusinessHours) or value is None:
        return value
    text = str(value).strip()
    if not text:
        return None
    match = _HOURS.match(text)
    if not match:
        raise ValueError(f"{text!r} is not business hours; write e.g. Mon-Fri 08:00-18:00, or leave it empty")
    start, end = _minutes(match["start"]), _minutes(match["end"])
    if end <= start:
        raise ValueError(f"{text!r} ends before it starts; write the earlier time first, e.g. 08:00-18:00")
    return BusinessHours(days=_days(match["days"]), start=start, end=end)


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
IdList = Annotated[list[str], NoDecode, BeforeValidator(_split_ids)]
AutoApprove = Annotated[dict[str, Decimal], NoDecode, BeforeValidator(parse_auto_approve)]
Operators = Annotated[dict[str, str], NoDecode, BeforeValidator(parse_operators)]


class Settings(BaseSettings):
    """Every setting Tally reads; names are the environment variables of the README."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = Field("sqlite:///tally.db", alias="DATABASE_URL")
    secret_key: SecretStr | None = Field(None, alias="TALLY_SECRET_KEY")

    cw_base_url: str | None = Field(None, alias="CW_BASE_URL")
    cw_site: str | None = Field(None, alias="CW_SITE")
    cw_company_id: str | None = Field(None, alias="CW_COMPANY_ID")
    cw_public_key: str | None = Field(None, alias="CW_PUBLIC_KEY")
    cw_private_key: SecretStr | None = Field(None, alias="CW_PRIVATE_KEY")
    cw_client_id: str | None = Field(None, alias="CW_CLIENT_ID")
    # reads (issue 10 §1): when the full sweep re-reads everything (daily, local time in TALLY_TIMEZONE), and the
    # CW billing status names taken as closed when ConnectWise sends no ``status.isClosed``.
    sweep_at: time = Field(time(2, 30), alias="TALLY_SWEEP_AT")
    cw_closed_statuses: IdList = Field(default_factory=lambda: ["Closed", "Paid"], alias="TALLY_CW_CLOSED_STATUSES")

    qbo_client_id: str | None = Field(None, alias="QBO_CLIENT_ID")
    qbo_client_secret: SecretStr | None = Field(None, alias="QBO_CLIENT_SECRET")
    qbo_redirect_uri: str | None = Field(None, alias="QBO_REDIRECT_URI")
    qbo_environment: str = Field("production", alias="QBO_ENVIRONMENT")
    qbo_base_url: str | None = Field(None, alias="QBO_BASE_URL")
    qbo_realm_id: str | None = Field(None, alias="QBO_REALM_ID")
    qbo_refresh_token: SecretStr | None = Field(None, alias="QBO_REFRESH_TOKEN")
    qbo_webhook_verifier: SecretStr | None = Field(None, alias="QBO_WEBHOOK_VERIFIER")

    slack_bot_token: SecretStr | None = Field(None, alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(None, alias="SLACK_SIGNING_SECRET")
    slack_app_token: SecretStr | None = Field(None, alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field("https://slack.com/api/", alias="SLACK_API_URL")

    channel: str | None = Field(None, alias="TALLY_CHANNEL")
    approvers: IdList = Field(default_factory=list, alias="TALLY_APPROVERS")
    approver_group: str | None = Field(None, alias="TALLY_APPROVER_GROUP")
    timezone: str = Field("UTC", alias="TALLY_TIMEZONE")
    digest_at: time = Field(time(8, 0), alias="TALLY_DIGEST_AT")
    check_every: Duration = Field(timedelta(minutes=15), alias="TALLY_CHECK_EVERY")
    tolerance: Decimal = Field(Decimal("0.05"), alias="TALLY_TOLERANCE")
    dual_approval_above: Decimal = Field(Decimal("5000"), alias="TALLY_DUAL_APPROVAL_ABOVE")
    sync_grace: Duration = Field(timedelta(minutes=30), alias="TALLY_SYNC_GRACE")
    auto_approve: AutoApprove = Field(default_factory=dict, alias="TALLY_AUTO_APPROVE")
    slash_command: str = Field("/tally", alias="TALLY_COMMAND")
    admins: IdList = Field(default_factory=list, alias="TALLY_ADMINS")
    public_url: str | None = Field(None, alias="TALLY_PUBLIC_URL")
    business_hours: str = Field("", alias="TALLY_BUSINESS_HOURS")
    port: int = Field(8000, alias="PORT")

    # approvals (issue 8 §3): terminal logins mapped to people; the old free-text operator name is refused.
    operators: Operators = Field(default_factory=dict, alias="TALLY_OPERATORS")
    legacy_operator: str | None = Field(None, alias="TALLY_OPERATOR")

    # writes (issue 8 §1): how long a call waits for ConnectWise or QuickBooks, how long after a write's longest
    # possible flight Tally still waits before it calls a missing write "not written", and how often it looks.
    http_timeout: Duration = Field(timedelta(seconds=60), alias="TALLY_HTTP_TIMEOUT")
    write_margin: Duration = Field(timedelta(minutes=2), alias="TALLY_WRITE_MARGIN")
    settle_every: Duration = Field(timedelta(minutes=1), alias="TALLY_SETTLE_EVERY")
    # sync speed (issue 11 §3): ConnectWise publishes no concurrency limit; QuickBooks allows 10 per realm (client).
    cw_concurrency: int = Field(8, alias="TALLY_CW_CONCURRENCY", ge=1, le=32)

    # access (issue 8 §4): who may read balances and the audit trail besides approvers and admins; or every full
    # member of the workspace (never guests) when reading is opened.
    viewers: IdList = Field(default_factory=list, alias="TALLY_VIEWERS")
    open_reading: bool = Field(False, alias="TALLY_OPEN_READING")

    # real time (issue 11 §2): notifications coalesce until QUIET passes without one (at most MAX_WAIT after the
    # first), then one incremental check runs; one caller may make Tally read at most CALLBACK_RATE times a minute.
    realtime_quiet: Duration = Field(timedelta(seconds=2), alias="TALLY_REALTIME_QUIET")
    realtime_max_wait: Duration = Field(timedelta(seconds=8), alias="TALLY_REALTIME_MAX_WAIT")
    callback_rate: int = Field(30, alias="TALLY_CALLBACK_RATE", ge=1)
    # undo (issue 13): how long after a fix ran Tally still offers to reverse it.
    undo_for: Duration = Field(timedelta(days=30), alias="TALLY_UNDO_FOR")

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"{value!r} is not a timezone name such as America/New_York") from exc
        return value

    @field_validator("business_hours")
    @classmethod
    def _readable_hours(cls, value: str) -> str:
        parse_business_hours(value)
        return value.strip()

    @field_validator("legacy_operator")
    @classmethod
    def _one_login_one_person(cls, value: str | None) -> None:
        if value is not None:
            raise ValueError(
                "TALLY_OPERATOR is no longer read: the terminal operator is your OS login, and no setting may name "
                "someone else. Remove it and map logins to people with TALLY_OPERATORS=ana:U0ANA,ben:U0BEN"
            )
        return None

    @field_validator("tolerance", "dual_approval_above")
    @classmethod
    def _not_negative(cls, value: Decimal) -> Decimal:
        if value < 0:
            raise ValueError("must not be negative")
        return value

    @property
    def operator(self) -> str:
        """Who the terminal is, for the audit trail: the OS login's person, or ``cli:<login>`` when unmapped."""
        return terminal_actor(self.operators).key

    @property
    def zone(self) -> ZoneInfo:
        """The configured timezone."""
        return ZoneInfo(self.timezone)

    @property
    def hours(self) -> BusinessHours | None:
        """The business hours scheduled checks keep to; ``None`` means always."""
        return parse_business_hours(self.business_hours)

    def in_business_hours(self, moment: datetime) -> bool:
        """Tell whether the aware ``moment`` falls inside the business hours, in the configured timezone."""
        hours = self.hours
        return hours is None or hours.contains(moment.astimezone(self.zone))


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment and ``.env``; ``overrides`` win (used by tests and the demo)."""
    return Settings(**overrides)  # type: ignore[arg-type]
