"""Every table Tally keeps, in one place (SQLModel).

The cache mirrors just enough of ConnectWise and QuickBooks to reconcile without calling the APIs again:
CW companies, invoices (credit memos are invoices of type ``CreditMemo``) and their payment/credit rows; QBO
customers, invoices, credit memos, payments and payment lines. ``SyncCursor`` rows remember how far each stream
was read and advance in the same transaction as the rows they describe. ``QBOConnection`` holds the
encrypted OAuth tokens.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import Column, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from sync.db import Money, UTCDateTime


def utcnow() -> datetime:
    """Return the current aware UTC time."""
    return datetime.now(UTC)


def _money(*, nullable: bool = False, default: Decimal | None = Decimal("0.00")) -> Decimal:
    return Field(default=default, sa_type=Money, nullable=nullable)  # type: ignore[no-any-return]


def _when(*, nullable: bool = True, index: bool = False) -> datetime:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, index=index)  # type: ignore[no-any-return]


class CWCompany(SQLModel, table=True):
    """A ConnectWise company (customer)."""

    __tablename__ = "cw_company"
    id: int = Field(primary_key=True)
    identifier: str
    name: str
    account_number: str | None = Field(default=None, index=True)
    last_updated: datetime | None = _when()


class CWInvoice(SQLModel, table=True):
    """A ConnectWise invoice or credit memo (``type == "CreditMemo"``)."""

    __tablename__ = "cw_invoice"
    __table_args__ = (Index("ix_cw_invoice_number_key", "number_key"),)
    id: int = Field(primary_key=True)
    number: str
    number_key: str  # normalised: whitespace stripped, upper-case
    type: str
    company_id: int | None = Field(default=None, index=True)
    account_number: str | None = None
    invoice_date: date | None = None
    due_date: date | None = None
    status_name: str | None = None
    is_closed: bool = True
    subtotal: Decimal = _money()
    sales_tax: Decimal = _money()
    total: Decimal = _money()
    payments: Decimal = _money()
    credits: Decimal = _money()
    balance: Decimal = _money()
    last_updated: datetime | None = _when(index=True)
    rows_synced_at: datetime | None = _when()  # when its payment rows were last read


class CWPayment(SQLModel, table=True):
    """A payment row on a CW invoice; ``credit_memo_id`` set means a credit-memo application."""

    __tablename__ = "cw_payment"
    id: int = Field(primary_key=True)
    invoice_id: int = Field(index=True)
    type: str | None = None
    amount: Decimal = _money()
    payment_date: date | None = None
    credit_memo_id: int | None = Field(default=None, index=True)


class QBOCustomer(SQLModel, table=True):
    """A QuickBooks customer."""

    __tablename__ = "qbo_customer"
    id: str = Field(primary_key=True)
    display_name: str
    company_name: str | None = None
    active: bool = True
    balance: Decimal = _money()
    last_updated: datetime | None = _when()


class QBODocument(SQLModel, table=True):
    """A QuickBooks invoice or credit memo (``entity`` says which)."""

    __tablename__ = "qbo_document"
    __table_args__ = (Index("ix_qbo_document_number_key", "entity", "number_key"),)
    entity: str = Field(primary_key=True)  # "Invoice" | "CreditMemo"
    id: str = Field(primary_key=True)
    sync_token: str = "0"  # noqa: S105 (a QuickBooks SyncToken, not a secret)
    doc_number: str | None = None
    number_key: str | None = None
    customer_id: str | None = Field(default=None, index=True)
    txn_date: date | None = None
    due_date: date | None = None
    total: Decimal = _money()
    balance: Decimal = _money()
    remaining_credit: Decimal | None = _money(nullable=True, default=None)
    private_note: str | None = Field(default=None, sa_type=Text)
    last_updated: datetime | None = _when()


class QBOPayment(SQLModel, table=True):
    """A QuickBooks payment (``total == 0`` for a pure credit application)."""

    __tablename__ = "qbo_payment"
    id: str = Field(primary_key=True)
    sync_token: str = "0"  # noqa: S105 (a QuickBooks SyncToken, not a secret)
    customer_id: str | None = Field(default=None, index=True)
    txn_date: date | None = None
    total: Decimal = _money()
    unapplied: Decimal = _money()
    last_updated: datetime | None = _when()


class QBOPaymentLink(SQLModel, table=True):
    """One linked transaction of a payment line: the amount applied to an invoice or taken from a memo."""

    __tablename__ = "qbo_payment_link"
    payment_id: str = Field(primary_key=True)
    line_no: int = Field(primary_key=True)
    link_no: int = Field(primary_key=True, default=0)
    txn_id: str = Field(index=True)
    txn_type: str
    amount: Decimal = _money()


class SyncCursor(SQLModel, table=True):
    """How far one stream (``cw.invoices``, ``qbo.cdc`` ...) has been read."""

    __tablename__ = "sync_cursor"
    stream: str = Field(primary_key=True)
    position: datetime | None = _when()
    updated_at: datetime | None = _when()


class QBOConnection(SQLModel, table=True):
    """The QuickBooks OAuth grant for one realm, tokens encrypted with TALLY_SECRET_KEY."""

    __tablename__ = "qbo_connection"
    __table_args__ = (UniqueConstraint("realm_id"),)
    id: int | None = Field(default=None, primary_key=True)
    realm_id: str
    access_token: str | None = Field(default=None, sa_column=Column(Text))
    access_expires_at: datetime | None = _when()
    refresh_token: str | None = Field(default=None, sa_column=Column(Text))
    refresh_expires_at: datetime | None = _when()
    state: str = "connected"  # connected | needs_reconnect
    reason: str | None = Field(default=None, sa_column=Column(Text))
    generation: int = 0  # bumped on every refresh; lets a waiting process see it lost the race
    updated_at: datetime | None = _when()


# -- findings, fixes and the audit trail ------------------------------------------------------------------------


LIVE_ACTION = "status IN ('proposed', 'approved', 'executing', 'unsure')"


class FindingRecord(SQLModel, table=True):
    """A finding as Tally remembers it: reported once, updated in place, resolved when the books agree."""

    __tablename__ = "finding"
    key: str = Field(primary_key=True)  # kind:NUMBER[:NUMBER]
    kind: str = Field(index=True)
    status: str = Field(default="open", index=True)  # open | resolved
    customer: str | None = None
    documents: str = "[]"  # JSON list of document numbers
    amount: Decimal = _money()
    explanation: str = Field(default="", sa_column=Column(Text, nullable=False))
    cw: str = "{}"  # JSON: the ConnectWise side
    qbo: str = "{}"  # JSON: the QuickBooks side
    fix_kind: str | None = None
    fix_params: str | None = Field(default=None, sa_column=Column(Text))
    first_seen: datetime | None = _when(nullable=False)
    last_seen: datetime | None = _when(nullable=False)
    resolved_at: datetime | None = _when()
    resolved_by: str | None = None  # "action:<id>" when Tally fixed it, else "the books agree"
    slack_channel: str | None = None
    slack_ts: str | None = None


class Action(SQLModel, table=True):
    """A proposed fix: proposed → approved → executing (→ unsure) → succeeded | failed (or rejected, superseded)."""

    __tablename__ = "action"
    # At most one live (proposed, approved, executing or unsure) action per finding: a second proposal cannot slip in.
    __table_args__ = (
        Index(
            "uq_action_live_finding",
            "finding_key",
            unique=True,
            sqlite_where=text(LIVE_ACTION),
            postgresql_where=text(LIVE_ACTION),
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    finding_key: str = Field(index=True)
    kind: str
    status: str = Field(default="proposed", index=True)
    params: str = "{}"  # JSON: documents, ids and amount of the exact remote write
    amount: Decimal = _money()
    description: str = Field(default="", sa_column=Column(Text, nullable=False))  # the exact write, in words
    requested_by: str | None = None
    approvals_needed: int = 1
    result: str | None = Field(default=None, sa_column=Column(Text))  # why it failed / was superseded, or what it did
    remote_id: str | None = None
    created_at: datetime | None = _when(nullable=False)
    updated_at: datetime | None = _when(nullable=False)
    executed_at: datetime | None = _when()
    slack_channel: str | None = None
    slack_ts: str | None = None
    # Proposal versions (issue 8 §2): a restated write is a new action; the old one points at it.
    version: int = 1
    replaced_by: int | None = None  # the action that restated this one (a different write)
    planned_on: str | None = Field(default=None, sa_column=Column(Text))  # JSON: the write as stated (see approving)
    undoes_action_id: int | None = Field(default=None, index=True)  # undo (issue 13): the fix this reverses


class Approval(SQLModel, table=True):
    """One person's approval of one action; a person counts once, whichever channel they approve through."""

    __tablename__ = "approval"
    __table_args__ = (UniqueConstraint("action_id", "approver"),)
    id: int | None = Field(default=None, primary_key=True)
    action_id: int = Field(index=True)
    approver: str  # a person (Slack user id), or ``cli:<login>`` for a terminal login mapped to nobody
    at: datetime | None = _when(nullable=False)
    channel: str | None = None  # slack | cli | policy


class LedgerEntry(SQLModel, table=True):
    """A remote write Tally is about to make, written (and committed) before the call: the idempotency guard."""

    __tablename__ = "write_ledger"
    id: int | None = Field(default=None, primary_key=True)
    action_id: int = Field(index=True)
    system: str  # ConnectWise | QuickBooks
    operation: str  # e.g. create_payment
    request_id: str = Field(unique=True)  # QBO requestid; for CW a marker written into the record where possible
    status: str = Field(default="pending", index=True)  # pending | done | failed | refused (turned down on its merits)
    remote_id: str | None = None
    detail: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime | None = _when(nullable=False)
    settled_at: datetime | None = _when()
    # The moment after which anything the write sent has landed or never will: only then may "not found" be
    # believed. Rows from before this column fall back to ``created_at`` plus ``recovery.STALE_AFTER``.
    settle_after: datetime | None = _when()


class AuditEvent(SQLModel, table=True):
    """One append-only entry of the audit trail: who did what, when, with the amounts and remote ids."""

    __tablename__ = "audit_event"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime | None = _when(nullable=False, index=True)
    actor: str  # a person (Slack user id, also through the terminal), "scheduler", or "cli:<login>" (unmapped)
    verb: str  # finding.opened, finding.updated, finding.resolved, action.proposed, action.approved, ...
    subject: str = Field(index=True)  # "finding:<key>" or "action:<id>"
    amount_before: Decimal | None = _money(nullable=True, default=None)
    amount_after: Decimal | None = _money(nullable=True, default=None)
    remote_ids: str | None = None  # JSON
    detail: str | None = Field(default=None, sa_column=Column(Text))
    channel: str | None = None  # how the actor reached Tally: slack | cli (None: the scheduler, or before 0004)


class CustomerLink(SQLModel, table=True):
    """A CW company ↔ QBO customer mapping a person confirmed; it wins over every automatic match."""

    __tablename__ = "customer_map"
    cw_company_id: int = Field(primary_key=True)
    qbo_customer_id: str
    confirmed_by: str | None = None
    at: datetime | None = _when()


class DigestPost(SQLModel, table=True):
    """The daily digest posted to one channel on one local day: the row is claimed before posting, so it posts once."""

    __tablename__ = "digest_post"
    __table_args__ = (UniqueConstraint("channel", "day"),)
    id: int | None = Field(default=None, primary_key=True)
    channel: str
    day: date
    status: str = "posting"  # posting | posted | failed
    message_ts: str | None = None  # JSON list of the posted messages' ts
    at: datetime | None = _when(nullable=False)


class SlackApproverCache(SQLModel, table=True):
    """Members of the approver user group, cached so a click is not slowed by a Slack API call."""

    __tablename__ = "slack_approver_cache"
    usergroup: str = Field(primary_key=True)
    members: str = "[]"  # JSON list of user ids
    fetched_at: datetime | None = _when(nullable=False)


# -- approvals (issue 8 §2-3): which messages show which fixes --------------------------------------------------


class ShownAction(SQLModel, table=True):
    """A fix shown with buttons in one Slack message: a click is honoured only for the fixes its message shows.

    ``message`` is ``<channel>:<ts>`` for an alert or summary in the channel, ``preview:<token>`` for an ephemeral
    preview (its ts is never returned to Tally, so the token rides in the preview's block ids).
    """

    __tablename__ = "shown_action"
    message: str = Field(primary_key=True)
    action_id: int = Field(primary_key=True)
    at: datetime | None = _when(nullable=False)


class NotificationSource(SQLModel, table=True):
    """What one system (``qbo`` or ``cw``) pushed: when last, how many, and how many checks they started."""

    __tablename__ = "notification_source"
    system: str = Field(primary_key=True)
    received: int = 0
    ignored: int = 0  # duplicates, stale news, over the caller's rate
    checks: int = 0
    last_received_at: datetime | None = _when()
    last_check_at: datetime | None = _when()


class NotificationSeen(SQLModel, table=True):
    """The newest news of one document (or one message id) a notification brought: older or equal news is a repeat."""

    __tablename__ = "notification_seen"
    system: str = Field(primary_key=True)
    key: str = Field(primary_key=True)  # "Payment:123" (QBO entity and id) or "msg:<MessageId>"
    stamp: datetime | None = _when()  # the document's lastUpdated the notification named (None for a message id)
    seen_at: datetime | None = _when(nullable=False, index=True)


class QBOConnectLink(SQLModel, table=True):
    """A single-use link ``/tally connect`` gave one admin: opened once, finished once, in the browser that opened it.

    Only hashes are kept (of the link's token, of the OAuth state it started, of the browser's cookie), so the
    table holds nothing that could be replayed.
    """

    __tablename__ = "qbo_connect_link"
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True)
    admin: str  # the Slack user id the link was given to
    created_at: datetime | None = _when(nullable=False)
    expires_at: datetime | None = _when(nullable=False)
    opened_at: datetime | None = _when()
    state_hash: str | None = Field(default=None, index=True)
    browser_hash: str | None = None
    finished_at: datetime | None = _when()
    realm_id: str | None = None  # the company connected through it


# -- Slack delivery (issue 8 §7): is the alert channel taking posts, and which alerts still need redrawing ----------


class SlackChannelHealth(SQLModel, table=True):
    """Whether a channel takes Tally's posts: the last refusal (``not_in_channel`` ...) until a post goes through."""

    __tablename__ = "slack_channel_health"
    channel: str = Field(primary_key=True)
    error: str | None = None  # None: the last post went through
    refused_at: datetime | None = _when()  # since when posts are refused
    delivered_at: datetime | None = _when()  # the last post or update that went through


class SlackRedraw(SQLModel, table=True):
    """An alert whose post or ``chat.update`` still failed after rate-limit retries: the next notify pass redraws it."""

    __tablename__ = "slack_redraw"
    finding_key: str = Field(primary_key=True)
    attempts: int = 1
    error: str | None = None
    since: datetime | None = _when(nullable=False)


# -- reads (issue 10 §1): the scheduled full sweeps and what the incremental syncs had missed ------------------


class SweepRun(SQLModel, table=True):
    """One full sweep: everything re-read, and how many records the incremental syncs had not brought in."""

    __tablename__ = "sweep_run"
    id: int | None = Field(default=None, primary_key=True)
    started_at: datetime | None = _when(nullable=False, index=True)
    finished_at: datetime | None = _when()
    status: str = "running"  # running | done | failed
    missed_cw: int = 0  # ConnectWise invoices and companies the incremental syncs had stale, missing or still cached
    missed_qbo: int = 0  # QuickBooks documents, payments and customers likewise
    detail: str | None = Field(default=None, sa_column=Column(Text))  # JSON: examples of what was missed, warnings
    error: str | None = Field(default=None, sa_column=Column(Text))  # the sentence of a failed sweep


class HomeViewer(SQLModel, table=True):
    """Someone who opened Tally's Slack Home tab: their tab is published again when findings or fixes change."""

    __tablename__ = "home_viewer"
    user: str = Field(primary_key=True)
    opened_at: datetime | None = _when(nullable=False)


class GoneRecord(SQLModel, table=True):
    """A document or payment that disappeared from one system (deleted in ConnectWise, a QuickBooks CDC tombstone),
    remembered so an explanation can name the cause instead of guessing."""

    __tablename__ = "gone_record"
    id: int | None = Field(default=None, primary_key=True)
    system: str  # ConnectWise | QuickBooks
    entity: str  # Invoice | CreditMemo | Payment
    remote_id: str = Field(index=True)
    number: str | None = None
    number_key: str | None = Field(default=None, index=True)
    at: datetime | None = _when(nullable=False)
