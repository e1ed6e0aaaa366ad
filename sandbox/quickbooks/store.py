"""The QuickBooks companies: entities, SyncTokens, indexes, the payment engine and the CDC change log.

Stored rows are never mutated once stored: every write stores a new dict (copy-on-write), so a reader may hold
references taken under the lock and serialise them after releasing it. Every write is O(1) in the number of
stored entities (DocNumber and name indexes, an append-only change log per entity), so loading 10⁵ documents
stays fast.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sandbox.clock import Clock
from sandbox.quickbooks.catalog import Catalog
from sandbox.quickbooks.engine import PaymentEngine, without_target
from sandbox.quickbooks.entities import NAME_FIELD, WRITABLE_ENTITIES, build, writable
from sandbox.quickbooks.faults import (
    business,
    duplicate_name,
    object_not_found,
    required,
    stale_object,
    unsupported,
)
from sandbox.quickbooks.lines import zero_lines
from sandbox.quickbooks.values import ZERO, company_date, ref_value
from sandbox.switches import Switches, qbo_switches


class QBOCompany(Catalog):
    """One QuickBooks company (realm): thread-safe CRUD with QBO's derived fields and business rules."""

    def __init__(self, realm_id: str, clock: Clock) -> None:
        super().__init__(realm_id, clock)
        self.engine = PaymentEngine(self.rows)
        self.on_change: Callable[[str, str, str, str], None] | None = None  # (entity, id, operation, lastUpdated)

    def _changed(self, entity: str, doc: dict[str, Any], operation: str) -> None:
        """Tell the webhook emitter about a change a client made (derived rewrites are not announced)."""
        if self.on_change is not None:
            self.on_change(entity, doc["Id"], operation, doc["MetaData"]["LastUpdatedTime"])

    # -- public write API ---------------------------------------------------------------------------------
    def create(
        self,
        entity: str,
        body: dict[str, Any],
        *,
        at: datetime | None = None,
        allow_duplicate_docnum: bool = False,
    ) -> dict[str, Any]:
        """Create an entity from its API JSON shape and return a copy of what was stored."""
        entity = self._writable_entity(entity)
        with self.lock:
            moment = at or self.clock.now()
            src = writable(entity, self.clone(body))
            if entity == "Payment":
                doc = self._save_payment(None, src, moment)
            else:
                doc = build(entity, src, self, company_date(moment), keep_line_ids=False)
                self._check_unique(entity, doc, None, allow_duplicate_docnum)
                doc["Id"] = self.next_id(entity)
                doc["SyncToken"] = "0"
                self.write(entity, self._derive(entity, doc), moment)
            self.flush(moment)
            self._changed(entity, doc, "Create")
            return self.clone(doc)

    def update(
        self,
        entity: str,
        body: dict[str, Any],
        *,
        sparse: bool,
        at: datetime | None = None,
        allow_duplicate_docnum: bool = False,
    ) -> dict[str, Any]:
        """Update an entity (full or sparse) after checking its SyncToken; return a copy of the result."""
        entity = self._writable_entity(entity)
        with self.lock:
            moment = at or self.clock.now()
            current = self._current(entity, body)
            src = writable(entity, self.clone(body))
            if sparse:
                src = {**writable(entity, current), **src}
            if entity == "Payment":
                doc = self._save_payment(current, src, moment)
            else:
                doc = build(entity, src, self, company_date(moment), keep_line_ids=True)
                self._check_customer_move(entity, current, doc)
                self._check_unique(entity, doc, current["Id"], allow_duplicate_docnum)
                doc["Id"], doc["SyncToken"] = current["Id"], current["SyncToken"]
                self.write(entity, self._derive(entity, doc), moment, old=current)
            self.flush(moment)
            self._changed(entity, doc, "Update")
            return self.clone(doc)

    def delete(self, entity: str, body: dict[str, Any], *, at: datetime | None = None) -> dict[str, Any]:
        """Delete a transaction (name-list entities cannot be deleted) and return the delete answer."""
        entity = self._writable_entity(entity)
        if entity in NAME_FIELD:
            raise unsupported("Delete")
        with self.lock:
            moment = at or self.clock.now()
            current = self._current(entity, body)
            if entity == "Payment":
                self.engine.release(current["Id"], self._rewrite(moment))
            elif self.engine.payments_linking(current["Id"]):
                raise business("You must unlink any linked transactions before deleting this transaction.")  # [V]
            self.tombstone(entity, current, moment)
            self.flush(moment)
            self._changed(entity, self.deleted[entity][current["Id"]], "Delete")
            return {"status": "Deleted", "domain": "QBO", "Id": current["Id"]}

    def void(self, entity: str, body: dict[str, Any], *, at: datetime | None = None) -> dict[str, Any]:
        """Void an Invoice or CreditMemo (``operation=void``) or a Payment (``operation=update&include=void``)."""
        entity = self._writable_entity(entity)
        if entity not in ("Invoice", "Payment", "CreditMemo"):
            raise unsupported("Void")
        with self.lock:
            moment = at or self.clock.now()
            current = self._current(entity, body)
            if entity == "Payment":
                src = {**writable(entity, current), "TotalAmt": ZERO, "Line": [], "PrivateNote": "Voided"}
                doc = self._save_payment(current, src, moment)
            elif entity == "CreditMemo":
                doc = self._void_credit_memo(current, moment)
            else:
                doc = self._void_invoice(current, moment)
            self.flush(moment)
            self._changed(entity, doc, "Void")
            return self.clone(doc)

    # -- payments -----------------------------------------------------------------------------------------
    def _save_payment(self, current: dict[str, Any] | None, src: dict[str, Any], moment: datetime) -> dict[str, Any]:
        doc = build("Payment", src, self, company_date(moment), keep_line_ids=False)
        plan = self.engine.plan(current["Id"] if current else None, doc)
        doc["UnappliedAmt"] = plan.unapplied
        if current is None:
            doc["Id"], doc["SyncToken"] = self.next_id("Payment"), "0"
        else:
            doc["Id"], doc["SyncToken"] = current["Id"], current["SyncToken"]
        self.write("Payment", doc, moment, old=current)
        self.engine.commit(doc["Id"], plan, self._rewrite(moment))
        return doc

    def _void_invoice(self, current: dict[str, Any], moment: datetime) -> dict[str, Any]:
        # Voiding clears the invoice's LinkedTxn; the payments that paid it keep the money as unapplied
        # credit, i.e. their links to the invoice go away [I: consistent with the documented void effects].
        for payment_id in self.engine.payments_linking(current["Id"]):
            payment = self.rows["Payment"][payment_id]
            src = {**writable("Payment", payment), "Line": without_target(payment, current["Id"])}
            self._save_payment(payment, src, moment)
        current = self.rows["Invoice"][current["Id"]]
        note = current.get("PrivateNote")
        doc = dict(current)
        doc.update(
            Line=zero_lines(current["Line"]),
            TotalAmt=ZERO,
            Deposit=ZERO,
            TxnTaxDetail={**current.get("TxnTaxDetail", {}), "TotalTax": ZERO},
            PrivateNote=f"Voided - {note}" if note else "Voided",  # "prepends Voided" [V]; separator [I]
        )
        self.write("Invoice", self._derive("Invoice", doc), moment, old=current)
        return doc

    def _void_credit_memo(self, current: dict[str, Any], moment: datetime) -> dict[str, Any]:
        # Voiding a credit memo through the API is this sandbox's reading [I]: the form of an invoice void, refused
        # while any of its credit is applied (the rule for deleting a linked transaction [V]).
        if self.engine.payments_linking(current["Id"]):
            raise business("You must unlink any linked transactions before voiding this transaction.")
        note = current.get("PrivateNote")
        doc = dict(current)
        doc.update(
            Line=zero_lines(current["Line"]),
            TotalAmt=ZERO,
            TxnTaxDetail={**current.get("TxnTaxDetail", {}), "TotalTax": ZERO},
            PrivateNote=f"Voided - {note}" if note else "Voided",
        )
        self.write("CreditMemo", self._derive("CreditMemo", doc), moment, old=current)
        return doc

    def _rewrite(self, moment: datetime) -> Any:
        def rewrite(entity: str, doc: dict[str, Any]) -> None:
            self.write(entity, doc, moment, old=self.rows[entity][doc["Id"]])

        return rewrite

    # -- checks -------------------------------------------------------------------------------------------
    def _writable_entity(self, entity: str) -> str:
        name = self.canonical(entity)
        if name not in WRITABLE_ENTITIES:
            raise unsupported(f"Create/Update/Delete on {entity}")
        return name

    def _current(self, entity: str, body: dict[str, Any]) -> dict[str, Any]:
        entity_id = ref_value({"value": body.get("Id")})
        if entity_id is None:
            raise required("Id")
        current = self.rows[entity].get(entity_id)
        if current is None:
            raise object_not_found(entity, entity_id)
        token = body.get("SyncToken")
        if token is None or isinstance(token, bool):
            raise required("SyncToken")
        if str(token) != current["SyncToken"]:
            raise stale_object()
        return current

    def _check_unique(self, entity: str, doc: dict[str, Any], own_id: str | None, allow_dup: bool) -> None:
        name_field = NAME_FIELD.get(entity)
        if name_field is not None:
            holder = self.names[entity].get(doc[name_field].lower())
            if holder is not None and holder != own_id:
                raise duplicate_name(holder)
            return
        if entity in ("Invoice", "CreditMemo"):
            self.check_docnumber(entity, doc, own_id, allow_dup)

    def _check_customer_move(self, entity: str, current: dict[str, Any], doc: dict[str, Any]) -> None:
        if entity not in ("Invoice", "CreditMemo"):
            return
        moved = ref_value(current["CustomerRef"]) != ref_value(doc["CustomerRef"])
        if moved and self.engine.payments_linking(current["Id"]):
            raise business("You cannot change the customer of a transaction that has linked payments.")  # [I]

    def _derive(self, entity: str, doc: dict[str, Any]) -> dict[str, Any]:
        if entity == "Customer":
            balance = self.balances.get(doc["Id"], ZERO)
            doc["Balance"] = doc["BalanceWithJobs"] = balance
            return doc
        return self.engine.derive(entity, doc)


class QBOStore:
    """All companies of the sandbox, created on first use."""

    def __init__(self, clock: Clock, switches: Switches | None = None) -> None:
        self.clock = clock
        self.switches = switches or qbo_switches()  # the readings this sandbox plays, per company
        self._companies: dict[str, QBOCompany] = {}
        self._lock = threading.Lock()
        self.on_change: Callable[[str, str, str, str, str], None] | None = None  # (realm, entity, id, op, updated)

    def company(self, realm_id: str) -> QBOCompany:
        """Return the company for ``realm_id``, creating it (with default items and accounts) if new."""
        with self._lock:
            found = self._companies.get(realm_id)
            if found is None:
                found = self._companies[realm_id] = QBOCompany(realm_id, self.clock)
                found.on_change = functools.partial(self._changed, realm_id)
            return found

    def _changed(self, realm_id: str, entity: str, entity_id: str, operation: str, updated: str) -> None:
        if self.on_change is not None:
            self.on_change(realm_id, entity, entity_id, operation, updated)

    def realms(self) -> list[str]:
        """Return the realm ids of the companies created so far."""
        with self._lock:
            return list(self._companies)
