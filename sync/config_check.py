"""Check the configuration a command needs before it does anything: every problem at once, each with its remedy.

A command names what it needs (``NEEDS``); ``problems`` reads the settings once, collects every invalid value and
every missing one, and says for each what to put there. Nothing is opened or created on disk before it passes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cryptography.fernet import Fernet
from pydantic import ValidationError

from sync.settings import Settings, load_settings

_SECRET = re.compile(r"KEY|SECRET|TOKEN|PASSWORD|DATABASE_URL", re.IGNORECASE)  # values never echoed
GENERATE_KEY = 'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'

# What each need requires: (setting names shown, is it present, what to put there).
_CW_BASE = (
    "CW_BASE_URL (or CW_SITE)",
    "the ConnectWise API base, e.g. https://api-na.myconnectwise.net/v4_6_release/apis/3.0",
)
HINTS: dict[str, str] = {
    "CW_COMPANY_ID": "the company id you log in to ConnectWise with",
    "CW_PUBLIC_KEY": "the API member's public key (System → Members → API Members → API Keys)",
    "CW_PRIVATE_KEY": "the API member's private key, shown once when the key is created",
    "CW_CLIENT_ID": "the integration's clientId from developer.connectwise.com",
    "QBO_CLIENT_ID": "the Intuit app's client id (developer.intuit.com → your app → Keys & credentials)",
    "QBO_CLIENT_SECRET": "the Intuit app's client secret, beside its client id",
    "QBO_REDIRECT_URI": "the redirect URI registered in the Intuit app, e.g. https://tally.example.com/qbo/callback",
    "TALLY_SECRET_KEY": f"a Fernet key that encrypts stored tokens; generate one with {GENERATE_KEY}",
    "SLACK_BOT_TOKEN": "the Bot User OAuth Token (xoxb-…) from the Slack app's Install App page",
    "SLACK_SIGNING_SECRET": "the Signing Secret from the Slack app's Basic Information page",
    "SLACK_APP_TOKEN": "an app-level token (xapp-…) with connections:write, for Socket Mode",
    "TALLY_CHANNEL": "the channel id (C…) alerts and the digest go to",
}
_FIELDS = {
    "CW_COMPANY_ID": "cw_company_id",
    "CW_PUBLIC_KEY": "cw_public_key",
    "CW_PRIVATE_KEY": "cw_private_key",
    "CW_CLIENT_ID": "cw_client_id",
    "QBO_CLIENT_ID": "qbo_client_id",
    "QBO_CLIENT_SECRET": "qbo_client_secret",
    "QBO_REDIRECT_URI": "qbo_redirect_uri",
    "TALLY_SECRET_KEY": "secret_key",
    "SLACK_BOT_TOKEN": "slack_bot_token",
    "SLACK_SIGNING_SECRET": "slack_signing_secret",
    "SLACK_APP_TOKEN": "slack_app_token",
    "TALLY_CHANNEL": "channel",
}
NEEDS: dict[str, tuple[str, ...]] = {
    "settings": (),  # only valid values
    "cw": ("CW_BASE", "CW_COMPANY_ID", "CW_PUBLIC_KEY", "CW_PRIVATE_KEY", "CW_CLIENT_ID"),
    "qbo": ("QBO_CLIENT_ID", "QBO_CLIENT_SECRET", "TALLY_SECRET_KEY"),
    "qbo_connect": ("QBO_REDIRECT_URI",),
    "slack": ("SLACK_BOT_TOKEN", "TALLY_CHANNEL"),
    "slack_http": ("SLACK_SIGNING_SECRET",),
    "socket_mode": ("SLACK_APP_TOKEN",),
}


@dataclass(frozen=True)
class Problem:
    """One setting that stops a command: its name and what to put there."""

    name: str
    remedy: str

    def line(self) -> str:
        """Say it on one line."""
        return f"{self.name}: {self.remedy}"


def problems(needs: Iterable[str], **overrides: Any) -> list[Problem]:
    """Every invalid setting and every missing one that ``needs`` require, in one list."""
    invalid, settings = _load(overrides)
    wanted = [name for need in needs for name in NEEDS[need]]
    missing = [_missing(settings, name) for name in dict.fromkeys(wanted)]
    return invalid + [problem for problem in missing if problem is not None]


def _load(overrides: dict[str, Any]) -> tuple[list[Problem], Settings]:
    """Read the settings; an invalid value becomes a problem and its default is used to check the rest."""
    invalid: list[Problem] = []
    while True:
        try:
            return invalid, load_settings(**overrides)
        except ValidationError as exc:
            for error in exc.errors():
                name = str(error["loc"][0]) if error["loc"] else "settings"
                shown = "" if _SECRET.search(name) else f" (got {error.get('input')!r})"
                invalid.append(Problem(name, f"{str(error['msg']).removeprefix('Value error, ')}{shown}"))
                overrides[name] = _default(name)


def _default(alias: str) -> Any:
    for field in Settings.model_fields.values():
        if field.alias == alias:
            return field.get_default(call_default_factory=True)
    raise KeyError(alias)  # pragma: no cover - pydantic only reports fields it has


def _missing(settings: Settings, name: str) -> Problem | None:
    if name == "CW_BASE":
        present = bool(settings.cw_base_url or settings.cw_site)
        return None if present else Problem(*_CW_BASE)
    value = getattr(settings, _FIELDS[name])
    if not value:
        return Problem(name, HINTS[name])
    if name == "TALLY_SECRET_KEY" and not _is_fernet_key(value.get_secret_value()):
        return Problem(name, f"is not a Fernet key; {HINTS[name]}")
    return None


def _is_fernet_key(key: str) -> bool:
    try:
        Fernet(key)
    except ValueError:
        return False
    return True
