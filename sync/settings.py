"""Configuration: read once from the environment (and an optional ``.env``), then passed down.

Nothing else in Tally reads ``os.environ``. Secrets are ``SecretStr`` so they never print by accident.
"""

from __future__ import annotations

import getpass
import re
from datetime import time, timedelta
from decimal import Decimal
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BeforeValidator, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

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


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
IdList = Annotated[list[str], NoDecode, BeforeValidator(_split_ids)]
AutoApprove = Annotated[dict[str, Decimal], NoDecode, BeforeValidator(parse_auto_approve)]


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
    operator: str = Field(default_factory=lambda: f"cli:{getpass.getuser()}", alias="TALLY_OPERATOR")

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"{value!r} is not a timezone name such as America/New_York") from exc
        return value

    @field_validator("operator")
    @classmethod
    def _cli_actor(cls, value: str) -> str:
        name = value.strip().removeprefix("cli:")
        if not name:
            raise ValueError("name the operator, e.g. TALLY_OPERATOR=ana")
        return f"cli:{name}"

    @field_validator("tolerance", "dual_approval_above")
    @classmethod
    def _not_negative(cls, value: Decimal) -> Decimal:
        if value < 0:
            raise ValueError("must not be negative")
        return value

    @property
    def zone(self) -> ZoneInfo:
        """The configured timezone."""
        return ZoneInfo(self.timezone)


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment and ``.env``; ``overrides`` win (used by tests and the demo)."""
    return Settings(**overrides)  # type: ignore[arg-type]
