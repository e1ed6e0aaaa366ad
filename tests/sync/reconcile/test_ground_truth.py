"""Ground truth over real loopback HTTP: seeded books in the sandbox → full sync → cache → engine = the manifest.

The generator plants discrepancies of every kind and writes down exactly which findings a correct engine reports and
which odd-looking documents (one closed minutes ago, drafts, rounding cents) it must leave alone.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from sandbox.dataset import Manifest
from sync.cache import run_sync
from sync.cache.snapshot import load_snapshot
from sync.db import make_engine, session_scope
from sync.migrate import upgrade
from sync.reconcile import Finding, Snapshot, reconcile
from tests.sandboxes import cw_client, qbo_client, sandbox
from tests.sync.reconcile.world import live_policy

SEEDS = [1, 4, 9, 13, 17]


def synced_snapshot(engine: Engine, dataset: str, seed: int) -> tuple[Snapshot, Manifest]:
    """Serve the seeded books, full-sync them into ``engine`` over HTTP, and read the cache back."""
    with sandbox(dataset, seed=seed) as running, cw_client(running) as cw, qbo_client(running) as qbo:
        run_sync(engine, cw, qbo, full=True)
        manifest = running.books.manifest
    with session_scope(engine) as session:
        return load_snapshot(session), manifest


def assert_matches(found: list[Finding], manifest: Manifest) -> None:
    """Exactly the manifest's findings (kind, key and amount), and nothing about what it says to leave alone."""
    assert {(f.kind, f.key) for f in found} == {(f.kind, f.key) for f in manifest.findings}
    assert {f.key: f.amount for f in found} == {f.key: f.amount for f in manifest.findings}
    named = {number.upper() for finding in found for number in finding.documents}
    for not_finding in manifest.not_findings:
        assert not named & {number.upper() for number in not_finding.documents}, not_finding


@pytest.mark.parametrize("seed", SEEDS)
def test_small_books_reconcile_to_the_manifest(engine: Engine, seed: int) -> None:
    snapshot, manifest = synced_snapshot(engine, "small", seed)
    assert {n.reason for n in manifest.not_findings} >= {"in_grace", "open_in_cw", "rounding", "payment_rounding"}
    assert_matches(reconcile(snapshot, live_policy()), manifest)


@pytest.mark.slow
def test_large_books_reconcile_to_the_manifest(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'tally.db'}")
    upgrade(engine)
    try:
        snapshot, manifest = synced_snapshot(engine, "large", 1)
    finally:
        engine.dispose()
    assert len(manifest.findings) >= 200
    assert_matches(reconcile(snapshot, live_policy()), manifest)
