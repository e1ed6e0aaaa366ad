"""The OAuth ``state`` Tally signs, and reading the URL Intuit redirects the browser to.

A state is sealed with TALLY_SECRET_KEY and a timestamp, so whichever process receives the redirect (the CLI
run after the one that printed the link, or the bot's callback) can check it without remembering anything.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

from sync.crypto import TokenCipher
from sync.qbo_auth.errors import QuickBooksConnectError

STATE_PURPOSE = "tally-qbo-connect"
STATE_MAX_AGE_SECONDS = 3600
_AGAIN = "Run `tally qbo connect` again and use the new link."


def new_state(cipher: TokenCipher, *, now: datetime) -> str:
    """Make a state only this Tally can have issued, valid for an hour."""
    return cipher.seal(f"{STATE_PURPOSE}:{secrets.token_urlsafe(16)}", at=now)


def read_redirect(url: str, *, expected_state: str | None, cipher: TokenCipher, now: datetime) -> tuple[str, str]:
    """Return ``(code, realm_id)`` from the redirect URL after checking its state."""
    query = {name: values[0] for name, values in parse_qs(urlsplit(url.strip()).query).items()}
    if "error" in query:
        raise QuickBooksConnectError(f"QuickBooks did not grant access ({query['error']}). {_AGAIN}")
    code, realm_id, state = query.get("code"), query.get("realmId"), query.get("state", "")
    if not code or not realm_id:
        raise QuickBooksConnectError(
            "That URL has no code and realmId: paste the whole address the browser was sent to after you "
            "chose the company (it starts with the redirect URI)."
        )
    if not _state_ok(state, expected_state, cipher=cipher, now=now):
        raise QuickBooksConnectError(
            f"That URL's state does not match a link Tally made in the last hour, so it was ignored. {_AGAIN}"
        )
    return code, realm_id


def _state_ok(state: str, expected: str | None, *, cipher: TokenCipher, now: datetime) -> bool:
    if expected is not None:
        return hmac.compare_digest(state.encode(), expected.encode())
    opened = cipher.open(state, at=now, max_age_seconds=STATE_MAX_AGE_SECONDS)
    return opened is not None and opened.startswith(f"{STATE_PURPOSE}:")
