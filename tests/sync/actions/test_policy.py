"""Who may approve, how many approvals a fix needs, and TALLY_AUTO_APPROVE."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from sync.actions import approvals_needed, approver_check, auto_approves
from sync.actions.executor import OPERATIONS
from sync.actions.undo import UNDO_KINDS, UNDO_OF
from sync.settings import FIX_KINDS
from tests.sync.actions.helpers import settings


def test_auto_approve_is_off_unless_configured() -> None:
    assert settings().auto_approve == {}
    assert not auto_approves("backflow_payment", Decimal("0.01"), settings())


def test_auto_approve_reads_kinds_and_limits() -> None:
    configured = settings(TALLY_AUTO_APPROVE="backflow_payment<=250, apply_credit_memo <= $500.50")
    assert configured.auto_approve == {"backflow_payment": Decimal("250"), "apply_credit_memo": Decimal("500.50")}
    assert auto_approves("backflow_payment", Decimal("250.00"), configured)
    assert not auto_approves("backflow_payment", Decimal("250.01"), configured)
    assert not auto_approves("mirror_invoice", Decimal("1.00"), configured)


@pytest.mark.parametrize(
    ("value", "complaint"),
    [("backflow_payment=250", "is not KIND<=AMOUNT"), ("refund_everything<=10", "is not a fix Tally makes")],
)
def test_auto_approve_refuses_what_it_cannot_read(value: str, complaint: str) -> None:
    with pytest.raises(ValidationError, match=complaint):
        settings(TALLY_AUTO_APPROVE=value)


def test_auto_approve_never_covers_an_amount_that_needs_two_approvers() -> None:
    configured = settings(TALLY_AUTO_APPROVE="mirror_invoice<=100000", TALLY_DUAL_APPROVAL_ABOVE="5000")
    assert auto_approves("mirror_invoice", Decimal("5000.00"), configured)
    assert not auto_approves("mirror_invoice", Decimal("5000.01"), configured)


def test_amounts_above_the_threshold_need_two_approvers() -> None:
    configured = settings(TALLY_DUAL_APPROVAL_ABOVE="1000")
    assert approvals_needed(Decimal("1000.00"), configured) == 1
    assert approvals_needed(Decimal("1000.01"), configured) == 2


def test_approver_check_accepts_configured_ids_and_extra_names() -> None:
    check = approver_check(settings(TALLY_APPROVERS="U1, U2"), extra=["cli:ana"])
    assert check("U1")
    assert check("cli:ana")
    assert not check("U9")
    assert not check("cli:bob")


def test_every_fix_kind_the_settings_accept_can_be_executed_and_undone() -> None:
    assert set(FIX_KINDS) | set(UNDO_KINDS) == set(OPERATIONS)
    assert set(UNDO_OF) == set(FIX_KINDS)  # every kind of fix has its undo
