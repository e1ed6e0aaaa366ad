"""Which Slack token is which: a sentence when a token is missing or visibly of the wrong kind.

Slack's token kinds (https://api.slack.com/authentication/token-types): bot ``xoxb-``, user ``xoxp-``, app-level
``xapp-`` (Socket Mode's ``apps.connections.open`` takes only that one).
"""

from __future__ import annotations

from sync.settings import Settings

WHERE_APP_TOKENS_ARE = "Basic Information -> App-Level Tokens in your Slack app's settings (scope connections:write)"
SOCKET_MODE_HELP = (
    "SLACK_APP_TOKEN is not set: Socket Mode needs an app-level token (it starts with xapp-). In your Slack app's "
    "settings, turn on Socket Mode and create a token with the connections:write scope under Basic Information -> "
    "App-Level Tokens; or run `tally web` behind a public URL instead."
)
REFUSED = {
    "not_allowed_token_type": (
        "Slack refused SLACK_APP_TOKEN for Socket Mode: it is not an app-level token. Create one under "
        f"{WHERE_APP_TOKENS_ARE}; it starts with xapp-."
    ),
    "invalid_auth": (
        "Slack does not know SLACK_APP_TOKEN (invalid_auth): it was revoked, regenerated or mistyped. "
        f"Copy it again from {WHERE_APP_TOKENS_ARE}."
    ),
    "missing_scope": f"SLACK_APP_TOKEN lacks the connections:write scope; add it under {WHERE_APP_TOKENS_ARE}.",
}


def secret(value: object) -> str:
    """A ``SecretStr`` setting's value, stripped ('' when unset)."""
    getter = getattr(value, "get_secret_value", None)
    return str(getter()).strip() if callable(getter) else ""


def bot_token_problem(settings: Settings) -> str | None:
    """A sentence when SLACK_BOT_TOKEN is missing or visibly not a bot token."""
    bot = secret(settings.slack_bot_token)
    if not bot:
        return "SLACK_BOT_TOKEN is not set: copy the Bot User OAuth Token (xoxb-) from the app's Install App page."
    if bot.startswith("xapp-"):
        return "SLACK_BOT_TOKEN holds an app-level token (xapp-); it needs the Bot User OAuth Token (xoxb-)."
    if bot.startswith("xoxp-"):
        return "SLACK_BOT_TOKEN holds a user token (xoxp-); it needs the Bot User OAuth Token (xoxb-)."
    return None


def app_token_problem(settings: Settings) -> str | None:
    """A sentence when SLACK_APP_TOKEN is missing or visibly the wrong kind of token; ``None`` when it may do."""
    token = secret(settings.slack_app_token)
    if not token:
        return SOCKET_MODE_HELP
    if token.startswith(("xoxb-", "xoxp-")):
        kind = "a bot token (xoxb-)" if token.startswith("xoxb-") else "a user token (xoxp-)"
        return (
            f"SLACK_APP_TOKEN holds {kind}; Socket Mode needs the app-level token (xapp-) from {WHERE_APP_TOKENS_ARE}. "
            "The bot token belongs in SLACK_BOT_TOKEN."
        )
    if not token.startswith("xapp-"):
        return f"SLACK_APP_TOKEN is not an app-level token (those start with xapp-); see {WHERE_APP_TOKENS_ARE}."
    problem = bot_token_problem(settings)
    return problem if problem and "xapp-" in problem else None
