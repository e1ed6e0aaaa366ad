"""Who may approve a fix, how many approvals it needs, and which fixes approve themselves.

- Approvers are configured (``TALLY_APPROVERS`` Slack user ids, ``TALLY_APPROVER_GROUP``); the check itself is
  injected into ``approve``/``reject`` as ``is_approver`` because only the Slack side can ask Slack who is in a
  user group. ``approver_check`` covers the simple case: the configured ids plus any names the caller adds (the
  CLI adds ``cli:<login>`` for logins listed in ``TALLY_APPROVERS``; a login mapped by ``TALLY_OPERATORS`` is
  checked as its person's Slack id).
- Amounts above ``TALLY_DUAL_APPROVAL_ABOVE`` need two different people (``approving``).
- ``TALLY_AUTO_APPROVE`` (off by default) lets the team opt kinds in up to an amount. It never covers an amount
  that needs two approvers: a configuration cannot turn the four-eyes rule off by accident.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal

from sync.settings import Settings


def approvals_needed(amount: Decimal, settings: Settings) -> int:
    """Return 2 when ``amount`` is above the dual-approval threshold, else 1."""
    return 2 if amount > settings.dual_approval_above else 1


def auto_approves(kind: str, amount: Decimal, settings: Settings) -> bool:
    """Tell whether ``TALLY_AUTO_APPROVE`` covers a fix of ``kind`` for ``amount``."""
    limit = settings.auto_approve.get(kind)
    if limit is None:
        return False
    return amount <= limit and approvals_needed(amount, settings) == 1


def approver_check(settings: Settings, *, extra: Iterable[str] = ()) -> Callable[[str], bool]:
    """Return a check that accepts the configured approvers and the names in ``extra``."""
    allowed = frozenset(settings.approvers) | frozenset(extra)

    def is_approver(who: str) -> bool:
        return who in allowed

    return is_approver
