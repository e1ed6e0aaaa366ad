"""ConnectWise callbacks: ``/system/callbacks`` (create, list, get, delete ``CallbackEntry``) and the POSTs they cause.

Facts played (ConnectWise developer guide, "Callbacks" and the PSA callbacks levels-and-types table; captured
bodies in https://github.com/amp-labs/connectors ``providers/connectwise`` fixtures):

- ``CallbackEntry``: ``id, description (max 100), url*, objectId*, type*, level*, memberId, payloadVersion,
  inactiveFlag, isSoapCallbackFlag, isSelfSuppressedFlag, connectWiseID, _info``; ``objectId`` is 1 for level Owner;
  type and level are matched case-insensitively (both casings appear in the wild);
- invalid entries answer 400 ``InvalidObject`` with ``InvalidField "Invalid URL"`` and ``"Unrecognized level for
  type, see documentation for supported levels for each type"``; a second identical entry ``ObjectExists "A matching
  callback entry already exists"`` (the sandbox's reading of "matching": same type, level, objectId and url);
- the delivery: POST JSON ``{"MessageId", "FromUrl", "CompanyId", "MemberId", "Action": added|updated|deleted,
  "Type", "ID", "ProductInstanceId", "PartnerId", "CallbackObjectRecId", "Entity": "<the record as a JSON string,
  null on delete>", "Metadata": {"key_url"}}`` to the entry's url with the record id appended (the guide advises
  urls ending in ``?recordId=``); any 2xx is success; retried only on 404/409/419/429, twice (2 s, then 4 s).
  The ``x-content-signature`` header real ConnectWise adds is not played: Tally treats callbacks as unsigned.

Which changes notify: an invoice created, updated or deleted, and a payment or credit row added or removed (as an
``updated`` of the invoice it is on and of the credit memo it draws on).
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sandbox.connectwise.errors import CWError, not_found
from sandbox.push import Outgoing, Pusher
from sandbox.web import Request, Response, dumps

LEVELS = {
    "invoice": {"owner", "status", "company", "invoice"},
    "company": {"owner", "status", "type", "territory", "company", "integratortag"},
    "ticket": {"owner", "board", "project", "phase", "status", "ticket", "integratortag"},
}
OTHER_TYPES = {
    "activity", "agreement", "contact", "configuration", "expense", "member", "opportunity", "productcatalog",
    "project", "purchaseorder", "schedule", "time",
}  # fmt: skip
RETRY_ON = {404, 409, 419, 429}


@dataclass(frozen=True)
class RecordChange:
    """One invoice change to announce."""

    invoice: dict[str, Any] | None  # the record after the change; None when deleted
    invoice_id: int
    company_id: int | None
    action: str  # added | updated | deleted


def _error(errors: list[dict[str, str]]) -> CWError:
    return CWError(400, {"code": "InvalidObject", "message": "callbackEntry object is invalid", "errors": errors})


def _field_error(code: str, message: str, field: str) -> dict[str, str]:
    return {"code": code, "message": message, "resource": "callbackEntry", "field": field}


class Callbacks:
    """The registered callback entries and the thread that delivers their POSTs."""

    def __init__(self, *, company_id: str, stamp: Callable[[], str], delay: float = 0.1) -> None:
        self.company_id = company_id
        self._stamp = stamp
        self._entries: dict[int, dict[str, Any]] = {}
        self._next = 1
        self._lock = threading.Lock()
        # "success" here means "stop trying": any 2xx, or a status ConnectWise does not retry
        done = lambda status: 200 <= status < 300 or status not in RETRY_ON  # noqa: E731
        self.pusher = Pusher(self._render, delay=delay, retry_seconds=(2.0, 4.0), success=done)

    # -- /system/callbacks --------------------------------------------------------------------------------
    def create(self, body: Any) -> dict[str, Any]:
        """Validate and store a new entry."""
        body = body if isinstance(body, dict) else {}
        errors = [
            _field_error("MissingRequiredField", f"The {name} field is required.", name)
            for name in ("url", "objectId", "type", "level")
            if body.get(name) in (None, "")
        ]
        if errors:
            raise _error(errors)
        url, kind, level = str(body["url"]), str(body["type"]).lower(), str(body["level"]).lower()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            errors.append(_field_error("InvalidField", "Invalid URL", "url"))
        if kind not in LEVELS and kind not in OTHER_TYPES:
            errors.append(_field_error("InvalidField", f"Unrecognized type {body['type']}", "type"))
        elif level not in LEVELS.get(kind, {"owner"}):
            message = "Unrecognized level for type, see documentation for supported levels for each type"
            errors.append({**_field_error("InvalidObject", message, "level")})
        description = str(body.get("description") or "")
        if len(description) > 100:
            message = "The field description must be a string with a maximum length of 100."
            errors.append(_field_error("MaxLengthField", message, "description"))
        try:
            object_id = int(body["objectId"])
        except (TypeError, ValueError):
            errors.append(_field_error("InvalidField", "objectId must be a number", "objectId"))
            object_id = 0
        if errors:
            raise _error(errors)
        with self._lock:
            for entry in self._entries.values():
                same = (entry["type"], entry["level"], entry["objectId"]) == (kind, level, object_id)
                if same and entry["url"].lower() == url.lower():
                    raise _error([_field_error("ObjectExists", "A matching callback entry already exists", "objectId")])
            entry = {
                "id": self._next,
                "description": description,
                "url": url,
                "objectId": object_id,
                "type": kind,
                "level": level,
                "memberId": 1,
                "payloadVersion": "3.0.0",
                "inactiveFlag": bool(body.get("inactiveFlag", False)),
                "isSoapCallbackFlag": False,
                "isSelfSuppressedFlag": bool(body.get("isSelfSuppressedFlag", False)),
                "connectWiseID": str(uuid.uuid4()),
                "_info": {"lastUpdated": self._stamp(), "updatedBy": "ApiMember"},
            }
            self._entries[self._next] = entry
            self._next += 1
            return dict(entry)

    def entries(self) -> list[dict[str, Any]]:
        """Every entry, by id."""
        with self._lock:
            return [dict(self._entries[key]) for key in sorted(self._entries)]

    def get(self, entry_id: int) -> dict[str, Any]:
        """One entry or 404."""
        with self._lock:
            if entry_id not in self._entries:
                raise not_found("CallbackEntry", entry_id)
            return dict(self._entries[entry_id])

    def delete(self, entry_id: int) -> None:
        """Remove an entry or 404."""
        with self._lock:
            if self._entries.pop(entry_id, None) is None:
                raise not_found("CallbackEntry", entry_id)

    def routes(self) -> list[tuple[str, str, Callable[[Request], Response]]]:
        """(method, path under the API prefix, handler) for ``/system/callbacks``."""
        one = r"/system/callbacks/(?P<id>\d+)"
        return [
            ("GET", "/system/callbacks", lambda request: Response.json(self.entries())),
            ("GET", "/system/callbacks/count", lambda request: Response.json({"count": len(self.entries())})),
            ("POST", "/system/callbacks", lambda request: Response.json(self.create(_body(request)), status=201)),
            ("GET", one, lambda request: Response.json(self.get(int(request.params["id"])))),
            ("DELETE", one, self._delete),
        ]

    def _delete(self, request: Request) -> Response:
        self.delete(int(request.params["id"]))
        return Response(status=204)

    # -- deliveries ---------------------------------------------------------------------------------------
    def changed(self, change: RecordChange) -> None:
        """Queue an invoice change if some entry listens."""
        with self._lock:
            listening = any(
                entry["type"] == "invoice" and not entry["inactiveFlag"] for entry in self._entries.values()
            )
        if listening:
            self.pusher.push(change)

    def _render(self, batch: list[RecordChange]) -> list[Outgoing]:
        entries = [entry for entry in self.entries() if entry["type"] == "invoice" and not entry["inactiveFlag"]]
        outgoing = []
        for change in batch:
            for entry in entries:
                if not _covers(entry, change):
                    continue
                payload = {
                    "MessageId": str(uuid.uuid4()),
                    "FromUrl": "sandbox-na.myconnectwise.net",
                    "CompanyId": self.company_id,
                    "MemberId": "ApiMember",
                    "Action": change.action,
                    "Type": "invoice",
                    "ID": change.invoice_id,
                    "ProductInstanceId": "sandbox",
                    "PartnerId": "sandbox",
                    "CallbackObjectRecId": entry["id"],
                    "Entity": None if change.invoice is None else dumps(change.invoice).decode(),
                    "Metadata": {"key_url": "https://sandbox-na.myconnectwise.net/v2025_1//system/callbackkey"},
                }
                body = json.dumps(payload, separators=(",", ":")).encode()
                url = f"{entry['url']}{change.invoice_id}"
                outgoing.append(Outgoing(url, body, {"Content-Type": "application/json"}))
        return outgoing


def _covers(entry: dict[str, Any], change: RecordChange) -> bool:
    level, object_id = entry["level"], entry["objectId"]
    if level == "invoice":
        return bool(object_id == change.invoice_id)
    if level == "company":
        return bool(object_id == change.company_id)
    return True  # owner (and status: every status, as the sandbox does not filter by it)


def _body(request: Request) -> Any:
    try:
        return request.json()
    except ValueError:
        return None
