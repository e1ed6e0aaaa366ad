"""Block Kit rendering: pure functions from Tally's records to Slack messages (no I/O, no Slack client)."""

from bot.slack.blocks.common import Message

__all__ = ["Message"]
