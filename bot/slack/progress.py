"""Progress of long work shown in Slack: one message, posted when the work starts and updated as it goes."""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack.blocks.check import check_progress
from bot.slack.blocks.common import Message

log = logging.getLogger(__name__)

EVERY = 2.0  # seconds between updates: chat.update is rate limited (Slack's tier 3, about 50 a minute)


class SlackProgress:
    """A ``sync`` progress callback that redraws one channel message at most every ``every`` seconds."""

    def __init__(self, client: WebClient, *, channel: str, actor: str, every: float = EVERY) -> None:
        self.client = client
        self.channel = channel
        self.actor = actor
        self.every = every
        self.ts: str | None = None
        self._counts: defaultdict[str, int] = defaultdict(int)
        self._lock = threading.Lock()
        self._last = 0.0

    def start(self) -> bool:
        """Post the message; False if Slack refused (e.g. the bot is not in that channel)."""
        message = check_progress(self.actor, {})
        try:
            answer = self.client.chat_postMessage(channel=self.channel, **message.payload())
        except SlackApiError as exc:
            log.info("progress message not posted in %s: %s", self.channel, exc.response.get("error"))
            return False
        self.ts = str(answer["ts"])  # the first progress shows at once, later ones at most every ``every`` s
        return True

    def __call__(self, stream: str, advanced: int, total: int | None) -> None:
        with self._lock:  # held while updating, so no progress can land after the result
            self._counts[stream] += advanced
            if self.ts is None or time.monotonic() - self._last < self.every:
                return
            self._last = time.monotonic()
            self._update(self.ts, check_progress(self.actor, dict(self._counts)))

    def finish(self, message: Message) -> bool:
        """Replace the progress with the result; False if there is no message to replace."""
        with self._lock:
            ts, self.ts = self.ts, None
            return ts is not None and self._update(ts, message)

    def _update(self, ts: str, message: Message) -> bool:
        try:
            self.client.chat_update(channel=self.channel, ts=ts, **message.payload())
        except SlackApiError as exc:
            log.info("progress message not updated: %s", exc.response.get("error"))
            return False
        return True
