"""Every Slack action id, block id and callback id Tally uses, in one place."""

from __future__ import annotations

from enum import StrEnum


class ActionId(StrEnum):
    """``action_id`` of interactive elements; a button's ``value`` carries only an action id (or a list of them)."""

    APPROVE = "tally_approve"
    REJECT = "tally_reject"
    APPROVE_ALL = "tally_approve_all"
    MAP_TO = "tally_map_to"  # value: ``<CW company id>:<QBO customer id>``
    UNDO = "tally_undo"  # undo (issue 13): propose reversing a fix that ran


class BlockId(StrEnum):
    """``block_id`` of blocks that listeners read back (a prefix when followed by ``:``)."""

    DECISION = "tally_decision"  # Approve / Reject under an alert: ``tally_decision:<action id>``
    SUMMARY = "tally_summary"  # "Approve all N" under a summary of many new findings
    PREVIEW = "tally_preview"  # a preview row: ``tally_preview:<action id or all>:<group>:<filter>``
    REASON = "tally_reason"  # the reason input of the reject modal
    UNDO = "tally_undo"  # Undo under an alert whose fix ran: ``tally_undo:<action id>``


class CallbackId(StrEnum):
    """``callback_id`` of modals."""

    REJECT_REASON = "tally_reject_reason"


REASON_INPUT = "reason"  # action_id of the reason text box in the reject modal
