"""The Slack bot scopes Tally needs, method by method (slack-app-manifest.yml asks for exactly these).

``tests/test_manifest.py`` finds every Web API method the code calls and fails when one is missing here, or when
the manifest asks for a scope nothing here needs. Scopes per method: each method's page on https://api.slack.com/methods.
"""

from __future__ import annotations

METHOD_SCOPES: dict[str, tuple[str, ...]] = {
    "auth.test": (),  # bolt, on the first request; doctor
    "chat.postMessage": ("chat:write",),  # alerts, the digest, check progress
    "chat.update": ("chat:write",),  # an alert as its fix is approved, done or failed; progress
    "chat.postEphemeral": ("chat:write",),  # "you may not approve" and other private answers
    "views.open": (),  # the reject modal: needs a trigger_id, no scope
    "views.publish": (),  # the Home tab: no scope (the app_home_opened event needs the Home tab on)
    "usergroups.users.list": ("usergroups:read",),  # TALLY_APPROVER_GROUP
    "conversations.info": ("channels:read", "groups:read"),  # doctor: is the bot in the (public / private) channel
    "users.info": ("users:read",),  # open reading: a guest is not a full member (TALLY_OPEN_READING)
}
OTHER_SCOPES: dict[str, str] = {
    "commands": "the slash command",
    "chat:write.public": "post in a public alert channel without being invited to it first",
}


def required_scopes() -> list[str]:
    """Every bot scope Tally needs, sorted."""
    needed = {scope for scopes in METHOD_SCOPES.values() for scope in scopes} | set(OTHER_SCOPES)
    return sorted(needed)
