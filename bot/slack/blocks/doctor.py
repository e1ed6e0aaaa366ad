"""``/tally doctor``: the first-contact checklist as a Slack message, what to do under each warning and failure."""

from __future__ import annotations

from bot.slack.blocks.common import Block, Message, context, escape, packed, section
from sync.doctor import Report, Status

MARKS = {
    Status.PASS: ":white_check_mark:",
    Status.WARN: ":warning:",
    Status.FAIL: ":x:",
    Status.SKIP: ":heavy_minus_sign:",
}


def doctor_message(report: Report) -> Message:
    """The checklist, one section per system; every text from the systems escaped."""
    verdict = "nothing failed" if not report.failed else "fix the failures below"
    headline = f"*Tally doctor*: {report.summary()}; {verdict}."
    blocks: list[Block] = [section(headline)]
    systems: dict[str, list[str]] = {}
    for check in report.checks:
        line = f"{MARKS[check.status]} *{escape(check.title)}*: {escape(check.detail)}"
        if check.remedy:
            line += f"\n      → {escape(check.remedy)}"
        systems.setdefault(check.system, []).append(line)
    for system, lines in systems.items():
        blocks += packed([f"*{escape(system)}*", *lines], max_blocks=8)
    blocks.append(context(f"Read only: nothing was written anywhere. Checked at {report.at:%Y-%m-%d %H:%M} UTC."))
    return Message(text=f"Tally doctor: {report.summary()}", blocks=blocks[:50])
