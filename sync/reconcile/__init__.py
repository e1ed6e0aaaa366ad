"""Reconciliation: pure functions from a snapshot of both books to findings (see ``engine.reconcile``)."""

from sync.reconcile.engine import reconcile
from sync.reconcile.model import Finding, FixSpec, Policy, Snapshot

__all__ = ["Finding", "FixSpec", "Policy", "Snapshot", "reconcile"]
