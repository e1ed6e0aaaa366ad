"""QuickBooks checks: the connection and its hard expiry, the API answering, the company preferences Tally's
writes depend on, and the webhook verifier.

Preferences read (``GET /v3/company/{realm}/preferences``,
https://developer.intuit.com/app/developer/qbo/docs/api/accounting/all-entities/preferences):

- ``SalesFormsPrefs.CustomTxnNumbers``: with it off QuickBooks numbers invoices itself and ignores the DocNumber
  Tally sends, so a mirrored invoice would not carry ConnectWise's number [I: the research's reading; unverified
  whether QBO refuses or overrides];
- ``CurrencyPrefs.MultiCurrencyEnabled`` / ``HomeCurrency``: Tally compares amounts as numbers, without currency;
- ``TaxPrefs.UsingSalesTax`` / ``PartnerTaxEnabled`` (automated sales tax): QuickBooks may compute the tax itself.

Refresh tokens carry a hard limit since November 2025 (``x_refresh_token_hard_expires_in``, a 5-year cap,
https://developer.intuit.com/app/developer/qbo/docs/develop/authentication-and-authorization/faq); Tally keeps the
earlier of the two expiries, and doctor says when to reconnect.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from sync.clients.errors import NotConfiguredError, TallyAPIError
from sync.clients.quickbooks import QuickBooksClient
from sync.crypto import SecretKeyError
from sync.doctor.model import Check, Section
from sync.models import utcnow
from sync.qbo_auth import QBOAuth
from sync.qbo_auth.errors import QuickBooksAuthError
from sync.qbo_auth.health import ConnectionState
from sync.settings import Settings

SYSTEM = "QuickBooks"
RECONNECT = "Connect QuickBooks again: `tally qbo connect` on the server, or `/tally connect` in Slack (an admin)."
SOON = timedelta(days=60)  # a hard expiry this close is worth a warning, well before the 14-day status warning
DEPENDENT = (
    ("qbo.reachable", "QuickBooks API answering"),
    ("qbo.custom_numbers", "Custom transaction numbers"),
    ("qbo.multicurrency", "Multicurrency"),
    ("qbo.sales_tax", "Sales tax"),
)


def check_quickbooks(settings: Settings, engine: Engine, *, now: datetime | None = None) -> list[Check]:
    """Every QuickBooks check, in order."""
    section = Section(SYSTEM)
    moment = now or utcnow()
    try:
        auth = QBOAuth(settings, engine)
    except SecretKeyError as exc:
        section.fail("qbo.token", "Connected, token healthy", str(exc), "Fix TALLY_SECRET_KEY, then re-run doctor.")
        section.skip(DEPENDENT, "the stored tokens cannot be read without TALLY_SECRET_KEY.")
        _webhooks(section, settings)
        return section.checks
    try:
        if not _token(section, auth, moment):
            section.skip(DEPENDENT, "QuickBooks is not connected.")
        else:
            _api(section, settings, auth)
    finally:
        auth.close()
    _webhooks(section, settings)
    return section.checks


def _token(section: Section, auth: QBOAuth, now: datetime) -> bool:
    title = "Connected, token healthy"
    health = auth.status()
    if not health.ok:
        section.fail("qbo.token", title, health.sentence, RECONNECT)
        return False
    try:
        auth.access_token()  # refreshes when due: the answer carries the current (hard) expiry
    except QuickBooksAuthError as exc:
        section.fail("qbo.token", title, exc.sentence, RECONNECT)
        return False
    health = auth.status()
    expires = health.refresh_expires_at
    until = f"; the refresh token lasts until {expires:%Y-%m-%d}" if expires else "; Intuit gave no refresh expiry"
    detail = f"Connected to company {health.realm_id}{until} (the earlier of Intuit's rolling and hard limits)."
    if health.state is ConnectionState.EXPIRING or (expires is not None and expires - now <= SOON):
        section.warn(
            "qbo.token",
            title,
            detail,
            f"Reconnect before {expires:%Y-%m-%d}: {RECONNECT} After the hard limit "
            "(x_refresh_token_hard_expires_in) no refresh works and Tally stops reading QuickBooks.",
        )
    else:
        section.passed("qbo.token", title, detail)
    return True


def _api(section: Section, settings: Settings, auth: QBOAuth) -> None:
    try:
        client = QuickBooksClient.from_settings(settings, auth)
    except NotConfiguredError as exc:
        section.fail("qbo.reachable", "QuickBooks API answering", exc.sentence, "Set QBO_REALM_ID (and QBO_BASE_URL).")
        section.skip(DEPENDENT[1:], "QuickBooks is not configured.")
        return
    with client:
        try:
            invoices = client.count("Invoice")
        except TallyAPIError as exc:
            section.fail(
                "qbo.reachable",
                "QuickBooks API answering",
                exc.sentence,
                "Check QBO_ENVIRONMENT (production or sandbox) and QBO_REALM_ID match the connected company.",
            )
            section.skip(DEPENDENT[1:], "QuickBooks did not answer.")
            return
        section.passed("qbo.reachable", "QuickBooks API answering", f"Company {client.realm_id}: {invoices} invoices.")
        try:
            preferences = client.preferences()
        except TallyAPIError as exc:
            for key, title in DEPENDENT[1:]:
                section.warn(
                    key,
                    title,
                    f"Could not read the company preferences: {exc.sentence}",
                    "Check it by hand in QuickBooks: Settings > Account and settings > Sales and Advanced.",
                )
            return
    _preferences(section, preferences)


def _flag(preferences: Mapping[str, Any], group: str, name: str) -> bool | None:
    found = preferences.get(group)
    value = found.get(name) if isinstance(found, Mapping) else None
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return value if isinstance(value, bool) else None


def _preferences(section: Section, preferences: Mapping[str, Any]) -> None:
    custom = _flag(preferences, "SalesFormsPrefs", "CustomTxnNumbers")
    title = "Custom transaction numbers"
    if custom:
        section.passed(
            "qbo.custom_numbers", title, "On: mirrored invoices and credit memos keep ConnectWise's numbers."
        )
    elif custom is False:
        section.fail(
            "qbo.custom_numbers",
            title,
            "Off: QuickBooks numbers invoices itself, so an invoice Tally mirrors would not carry ConnectWise's "
            "number and could not be matched to it again.",
            "Turn it on in QuickBooks: Settings > Account and settings > Sales > Sales form content > "
            "Custom transaction numbers.",
        )
    else:
        section.warn(
            "qbo.custom_numbers",
            title,
            "The preferences do not say (SalesFormsPrefs.CustomTxnNumbers is missing).",
            "Check by hand: Settings > Account and settings > Sales > Custom transaction numbers must be on.",
        )
    currency = preferences.get("CurrencyPrefs")
    home = currency.get("HomeCurrency") if isinstance(currency, Mapping) else None
    home_code = home.get("value") if isinstance(home, Mapping) else None
    multi = _flag(preferences, "CurrencyPrefs", "MultiCurrencyEnabled")
    if multi:
        section.warn(
            "qbo.multicurrency",
            "Multicurrency",
            f"On (home currency {home_code or 'not given'}).",
            "Tally compares amounts as numbers and assumes one currency: customers billed in another currency will "
            "show as amount mismatches. Keep such customers out of the comparison, or reconcile them by hand.",
        )
    else:
        what = "Off" if multi is False else "Not stated (taken as off)"
        section.passed("qbo.multicurrency", "Multicurrency", f"{what}; home currency {home_code or 'not given'}.")
    using = _flag(preferences, "TaxPrefs", "UsingSalesTax")
    automated = _flag(preferences, "TaxPrefs", "PartnerTaxEnabled")
    if using and automated:
        section.warn(
            "qbo.sales_tax",
            "Sales tax",
            "Automated sales tax is on: QuickBooks computes tax on the invoices Tally mirrors.",
            "Its tax can differ from ConnectWise's; mirror one invoice and compare (`tally explain NUMBER`) "
            "before approving mirrors in bulk.",
        )
    else:
        state = "on (manual rates)" if using else ("off" if using is False else "not stated")
        section.passed("qbo.sales_tax", "Sales tax", f"Sales tax is {state}.")


def _webhooks(section: Section, settings: Settings) -> None:
    title = "Webhook verifier set"
    if settings.qbo_webhook_verifier is not None and settings.qbo_webhook_verifier.get_secret_value().strip():
        section.passed("qbo.webhooks", title, "QBO_WEBHOOK_VERIFIER is set: signed change notices are accepted.")
    else:
        section.warn(
            "qbo.webhooks",
            title,
            "QBO_WEBHOOK_VERIFIER is not set: QuickBooks changes reach Tally only at the scheduled checks.",
            "Copy the verifier token from your Intuit app (Webhooks) into QBO_WEBHOOK_VERIFIER and point the "
            "webhook at https://YOUR-HOST/qbo/webhooks.",
        )
