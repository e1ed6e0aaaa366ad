"""QuickBooks Online ``Fault`` errors and the bodies they are answered with.

Every error the API answers with is a ``QBOFault`` raised somewhere below the routes and turned into the
``{"Fault":{"Error":[{"Message","Detail","code","element"}],"type"},"time"}`` envelope (``code`` is a string)
in one place. Texts quoted from captures are marked [V3]; the rest are the most plausible wording [I].
"""

from __future__ import annotations

from typing import Any


class QBOFault(Exception):
    """An API error: HTTP status plus one Fault Error entry."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        detail: str,
        fault_type: str = "ValidationFault",
        element: str = "",
    ) -> None:
        super().__init__(f"{code} {message}: {detail}")
        self.status = status
        self.code = code
        self.message = message
        self.detail = detail
        self.fault_type = fault_type
        self.element = element

    def fault(self) -> dict[str, Any]:
        """Return the ``Fault`` object (without the outer envelope)."""
        error = {"Message": self.message, "Detail": self.detail, "code": self.code, "element": self.element}
        return {"Error": [error], "type": self.fault_type}


# -- validation ---------------------------------------------------------------------------------------------
def invalid_value(field: str, value: Any) -> QBOFault:
    """A property value of the wrong type or format (code and wording [I])."""
    return QBOFault(
        400,
        "2010",
        "Request has invalid or unsupported property",
        f"Property Name:{field} has an invalid value: {value!r}",
        element=field,
    )


def required(field: str) -> QBOFault:
    """A required parameter is missing: 2020 [V3]."""
    return QBOFault(
        400,
        "2020",
        "Required param missing, need to supply the required value for the API",
        f"Required parameter {field} is missing in the request",
        element=field,
    )


def too_long(field: str, limit: int, supplied: int) -> QBOFault:
    """A string longer than the specification allows: 2050 [V3]."""
    return QBOFault(
        400,
        "2050",
        "String length is either shorter or longer than supported by specification",
        f"String length is either shorter or longer than supported by specification. Min:0 Max:{limit} "
        f"supplied:{supplied}",
        element=field,
    )


def invalid_reference(kind: str, ref_id: str) -> QBOFault:
    """A reference to an object that does not exist: 2500 [V3 code; wording I]."""
    return QBOFault(400, "2500", "Invalid Reference Id", f"Invalid Reference Id : {kind} element id {ref_id} not found")


def object_not_found(entity: str, entity_id: str) -> QBOFault:
    """The object asked for does not exist (or is inactive): 610 [V]."""
    return QBOFault(
        400,
        "610",
        "Object Not Found",
        f"Object Not Found : Something you're trying to use has been made inactive. Check the fields with "
        f"accounts, customers, items, vendors or employees. ({entity} {entity_id})",
    )


def stale_object() -> QBOFault:
    """The SyncToken sent is not the current one: 5010, verbatim from a capture [V3]."""
    return QBOFault(
        400,
        "5010",
        "Stale Object Error",
        "Stale Object Error : You and API API were working on this at the same time. API API finished before "
        "you did, so your work was not saved.",
    )


def business(detail: str) -> QBOFault:
    """A business rule refused the write: 6000 (exact code for over-application unverified [I])."""
    return QBOFault(
        400,
        "6000",
        "A business validation error has occurred while processing your request",
        f"Business Validation Error: {detail}",
    )


def duplicate_docnumber() -> QBOFault:
    """DocNumber already used by another transaction of the type: 6140 [V3]."""
    return QBOFault(
        400,
        "6140",
        "Duplicate Document Number Error",
        "Duplicate Document Number Error : You must specify a different number. This number has already been used.",
        element="DocNumber",
    )


def duplicate_name(existing_id: str) -> QBOFault:
    """A name-list DisplayName/Name already in use: 6240 [V code; wording I]."""
    return QBOFault(400, "6240", "Duplicate Name Exists Error", f"The name supplied already exists. : Id={existing_id}")


def amount_mismatch(amount: Any) -> QBOFault:
    """Line Amount differs from UnitPrice * Qty: 6070 [I]."""
    return QBOFault(
        400,
        "6070",
        "A business validation error has occurred while processing your request",
        f"Business Validation Error: Amount is not equal to UnitPrice * Qty. Supplied value:{amount}",
    )


def unsupported(operation: str) -> QBOFault:
    """An operation the entity does not offer: 500 Unsupported Operation [I]."""
    return QBOFault(400, "500", "Unsupported Operation", f"Operation {operation} is not supported.")


# -- query --------------------------------------------------------------------------------------------------
def query_parse_error(detail: str) -> QBOFault:
    """The query does not parse: 4000 [V3]."""
    return QBOFault(400, "4000", "Error parsing query", f"QueryParserError: {detail}")


def query_invalid(detail: str) -> QBOFault:
    """The query parses but names something unknown or not queryable: 4001 [V3]."""
    return QBOFault(400, "4001", "Invalid query", f"QueryValidationError: {detail}")


# -- system, auth, throttle ---------------------------------------------------------------------------------
def system_error() -> QBOFault:
    """An unexpected server error: 10000 SystemFault [V]."""
    return QBOFault(
        500,
        "10000",
        "An application error has occurred while processing your request",
        "System Failure Error: An unexpected error occurred while accessing or saving your data. Please wait "
        "a few minutes and try again. If the problem persists, contact customer support.",
        fault_type="SystemFault",
    )


AUTH_MESSAGE = "message=AuthenticationFailed; errorCode=003200; statusCode=401"
THROTTLE_MESSAGE = "message=ThrottleExceeded; errorCode=003001; statusCode=429"
THROTTLE_DETAIL = "The request limit was reached.  Try again later"


def auth_body(detail: str, *, lowercase: bool, now_ms: int, time: str) -> dict[str, Any]:
    """Build the 401 body: the usual ``Fault`` envelope, or the lower-case variant seen in a capture [V3]."""
    if not lowercase:
        error = {"Message": AUTH_MESSAGE, "Detail": detail, "code": "3200"}
        return {"Fault": {"Error": [error], "type": "AuthenticationFault"}, "time": time}
    return {
        "warnings": None,
        "intuitObject": None,
        "fault": {
            "error": [{"message": AUTH_MESSAGE, "detail": detail, "code": "3200", "element": None}],
            "type": "AUTHENTICATION",
        },
        "report": None,
        "queryResponse": None,
        "batchItemResponse": [],
        "attachableResponse": [],
        "syncErrorResponse": None,
        "requestId": None,
        "time": now_ms,
        "status": None,
        "cdcresponse": [],
    }


def throttle_json(time: str) -> dict[str, Any]:
    """Build the JSON 429 body (its exact shape is [I])."""
    error = {"Message": THROTTLE_MESSAGE, "Detail": THROTTLE_DETAIL, "code": "3001"}
    return {"Fault": {"Error": [error], "type": "SERVICE"}, "time": time}


def throttle_xml(time: str) -> str:
    """Build the XML 429 body QBO sends even to JSON clients [V3]."""
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<IntuitResponse xmlns="http://schema.intuit.com/finance/v3" time="{time}">'
        f'<Fault type="SERVICE"><Error code="3001"><Message>{THROTTLE_MESSAGE}</Message>'
        f"<Detail>{THROTTLE_DETAIL}</Detail></Error></Fault></IntuitResponse>"
    )
