"""The pure engine on generated books: consistent books produce no finding, one injected disagreement exactly one."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sync.reconcile import Finding, reconcile
from tests.sync.reconcile.injections import INJECTIONS, Injection
from tests.sync.reconcile.strategies import worlds
from tests.sync.reconcile.world import POLICY, World

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def described(findings: list[Finding]) -> list[tuple[str, str, str]]:
    """Findings as (kind, key, amount) — what a bookkeeper would be told."""
    return [(f.kind, f.key, str(f.amount)) for f in findings]


@SETTINGS
@given(worlds())
def test_consistent_books_produce_no_findings(world: World) -> None:
    assert described(reconcile(world.snapshot(), POLICY)) == []


@pytest.mark.parametrize("name", list(INJECTIONS))
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_one_disagreement_produces_exactly_its_finding(name: str, data: st.DataObject) -> None:
    inject: Injection = INJECTIONS[name]
    world = data.draw(worlds(min_companies=2, spares=True))
    expected = inject(world, data)
    found = reconcile(world.snapshot(), POLICY)
    assert described(found) == [(expected.kind, expected.key, str(expected.amount))]
