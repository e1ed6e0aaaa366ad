"""Confirming a customer mapping from Slack (``/tally map ACCOUNT CUSTOMER``, "Map to <candidate>"): approvers only."""

from __future__ import annotations

from bot.slack.blocks.common import escape
from bot.slack.middleware import Tally
from sync.mapping import MappingError, confirm


def confirm_mapping(tally: Tally, user: str, company: str, customer: str) -> str:
    """Store the mapping if ``user`` may approve fixes; return the sentence to answer with (escaped for mrkdwn)."""
    if not tally.approvers.is_approver(user):
        return "Only approvers can confirm a customer mapping: it decides where Tally's fixes are written."
    try:
        cw, qbo = confirm(tally.engine, company, customer, actor=user)
    except MappingError as problem:
        return escape(str(problem))
    return (
        f"<@{user}> mapped ConnectWise company {escape(cw.name)} to QuickBooks customer {escape(qbo.display_name)} "
        f"(Id {escape(qbo.id)}); the next check compares them."
    )
