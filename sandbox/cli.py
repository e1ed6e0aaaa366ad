"""``tally sandbox serve``: run the ConnectWise, QuickBooks and Slack stand-ins, with seeded books.

Before serving it writes (or prints) the ``NAME=value`` lines that point Tally at it, so
``tally sandbox serve --env-file .env`` in one terminal and any ``tally`` command in another just work.
"""

from __future__ import annotations

import base64
import errno
import os
import pwd
import secrets
import signal
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Annotated, Literal

import typer

from sandbox.clock import Clock
from sandbox.connectwise import CWCredentials, CWStore, serve_connectwise
from sandbox.dataset import Books, generate, load
from sandbox.quickbooks import QBOApp, QBOStore, serve_quickbooks
from sandbox.slack import SlackWorkspace, serve_slack
from sandbox.switches import CW_SWITCHES, QBO_SWITCHES, parse_assignments
from sandbox.web import Faults, SandboxServer

Dataset = Literal["empty", "small", "large"]


@dataclass
class RunningSandbox:
    """Both API stand-ins, serving, with the books they were loaded with."""

    cw: SandboxServer
    qbo: SandboxServer
    slack: SandboxServer
    books: Books
    clock: Clock
    credentials: CWCredentials = field(default_factory=CWCredentials)
    app: QBOApp = field(default_factory=QBOApp)
    workspace: SlackWorkspace = field(default_factory=SlackWorkspace)
    webhook_verifier: str = field(default_factory=lambda: secrets.token_urlsafe(24))

    @property
    def cw_base_url(self) -> str:
        """ConnectWise API base, as CW_BASE_URL wants it."""
        return f"{self.cw.url}/{self.credentials.codebase}apis/3.0"

    @property
    def qbo_discovery_url(self) -> str:
        """The OpenID discovery document, usable as QBO_ENVIRONMENT."""
        return f"{self.qbo.url}/.well-known/openid_configuration"

    def env(self) -> dict[str, str]:
        """Return the configuration (the README's names) that points Tally at this sandbox."""
        creds, app = self.credentials, self.app
        return {
            "TALLY_SECRET_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
            "CW_BASE_URL": self.cw_base_url,
            "CW_COMPANY_ID": creds.company_id,
            "CW_PUBLIC_KEY": creds.public_key,
            "CW_PRIVATE_KEY": creds.private_key,
            "CW_CLIENT_ID": creds.client_id,
            "QBO_CLIENT_ID": app.client_id,
            "QBO_CLIENT_SECRET": app.client_secret,
            "QBO_REDIRECT_URI": app.redirect_uri,
            "QBO_ENVIRONMENT": self.qbo_discovery_url,
            "QBO_BASE_URL": f"{self.qbo.url}/v3",
            "QBO_REALM_ID": app.realm_id,
            "QBO_REFRESH_TOKEN": self.qbo.service.issue_refresh_token(),  # type: ignore[attr-defined]
            "QBO_WEBHOOK_VERIFIER": self.webhook_verifier,
            "SLACK_API_URL": f"{self.slack.url}/api/",
            "SLACK_BOT_TOKEN": self.workspace.bot_token,
            "SLACK_SIGNING_SECRET": self.workspace.signing_secret,
            "SLACK_APP_TOKEN": self.workspace.app_token,  # Socket Mode (`tally worker`)
            "TALLY_CHANNEL": next(iter(self.workspace.channels)),
            "TALLY_APPROVER_GROUP": next(iter(self.workspace.usergroups)),
        }

    def qbo_webhooks(self, **config: object) -> None:
        """Configure QuickBooks webhooks (``sandbox.quickbooks.webhooks.WebhookConfig`` field names)."""
        self.qbo.service.webhooks.configure(config)  # type: ignore[attr-defined]

    def stop(self) -> None:
        """Stop every server."""
        self.cw.stop()
        self.qbo.stop()
        self.slack.stop()


def start_sandbox(
    *,
    dataset: Dataset = "small",
    seed: int = 1,
    cw_port: int = 0,
    qbo_port: int = 0,
    slack_port: int = 0,
    latency_ms: float = 0.0,
    plant: dict[str, int] | None = None,
    cw_switch: dict[str, object] | None = None,
    qbo_switch: dict[str, object] | None = None,
    qbo_webhook_url: str = "",
) -> RunningSandbox:
    """Generate the books, load them into fresh stores and start the three servers.

    ``cw_switch``/``qbo_switch`` set switches (``sandbox/switches.py``) once the books are loaded, so loading
    itself always runs under the default readings.
    """
    clock = Clock()
    books = generate(dataset, seed, now=clock.now(), plant=plant)
    cw_store, qbo_store = CWStore(clock), QBOStore(clock)
    app = QBOApp()
    load(books, cw_store, qbo_store.company(app.realm_id))
    cw_store.switches.configure(cw_switch or {})
    qbo_store.switches.configure(qbo_switch or {})
    cw = serve_connectwise(store=cw_store, port=cw_port, faults=Faults(latency_ms=latency_ms), clock=clock)
    qbo = serve_quickbooks(
        store=qbo_store, app=app, port=qbo_port, faults=Faults(latency_ms=latency_ms, rate_limit=500), clock=clock
    )
    slack = serve_slack(port=slack_port, clock=clock)
    running = RunningSandbox(cw=cw, qbo=qbo, slack=slack, books=books, clock=clock, app=app)
    # webhooks are signed with the verifier token the env gives Tally (QBO_WEBHOOK_VERIFIER)
    running.qbo_webhooks(url=qbo_webhook_url, verifier=running.webhook_verifier)
    return running


def env_text(env: dict[str, str]) -> str:
    """Render ``NAME=value`` lines."""
    return "".join(f"{name}={value}\n" for name, value in env.items())


# Values a restart must not change: a new TALLY_SECRET_KEY would make the tokens the folder's database holds
# unreadable, and a new verifier would refuse the webhooks a running Tally is configured for.
KEPT_ON_RESTART = ("TALLY_SECRET_KEY", "QBO_WEBHOOK_VERIFIER")


def read_env_file(path: Path) -> dict[str, str]:
    """Read ``NAME=value`` lines (comments and blank lines skipped); a missing file is empty."""
    if not path.exists():
        return {}
    found: dict[str, str] = {}
    for line in path.read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and name.strip() and not name.lstrip().startswith("#"):
            found[name.strip()] = value.strip()
    return found


def merged_env(
    fresh: dict[str, str], existing: dict[str, str], defaults: dict[str, str] | None = None
) -> dict[str, str]:
    """The sandbox's settings, keeping the folder's secrets and every line the sandbox does not write.

    ``defaults`` are written only when the file does not set them yet (a person may have changed them).
    """
    merged = {**fresh, **{name: existing[name] for name in KEPT_ON_RESTART if existing.get(name)}}
    merged.update({name: value for name, value in (defaults or {}).items() if name not in existing})
    merged.update({name: value for name, value in existing.items() if name not in fresh})
    return merged


def walkthrough_people(workspace: SlackWorkspace) -> dict[str, str]:
    """Make the person at this terminal an approver, so the README's walkthrough approves as written.

    The terminal user is the OS login, asked of the system by uid as Tally asks it (``sync.people``), mapped to the
    sandbox workspace's first person (ana); ana and ben are the approvers, so a fix above the dual-approval amount
    needs ben too (in Slack) and the terminal alone never passes it.
    """
    try:
        login = pwd.getpwuid(os.getuid()).pw_name
    except KeyError:  # a uid with no passwd entry: the name Tally gives it
        login = f"uid{os.getuid()}"
    people = [user for user, name in workspace.users.items() if name in ("ana", "ben")]
    return {"TALLY_OPERATORS": f"{login}:{people[0]}", "TALLY_APPROVERS": ",".join(people)}


def folder_database(env: dict[str, str], folder: Path) -> Path | None:
    """The SQLite file the env file's Tally uses (``DATABASE_URL``, default ``tally.db``), if it is a local file."""
    url = env.get("DATABASE_URL", "sqlite:///tally.db")
    if not url.startswith("sqlite:///") or url.endswith(":memory:"):
        return None
    path = Path(url.removeprefix("sqlite:///"))
    return path if path.is_absolute() else folder / path


def busy_ports(ports: dict[str, int]) -> list[str]:
    """Name every option whose port is already taken on 127.0.0.1 (0 picks a free one, never busy)."""
    busy = []
    for option, port in ports.items():
        if not port:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise
                busy.append(f"port {port} ({option}) is in use")
    return busy


app = typer.Typer(help="Local stand-ins for ConnectWise Manage and QuickBooks Online.", no_args_is_help=True)


@app.command()
def serve(
    cw_port: Annotated[int, typer.Option(help="ConnectWise port (0 = any free port)")] = 8801,
    qbo_port: Annotated[int, typer.Option(help="QuickBooks port (0 = any free port)")] = 8802,
    slack_port: Annotated[int, typer.Option(help="Slack Web API port (0 = any free port)")] = 8803,
    dataset: Annotated[str, typer.Option(help="empty, small or large")] = "small",
    seed: Annotated[int, typer.Option(help="seed of the generated books")] = 1,
    truth: Annotated[Path | None, typer.Option(help="write the ground-truth manifest (JSON) here")] = None,
    latency_ms: Annotated[float, typer.Option(help="latency added to every API request")] = 0.0,
    env_file: Annotated[Path | None, typer.Option(help="write the NAME=value lines here instead of printing")] = None,
    reset: Annotated[bool, typer.Option("--reset", help="delete the folder's Tally database and start afresh")] = False,
    cw_switch: Annotated[
        list[str] | None, typer.Option(help="ConnectWise switch name=value (repeatable; see sandbox/switches.py)")
    ] = None,
    qbo_switch: Annotated[
        list[str] | None, typer.Option(help="QuickBooks switch name=value (repeatable; see sandbox/switches.py)")
    ] = None,
    qbo_webhook_url: Annotated[
        str, typer.Option(help="POST QuickBooks webhooks here, e.g. http://127.0.0.1:8000/qbo/webhooks")
    ] = "",
) -> None:
    """Serve both sandboxes until interrupted."""
    if dataset not in ("empty", "small", "large"):
        raise typer.BadParameter("choose empty, small or large", param_hint="--dataset")
    try:
        cw_switches = parse_assignments(cw_switch or [], CW_SWITCHES)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--cw-switch") from None
    try:
        qbo_switches = parse_assignments(qbo_switch or [], QBO_SWITCHES)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--qbo-switch") from None
    busy = busy_ports({"--cw-port": cw_port, "--qbo-port": qbo_port, "--slack-port": slack_port})
    if busy:
        typer.echo(
            f"Cannot serve: {'; '.join(busy)}. Pick another port with that option, or 0 for a free one.", err=True
        )
        raise typer.Exit(2)
    existing = read_env_file(env_file) if env_file is not None else {}
    _start_afresh_or_warn(existing, env_file.parent if env_file else Path.cwd(), reset=reset)
    running = start_sandbox(
        dataset=dataset,  # type: ignore[arg-type]
        seed=seed,
        cw_port=cw_port,
        qbo_port=qbo_port,
        slack_port=slack_port,
        latency_ms=latency_ms,
        cw_switch=dict(cw_switches),
        qbo_switch=dict(qbo_switches),
        qbo_webhook_url=qbo_webhook_url,
    )
    env = merged_env(running.env(), existing, walkthrough_people(running.workspace))
    running.qbo_webhooks(verifier=env["QBO_WEBHOOK_VERIFIER"])  # a kept verifier signs too
    lines = env_text(env)
    if truth is not None:
        running.books.manifest.write(truth)
    if env_file is not None:
        env_file.write_text(lines)
        typer.echo(f"wrote {env_file}", err=True)
    else:
        typer.echo(lines, nl=False)
    typer.echo(
        f"ConnectWise on {running.cw.url}, QuickBooks on {running.qbo.url}, Slack on {running.slack.url}; "
        "Ctrl-C stops.",
        err=True,
    )
    _wait_for_signal()
    running.stop()


def _start_afresh_or_warn(existing: dict[str, str], folder: Path, *, reset: bool) -> None:
    """Delete the folder's database with ``--reset``; otherwise say that it was filled from other books."""
    database = folder_database(existing, folder)
    if database is None or not database.exists():
        return
    if reset:
        database.unlink()
        typer.echo(f"removed {database}: Tally starts afresh on these books", err=True)
        return
    typer.echo(
        f"Note: {database} was filled from an earlier sandbox run. These books are new (the sandbox keeps nothing "
        "between runs), so Tally's cache, fixes and QuickBooks connection there no longer match them. "
        "Restart with --reset to start afresh.",
        err=True,
    )


def _wait_for_signal() -> None:
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    stop.wait()
