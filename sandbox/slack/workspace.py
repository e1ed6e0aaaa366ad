"""``SlackWorkspace``: the team, bot, people, channels and user groups one sandbox serves."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

# The bot scopes slack-app-manifest.yml asks for (tests/test_manifest.py keeps the two equal).
MANIFEST_SCOPES = (
    "commands",
    "chat:write",
    "chat:write.public",
    "usergroups:read",
    "channels:read",
    "groups:read",
    "users:read",
)


@dataclass(frozen=True)
class SlackWorkspace:
    """The team, bot, people, channels and user groups the sandbox serves (every channel holds every user)."""

    team_id: str = "T0TALLY"
    bot_token: str = "xoxb-sandbox-token"  # noqa: S105 - a sandbox credential, published on purpose
    app_token: str = "xapp-1-A0TALLY-sandbox"  # noqa: S105 - the app-level token Socket Mode connects with
    bot_user_id: str = "U0TALLYBOT"
    signing_secret: str = "sandbox-signing-secret"  # noqa: S105 - a sandbox credential, published on purpose
    channels: Mapping[str, str] = field(default_factory=lambda: {"C0FINANCE": "finance"})
    users: Mapping[str, str] = field(
        default_factory=lambda: {"U0ANA": "ana", "U0BEN": "ben", "U0CARL": "carl", "U0GUS": "gus"}
    )
    # Guests among the users: "restricted" (multi-channel) or "ultra_restricted" (single-channel), as users.info
    # reports them in ``is_restricted`` / ``is_ultra_restricted`` (https://api.slack.com/types/user).
    guests: Mapping[str, str] = field(default_factory=lambda: {"U0GUS": "restricted"})
    usergroups: Mapping[str, Sequence[str]] = field(default_factory=lambda: {"S0APPROVERS": ["U0ANA", "U0BEN"]})
    team_domain: str = "tally-sandbox"
    team_name: str = "Tally Sandbox"
    bot_id: str = "B0TALLYBOT"
    bot_name: str = "tally"
    app_id: str = "A0TALLY"
    verification_token: str = "sandbox-verification-token"  # noqa: S105 - deprecated by Slack, still sent
    scopes: Sequence[str] = MANIFEST_SCOPES  # granted to the bot token; sent back in ``x-oauth-scopes``
    private_channels: frozenset[str] = frozenset()  # channel ids that are private (the rest are public)
    bot_channels: frozenset[str] | None = None  # channels the bot is a member of; None: every channel

    def bot_is_member(self, channel_id: str) -> bool:
        """Whether the bot was invited to (is a member of) ``channel_id``."""
        return self.bot_channels is None or channel_id in self.bot_channels

    def channel_name(self, channel_id: str) -> str:
        """Return a channel's name (``directmessage`` for a DM), as Slack puts it in payloads."""
        return self.channels.get(channel_id, "directmessage")
