"""Commands loaded when they run, so ``tally --help`` does not import the whole of Tally.

Each command names the module and attribute that holds it and its one-line help. ``tally --help`` lists the
commands from that help alone; running a command, or asking for its own ``--help``, imports its module then.
``tests/bot/cli/test_lazy.py`` checks that every line here still matches the command's docstring.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import typer
import typer.main
from typer import _click as click  # typer 0.29 ships its own click; its groups take these types
from typer.core import TyperCommand, TyperGroup


@dataclass(frozen=True)
class LazyCommand:
    """A command of ``tally``: where it lives and what ``tally --help`` says of it."""

    name: str
    target: str  # "package.module:attribute", a function or a typer.Typer group
    help: str


# In the order `tally --help` lists them.
COMMANDS: tuple[LazyCommand, ...] = (
    LazyCommand("db", "bot.cli.core:db_app", "Tally's own database."),
    LazyCommand("qbo", "bot.cli.qbo:qbo_app", "Connect Tally to QuickBooks Online and check the connection."),
    LazyCommand("check", "bot.cli.check:check", "Sync both systems, find every disagreement, and propose the fixes."),
    LazyCommand(
        "findings", "bot.cli.check:findings", "List the open findings from the last check (exit 1 while any remain)."
    ),
    LazyCommand(
        "explain",
        "bot.cli.check:explain",
        "Show one invoice or credit memo side by side in both systems, and what Tally thinks of it.",
    ),
    LazyCommand(
        "ar",
        "bot.cli.check:ar",
        "Open accounts receivable per customer in each system, the difference, what explains it, and the total.",
    ),
    LazyCommand("history", "bot.cli.check:history", "Show the audit trail, newest first."),
    LazyCommand(
        "map",
        "bot.cli.mapping:map_command",
        "List companies Tally cannot check with their best candidates; with COMPANY CUSTOMER, confirm a mapping.",
    ),
    LazyCommand(
        "payments",
        "bot.cli.actions:payments",
        "Payments QuickBooks has that ConnectWise lacks: preview, or --apply to record them in ConnectWise.",
    ),
    LazyCommand(
        "credits",
        "bot.cli.actions:credits",
        "Credit memos applied in one system but not the other: preview, or --apply.",
    ),
    LazyCommand(
        "mirror",
        "bot.cli.actions:mirror",
        "ConnectWise documents missing in QuickBooks: preview, or --apply to create them there.",
    ),
    LazyCommand("actions", "bot.cli.actions:actions", "List the fixes and where each stands."),
    LazyCommand(
        "approve",
        "bot.cli.actions:approve",
        "Approve one fix as the operator; it runs as soon as it has its approvals.",
    ),
    LazyCommand("reject", "bot.cli.actions:reject", "Reject one fix, with a reason."),
    LazyCommand(
        "undo",
        "bot.cli.actions:undo",
        "Propose reversing a fix Tally carried out; approve the undo like any fix (tally approve N).",
    ),
    LazyCommand(
        "sync", "bot.cli.core:sync", "Read ConnectWise and QuickBooks into Tally's cache and print what changed."
    ),
    LazyCommand(
        "sweep",
        "bot.cli.core:sweep",
        "Re-read everything now, as the nightly sweep does, and say what the incremental syncs had missed.",
    ),
    LazyCommand(
        "status",
        "bot.cli.views:status",
        "Where Tally stands: connections, the last check, open findings, fixes waiting; as /tally status shows it.",
    ),
    LazyCommand(
        "digest",
        "bot.cli.views:digest",
        "Post today's digest to the channel now (counts as today's), or draw it here with --print.",
    ),
    LazyCommand(
        "doctor",
        "bot.cli.doctor:doctor",
        "Check that ConnectWise, QuickBooks, Slack and the database are as Tally needs them (read only).",
    ),
    LazyCommand("callbacks", "bot.cli.callbacks:app", "Tally's ConnectWise callback (real-time notifications)."),
    LazyCommand("sandbox", "sandbox.cli:app", "Local stand-ins for ConnectWise Manage and QuickBooks Online."),
    LazyCommand(
        "demo",
        "bot.cli.demo:demo",
        "Run the whole story against the sandbox: check, propose, approve, fix, check again, audit.",
    ),
)


def load(target: str) -> Any:
    """Import ``module:attribute``."""
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


class LazyGroup(TyperGroup):
    """A typer group whose lazy commands are imported on first use.

    ``wrap(typer_app, prefix)`` lets the caller put its pre-flight in front of a command as it loads (``prefix`` is
    ``"qbo "`` for the commands of the ``qbo`` group, empty for a plain command).
    """

    lazy: ClassVar[dict[str, LazyCommand]] = {}
    wrap: Callable[[typer.Typer, str], None] = staticmethod(lambda typer_app, prefix: None)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._listing = False

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*self.lazy, *(name for name in super().list_commands(ctx) if name not in self.lazy)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands or cmd_name not in self.lazy:
            return super().get_command(ctx, cmd_name)
        entry = self.lazy[cmd_name]
        if self._listing:  # the group's own help needs the one-line help, not the command
            return TyperCommand(entry.name, help=entry.help, short_help=entry.help)
        command = self._build(entry)
        self.commands[cmd_name] = command
        return command

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def _build(self, entry: LazyCommand) -> click.Command:
        found = load(entry.target)
        holder = found if isinstance(found, typer.Typer) else typer.Typer()
        if holder is not found:
            holder.command(entry.name)(found)
        self.wrap(holder, f"{entry.name} " if holder is found else "")
        if holder is found:
            group = typer.main.get_group(holder)
            group.name = entry.name
            return group
        return typer.main.get_command(holder)


def lazy_group(commands: tuple[LazyCommand, ...], wrap: Callable[[typer.Typer, str], None]) -> type[LazyGroup]:
    """A ``LazyGroup`` class serving ``commands``, for ``typer.Typer(cls=...)``."""
    return type("TallyCommands", (LazyGroup,), {"lazy": {c.name: c for c in commands}, "wrap": staticmethod(wrap)})
