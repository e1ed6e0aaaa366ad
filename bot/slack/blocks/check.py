"""A check started from Slack: its progress while it runs, then what it found (the message is updated in place)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from bot.slack.blocks.common import Block, Message, context, section
from bot.slack.blocks.findings import title, who
from sync.checks import CheckResult
from sync.delivery import Refusal


def check_progress(actor: str, streams: Mapping[str, int]) -> Message:
    """While a check runs: who started it and how far each stream has been read."""
    read = " · ".join(f"{stream} {count:,}" for stream, count in sorted(streams.items()))
    blocks: list[Block] = [
        section(f":hourglass: {who(actor)} started a check: reading ConnectWise and QuickBooks…"),
        context(f"Read so far: {read}" if read else "Connecting…"),
    ]
    return Message(text="Checking ConnectWise and QuickBooks…", blocks=blocks)


def check_summary(result: CheckResult, actor: str, channel: str | None, *, refused: Refusal | None = None) -> Message:
    """When a check is done: how many findings are open, new and resolved, and where the new ones are (or why they
    could not be posted there)."""
    changes = result.changes
    fixable = sum(1 for finding in result.findings if finding.fix is not None)
    if not result.findings:
        headline = f":white_check_mark: Check by {who(actor)} done: the books agree."
    else:
        headline = (
            f":mag: Check by {who(actor)} done: *{len(result.findings)} open findings* — {len(changes.new)} new, "
            f"{len(changes.resolved)} resolved since the last check; {fixable} have a fix waiting for approval."
        )
    kinds = Counter(finding.kind for finding in result.findings)
    blocks: list[Block] = [section(headline)]
    if kinds:
        blocks.append(section("\n".join(f"• {title(kind)}: {count}" for kind, count in sorted(kinds.items()))))
    where = f"New findings are posted in <#{channel}> with their buttons." if channel else "No alert channel is set."
    if refused is not None and channel:
        blocks.append(section(f":warning: *The findings were not posted.* {refused.sentence(f'<#{channel}>')}"))
        where = "Until then, `/tally payments`, `credits` and `mirror` show the fixes here."
    blocks.append(context(f"{where} Checked at {result.at:%Y-%m-%d %H:%M} UTC."))
    text = f"Check done: {len(result.findings)} open findings, {len(changes.new)} new, {len(changes.resolved)} resolved"
    return Message(text=text, blocks=blocks)
