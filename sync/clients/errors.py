"""What can go wrong talking to ConnectWise or QuickBooks, and the sentence that tells a person what to do.

One tree; ``sync.clients.http`` maps HTTP statuses and transport failures onto it exactly once::

    TallyAPIError                      any failure; ``sentence`` is what a finance person reads
    ├── NotConfiguredError             a setting the client needs is missing (no request was made)
    ├── AuthError                      401 / 403: keys refused, QuickBooks needs reconnecting, missing rights
    ├── NotFoundError                  404 (QBO 610): the record, company or URL is not there
    ├── ValidationError                other 4xx: refused as written; retrying the same request cannot help
    │   ├── StaleObjectError           QBO 5010: the record changed since it was read; re-read and retry
    │   ├── DuplicateDocumentError     QBO 6140: the document number is already used
    │   └── CDCWindowError             QBO change data capture asked for more than 30 days back
    ├── RateLimitedError               429, still throttled after the retries ran out
    ├── ServerError                    5xx, still failing after the retries ran out
    ├── IncompleteReadError            a full read got fewer records than the system's own count
    └── TransportError                 no usable answer: connection refused, read timeout, dropped connection

``str(err)`` is the sentence plus the request id the vendor's support asks for; it never holds a secret.
``err.maybe_done`` is True when the failed request changed something and an attempt may have reached the
application anyway (a 5xx, timeout or dropped connection on the way): its effect must be looked for.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from typing import Any

import httpx

# A bearer token, refresh token or key quoted back in an error detail ("Token expired: AB01...") is cut out.
_SECRETISH = re.compile(
    r"(?i)((?<![a-z])(?:tokens?|bearer|keys?|secrets?|passwords?)(?![a-z])(?:[^:=\n]{0,30}?[:=]\s*|\s+))"
    r"[A-Za-z0-9._~+/=-]{12,}"
)


def scrub(text: str | None) -> str | None:
    """Remove anything that looks like a token or key from a vendor's error text."""
    if text is None:
        return None
    return _SECRETISH.sub(r"\1[redacted]", text)


class TallyAPIError(Exception):
    """A call to ConnectWise or QuickBooks failed; ``sentence`` says what to do about it."""

    def __init__(
        self,
        sentence: str,
        *,
        system: str,
        status: int | None = None,
        request_id: str | None = None,
        code: str | None = None,
        detail: str | None = None,
    ) -> None:
        self.sentence = sentence
        self.system = system
        self.status = status
        self.request_id = request_id
        self.code = code
        self.detail = scrub(detail)
        self.maybe_done = False  # set by the HTTP layer; see the module docstring
        super().__init__(sentence)

    def __str__(self) -> str:
        if self.request_id:
            return f"{self.sentence} (request id {self.request_id})"
        return self.sentence

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(system={self.system!r}, status={self.status!r}, code={self.code!r}, "
            f"request_id={self.request_id!r}, sentence={self.sentence!r})"
        )


class NotConfiguredError(TallyAPIError):
    """A setting the client needs is missing."""


class AuthError(TallyAPIError):
    """The system refused Tally's credentials or rights (401 / 403)."""


class NotFoundError(TallyAPIError):
    """The record, company or URL does not exist (404)."""


class ValidationError(TallyAPIError):
    """The request was refused as written (4xx other than 401/403/404/429); never retried."""


class StaleObjectError(ValidationError):
    """QuickBooks 5010: someone changed the record after Tally read it."""


class DuplicateDocumentError(ValidationError):
    """QuickBooks 6140: the document number is already in use."""


class CDCWindowError(ValidationError):
    """QuickBooks change data capture reaches back at most 30 days; fall back to queries."""


class RateLimitedError(TallyAPIError):
    """Still throttled (429) after the retries ran out."""


class ServerError(TallyAPIError):
    """Still failing with 5xx after the retries ran out."""


class IncompleteReadError(TallyAPIError):
    """A full read yielded fewer records than the system counts: the cache must not be taken as complete."""

    def __init__(self, *, system: str, what: str, read: int, counted: int) -> None:
        super().__init__(
            f"{system} counts {counted:,} {what} but sent only {read:,} when Tally read them all, so Tally stopped "
            "before treating its copy as complete: nothing was deleted or reconciled from it. Run the sync again; "
            f"if this keeps happening, {system}'s paging is losing records (`tally doctor` checks it).",
            system=system,
        )
        self.what, self.read, self.counted = what, read, counted


class TransportError(TallyAPIError):
    """No usable answer: connection refused, timed out, or dropped."""


# -- how each system's failures read ---------------------------------------------------------------------
Kind = type[TallyAPIError]


@dataclass(frozen=True)
class Fault:
    """What the system said about a failure, read from the response body."""

    code: str | None = None
    detail: str | None = None


class Vendor:
    """Reads one system's error bodies and words its sentences; ``http`` decides the class from the status."""

    name = "the API"
    request_id_header = "x-request-id"

    def read_fault(self, response: httpx.Response) -> Fault:
        """Extract the error code and detail from an error response."""
        return Fault()

    def refine(self, kind: Kind, fault: Fault) -> Kind:
        """Narrow the class chosen from the status using the body's error code."""
        return kind

    def sentence(self, kind: Kind, status: int | None, fault: Fault, what: str) -> str:
        """Word the failure of ``what`` for a finance person."""
        return f"{self.name} failed on {what}."


def _sentence_end(text: str) -> str:
    text = " ".join(text.split())
    return text if text.endswith((".", "!", "?")) else f"{text}."


class ConnectWiseErrors(Vendor):
    """ConnectWise bodies: ``{"code", "message", "errors": [{"message"}]}`` or ``{"error", "message"}``."""

    name = "ConnectWise"
    request_id_header = "x-cw-request-id"

    def read_fault(self, response: httpx.Response) -> Fault:
        """Read ``code`` / ``message`` and the field errors."""
        body = _json_or_none(response)
        if not isinstance(body, dict):
            return Fault(detail=_short_text(response))
        code = body.get("code") or body.get("error")
        parts = [str(body["message"])] if body.get("message") else []
        for error in body.get("errors") or []:
            if isinstance(error, dict) and error.get("message"):
                parts.append(str(error["message"]))
        return Fault(code=str(code) if code else None, detail=" ".join(parts) or None)

    def sentence(self, kind: Kind, status: int | None, fault: Fault, what: str) -> str:
        """Word a ConnectWise failure."""
        detail = fault.detail or "no reason given"
        if kind is AuthError and status == 403:
            return (
                f"ConnectWise's API member may not read or change {what}: give its security role "
                "access to Finance (invoices, payments) and Companies."
            )
        if kind is AuthError:
            return (
                "ConnectWise refused Tally's API keys: check CW_COMPANY_ID, CW_PUBLIC_KEY / CW_PRIVATE_KEY "
                "and that the API member is active."
            )
        if kind is NotFoundError:
            return f"ConnectWise has no {what}; it may have been deleted, or CW_BASE_URL is wrong."
        if kind is ValidationError and "clientid" in detail.lower():
            return "ConnectWise refused Tally's client id: check CW_CLIENT_ID (a registered integration id)."
        if issubclass(kind, ValidationError):
            return _sentence_end(f"ConnectWise refused {what}: {detail}")
        if kind is RateLimitedError:
            return "ConnectWise kept rate-limiting Tally after several retries; try again in a few minutes."
        if kind is ServerError:
            return f"ConnectWise kept failing with server errors on {what}; try again later."
        return f"Tally got no answer from ConnectWise for {what}; check CW_BASE_URL and the network, then retry."


# QBO's XML faults (its 429 is XML even when JSON was asked for) are read with a regex, not an XML parser:
# three fields are all we need, and a regex cannot be made to expand entities.
_XML_CODE = re.compile(r"<(?:\w+:)?Error\b[^>]*\bcode=\"([^\"]*)\"")
_XML_FIELD = r"<(?:\w+:)?{0}>(.*?)</(?:\w+:)?{0}>"


class QuickBooksErrors(Vendor):
    """QuickBooks bodies: ``{"Fault": {"Error": [..]}}``, lower-case ``{"fault": {"error": [..]}}`` or XML."""

    name = "QuickBooks"
    request_id_header = "intuit_tid"

    def read_fault(self, response: httpx.Response) -> Fault:
        """Read the first error's ``code`` and ``Detail`` (or ``Message``) from any of the three shapes."""
        body = _json_or_none(response)
        if body is None:
            return _xml_fault(response.text)
        errors = _ci(_ci(body, "fault"), "error")
        first = errors[0] if isinstance(errors, list) and errors else None
        if first is None:
            return Fault(detail=_short_text(response))
        code = _ci(first, "code")
        detail = _ci(first, "detail") or _ci(first, "message")
        return Fault(code=str(code) if code is not None else None, detail=str(detail) if detail else None)

    def refine(self, kind: Kind, fault: Fault) -> Kind:
        """Map codes 5010, 6140 and 610 (and a CDC window refusal) to their own classes."""
        if kind is not ValidationError:
            return kind
        if "older than" in (fault.detail or "") and "cdc" in (fault.detail or "").lower():
            # Code unknown [I]; the detail wording is from a third-party report of the refusal.
            return CDCWindowError
        return {"5010": StaleObjectError, "6140": DuplicateDocumentError, "610": NotFoundError}.get(
            fault.code or "", kind
        )

    def sentence(self, kind: Kind, status: int | None, fault: Fault, what: str) -> str:
        """Word a QuickBooks failure."""
        if kind is AuthError and status == 403:
            return f"QuickBooks refused Tally access to {what}: reconnect it as an admin of this company."
        if kind is AuthError:
            return "QuickBooks needs reconnecting: it no longer accepts Tally's authorisation; reconnect it."
        if kind is NotFoundError:
            return f"QuickBooks has no {what}; it may have been deleted."
        if kind is StaleObjectError:
            return f"Someone changed {what} in QuickBooks while Tally worked on it; re-read it and try again."
        if kind is CDCWindowError:
            return "QuickBooks only reports changes from the last 30 days; read the documents in full instead."
        if kind is DuplicateDocumentError:
            return f"QuickBooks already has a document with this number; look for a duplicate of {what}."
        if issubclass(kind, ValidationError):
            return _sentence_end(f"QuickBooks refused {what}: {fault.detail or 'no reason given'}")
        if kind is RateLimitedError:
            return "QuickBooks kept throttling Tally (500 requests a minute per company); try again in a minute."
        if kind is ServerError:
            return f"QuickBooks kept failing with server errors on {what}; try again later."
        return f"Tally got no answer from QuickBooks for {what}; check the network, then retry."


def _xml_fault(text: str) -> Fault:
    code = _XML_CODE.search(text)
    detail = re.search(_XML_FIELD.format("Detail"), text, re.S) or re.search(_XML_FIELD.format("Message"), text, re.S)
    return Fault(
        code=code.group(1) if code else None,
        detail=html.unescape(detail.group(1)).strip() if detail else (text.strip()[:200] or None),
    )


def _ci(mapping: object, key: str) -> Any:
    """Look ``key`` up case-insensitively (QBO's 401 body arrives with lower-case keys)."""
    if not isinstance(mapping, dict):
        return None
    for name, value in mapping.items():
        if isinstance(name, str) and name.lower() == key:
            return value
    return None


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content)
    except ValueError:
        return None


def _short_text(response: httpx.Response) -> str | None:
    return response.text.strip()[:200] or None


CONNECTWISE = ConnectWiseErrors()
QUICKBOOKS = QuickBooksErrors()
