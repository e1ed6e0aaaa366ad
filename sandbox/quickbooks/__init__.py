"""The QuickBooks Online Accounting API and Intuit OAuth, as a local stand-in.

Modules::

    values.py    wire conventions: money, dates, offset timestamps
    faults.py    QBOFault and every Fault body (validation, query, auth, throttle)
    lines.py     sales-form lines and totals          entities.py  builders of each entity's stored form
    catalog.py   rows, indexes, SyncToken, MetaData, customer balances
    changelog.py the append-only change log behind CDC
    engine.py    the payment engine (applications, balances, LinkedTxn)
    store.py     QBOCompany business rules, QBOStore
    query.py     QBO SQL tokenizer/parser/renderer    evaluate.py  running a parsed query
    api.py       read/write/query/CDC/batch operations
    oauth.py     discovery, authorize, token (rotating refresh), revoke
    guards.py    requestid replay, concurrent-request limit
    server.py    routes, auth, throttling, admin calls, serve_quickbooks
"""

from sandbox.quickbooks.faults import QBOFault
from sandbox.quickbooks.oauth import QBOApp
from sandbox.quickbooks.server import QuickBooksService, serve_quickbooks
from sandbox.quickbooks.store import QBOCompany, QBOStore

__all__ = ["QBOApp", "QBOCompany", "QBOFault", "QBOStore", "QuickBooksService", "serve_quickbooks"]
