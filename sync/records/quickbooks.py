"""Records of QuickBooks Online payloads: customers, invoices, credit memos, payments, CDC results."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar, NamedTuple, Self

from pydantic import Field

from sync.records.values import Day, Money, Record, UTCTime, money, ref


def _value(payload: Mapping[str, Any], key: str) -> str | None:
    value = ref(payload, key).get("value")
    return None if value is None else str(value)


def _linked(payload: Mapping[str, Any], txn_type: str) -> list[str]:
    links = payload.get("LinkedTxn") or []
    return [str(link["TxnId"]) for link in links if link.get("TxnType") == txn_type and "TxnId" in link]


def _updated(payload: Mapping[str, Any]) -> Any:
    return ref(payload, "MetaData").get("LastUpdatedTime")


class QBOCustomer(Record):
    """A QuickBooks customer."""

    ENTITY: ClassVar[str] = "Customer"

    id: str
    sync_token: str
    display_name: str
    company_name: str | None = None
    active: bool = True
    balance: Money = Decimal(0)
    last_updated: UTCTime = None

    @classmethod
    def from_api(cls, payload: Mapping[str, Any]) -> Self:
        """Build from a ``Customer`` object."""
        return cls(
            id=str(payload["Id"]),
            sync_token=str(payload.get("SyncToken", "0")),
            display_name=payload.get("DisplayName") or "",
            company_name=payload.get("CompanyName") or None,
            active=bool(payload.get("Active", True)),
            balance=money(payload.get("Balance")),
            last_updated=_updated(payload),
        )


class _QBODocument(Record):
    id: str
    sync_token: str
    doc_number: str | None = None
    customer_id: str
    customer_name: str | None = None
    txn_date: Day = None
    due_date: Day = None
    total: Money = Decimal(0)
    balance: Money = Decimal(0)
    linked_payment_ids: list[str] = Field(default_factory=list)
    private_note: str | None = None
    last_updated: UTCTime = None

    @classmethod
    def _fields(cls, payload: Mapping[str, Any]) -> dict[str, Any]:
        customer_id = _value(payload, "CustomerRef")
        if customer_id is None:
            raise ValueError(f"a QuickBooks {cls.__name__} without CustomerRef")
        return {
            "id": str(payload["Id"]),
            "sync_token": str(payload.get("SyncToken", "0")),
            "doc_number": payload.get("DocNumber"),
            "customer_id": customer_id,
            "customer_name": ref(payload, "CustomerRef").get("name"),
            "txn_date": payload.get("TxnDate"),
            "due_date": payload.get("DueDate"),
            "total": payload.get("TotalAmt"),
            "balance": payload.get("Balance"),
            "linked_payment_ids": _linked(payload, "Payment"),
            "private_note": payload.get("PrivateNote"),
            "last_updated": _updated(payload),
        }


class QBOInvoice(_QBODocument):
    """A QuickBooks invoice; ``balance`` 0 means fully paid."""

    ENTITY: ClassVar[str] = "Invoice"

    @classmethod
    def from_api(cls, payload: Mapping[str, Any]) -> Self:
        """Build from an ``Invoice`` object."""
        return cls(**cls._fields(payload))


class QBOCreditMemo(_QBODocument):
    """A QuickBooks credit memo; ``remaining_credit`` is what may still be applied."""

    ENTITY: ClassVar[str] = "CreditMemo"

    remaining_credit: Money = Decimal(0)

    @classmethod
    def from_api(cls, payload: Mapping[str, Any]) -> Self:
        """Build from a ``CreditMemo`` object (a missing ``RemainingCredit`` falls back to ``Balance``)."""
        remaining = payload.get("RemainingCredit", payload.get("Balance"))
        return cls(**cls._fields(payload), remaining_credit=remaining)


class LinkedTxn(NamedTuple):
    """One transaction a payment line applies to, e.g. ``("130", "Invoice")``."""

    txn_id: str
    txn_type: str


class QBOPaymentLine(Record):
    """One payment line: an amount applied to the linked transactions."""

    amount: Money
    links: list[LinkedTxn] = Field(default_factory=list)


class QBOPayment(Record):
    """A QuickBooks payment; a zero-total one with invoice + credit-memo lines applies a credit memo."""

    ENTITY: ClassVar[str] = "Payment"

    id: str
    sync_token: str
    customer_id: str
    txn_date: Day = None
    total: Money = Decimal(0)
    unapplied: Money = Decimal(0)
    lines: list[QBOPaymentLine] = Field(default_factory=list)
    reference: str | None = None
    private_note: str | None = None
    last_updated: UTCTime = None

    def applied_to(self, txn_id: str, txn_type: str = "Invoice") -> Decimal:
        """Sum the line amounts linked to one transaction."""
        target = LinkedTxn(txn_id, txn_type)
        return sum((line.amount for line in self.lines if target in line.links), Decimal(0))

    @classmethod
    def from_api(cls, payload: Mapping[str, Any]) -> Self:
        """Build from a ``Payment`` object."""
        customer_id = _value(payload, "CustomerRef")
        if customer_id is None:
            raise ValueError("a QuickBooks Payment without CustomerRef")
        lines = [
            QBOPaymentLine(
                amount=line.get("Amount"),
                links=[LinkedTxn(str(link["TxnId"]), str(link["TxnType"])) for link in line.get("LinkedTxn") or []],
            )
            for line in payload.get("Line") or []
        ]
        return cls(
            id=str(payload["Id"]),
            sync_token=str(payload.get("SyncToken", "0")),
            customer_id=customer_id,
            txn_date=payload.get("TxnDate"),
            total=money(payload.get("TotalAmt")),
            unapplied=money(payload.get("UnappliedAmt")),
            lines=lines,
            reference=payload.get("PaymentRefNum"),
            private_note=payload.get("PrivateNote"),
            last_updated=_updated(payload),
        )


QBORecord = QBOCustomer | QBOInvoice | QBOCreditMemo | QBOPayment


class CDCResult(Record):
    """What QuickBooks change data capture returned: changed records per kind and deleted ids per entity.

    ``truncated`` is True when the answer holds QBO's cap of 1,000 objects *in total across all entities*
    (tombstones included): Intuit caps the whole response, not each entity ("The maximum number of entities that
    can be returned in a response is 1000", https://developer.intuit.com/app/developer/qbo/docs/learn/
    explore-the-quickbooks-online-api/change-data-capture), and does not say which objects it leaves out, so a
    capped answer must not be taken as the whole window. ``total`` is how many objects the answer held.
    """

    invoices: list[QBOInvoice] = Field(default_factory=list)
    credit_memos: list[QBOCreditMemo] = Field(default_factory=list)
    payments: list[QBOPayment] = Field(default_factory=list)
    customers: list[QBOCustomer] = Field(default_factory=list)
    deleted: dict[str, list[str]] = Field(default_factory=dict)
    as_of: UTCTime = None
    truncated: bool = False
    total: int = 0

    @classmethod
    def from_api(cls, payload: Mapping[str, Any], *, cap: int = 1000) -> Self:
        """Build from a ``/cdc`` answer; tombstones (``"status": "Deleted"``) become ``deleted`` ids."""
        changed: dict[str, list[Any]] = {name: [] for name in QBO_KINDS}
        deleted: dict[str, list[str]] = {}
        total = 0
        for name, rows in _cdc_blocks(payload):
            total += len(rows)
            for row in rows:
                if str(row.get("status", "")).lower() == "deleted":
                    deleted.setdefault(name, []).append(str(row["Id"]))
                else:
                    changed[name].append(QBO_KINDS[name].from_api(row))
        return cls(
            invoices=changed["Invoice"],
            credit_memos=changed["CreditMemo"],
            payments=changed["Payment"],
            customers=changed["Customer"],
            deleted=deleted,
            as_of=payload.get("time"),
            truncated=total >= cap,
            total=total,
        )


QBO_KINDS: dict[str, type[QBORecord]] = {k.ENTITY: k for k in (QBOInvoice, QBOCreditMemo, QBOPayment, QBOCustomer)}


def _cdc_blocks(payload: Mapping[str, Any]) -> list[tuple[str, list[Mapping[str, Any]]]]:
    """Return ``(entity, rows)`` for every known entity list in a CDC answer."""
    found = []
    for block in payload.get("CDCResponse") or []:
        for response in block.get("QueryResponse") or []:
            for name, rows in response.items():
                if name in QBO_KINDS and isinstance(rows, list):
                    found.append((name, rows))
    return found


class DocumentLine(NamedTuple):
    """One (summarised) sales line to send on a mirrored invoice or credit memo."""

    amount: Decimal
    description: str | None = None
    item_id: str = "1"  # QBO's default "Services" item [I: in a real company the item is configuration]

    def to_api(self) -> dict[str, Any]:
        """Render as a ``SalesItemLineDetail`` line."""
        line: dict[str, Any] = {"DetailType": "SalesItemLineDetail", "Amount": self.amount}
        line["SalesItemLineDetail"] = {"ItemRef": {"value": self.item_id}}
        if self.description:
            line["Description"] = self.description
        return line
