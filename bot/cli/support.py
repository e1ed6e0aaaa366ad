"""What every terminal command shares: exit codes scripts can rely on, and API failures told as one sentence.

Exit codes: 0 done (or the books agree), 1 findings remain or a decision was refused, 2 bad usage,
3 a remote system or the QuickBooks connection failed (the message says what to do).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

from sync.clients.errors import TallyAPIError
from sync.qbo_auth import QuickBooksAuthError

EXIT_FINDINGS = EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_API = 3

err = Console(stderr=True)


@contextmanager
def stop_on_api_errors(what: str) -> Iterator[None]:
    """Turn a ConnectWise/QuickBooks failure inside the block into its sentence on stderr and exit code 3."""
    try:
        yield
    except (TallyAPIError, QuickBooksAuthError) as exc:
        err.print(f"[red]{what} stopped:[/] {exc}")
        raise typer.Exit(EXIT_API) from exc
