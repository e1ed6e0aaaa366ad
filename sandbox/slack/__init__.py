"""Slack Web API stand-in and a driver that plays Slack towards an app under test.

Modules::

    errors.py       SlackError: a refusal as Slack words it ({"ok": false, "error": ...})
    blockkit.py     Block Kit limits (blocks per message/modal, text lengths, element counts) with json-pointers
    interactive.py  trigger ids, response_url tokens, opened modals, view_submission state
    workspace.py    SlackWorkspace: team, bot identity and token, signing secret, channels, users, user groups
    messages.py     Conversations: every version of every message, and what a response_url post does to them
    store.py        SlackStore: one lock around all of the above, plus the recorded Web API calls
    methods.py      the Web API methods (auth.test, chat.*, views.*, usergroups.users.list, conversations.members)
    server.py       SlackService (auth, body parsing, 429s, response_urls, admin) and serve_slack
    driver.py       SlackDriver: signed slash commands, button clicks and modal submissions sent to the app;
                    SocketModeDriver: the same commands and clicks as Socket Mode envelopes
    websocket.py    the server side of RFC 6455 (handshake answer, frames) with the standard library
    socket_mode.py  apps.connections.open's URLs, hello, envelopes and acks, refresh and silent drops

Exceptions: ``SlackError`` (store and methods; becomes the JSON answer), ``BlocksFormatError`` (blocks not a JSON
array), and from the driver ``LookupError`` (no such button / input / view) and ``ValueError`` (required input empty).
"""

from sandbox.slack.driver import SlackDriver, SocketModeDriver, sign
from sandbox.slack.errors import SlackError
from sandbox.slack.server import SlackService, serve_slack
from sandbox.slack.store import Call, SlackStore, SlackWorkspace

__all__ = [
    "Call",
    "SlackDriver",
    "SlackError",
    "SlackService",
    "SlackStore",
    "SlackWorkspace",
    "SocketModeDriver",
    "serve_slack",
    "sign",
]
