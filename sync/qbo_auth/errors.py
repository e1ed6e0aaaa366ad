"""The QuickBooks authorisation errors and the sentences they carry (tree in ``sync.qbo_auth``)."""

from __future__ import annotations

from datetime import datetime, timedelta

RECONNECT = "An admin should run `tally qbo connect` (or /tally connect)."


class QuickBooksAuthError(Exception):
    """Tally has no usable QuickBooks access token; ``sentence`` says what to do."""

    def __init__(self, sentence: str) -> None:
        self.sentence = sentence
        super().__init__(sentence)


class QuickBooksNeedsReconnect(QuickBooksAuthError):
    """The saved authorisation is gone (refused, revoked, expired or never made): an admin must reconnect."""


class QuickBooksAuthUnavailable(QuickBooksAuthError):
    """Intuit's sign-in service did not answer usefully (network, timeout, 5xx); trying later can succeed."""


class QuickBooksMisconfigured(QuickBooksAuthError):
    """A QBO_* setting is missing or refused by Intuit (invalid_client); reconnecting will not help."""


class QuickBooksConnectError(QuickBooksAuthError):
    """Completing a connection failed (bad or reused code, state mismatch, wrong company)."""


class QuickBooksOtherCompany(QuickBooksConnectError):
    """The company chosen is not the one Tally is connected to (QBO_REALM_ID, or the first one connected)."""


def refused(error: str) -> str:
    """Word a refresh token that Intuit refused (``invalid_grant``)."""
    return f"QuickBooks needs reconnecting: the saved authorization was refused ({error}). {RECONNECT}"


def not_connected() -> str:
    """Word a missing connection."""
    return f"QuickBooks is not connected yet. {RECONNECT}"


def disconnected(at: datetime) -> str:
    """Word a connection an admin revoked."""
    return f"QuickBooks needs reconnecting: the connection was disconnected on {_day(at)}. {RECONNECT}"


def expired(at: datetime) -> str:
    """Word a refresh token whose lifetime ran out."""
    return f"QuickBooks needs reconnecting: the saved authorization expired on {_day(at)}. {RECONNECT}"


def undecryptable() -> str:
    """Word tokens saved under another TALLY_SECRET_KEY."""
    return (
        "QuickBooks needs reconnecting: the saved authorization cannot be decrypted with the current "
        "TALLY_SECRET_KEY (was the key changed?). Put the previous key back, or " + RECONNECT[0].lower() + RECONNECT[1:]
    )


def expiring(at: datetime, now: datetime) -> str:
    """Word a refresh token close to the end of its life."""
    days = max(0, round((at - now) / timedelta(days=1)))
    when = "today" if days == 0 else f"in {days} day{'s' if days != 1 else ''}"
    return f"QuickBooks authorization expires on {_day(at)} ({when}). {RECONNECT[:-1]} before then."


def connected(realm_id: str, refresh_expires_at: datetime | None) -> str:
    """Word a healthy connection."""
    until = f" until {_day(refresh_expires_at)}" if refresh_expires_at else ""
    return f"QuickBooks company {realm_id} is connected{until}."


def unreachable(reason: str) -> str:
    """Word a token endpoint that could not be reached or failed."""
    return f"Intuit's sign-in service could not be used ({reason}); Tally will try again on its next run."


def _day(at: datetime) -> str:
    return at.strftime("%Y-%m-%d")
