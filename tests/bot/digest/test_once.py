"""The digest is posted once per channel and day, however many threads or processes (clocks) try at once."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from multiprocessing.synchronize import Barrier as ProcessBarrier
from typing import Any

import pytest
from slack_sdk import WebClient
from sqlalchemy.engine import Engine

from bot.digest.post import post_digest
from sandbox.cli import RunningSandbox
from sync.db import make_engine
from sync.settings import load_settings
from tests.sandboxes import sandbox

CHANNEL = "C0FINANCE"
RACERS = 4


@pytest.fixture
def world() -> Iterator[RunningSandbox]:
    with sandbox("empty") as running:
        yield running


def env_of(running: RunningSandbox, database_url: str) -> dict[str, str]:
    """The configuration a deployment pointed at the sandbox would have."""
    return {**running.env(), "DATABASE_URL": database_url}


def post(env: dict[str, str], now: datetime, engine: Engine | None = None) -> list[str]:
    """One clock posting the digest: its own settings, engine and Slack client."""
    settings = load_settings(_env_file=None, **env)
    own = engine or make_engine(settings.database_url)
    client = WebClient(token=env["SLACK_BOT_TOKEN"], base_url=env["SLACK_API_URL"])
    try:
        return post_digest(settings=settings, engine=own, client=client, now=now)
    finally:
        if engine is None:
            own.dispose()


def child(env: dict[str, str], now: datetime, barrier: ProcessBarrier, results: Any) -> None:
    """A clock process: wait for the other, then post."""
    barrier.wait(timeout=30)
    results.put(post(env, now))


def digest_messages(running: RunningSandbox) -> list[dict[str, Any]]:
    messages = running.slack.service.store.messages(CHANNEL)  # type: ignore[attr-defined]
    return [m for m in messages if str(m.get("text", "")).startswith("Tally daily digest")]


def test_threads_racing_post_one_digest(engine: Engine, database_url: str, world: RunningSandbox) -> None:
    env, now = env_of(world, database_url), datetime.now(UTC)
    barrier = threading.Barrier(RACERS)
    results: list[list[str]] = []

    def race() -> None:
        barrier.wait(timeout=30)
        results.append(post(env, now, engine))

    threads = [threading.Thread(target=race) for _ in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(len(result) for result in results) == [0, 0, 0, 1]
    assert len(digest_messages(world)) == 1
    assert post(env, now, engine) == []  # and a later run of the job posts nothing either


def test_two_processes_racing_post_one_digest(engine: Engine, database_url: str, world: RunningSandbox) -> None:
    env, now = env_of(world, database_url), datetime.now(UTC)
    spawn = multiprocessing.get_context("spawn")
    barrier, results = spawn.Barrier(2), spawn.Queue()
    children = [spawn.Process(target=child, args=(env, now, barrier, results)) for _ in range(2)]
    for process in children:
        process.start()
    outcomes = sorted(len(results.get(timeout=60)) for _ in children)
    for process in children:
        process.join(timeout=60)
    assert [process.exitcode for process in children] == [0, 0]
    assert outcomes == [0, 1]
    assert len(digest_messages(world)) == 1
    assert len(world.slack.service.store.calls_to("chat.postMessage")) == 1  # type: ignore[attr-defined]
