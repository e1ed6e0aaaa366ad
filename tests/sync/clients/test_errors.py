"""Error bodies of both systems become the right exception, with a sentence a person can act on."""

from __future__ import annotations

import httpx
import pytest

from sync.clients.errors import (
    CONNECTWISE,
    QUICKBOOKS,
    AuthError,
    DuplicateDocumentError,
    NotFoundError,
    RateLimitedError,
    StaleObjectError,
    TallyAPIError,
    ValidationError,
)
from sync.clients.http import error_from_response

QBO_XML_429 = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<IntuitResponse xmlns="http://schema.intuit.com/finance/v3" '
    'time="2016-08-08T10:00:00.000-07:00"><Fault type="SERVICE"><Error code="3001"><Message>message=ThrottleExceeded; '
    "errorCode=003001; statusCode=429</Message><Detail>The request limit was reached.  Try again later</Detail>"
    "</Error></Fault></IntuitResponse>"
)
LOWER_401 = {
    "warnings": None,
    "fault": {
        "error": [
            {
                "message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                "detail": "Token expired: AB01abcdefghijklmnopqrstuvwxyz0123456789",
                "code": "3200",
                "element": None,
            }
        ],
        "type": "AUTHENTICATION",
    },
    "time": 1730024394085,
}


def qbo_fault(code: str, detail: str) -> dict[str, object]:
    return {
        "Fault": {"Error": [{"Message": "m", "Detail": detail, "code": code, "element": ""}], "type": "ValidationFault"}
    }


def test_qbo_xml_throttle_body_is_read() -> None:
    response = httpx.Response(429, text=QBO_XML_429, headers={"intuit_tid": "1-abc"})
    error = error_from_response(QUICKBOOKS, response, "a query")
    assert isinstance(error, RateLimitedError)
    assert (error.code, error.detail, error.request_id) == (
        "3001",
        "The request limit was reached.  Try again later",
        "1-abc",
    )


def test_qbo_lower_case_401_is_an_auth_error_without_the_token() -> None:
    error = error_from_response(QUICKBOOKS, httpx.Response(401, json=LOWER_401), "a query")
    assert isinstance(error, AuthError)
    assert error.code == "3200"
    assert error.detail == "Token expired: [redacted]"
    assert "AB01" not in str(error) + repr(error) + str(error.detail)


@pytest.mark.parametrize(
    ("code", "kind", "words"),
    [
        ("5010", StaleObjectError, "re-read it"),
        ("6140", DuplicateDocumentError, "duplicate"),
        ("610", NotFoundError, "has no"),
        ("6000", ValidationError, "Amount is more than the open balance."),
    ],
)
def test_qbo_codes_choose_the_class(code: str, kind: type[TallyAPIError], words: str) -> None:
    response = httpx.Response(400, json=qbo_fault(code, "Amount is more than the open balance"))
    error = error_from_response(QUICKBOOKS, response, "invoice 1001")
    assert type(error) is kind
    assert words in error.sentence
    assert error.system == "QuickBooks"


def test_cw_throttle_body_uses_error_not_code() -> None:
    body = {"error": "ConnectWiseAPI", "message": "Too many requests. Please try again in 30 seconds."}
    error = error_from_response(CONNECTWISE, httpx.Response(429, json=body), "invoices")
    assert isinstance(error, RateLimitedError)
    assert error.code == "ConnectWiseAPI"
    assert error.detail == "Too many requests. Please try again in 30 seconds."


def test_cw_field_errors_reach_the_sentence() -> None:
    body = {
        "code": "InvalidObject",
        "message": "payment object is invalid",
        "errors": [
            {"code": "InvalidField", "message": "The amount is too large.", "resource": "payment", "field": "amount"}
        ],
    }
    response = httpx.Response(400, json=body, headers={"x-cw-request-id": "r-1"})
    error = error_from_response(CONNECTWISE, response, "the payment on invoice id 7")
    assert str(error) == (
        "ConnectWise refused the payment on invoice id 7: payment object is invalid The amount is too large. "
        "(request id r-1)"
    )


def test_403_and_401_are_worded_differently() -> None:
    refused = error_from_response(CONNECTWISE, httpx.Response(401, json={"code": "Unauthorized"}), "x")
    forbidden = error_from_response(CONNECTWISE, httpx.Response(403, json={"code": "Security"}), "invoice id 3")
    assert "CW_PUBLIC_KEY" in refused.sentence
    assert "security role" in forbidden.sentence
    assert isinstance(forbidden, AuthError)
    assert forbidden.status == 403


def test_an_unreadable_body_still_gives_a_sentence() -> None:
    error = error_from_response(QUICKBOOKS, httpx.Response(502, text="<html>Bad gateway</html>"), "a query")
    assert error.sentence == "QuickBooks kept failing with server errors on a query; try again later."
    assert str(error) == error.sentence  # no request id to quote
