"""The slash command (``/tally`` by default): ack at once, then the work in a lazy listener.

Help and usage mistakes are answered in the ack itself. Long work (a check, a preview that checks first) acks with
"Checking ConnectWise and QuickBooks…"; a check started here also posts an in-channel message it updates as it
reads, then replaces with what it found. Replies are ephemeral unless they belong in the channel.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond

from bot.slack.blocks.check import check_summary
from bot.slack.blocks.common import Message, escape, section
from bot.slack.blocks.findings import decision_buttons
from bot.slack.blocks.help import help_message, usage_message
from bot.slack.blocks.mapping import mapping_message
from bot.slack.blocks.reports import actions_message, ar_message, explain_message, history_message
from bot.slack.blocks.status import status_message
from bot.slack.errors import NotAllowedError, UsageError, explain, guarded
from bot.slack.jobs import check_and_announce
from bot.slack.listeners.mapping import confirm_mapping
from bot.slack.listeners.parsing import parse
from bot.slack.listeners.reading import cw_configured, preview_for, qbo_health
from bot.slack.middleware import Next, Tally, tally_of
from bot.slack.progress import SlackProgress
from bot.slack.roles import NEEDS, REFUSALS, Need
from sync import audit
from sync.actions import ActionNotFoundError, list_actions, offer_undo
from sync.checks import latest_actions
from sync.db import session_scope
from sync.delivery import delivery_line, refusal
from sync.explain import explain_document
from sync.mapping import unmapped
from sync.models import Action, utcnow
from sync.qbo_auth.links import ConnectLinks
from sync.reports import open_ar, overview

SLOW = frozenset({"check", "payments", "credits", "mirror", "doctor"})
WORKING = ":hourglass: Checking ConnectWise and QuickBooks…"


@dataclass(frozen=True)
class Asked:
    """One command being answered: who asked, where, and how to answer them."""

    tally: Tally
    user: str
    channel: str
    respond: Respond

    def reply(self, message: Message, *, in_channel: bool = False) -> None:
        """Answer the person (ephemeral), or everyone in the channel."""
        kind = "in_channel" if in_channel else "ephemeral"
        self.respond(text=message.text, blocks=message.blocks, response_type=kind)

    def say(self, text: str) -> None:
        """Answer the person with one sentence."""
        self.reply(Message(text=text, blocks=[section(text)]))


def register(app: App, *, command: str) -> None:
    """Listen for ``command`` (``TALLY_COMMAND``)."""
    app.command(command, middleware=[command_roles])(ack=acknowledge, lazy=[answer])


def need_of(text: str | None) -> tuple[str, Need] | None:
    """The subcommand typed and what it needs; ``None`` for help and for mistakes (answered with usage help)."""
    try:
        parsed = parse(text)
    except UsageError:
        return None
    if parsed.name == "help":
        return None
    return parsed.name, NEEDS.get(parsed.name, Need.ACT)  # a subcommand nobody classified needs an approver


def command_roles(context: BoltContext, command: dict[str, Any], next: Next) -> None:
    """Let through who may run the subcommand (``bot.slack.roles``); refuse, audited, everyone else."""
    asked = need_of(command.get("text"))
    tally = tally_of(context)
    user = context.user_id or ""
    if asked is None or tally.roles.may(user, asked[1]):
        next()
        return
    name, need = asked
    with session_scope(tally.engine) as session:
        audit.record(session, actor=user or "unknown", verb="access.refused", subject=f"command:{name}", detail=need)
    raise NotAllowedError(REFUSALS[need])  # answered in the ack, ephemeral (bot.slack.errors.handle_error)


def _ephemeral(message: Message) -> dict[str, Any]:
    return {"response_type": "ephemeral", **message.payload()}


def acknowledge(ack: Ack, command: dict[str, Any]) -> None:
    """Answer at once: help and usage right here, a "checking" line before long work, nothing otherwise."""
    name = str(command.get("command") or "/tally")
    try:
        parsed = parse(command.get("text"))
    except UsageError as problem:
        ack(**_ephemeral(usage_message(name, problem.sentence, topic=problem.topic)))
        return
    if parsed.name == "help":
        ack(**_ephemeral(help_message(name, topic=parsed.arg)))
    elif parsed.name in SLOW:
        ack(response_type="ephemeral", text=WORKING)
    else:
        ack()


@guarded
def answer(context: BoltContext, command: dict[str, Any], respond: Respond) -> None:
    """Do the work the command asks for and answer with the result."""
    try:
        parsed = parse(command.get("text"))
    except UsageError:
        return  # answered in the ack
    handler = HANDLERS.get(parsed.name)
    if handler is not None:
        asked = Asked(tally_of(context), context.user_id or "", context.channel_id or "", respond)
        handler(asked, parsed.arg)


def status(asked: Asked, arg: str | None) -> None:
    """Connections, last check, open findings, approvals waiting, QuickBooks token health."""
    settings = asked.tally.settings
    message = status_message(
        overview(asked.tally.engine),
        qbo_health(settings, asked.tally),
        cw_configured=cw_configured(settings),
        channel=settings.channel,
        now=utcnow(),
        delivery=delivery_line(asked.tally.engine, settings.channel, channel_label=f"<#{settings.channel}>"),
    )
    asked.reply(message)


def check(asked: Asked, arg: str | None) -> None:
    """Check now; the progress and then the result are one message in the channel."""
    tally = asked.tally
    progress = SlackProgress(tally.client, channel=asked.channel, actor=asked.user)
    progress.start()
    try:
        result = check_and_announce(
            tally.settings,
            tally.engine,
            tally.clients,
            tally.client,
            actor=asked.user,
            progress=progress,
            notifier=tally.notifier,
        )
    except Exception as error:
        sentence = explain(error, where="check")
        failed = f":x: The check by <@{asked.user}> stopped: {sentence}"
        if not progress.finish(Message(text=failed, blocks=[section(failed)])):
            asked.say(failed)
        return
    with session_scope(tally.engine) as session:
        refused = refusal(session, tally.settings.channel)
    summary = check_summary(result, asked.user, tally.settings.channel, refused=refused)
    if not progress.finish(summary):
        asked.reply(summary, in_channel=refused is None)  # a refused channel's news goes to the person only


def preview(group: str) -> Callable[[Asked, str | None], None]:
    """Check (new findings go to the channel), then show the person the fixes of ``group`` with Approve buttons."""

    def show(asked: Asked, arg: str | None) -> None:
        tally = asked.tally
        check_and_announce(
            tally.settings, tally.engine, tally.clients, tally.client, actor=asked.user, notifier=tally.notifier
        )
        asked.reply(preview_for(tally, group, arg))

    return show


def explain_number(asked: Asked, arg: str | None) -> None:
    """One document in both systems, side by side."""
    view = explain_document(asked.tally.engine, arg or "")
    if not view.found:
        command = asked.tally.settings.slash_command
        asked.say(
            f"No invoice or credit memo numbered {arg} in either system as of the last sync "
            f"(`{command} check` reads both systems now)."
        )
        return
    with session_scope(asked.tally.engine) as session:
        latest = latest_actions(session, [row.key for row in view.findings])
        fixes: dict[str, list[Action]] = {}
        for key, action in latest.items():
            fix = session.get(Action, action.undoes_action_id) if action.undoes_action_id else None
            fixes[key] = [fix, action] if fix is not None else [action]  # an undo is named with its fix
    asked.reply(explain_message(view, fixes))


def ar(asked: Asked, arg: str | None) -> None:
    """Open AR per customer in each system."""
    tally = asked.tally
    asked.reply(
        ar_message(open_ar(tally.engine, tally.settings, customer=arg), arg, command=tally.settings.slash_command)
    )


def actions(asked: Asked, arg: str | None) -> None:
    """The fixes, newest first."""
    rows = list_actions(asked.tally.engine, status=[arg] if arg else None)
    asked.reply(actions_message(rows[::-1], arg))


def history(asked: Asked, arg: str | None) -> None:
    """The audit trail, newest first."""
    with session_scope(asked.tally.engine) as session:
        events = audit.history(session, limit=int(arg or 20))
    asked.reply(history_message(events))


def digest(asked: Asked, arg: str | None) -> None:
    """Post the daily digest to the channel now."""
    settings = asked.tally.settings
    if not settings.channel:
        asked.say("No channel is set for the digest (TALLY_CHANNEL).")
        return
    from bot.digest.post import post_digest  # the digest (and its data) loads when first asked for

    posted = post_digest(settings=settings, engine=asked.tally.engine, client=asked.tally.client, now=None, force=True)
    if posted:
        asked.say(f"Posted the digest to <#{settings.channel}> ({len(posted)} messages).")
    else:
        asked.say(f"The digest is being posted to <#{settings.channel}> right now; nothing more to do.")


def connect(asked: Asked, arg: str | None) -> None:
    """A single-use link, valid ten minutes, for this admin only (``command_roles`` already checked the admin)."""
    base = asked.tally.settings.public_url
    if not base:
        asked.say(
            "TALLY_PUBLIC_URL is not set, so there is no link to give: set it to the web process's address "
            "(e.g. https://tally.example.com), or run `tally qbo connect` on the server."
        )
        return
    links = ConnectLinks(asked.tally.engine)
    token = links.issue(asked.user)
    url = f"{base.rstrip('/')}/qbo/connect?link={token}"
    minutes = int(links.ttl.total_seconds() // 60)
    asked.say(
        f"Open <{url}|this link> to connect QuickBooks; sign in as a QuickBooks admin of the company. "
        f"It is yours alone, works once, for {minutes} minutes; don't share it. ({url})"
    )


def map_companies(asked: Asked, arg: str | None) -> None:
    """The companies Tally cannot check and their candidates; ``map ACCOUNT CUSTOMER`` confirms one (approvers)."""
    tally = asked.tally
    if arg is None:
        asked.reply(mapping_message(unmapped(tally.engine), command=tally.settings.slash_command))
        return
    company, _, customer = arg.partition(" ")
    if not customer.strip():
        asked.say(f"Say which QuickBooks customer it is: `{tally.settings.slash_command} map ACCOUNT CUSTOMER`.")
        return
    asked.say(confirm_mapping(tally, asked.user, company, customer.strip()))


def doctor(asked: Asked, arg: str | None) -> None:
    """The first-contact self-test, shown to the admin who asked (the middleware checked they are one)."""
    from bot.slack.blocks.doctor import doctor_message  # loaded when first asked for
    from bot.slack.doctor import check_slack
    from sync.doctor import run_doctor

    settings = asked.tally.settings
    report = run_doctor(settings, extra=[lambda: check_slack(settings, asked.tally.client)])
    asked.reply(doctor_message(report))


def undo(asked: Asked, arg: str | None) -> None:
    """Propose the reverse of a fix that ran; the person gets it with Approve / Reject, and its alert shows it."""
    tally = asked.tally
    if not tally.approvers.is_approver(asked.user):
        asked.say(
            "Only approvers can ask Tally to undo a fix (TALLY_APPROVERS or the approver group). Ask one of them."
        )
        return
    try:
        offer = offer_undo(tally.engine, int(arg or 0), settings=tally.settings, actor=asked.user)
    except ActionNotFoundError as missing:
        asked.say(missing.sentence)
        return
    if offer.action is None or offer.action.id is None:
        asked.say(escape(offer.sentence))
        return
    tally.notifier.refresh_action(offer.action.id)
    sentence = escape(offer.sentence)
    blocks = [section(sentence)]
    if offer.action.status == "proposed":
        blocks.append(decision_buttons(offer.action))
    asked.reply(Message(text=sentence, blocks=blocks))


HANDLERS: dict[str, Callable[[Asked, str | None], None]] = {
    "status": status,
    "check": check,
    "payments": preview("payments"),
    "credits": preview("credits"),
    "mirror": preview("mirror"),
    "explain": explain_number,
    "ar": ar,
    "actions": actions,
    "history": history,
    "map": map_companies,
    "digest": digest,
    "connect": connect,
    "doctor": doctor,
    "undo": undo,
}
