"""Buttons and the reject modal: Approve (runs the fix once it has its approvals), Approve all, Reject with a reason.

Every listener here sits behind ``approvers_only``. Clicks ack at once and decide in a lazy listener; a button's
value holds only action ids, everything else is read from the database. Afterwards the alert of each fix is
redrawn in place; a preview the click came from is redrawn for the person who clicked.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.slack.blocks.common import escape
from bot.slack.blocks.findings import mention_users, summary_decided
from bot.slack.blocks.modals import reject_modal
from bot.slack.blocks.previews import read_preview_block_id
from bot.slack.errors import guarded, tell
from bot.slack.home import publish_home
from bot.slack.ids import REASON_INPUT, ActionId, BlockId, CallbackId
from bot.slack.listeners.binding import refuse, strangers
from bot.slack.listeners.mapping import confirm_mapping
from bot.slack.listeners.reading import preview_for
from bot.slack.middleware import Tally, approvers_only, decided_ids, tally_of
from sync.actions import approve, execute, get_action, offer_undo, reject, restated_sentence

DECIDABLE = ("proposed", "approved")
CHANGED = "This fix changed"  # how sync.actions answers a click on a fix a later check restated


@dataclass(frozen=True)
class Decided:
    """What one click did to one fix, and the sentence for the person who clicked."""

    action_id: int
    status: str
    changed: bool
    sentence: str


def register(app: App) -> None:
    """Listen for the buttons and the reject modal."""
    app.action(ActionId.APPROVE, middleware=[approvers_only])(ack=ack_click, lazy=[approve_clicked])
    app.action(ActionId.APPROVE_ALL, middleware=[approvers_only])(ack=ack_click, lazy=[approve_all_clicked])
    app.action(ActionId.REJECT, middleware=[approvers_only])(open_reject_modal)
    app.action(ActionId.MAP_TO, middleware=[approvers_only])(ack=ack_click, lazy=[map_clicked])
    app.action(ActionId.UNDO, middleware=[approvers_only])(ack=ack_click, lazy=[undo_clicked])
    app.view(CallbackId.REJECT_REASON, middleware=[approvers_only])(ack=check_reason, lazy=[reject_submitted])


def ack_click(ack: Ack) -> None:
    """Acknowledge a click; the decision runs in the lazy listener."""
    ack()


def decide(tally: Tally, action_id: int, user: str) -> Decided:
    """Approve as ``user``; when the fix has its approvals, carry it out (once, whoever else clicks)."""
    outcome = approve(tally.engine, action_id, approver=user, is_approver=tally.approvers.is_approver)
    tally.notifier.refresh_action(action_id)
    if not outcome.ready:
        return Decided(action_id, outcome.status, outcome.changed, mention_users(outcome.message))
    with tally.clients() as both:
        done = execute(
            tally.engine, action_id, cw=both.cw, qbo=both.qbo, actor=user, tolerance=tally.settings.tolerance
        )
    tally.notifier.refresh_action(action_id)
    sentence = {
        "succeeded": f":white_check_mark: {done.result}",
        "failed": f":x: The fix failed: {done.result}",
        "unsure": f":mag: {done.result} It will not be sent again; the alert shows what Tally finds.",
        "superseded": f":arrows_counterclockwise: Not needed any more: {done.result}",
    }.get(done.status, outcome.message)
    return Decided(action_id, done.status, outcome.changed or done.status != outcome.status, mention_users(sentence))


@guarded
def map_clicked(context: BoltContext, body: dict[str, Any], respond: Respond) -> None:
    """ "Map to <candidate>" under a company Tally cannot check: store the mapping and say so."""
    value = str((body.get("actions") or [{}])[0].get("value", ""))
    company, _, customer = value.partition(":")
    user = context.user_id or ""
    respond(
        text=confirm_mapping(tally_of(context), user, company, customer),
        response_type="ephemeral",
        replace_original=False,
    )


def _block_id(body: dict[str, Any]) -> str:
    return str((body.get("actions") or [{}])[0].get("block_id", ""))


def _redraw_preview(tally: Tally, body: dict[str, Any], respond: Respond, note: str) -> bool:
    """If the click came from a preview, show it again as it stands now, with ``note`` on top."""
    found = read_preview_block_id(_block_id(body))
    if found is None:
        return False
    group, arg = found
    message = preview_for(tally, group, arg, note=note)
    respond(replace_original=True, response_type="ephemeral", **message.payload())
    return True


def _unbound(tally: Tally, context: BoltContext, body: dict[str, Any], ids: list[int]) -> bool:
    """Refuse (and tell) a click carrying fixes its message does not show; True if it was refused."""
    foreign = strangers(tally.engine, body, ids)
    if not foreign:
        return False
    tell(context, refuse(tally.engine, context.user_id or "", ids, foreign))
    return True


@guarded
def approve_clicked(context: BoltContext, body: dict[str, Any], respond: Respond) -> None:
    """Approve one fix (and run it when ready); the alert shows the result, the person hears about surprises."""
    tally = tally_of(context)
    (action_id,) = decided_ids(body)[:1]
    if _unbound(tally, context, body, [action_id]):
        return
    decided = decide(tally, action_id, context.user_id or "")
    if (body.get("view") or {}).get("type") == "home":  # clicked on the Home tab: show it as it stands now
        publish_home(tally.settings, tally.engine, tally.client, tally.approvers, context.user_id or "")
        return
    if not _redraw_preview(tally, body, respond, f"#{action_id}: {decided.sentence}") and not decided.changed:
        tell(context, decided.sentence)


@guarded
def undo_clicked(context: BoltContext, body: dict[str, Any]) -> None:
    """Propose the undo of the fix the alert shows; the alert then shows it with Approve / Reject."""
    tally = tally_of(context)
    (fix_id,) = decided_ids(body)[:1]
    offer = offer_undo(tally.engine, fix_id, settings=tally.settings, actor=context.user_id or "")
    tally.notifier.refresh_action(fix_id)
    if offer.action is None or not offer.created:
        tell(context, escape(offer.sentence))


def _tally_up(results: list[Decided]) -> str:
    changed = [r for r in results if r.status == "superseded" and r.sentence.startswith(CHANGED)]
    counts = Counter(result.status for result in results if result not in changed)
    parts = [
        f"{len(changed)} changed since shown, nothing written (see their updated alerts)" if changed else "",
        f"{counts['succeeded']} carried out" if counts["succeeded"] else "",
        f"{counts['proposed']} waiting for a second, different approver" if counts["proposed"] else "",
        f"{counts['failed']} failed" if counts["failed"] else "",
        f"{counts['unsure']} being checked (did the write land?)" if counts["unsure"] else "",
        f"{counts['superseded']} no longer needed" if counts["superseded"] else "",
        f"{counts['rejected']} already rejected" if counts["rejected"] else "",
    ]
    running = counts["approved"] + counts["executing"]
    parts.append(f"{running} running" if running else "")
    return ", ".join(part for part in parts if part) or "nothing to do"


@guarded
def approve_all_clicked(context: BoltContext, body: dict[str, Any], respond: Respond, client: WebClient) -> None:
    """Approve every fix the button names, running those that are ready; report what happened."""
    tally = tally_of(context)
    user = context.user_id or ""
    if _unbound(tally, context, body, decided_ids(body)):
        return
    results = [decide(tally, action_id, user) for action_id in decided_ids(body)]
    note = f"Approve all by <@{user}>: {_tally_up(results)}."
    failed = [
        f"#{r.action_id}: {r.sentence}" for r in results if r.status == "failed" or r.sentence.startswith(CHANGED)
    ]
    if _redraw_preview(tally, body, respond, note):
        return
    message = body.get("message") or {}
    if _block_id(body) == BlockId.SUMMARY and message.get("ts"):
        blocks = summary_decided(message.get("blocks") or [], note)
        client.chat_update(
            channel=body["channel"]["id"], ts=message["ts"], text=message.get("text") or note, blocks=blocks
        )
    tell(context, "\n".join([note, *failed]))


def open_reject_modal(ack: Ack, context: BoltContext, body: dict[str, Any], client: WebClient) -> None:
    """Ask for the reason in a modal (the trigger id lasts 3 s, so this runs right after the ack)."""
    ack()
    tally = tally_of(context)
    if _unbound(tally, context, body, decided_ids(body)[:1]):
        return
    action = get_action(tally.engine, decided_ids(body)[0])
    changed = restated_sentence(tally.engine, action.id or 0)
    if changed is not None:
        tally.notifier.refresh_action(action.id or 0)
        tell(context, changed)
        return
    if action.status not in DECIDABLE:
        tally.notifier.refresh_action(action.id or 0)
        tell(context, f"This fix is {action.status} already; there is nothing to reject.")
        return
    client.views_open(trigger_id=body["trigger_id"], view=reject_modal(action))


def _reason(view: dict[str, Any]) -> str:
    state = view.get("state", {}).get("values", {})
    return str((state.get(BlockId.REASON, {}).get(REASON_INPUT) or {}).get("value") or "").strip()


def check_reason(ack: Ack, view: dict[str, Any]) -> None:
    """Close the modal when a reason is given; otherwise keep it open with the problem under the box."""
    if not _reason(view):
        ack(response_action="errors", errors={BlockId.REASON: "Please say why, for the audit trail."})
        return
    ack()


@guarded
def reject_submitted(context: BoltContext, view: dict[str, Any], client: WebClient) -> None:
    """Reject the fix with the reason; its alert says so. Nothing is written anywhere."""
    reason = _reason(view)
    if not reason:
        return
    tally = tally_of(context)
    user = context.user_id or ""
    action_id = int(view["private_metadata"])
    outcome = reject(tally.engine, action_id, actor=user, reason=reason, is_approver=tally.approvers.is_approver)
    tally.notifier.refresh_action(action_id)
    if not outcome.changed:
        channel = get_action(tally.engine, action_id).slack_channel or tally.settings.channel
        if channel:
            client.chat_postEphemeral(channel=channel, user=user, text=mention_users(outcome.message))
