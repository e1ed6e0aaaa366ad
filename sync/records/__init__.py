"""Typed records of ConnectWise and QuickBooks payloads: what the clients return and the cache stores.

Money is ``Decimal`` (responses are parsed with ``parse_float=Decimal``; a stray float is read through
``str``), times are aware UTC datetimes, calendar dates are ``date``. Each record's ``from_api`` accepts the
payload shapes the research documents: optional keys missing, ``"Balance": 0``, string ``Id``s,
``null`` amounts.

    values.py       Money / UTCTime / Day and the frozen ``Record`` base
    connectwise.py  CWCompany, CWInvoice, CWPayment
    quickbooks.py   QBOCustomer, QBOInvoice, QBOCreditMemo, QBOPayment (+ lines), CDCResult, DocumentLine
"""

from sync.records.connectwise import CWCompany, CWInvoice, CWPayment
from sync.records.quickbooks import (
    QBO_KINDS,
    CDCResult,
    DocumentLine,
    LinkedTxn,
    QBOCreditMemo,
    QBOCustomer,
    QBOInvoice,
    QBOPayment,
    QBOPaymentLine,
    QBORecord,
)

__all__ = [
    "QBO_KINDS",
    "CDCResult",
    "CWCompany",
    "CWInvoice",
    "CWPayment",
    "DocumentLine",
    "LinkedTxn",
    "QBOCreditMemo",
    "QBOCustomer",
    "QBOInvoice",
    "QBOPayment",
    "QBOPaymentLine",
    "QBORecord",
]
