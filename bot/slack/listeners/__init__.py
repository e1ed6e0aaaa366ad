"""Tally's Slack features; each module registers its listeners on the app.

commands.py      the slash command (/tally …): ack at once, work in a lazy listener
interactions.py  Approve, Approve all, Reject and the reason modal
binding.py       a click counts only for the fixes its own message shows
home.py          the Home tab (app_home_opened → views.publish)
parsing.py       reading the command's text
reading.py       what several listeners read and render alike
"""

from __future__ import annotations

from slack_bolt import App


def register(app: App, *, command: str = "/tally") -> None:
    """Register every feature on ``app``; ``command`` is the slash command's name."""
    # Imported here, not at the top: ``bot.slack.notify`` uses ``binding`` from this package, and the listeners
    # import ``notify`` in turn.
    from bot.slack.listeners import commands, home, interactions

    commands.register(app, command=command)
    interactions.register(app)
    home.register(app)
