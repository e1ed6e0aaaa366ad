"""ConnectWise Manage REST API stand-in.

Modules::

    errors.py       CWError and the ConnectWise error bodies
    values.py       money (Decimal) and canonical time strings
    schema.py       each resource's fields, for conditions / orderBy / fields / PATCH paths
    conditions.py   the conditions language: tokenizer, recursive-descent parser, AST, renderer
    predicates.py   conditions tree -> one Python predicate
    records.py      request bodies -> stored records (validation, defaults, references)
    ledger.py       payment rows and the derived payments / credits / balance
    patch.py        PATCH operations
    store.py        CWStore: companies, invoices, payments behind one lock
    listing.py      list queries: paging (navigable, forward-only), Link headers, orderBy, fields, count
    handlers.py     resource handlers
    server.py       ConnectWiseService (auth, headers, fault answers) and serve_connectwise

Exceptions: ``CWError`` (store and handlers; carries status + body), ``ConditionError`` and ``UnknownField``
(parser and schema; mapped to 400 by ``listing``).
"""

from sandbox.connectwise.errors import CWError
from sandbox.connectwise.server import ConnectWiseService, CWCredentials, serve_connectwise
from sandbox.connectwise.store import CWStore

__all__ = ["CWCredentials", "CWError", "CWStore", "ConnectWiseService", "serve_connectwise"]
