"""Reading what was typed after ``/tally``: a subcommand and its argument, or a ``UsageError`` saying what is wrong."""

from __future__ import annotations

from dataclasses import dataclass

from bot.slack.blocks.help import USAGE
from bot.slack.errors import UsageError

STATUSES = ("proposed", "approved", "executing", "unsure", "succeeded", "failed", "rejected", "superseded")
NO_ARGUMENT = frozenset({"status", "check", "digest", "connect", "doctor"})
FREE_TEXT = frozenset({"payments", "credits", "mirror", "ar", "map"})
HISTORY_MAX = 100
HISTORY_DEFAULT = 20


@dataclass(frozen=True)
class Parsed:
    """A subcommand and its argument (``None`` when none was given)."""

    name: str
    arg: str | None = None


def parse(text: str | None) -> Parsed:
    """Read ``help``, ``payments 10231``, ``history 50`` …; raise ``UsageError`` for anything else."""
    words = (text or "").split()
    if not words:
        return Parsed("help")
    name, rest = words[0].lower(), " ".join(words[1:]) or None
    if name not in USAGE:
        raise UsageError(f"I don't know the command `{words[0][:40]}`.")
    if name in NO_ARGUMENT and rest:
        raise UsageError(f"`{name}` takes nothing after it.", name)
    if name == "help":
        return Parsed("help", rest.lower() if rest else None)
    if name == "explain":
        return Parsed(name, _one_number(rest))
    if name == "actions":
        return Parsed(name, _status(rest))
    if name == "history":
        return Parsed(name, str(_count(rest)))
    if name == "undo":
        return Parsed(name, _fix_number(rest))
    if name in FREE_TEXT and rest and len(rest) > 100:
        raise UsageError("That is too long to be a document number or a customer name.", name)
    return Parsed(name, rest)


def _one_number(rest: str | None) -> str:
    if not rest or len(rest.split()) != 1 or len(rest) > 40:
        raise UsageError("`explain` needs one invoice or credit memo number, e.g. `explain 10231`.", "explain")
    return rest


def _status(rest: str | None) -> str | None:
    if rest is None:
        return None
    if rest.lower() not in STATUSES:
        raise UsageError(f"`{rest[:40]}` is not a status; use one of {', '.join(STATUSES)}.", "actions")
    return rest.lower()


def _count(rest: str | None) -> int:
    if rest is None:
        return HISTORY_DEFAULT
    if not rest.isdigit() or not 1 <= int(rest) <= HISTORY_MAX:
        raise UsageError(f"`history` takes a count from 1 to {HISTORY_MAX}, e.g. `history 50`.", "history")
    return int(rest)


def _fix_number(rest: str | None) -> str:
    number = (rest or "").strip().removeprefix("#")
    if not number.isdigit() or len(number) > 12:
        raise UsageError("`undo` needs the number of a fix Tally carried out, e.g. `undo 12` (see `actions`).", "undo")
    return number
