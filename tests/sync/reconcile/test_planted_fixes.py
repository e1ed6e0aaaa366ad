"""The seeded books' issue-9 situations (sandbox/books/plant_fixes.py): each planted case gets exactly the fix the
manifest says a bookkeeper expects — none for a look-alike number, a backflow of the CW balance for a tax penny."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy.engine import Engine

from sync.reconcile import reconcile
from tests.sync.reconcile.test_ground_truth import synced_snapshot
from tests.sync.reconcile.world import live_policy


@pytest.mark.parametrize("seed", [1, 4])
def test_planted_situations_get_the_fix_a_bookkeeper_expects(engine: Engine, seed: int) -> None:
    snapshot, manifest = synced_snapshot(engine, "small", seed)
    found = {finding.key: finding for finding in reconcile(snapshot, live_policy())}
    expected = [planted for planted in manifest.findings if planted.fix]
    assert {planted.fix.split()[0] for planted in expected} == {"none:", "backflow_payment"}
    for planted in expected:
        finding = found[planted.key]
        if planted.fix.startswith("none:"):
            assert finding.fix is None, planted
            assert "a person must confirm" in finding.explanation
        else:
            kind, amount = planted.fix.split()
            assert finding.fix is not None
            assert (finding.fix.kind, Decimal(finding.fix.params["amount"])) == (kind, Decimal(amount))
            assert "closes the ConnectWise invoice" in finding.explanation
