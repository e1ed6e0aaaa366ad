"""``tally status`` and ``tally digest``: the messages Slack shows, drawn in the terminal from the same Block Kit."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

import typer

from bot.cli.check import NO_CHECK, existing_engine
from bot.cli.output import JsonOption, console, print_json
from bot.cli.support import EXIT_API, EXIT_USAGE, err
from bot.cli.terminal import render
from bot.slack.blocks.status import status_message
from bot.slack.listeners.reading import connection_health, cw_configured
from sync.delivery import delivery_line
from sync.models import utcnow
from sync.reports import Overview, overview
from sync.settings import load_settings


def status(as_json: JsonOption = False) -> None:
    """Where Tally stands: connections, the last check, open findings, fixes waiting; as /tally status shows it."""
    settings = load_settings()
    engine = existing_engine(settings)
    if engine is None:
        err.print(NO_CHECK)
        raise typer.Exit(EXIT_USAGE)
    view, health = overview(engine), connection_health(settings, engine)
    if as_json:
        print_json({**overview_json(view), "quickbooks": {"state": health.state.value, "sentence": health.sentence}})
        return
    delivery = delivery_line(engine, settings.channel)
    engine.dispose()
    message = status_message(
        view, health, cw_configured=cw_configured(settings), channel=settings.channel, now=utcnow(), delivery=delivery
    )
    console.print(render(message, title="Tally status"))


def overview_json(view: Overview) -> dict[str, Any]:
    """``tally status --json``: when each system was read, the last check, open findings by kind, fixes waiting."""
    return {
        "last_check": view.last_check.isoformat() if view.last_check else None,
        "last_read": {system: moment.isoformat() if moment else None for system, moment in view.last_read.items()},
        "open": view.open_count,
        "open_by_kind": {kind: {"count": n, "amount": str(amount)} for kind, (n, amount) in view.open_by_kind.items()},
        "sweep": sweep_json(view),
        "waiting": [
            {
                "id": w.action.id,
                "kind": w.action.kind,
                "amount": str(w.action.amount),
                "status": w.action.status,
                "approvals": w.approvals,
                "approvals_needed": w.action.approvals_needed,
            }
            for w in view.waiting
        ],
        "notifications": {
            system: {
                "received": row.received,
                "ignored": row.ignored,
                "checks": row.checks,
                "last_received_at": row.last_received_at.isoformat() if row.last_received_at else None,
                "last_check_at": row.last_check_at.isoformat() if row.last_check_at else None,
            }
            for system, row in sorted(view.pushes.items())
        },
    }


def sweep_json(view: Overview) -> dict[str, Any] | None:
    """The latest full sweep in ``tally status --json`` (docs/json.md)."""
    run = view.sweep
    if run is None:
        return None
    return {
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "status": run.status,
        "missed": {"ConnectWise": run.missed_cw, "QuickBooks": run.missed_qbo},
        "examples": list(run.examples),
        "warnings": list(run.warnings),
        "error": run.error,
    }


def digest(
    print_only: Annotated[
        bool, typer.Option("--print", help="draw it here instead of posting it to the channel")
    ] = False,
) -> None:
    """Post today's digest to the channel now (counts as today's), or draw it here with --print."""
    from bot.digest.blocks import digest_messages
    from bot.digest.data import gather_digest
    from bot.digest.post import digest_day, post_digest

    settings = load_settings()
    engine = existing_engine(settings)
    if engine is None:
        err.print(NO_CHECK)
        raise typer.Exit(EXIT_USAGE)
    now = utcnow()
    if print_only:
        day = digest_day(settings, now) - timedelta(days=1)
        for message in digest_messages(gather_digest(engine, settings, day=day, now=now)):
            console.print(render(message, title="Slack · daily digest"))
        return
    from slack_sdk import WebClient

    assert settings.slack_bot_token is not None  # the pre-flight checked it
    client = WebClient(token=settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url)
    from slack_sdk.errors import SlackApiError

    from sync.delivery import CHANNEL_REFUSALS, Refusal

    try:
        posted = post_digest(settings=settings, engine=engine, client=client, now=now, force=True)
    except SlackApiError as exc:
        code = str(exc.response.get("error", "unknown")) if exc.response is not None else "unknown"
        if code not in CHANNEL_REFUSALS:
            raise
        assert settings.channel is not None  # post_digest refuses without one
        err.print(f"The digest was not posted. {Refusal(settings.channel, code, now).sentence()}")
        raise typer.Exit(EXIT_API) from None
    finally:
        engine.dispose()
    typer.echo(f"Posted the digest to {settings.channel} ({len(posted)} messages)." if posted else "Already posting.")
