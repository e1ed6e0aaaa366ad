"""Errors as the person in Slack sees them: a sentence they can act on, or a reference the logs can be searched by.

Errors meant for a person carry ``sentence`` (or are a ``LookupError`` whose text is one)::

    NotAllowedError            not an approver / not an admin (bot.slack.middleware)
    UsageError                 input not understood (raised by bot.slack.listeners.parsing)
    TallyAPIError              ConnectWise or QuickBooks failed (sync.clients.errors)
    QuickBooksAuthError        no usable QuickBooks token (sync.qbo_auth)
    ActionNotFoundError        no such fix (sync.actions)
    CipherError                TALLY_SECRET_KEY missing or wrong (sync.crypto)

Anything else is logged with a short reference the person also sees: "Something went wrong (ref 3F9A2C); it has
been logged." Request bodies are never logged (they carry tokens and response URLs).
"""

from __future__ import annotations

import functools
import json
import logging
import secrets
from collections.abc import Callable
from typing import Any, TypeVar

from slack_bolt import BoltContext, BoltRequest, BoltResponse
from slack_sdk.errors import SlackApiError

from bot.slack.ids import BlockId
from sync.actions import ActionNotFoundError
from sync.clients.errors import TallyAPIError
from sync.crypto import CipherError
from sync.qbo_auth import QuickBooksAuthError

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., None])


class NotAllowedError(Exception):
    """The person may not do this; ``sentence`` says why and whom to ask."""

    def __init__(self, sentence: str) -> None:
        self.sentence = sentence
        super().__init__(sentence)


class UsageError(ValueError):
    """The input was not understood; ``sentence`` says why and ``topic`` names the subcommand it was meant for."""

    def __init__(self, sentence: str, topic: str | None = None) -> None:
        self.sentence = sentence
        self.topic = topic
        super().__init__(sentence)


def sentence_of(error: BaseException) -> str | None:
    """The sentence a known error carries for the person; None for anything unexpected."""
    if isinstance(error, NotAllowedError | TallyAPIError | QuickBooksAuthError | ActionNotFoundError | CipherError):
        return str(error.sentence)
    if isinstance(error, UsageError):
        return error.sentence
    if isinstance(error, SlackApiError):
        return f"Slack refused a request ({error.response.get('error', 'unknown')}); please try again."
    return None


def explain(error: BaseException, *, where: str) -> str:
    """The sentence for ``error``; an unexpected one is logged with a reference the person sees."""
    sentence = sentence_of(error)
    if sentence is not None:
        return sentence
    ref = secrets.token_hex(3).upper()
    log.error("unexpected error in %s (ref %s)", where, ref, exc_info=error)
    return f"Something went wrong (ref {ref}); it has been logged."


def _describe(body: dict[str, Any]) -> str:
    """Name a request for the log without its contents."""
    kind = body.get("type") or ("slash_command" if "command" in body else "request")
    user = body.get("user_id") or (body.get("user") or {}).get("id", "?")
    return f"{kind} {body.get('command', '')} from {user}".replace("  ", " ")


def handle_error(error: Exception, body: dict[str, Any], request: BoltRequest) -> BoltResponse:
    """The app's one error handler: answer in the request's own way, with the sentence or a reference."""
    sentence = explain(error, where=_describe(body))
    context = request.context
    if body.get("type") == "view_submission" and context.ack.response is None:
        return _json({"response_action": "errors", "errors": {BlockId.REASON.value: sentence}})
    if "command" in body and context.ack.response is None:
        return _json({"response_type": "ephemeral", "text": sentence})
    tell(context, sentence)
    return BoltResponse(status=200, body="")


def _json(payload: dict[str, Any]) -> BoltResponse:
    return BoltResponse(status=200, body=json.dumps(payload), headers={"content-type": "application/json"})


def tell(context: BoltContext, text: str) -> None:
    """Say ``text`` to the person only: through the response_url, else as an ephemeral message; never raise."""
    # A modal submission has neither a response_url nor a channel: the alert channel it came from will do.
    channel = context.channel_id or getattr(getattr(context.get("tally"), "settings", None), "channel", None)
    try:
        if context.respond is not None:
            context.respond(text=text, response_type="ephemeral", replace_original=False)
        elif channel and context.user_id:
            context.client.chat_postEphemeral(channel=channel, user=context.user_id, text=text)
    except Exception:  # the person cannot be told; the log is all that is left
        log.warning("could not tell %s: %s", context.user_id, text, exc_info=True)


def guarded(function: F) -> F:
    """Wrap a lazy listener (bolt only logs what they raise) so errors reach the person, as ``handle_error`` does."""

    @functools.wraps(function)
    def run(*args: Any, **kwargs: Any) -> None:
        try:
            function(*args, **kwargs)
        except Exception as error:
            context = kwargs.get("context")
            sentence = explain(error, where=function.__name__)
            if isinstance(context, BoltContext):
                tell(context, sentence)

    return run  # type: ignore[return-value]
