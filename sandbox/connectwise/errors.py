"""ConnectWise error bodies and the one exception the store and handlers raise.

Shapes follow ConnectWise's published error bodies::

    {"code": "NotFound", "message": "Invoice 123 not found"}
    {"code": "InvalidObject", "message": "payment object is invalid",
     "errors": [{"code": "InvalidField", "message": "...", "resource": "payment", "field": "amount"}]}
"""

from __future__ import annotations

from typing import Any


class CWError(Exception):
    """A refusal carrying the HTTP status and the ConnectWise error body to answer with."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(f"{status} {body.get('code')}: {body.get('message')}")
        self.status = status
        self.body = body


def not_found(kind: str, ident: object) -> CWError:
    """Build the 404 ConnectWise answers for a missing record."""
    return CWError(404, {"code": "NotFound", "message": f"{kind} {ident} not found"})


def invalid(resource: str, code: str, message: str, field: str) -> CWError:
    """Build a 400 ``InvalidObject`` with one field error."""
    error = {"code": code, "message": message, "resource": resource, "field": field}
    return CWError(400, {"code": "InvalidObject", "message": f"{resource} object is invalid", "errors": [error]})


def required(resource: str, field: str) -> CWError:
    """Build the 400 for a missing required field."""
    return invalid(resource, "MissingRequiredField", f"The {field} field is required.", field)


def bad_request(message: str, code: str = "InvalidObject") -> CWError:
    """Build a 400 for query-string problems and malformed bodies.

    An ``InvalidObject`` answer always carries an ``errors`` list (ConnectWise's ``ErrorResponseMessage`` /
    ``ValidationError`` models, https://github.com/ai-connor/connectwise; real answers captured in
    amp-labs/connectors): one entry repeating the message when no single field is at fault [I: its code].
    Other codes keep ``errors: null`` as the captured ``Security`` answer has it.
    """
    errors = [{"code": "InvalidObject", "message": message}] if code == "InvalidObject" else None
    return CWError(400, {"code": code, "message": message, "errors": errors})
