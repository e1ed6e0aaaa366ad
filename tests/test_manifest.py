"""slack-app-manifest.yml asks for exactly the scopes the code uses, and its usage hint lists every command."""

from __future__ import annotations

import re
from pathlib import Path

from bot.slack.blocks.help import USAGE
from bot.slack.listeners.commands import HANDLERS
from bot.slack.scopes import METHOD_SCOPES, required_scopes
from sandbox.slack.workspace import MANIFEST_SCOPES

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = (ROOT / "slack-app-manifest.yml").read_text()
# slack_sdk names each Web API method with dots as underscores: ``client.chat_postMessage(`` is chat.postMessage.
CALL = re.compile(r"\.((?:auth|chat|views|usergroups|conversations|users|reactions|files|team|apps)_[A-Za-z_]+)\(")


def manifest_scopes(text: str = MANIFEST) -> list[str]:
    """The bot scopes the manifest asks for (the ``- scope`` lines under ``bot:``)."""
    block = text.split("\n    bot:\n", 1)[1]
    scopes = []
    for line in block.splitlines():
        found = re.match(r"^      - ([a-z:.]+)", line)
        if not found:
            break
        scopes.append(found.group(1))
    return scopes


def usage_hint(text: str = MANIFEST) -> list[str]:
    """The subcommands the usage hint lists."""
    found = re.search(r'usage_hint: "\[(.*)\]"', text)
    assert found, "no usage_hint in the manifest"
    return [choice.split()[0] for choice in found.group(1).split("|")]


def methods_called(*packages: str) -> dict[str, set[str]]:
    """Every Web API method the code of ``packages`` calls, with the files calling it."""
    found: dict[str, set[str]] = {}
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            for name in CALL.findall(path.read_text()):
                found.setdefault(name.replace("_", "."), set()).add(str(path.relative_to(ROOT)))
    return found


def test_the_finder_sees_the_calls_it_must() -> None:
    called = methods_called("bot")
    assert {"chat.postMessage", "chat.update", "chat.postEphemeral", "views.open", "usergroups.users.list"} <= set(
        called
    )
    assert "bot/slack/middleware.py" in called["usergroups.users.list"]


def test_every_method_the_bot_calls_has_its_scopes_listed() -> None:
    called = methods_called("bot", "sync")
    bot_token = {name for name in called if not name.startswith("apps.")}  # apps.* take the app-level token
    assert bot_token - set(METHOD_SCOPES) == set(), "add the new methods and their scopes to bot/slack/scopes.py"
    assert set(METHOD_SCOPES) - bot_token - {"auth.test"} == set(), "bot/slack/scopes.py lists a method not called"


def test_the_manifest_asks_for_exactly_the_scopes_tally_uses() -> None:
    assert sorted(manifest_scopes()) == required_scopes()
    assert sorted(MANIFEST_SCOPES) == required_scopes()  # the sandbox grants what the manifest asks for


def test_the_usage_hint_lists_every_command_the_dispatcher_answers() -> None:
    assert set(usage_hint()) == set(USAGE)
    assert set(HANDLERS) | {"help"} == set(USAGE)


def test_the_parsers_catch_a_drift() -> None:
    text = MANIFEST.replace("      - groups:read", "      - users:read").replace("| doctor]", "]")
    assert "users:read" in manifest_scopes(text)
    assert "doctor" not in usage_hint(text)
