"""QuickBooks webhooks: the company's changes POSTed, batched and signed, to the app's webhook URL.

Shapes and rules (https://developer.intuit.com/app/developer/qbo/docs/develop/webhooks and its best-practices page):

- legacy body ``{"eventNotifications": [{"realmId", "dataChangeEvent": {"entities": [{"name", "id", "operation",
  "lastUpdated"}]}}]}``; ``operation`` is Create, Update, Delete, Void (Merge and Emailed exist, not played here);
- CloudEvents body (https://blogs.intuit.com/2025/11/12/upcoming-change-to-webhooks-payload-structure/): a JSON array
  of ``{"specversion": "1.0", "id", "source", "type": "qbo.<entity>.<verb>.v1", "datacontenttype", "time",
  "intuitentityid", "intuitaccountid", "data": {}}``, up to 100 events per delivery. Only ``created`` is seen in
  Intuit's samples; the sandbox plays ``updated``, ``deleted`` and ``voided`` by the same pattern (unverified);
- header ``intuit-signature`` = base64(HMAC-SHA256(verifier token, raw body)) (Intuit's .NET SDK
  ``WebhooksService.VerifyPayload``, https://github.com/intuit/QuickBooks-V3-DotNET-SDK);
- Intuit retries at 10 s, 20 s, 30 s, 5 min... when the answer is not 200; the sandbox's default retry delays are
  seconds (``retry_seconds``) so tests need not wait minutes.

Switches for tests: ``duplicate`` sends every delivery twice, ``out_of_order`` sends each batch's events newest
first and holds each batch back until the next one has gone (so the receiver sees older news after newer).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from sandbox.push import Outgoing, Pusher

WATCHED = ("Invoice", "Payment", "CreditMemo", "Customer")  # the entities webhooks are sent for
VERBS = {"Create": "created", "Update": "updated", "Delete": "deleted", "Void": "voided"}
Format = Literal["legacy", "cloudevents"]


def signature(body: bytes, verifier: str) -> str:
    """``intuit-signature`` of ``body``."""
    return base64.b64encode(hmac.new(verifier.encode(), body, hashlib.sha256).digest()).decode()


@dataclass(frozen=True)
class Change:
    """One entity change in one company."""

    realm: str
    name: str
    id: str
    operation: str
    last_updated: str


@dataclass
class WebhookConfig:
    """Where and how webhooks go (``/_sandbox/webhooks`` reads and changes it)."""

    url: str = ""
    verifier: str = ""
    format: Format = "legacy"
    delay_seconds: float = 0.5
    retry_seconds: list[float] = field(default_factory=lambda: [1.0, 2.0, 3.0])
    duplicate: bool = False
    out_of_order: bool = False

    def update(self, body: dict[str, Any]) -> None:
        """Change the fields ``body`` names (unknown names ignored)."""
        if "url" in body:
            self.url = str(body["url"] or "")
        if "verifier" in body:
            self.verifier = str(body["verifier"] or "")
        if body.get("format") in ("legacy", "cloudevents"):
            self.format = body["format"]
        if "delay_seconds" in body:
            self.delay_seconds = max(0.0, float(body["delay_seconds"]))
        if "retry_seconds" in body:
            self.retry_seconds = [float(value) for value in body["retry_seconds"]]
        for flag in ("duplicate", "out_of_order"):
            if flag in body:
                setattr(self, flag, bool(body[flag]))

    def snapshot(self) -> dict[str, Any]:
        """The configuration without the verifier token."""
        return {
            "url": self.url,
            "verifier_set": bool(self.verifier),
            "format": self.format,
            "delay_seconds": self.delay_seconds,
            "retry_seconds": self.retry_seconds,
            "duplicate": self.duplicate,
            "out_of_order": self.out_of_order,
        }


class Webhooks:
    """Collect a sandbox's changes and deliver them as Intuit does."""

    def __init__(self, config: WebhookConfig | None = None) -> None:
        self.config = config or WebhookConfig()
        self.pusher = Pusher(self._render, delay=self.config.delay_seconds, retry_seconds=self.config.retry_seconds)
        self._held: list[Outgoing] = []

    def configure(self, body: dict[str, Any]) -> None:
        """Apply an admin call's changes."""
        self.config.update(body)
        self.pusher.delay = self.config.delay_seconds
        self.pusher.retry_seconds = list(self.config.retry_seconds)

    def changed(self, change: Change) -> None:
        """Note a change (nothing is sent while no URL is configured)."""
        if self.config.url and change.name in WATCHED:
            self.pusher.push(change)

    def _render(self, batch: list[Change]) -> list[Outgoing]:
        config = self.config
        if not config.url:
            return []
        if config.out_of_order:
            batch = list(reversed(batch))
        body = cloudevents(batch) if config.format == "cloudevents" else legacy(batch)
        headers = {"Content-Type": "application/json", "intuit-signature": signature(body, config.verifier)}
        outgoing = [Outgoing(config.url, body, headers)]
        if config.duplicate:
            outgoing.append(outgoing[0])
        if config.out_of_order:  # this batch goes out after the next one
            outgoing, self._held = self._held, outgoing
        return outgoing


def legacy(batch: list[Change]) -> bytes:
    """The legacy ``eventNotifications`` body, one notification per realm."""
    realms: dict[str, list[dict[str, str]]] = {}
    for change in batch:
        realms.setdefault(change.realm, []).append(
            {"name": change.name, "id": change.id, "operation": change.operation, "lastUpdated": change.last_updated}
        )
    notifications = [
        {"realmId": realm, "dataChangeEvent": {"entities": entities}} for realm, entities in realms.items()
    ]
    return json.dumps({"eventNotifications": notifications}, separators=(",", ":")).encode()


def cloudevents(batch: list[Change]) -> bytes:
    """The CloudEvents array body."""
    events = [
        {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "source": "intuit.sandbox",
            "type": f"qbo.{change.name.lower()}.{VERBS.get(change.operation, 'updated')}.v1",
            "datacontenttype": "application/json",
            "time": change.last_updated,
            "intuitentityid": change.id,
            "intuitaccountid": change.realm,
            "data": {},
        }
        for change in batch
    ]
    return json.dumps(events, separators=(",", ":")).encode()
