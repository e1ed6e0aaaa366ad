"""The clock's sweep job: it sweeps with the configured clients, and a failure is recorded, not raised."""

from __future__ import annotations

import functools

import httpx
from sqlalchemy.engine import Engine

from bot.processes.scheduled import scheduled_sweep
from sync.db import session_scope
from sync.settings import load_settings
from sync.sweep import latest_sweep
from sync.wiring import clients
from tests.sandboxes import sandbox


def test_the_sweep_job_sweeps_and_records_a_failure_without_raising(engine: Engine, database_url: str) -> None:
    with sandbox("empty") as running:
        settings = load_settings(_env_file=None, **{**running.env(), "DATABASE_URL": database_url})
        factory = functools.partial(clients, settings, engine)
        done = scheduled_sweep(engine, factory)
        assert done is not None
        assert done.missed == 0
        httpx.post(f"{running.cw.url}/_sandbox/faults", json={"fail_next": {"count": 50, "status": 503}})
        assert scheduled_sweep(engine, factory) is None
    with session_scope(engine) as session:
        run = latest_sweep(session)
    assert run is not None
    assert run.status == "failed"
    assert run.error
