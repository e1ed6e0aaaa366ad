"""Faithful local stand-ins for ConnectWise Manage, QuickBooks Online and Slack.

The sandbox is an independent reading of the real APIs (their public documentation): it imports nothing from
``sync`` or ``bot``, so the clients are tested against something they did not write.

Layout::

    sandbox/web.py          tiny threaded HTTP server, router, fault injection, admin endpoints
    sandbox/clock.py        a shiftable clock shared by a server's store and its admin endpoint
    sandbox/connectwise/    the ConnectWise Manage REST API (store, conditions parser, server)
    sandbox/quickbooks/     the QuickBooks Online API and Intuit OAuth (store, query parser, server)
    sandbox/dataset.py      seeded MSP books with planted discrepancies and a ground-truth manifest
    sandbox/books/          what dataset.py is built from: the model, the baseline, the planters, the manifest
    sandbox/cli.py          ``tally sandbox serve`` and the environment lines it writes
"""
