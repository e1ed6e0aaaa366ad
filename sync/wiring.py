"""Build the long-lived objects a command needs from settings: engine, clients, token source."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from sync.clients.connectwise import ConnectWiseClient
from sync.clients.quickbooks import QuickBooksClient
from sync.db import make_engine
from sync.migrate import upgrade
from sync.qbo_auth import QBOAuth
from sync.settings import Settings


def open_engine(settings: Settings) -> Engine:
    """Connect to Tally's database and make sure its tables are current."""
    engine = make_engine(settings.database_url)
    upgrade(engine)
    return engine


@dataclass
class Clients:
    """Both API clients, configured."""

    cw: ConnectWiseClient
    qbo: QuickBooksClient
    auth: QBOAuth

    def close(self) -> None:
        """Release their connections."""
        self.cw.close()
        self.qbo.close()


@contextmanager
def clients(settings: Settings, engine: Engine) -> Iterator[Clients]:
    """Yield both clients built from ``settings``, closing them afterwards."""
    auth = QBOAuth(settings, engine)
    built = Clients(
        cw=ConnectWiseClient.from_settings(settings),
        qbo=QuickBooksClient.from_settings(settings, auth),
        auth=auth,
    )
    try:
        yield built
    finally:
        built.close()
