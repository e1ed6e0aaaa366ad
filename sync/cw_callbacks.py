"""Tally's ConnectWise callback: one ``invoice`` entry at level Owner pointing at ``TALLY_PUBLIC_URL/cw/callbacks``.

Registering is idempotent across restarts and across several web processes: the entries are listed and one with
Tally's URL is reused; only when none exists is one created, and if another process created it in the meantime
(ConnectWise answers 400 ``ObjectExists``, "A matching callback entry already exists") the list is read again.
Entry fields and errors: ConnectWise developer guide, "Callbacks"; an invoice callback fires on invoice changes,
payments and credits included (ConnectWise's changelog adds invoice callbacks in 2016.6). Level Owner takes
``objectId`` 1. The URL ends in ``?recordId=`` as the guide advises, so ConnectWise appends the record id.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sync.clients.connectwise import ConnectWiseClient
from sync.clients.errors import ValidationError

log = logging.getLogger(__name__)

CALLBACK_PATH = "/cw/callbacks"
DESCRIPTION = "Tally: invoice changes, payments and credits"


def callback_url(public_url: str) -> str:
    """The URL ConnectWise POSTs to (the record id appended)."""
    return f"{public_url.rstrip('/')}{CALLBACK_PATH}?recordId="


@dataclass(frozen=True)
class Registration:
    """Tally's entry and whether this call created it."""

    entry: dict[str, Any]
    created: bool


def tallys(cw: ConnectWiseClient, public_url: str | None = None) -> list[dict[str, Any]]:
    """Tally's entries: those pointing at ``public_url`` (or, without one, at any ``/cw/callbacks`` URL)."""
    entries = cw.list_callbacks()
    if public_url:
        wanted = callback_url(public_url).lower()
        return [entry for entry in entries if str(entry.get("url", "")).lower() == wanted]
    return [entry for entry in entries if f"{CALLBACK_PATH}?".lower() in str(entry.get("url", "")).lower()]


def ensure_callback(cw: ConnectWiseClient, public_url: str) -> Registration:
    """Make sure ConnectWise calls Tally back on invoice changes; create the entry only if it is missing."""
    found = tallys(cw, public_url)
    if found:
        return Registration(found[0], created=False)
    entry = {
        "url": callback_url(public_url),
        "objectId": 1,
        "type": "invoice",
        "level": "owner",
        "description": DESCRIPTION,
        "inactiveFlag": False,
    }
    try:
        return Registration(cw.create_callback(entry), created=True)
    except ValidationError:
        found = tallys(cw, public_url)  # another web process won the race
        if found:
            return Registration(found[0], created=False)
        raise


def remove_callbacks(cw: ConnectWiseClient, public_url: str | None = None) -> list[int]:
    """Delete Tally's entries; return their ids."""
    removed = []
    for entry in tallys(cw, public_url):
        cw.delete_callback(int(entry["id"]))
        removed.append(int(entry["id"]))
    return removed
