"""HTTP clients for ConnectWise Manage and QuickBooks Online; they never touch the database.

errors.py         the exception tree every client raises (each error carries a sentence for a person)
http.py           the shared layer: timeouts, retries with backoff, QBO's limiter, status -> exception
cw_conditions.py  ConnectWise ``conditions`` builder (escaping)
connectwise.py    ConnectWiseClient
qbo_query.py      QuickBooks query builder (escaping, widening of characters its lexer rejects)
quickbooks.py     QuickBooksClient and the TokenSource it needs
"""

from sync.clients.connectwise import ConnectWiseClient
from sync.clients.errors import (
    AuthError,
    CDCWindowError,
    DuplicateDocumentError,
    NotConfiguredError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    StaleObjectError,
    TallyAPIError,
    TransportError,
    ValidationError,
)
from sync.clients.http import RetryPolicy
from sync.clients.limiter import RateLimiter
from sync.clients.quickbooks import QuickBooksClient, TokenSource

__all__ = [
    "AuthError",
    "CDCWindowError",
    "ConnectWiseClient",
    "DuplicateDocumentError",
    "NotConfiguredError",
    "NotFoundError",
    "QuickBooksClient",
    "RateLimitedError",
    "RateLimiter",
    "RetryPolicy",
    "ServerError",
    "StaleObjectError",
    "TallyAPIError",
    "TokenSource",
    "TransportError",
    "ValidationError",
]
