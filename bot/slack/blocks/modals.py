"""The reject modal: the exact write being turned down, and a required reason for the audit trail."""

from __future__ import annotations

from typing import Any

from bot.slack.blocks.common import escape, plain, section
from bot.slack.ids import REASON_INPUT, BlockId, CallbackId
from sync.models import Action


def reject_modal(action: Action) -> dict[str, Any]:
    """A modal asking why; ``private_metadata`` carries only the action id."""
    return {
        "type": "modal",
        "callback_id": CallbackId.REJECT_REASON,
        "private_metadata": str(action.id),
        "title": plain("Reject this fix", 24),
        "submit": plain("Reject", 24),
        "close": plain("Cancel", 24),
        "blocks": [
            section(
                f"*Fix #{action.id}:* {escape(action.description)}\nNothing is written anywhere when you reject it."
            ),
            {
                "type": "input",
                "block_id": BlockId.REASON,
                "label": plain("Why? (kept in the audit trail)", 2000),
                "element": {
                    "type": "plain_text_input",
                    "action_id": REASON_INPUT,
                    "multiline": True,
                    "max_length": 500,
                },
            },
        ],
    }
