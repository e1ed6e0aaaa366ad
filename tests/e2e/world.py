"""The whole of Tally over loopback HTTP: the web process under uvicorn, the sandbox ConnectWise, QuickBooks and
Slack, and a driver that plays Slack: signed slash commands, clicks on buttons the bot posted, modal submissions.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import col

from bot.processes.web import create_web
from bot.slack.app import create_app, web_client
from bot.slack.jobs import check_and_announce
from sandbox.cli import RunningSandbox
from sandbox.slack import SlackDriver, SlackStore
from sync.checks import CheckResult
from sync.clients.connectwise import ConnectWiseClient
from sync.clients.quickbooks import QuickBooksClient
from sync.db import session_scope
from sync.models import Action, AuditEvent, FindingRecord
from sync.qbo_auth import QBOAuth
from sync.qbo_auth.links import ConnectLinks
from sync.settings import Settings
from sync.wiring import clients
from tests.bot.processes.webproc import serve
from tests.sandboxes import cw_client, qbo_client, sandbox

CHANNEL = "C0FINANCE"
PUBLIC_URL = "https://tally.example.com"
Message = dict[str, Any]


@dataclass
class World:
    """Everything running, and ways to look at it."""

    running: RunningSandbox
    settings: Settings
    engine: Engine
    driver: SlackDriver
    url: str

    @property
    def slack(self) -> SlackStore:
        """What the sandbox Slack holds."""
        return self.driver.store

    def check(self, actor: str = "scheduler") -> CheckResult:
        """Run the scheduled job (check and announce) as the clock process would."""
        factory = functools.partial(clients, self.settings, self.engine)
        return check_and_announce(self.settings, self.engine, factory, web_client(self.settings), actor=actor)

    def wait(self, predicate: Callable[[], Any], timeout: float = 15.0) -> Any:
        """Wait for the app's asynchronous work."""
        return self.driver.wait_for(predicate, timeout=timeout)

    def channel(self) -> list[Message]:
        """The channel's messages as they look now."""
        return self.slack.messages(CHANNEL)

    def alert(self, key: str) -> Message:
        """The alert of one finding, as it looks now."""
        with session_scope(self.engine) as session:
            row = session.get(FindingRecord, key)
            assert row is not None, f"no finding {key}"
            assert row.slack_ts, f"{key} has no alert"
            channel, ts = row.slack_channel, row.slack_ts
        found = self.slack.message(str(channel), str(ts))
        assert found is not None
        return found

    def actions(self, **where: Any) -> list[Action]:
        """Actions matching ``column=value`` pairs."""
        with session_scope(self.engine) as session:
            statement = select(Action).order_by(col(Action.id))
            for name, value in where.items():
                statement = statement.where(getattr(Action, name) == value)
            return list(session.execute(statement).scalars())

    def action(self, action_id: int) -> Action:
        """One action as it is now."""
        (found,) = self.actions(id=action_id)
        return found

    def events(self, verb: str, subject: str | None = None) -> list[AuditEvent]:
        """Audit events with ``verb`` (and ``subject``)."""
        with session_scope(self.engine) as session:
            statement = select(AuditEvent).where(col(AuditEvent.verb) == verb).order_by(col(AuditEvent.id))
            if subject is not None:
                statement = statement.where(col(AuditEvent.subject) == subject)
            return list(session.execute(statement).scalars())

    def cw(self) -> ConnectWiseClient:
        """A ConnectWise client of the test's own, to look at the books."""
        return cw_client(self.running)

    def qbo(self) -> QuickBooksClient:
        """A QuickBooks client of the test's own."""
        return qbo_client(self.running)


def buttons(message: Message) -> list[dict[str, Any]]:
    """Every button in a message (actions blocks and section accessories)."""
    found = []
    for block in message.get("blocks") or []:
        elements = block.get("elements", []) if block.get("type") == "actions" else [block.get("accessory")]
        found += [e for e in elements if isinstance(e, dict) and e.get("type") == "button"]
    return found


def text_of(message: Message) -> str:
    """A message's words: its text and every text in its blocks."""
    return str(message.get("text", "")) + "\n" + json.dumps(message.get("blocks") or [], ensure_ascii=False)


@contextmanager
def tally_world(
    engine: Engine,
    database_url: str,
    *,
    seed: int = 3,
    books: Callable[[], AbstractContextManager[RunningSandbox]] | None = None,
    **env: str,
) -> Iterator[World]:
    """Start the sandboxes (seeded books, or ``books()``) and Tally's web process, with a driver playing Slack."""
    with books() if books is not None else sandbox("small", seed=seed) as running:
        values = {**running.env(), "DATABASE_URL": database_url, "TALLY_PUBLIC_URL": PUBLIC_URL, **env}
        settings = Settings(**values)  # type: ignore[arg-type]
        factory = functools.partial(clients, settings, engine)
        bolt = create_app(settings, engine=engine, clients=factory)
        asgi = create_web(
            bolt,
            signing_secret=running.workspace.signing_secret,
            auth=QBOAuth(settings, engine),
            links=ConnectLinks(engine),
            webhook_verifier="verifier",
            on_qbo_change=lambda _: None,
        )
        with serve(asgi) as url, SlackDriver(url, server=running.slack) as driver:
            yield World(running=running, settings=settings, engine=engine, driver=driver, url=url)
