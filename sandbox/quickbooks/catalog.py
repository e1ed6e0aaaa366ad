"""Storage under a company: rows, indexes, SyncTokens, MetaData, customer balances and the CDC change log.

``Catalog`` is the bookkeeping half of ``QBOCompany`` (the business rules live in ``store.py``). Every stored
row carries ``domain``, ``sparse``, string ``Id``/``SyncToken`` and ``MetaData`` with offset timestamps.
"""

from __future__ import annotations

import itertools
import threading
from datetime import datetime
from decimal import Decimal
from typing import Any

from sandbox.clock import Clock
from sandbox.quickbooks.changelog import ChangeLog
from sandbox.quickbooks.entities import ENTITIES, NAME_FIELD, seed_rows
from sandbox.quickbooks.faults import (
    QBOFault,
    duplicate_docnumber,
    invalid_reference,
    object_not_found,
    required,
)
from sandbox.quickbooks.values import ZERO, ref_value, stamp

_LOWER = {name.lower(): name for name in ENTITIES}
_SEQUENCE = {"Customer": "Customer", "Item": "Item", "Account": "Account"}  # transactions share one sequence
FIRST_DOCNUMBER = 1001


def _clone(value: Any) -> Any:
    if type(value) is dict:
        return {key: _clone(item) if type(item) in _NESTED else item for key, item in value.items()}
    if type(value) is list:
        return [_clone(item) if type(item) in _NESTED else item for item in value]
    return value


_NESTED = (dict, list)


def clone(doc: dict[str, Any]) -> dict[str, Any]:
    """Copy a stored row (nested JSON-like data; faster than ``copy.deepcopy``)."""
    copied: dict[str, Any] = _clone(doc)
    return copied


class Catalog:
    """Rows and indexes of one company, guarded by ``lock``."""

    def __init__(self, realm_id: str, clock: Clock) -> None:
        self.realm_id = realm_id
        self.clock = clock
        self.lock = threading.RLock()
        self.rows: dict[str, dict[str, dict[str, Any]]] = {entity: {} for entity in ENTITIES}
        self.deleted: dict[str, dict[str, dict[str, Any]]] = {entity: {} for entity in ENTITIES}
        self.names: dict[str, dict[str, str]] = {entity: {} for entity in NAME_FIELD}
        self.docnumbers: dict[str, dict[str, list[str]]] = {"Invoice": {}, "CreditMemo": {}}
        self.balances: dict[str, Decimal] = {}
        self.version = 0
        self._next_docnumber = {"Invoice": FIRST_DOCNUMBER, "CreditMemo": FIRST_DOCNUMBER}
        self._counters = {"Customer": 1, "Item": 3, "Account": 5, "Txn": 1}
        self.log = ChangeLog(ENTITIES)
        self._pending: dict[str, Decimal] = {}
        self._last_stamp: tuple[datetime | None, str] = (None, "")
        self._seed(clock.now())

    clone = staticmethod(clone)

    def _seed(self, moment: datetime) -> None:
        for entity, row in seed_rows():
            self.write(entity, row, moment)

    # -- reading ------------------------------------------------------------------------------------------
    def canonical(self, entity: str) -> str:
        """Return the canonical entity name for any spelling (``invoice`` → ``Invoice``)."""
        name = _LOWER.get(entity.lower())
        if name is None:
            raise QBOFault(400, "500", "Unsupported Operation", f"Entity {entity} is not supported.")  # [I]
        return name

    def get(self, entity: str, entity_id: str) -> dict[str, Any]:
        """Return a copy of one entity; 610 Object Not Found if absent."""
        entity = self.canonical(entity)
        with self.lock:
            row = self.rows[entity].get(str(entity_id))
        if row is None:
            raise object_not_found(entity, str(entity_id))
        return clone(row)

    def row(self, entity: str, entity_id: str) -> dict[str, Any]:
        """Return one stored row (not a copy; stored rows are never mutated); 610 if absent."""
        entity = self.canonical(entity)
        with self.lock:
            found = self.rows[entity].get(entity_id)
        if found is None:
            raise object_not_found(entity, entity_id)
        return found

    def all(self, entity: str) -> list[dict[str, Any]]:
        """Return copies of every entity of a kind, ordered by Id."""
        entity = self.canonical(entity)
        with self.lock:
            rows = list(self.rows[entity].values())
        return [clone(row) for row in rows]

    def find_by_docnumber(self, entity: str, doc_number: str) -> list[dict[str, Any]]:
        """Return copies of the transactions of a kind carrying ``doc_number``."""
        entity = self.canonical(entity)
        with self.lock:
            ids = self.docnumbers.get(entity, {}).get(doc_number, [])
            return [clone(self.rows[entity][entity_id]) for entity_id in ids]

    def page(self, entity: str, start: int, count: int, *, descending: bool = False) -> list[dict[str, Any]]:
        """Return stored rows (not copies) ``start`` (0-based) … in Id order, without scanning the rest."""
        with self.lock:
            values = self.rows[entity].values()
            ordered = reversed(values) if descending else iter(values)
            return list(itertools.islice(ordered, start, start + count))

    def snapshot(self, entity: str) -> list[dict[str, Any]]:
        """Return the stored rows (not copies) of a kind, in Id order."""
        with self.lock:
            return list(self.rows[entity].values())

    def count(self, entity: str) -> int:
        """Return how many rows of a kind exist."""
        with self.lock:
            return len(self.rows[entity])

    # -- references (the ``Refs`` protocol) -----------------------------------------------------------------
    def customer_ref(self, ref: Any) -> dict[str, str]:
        """Resolve a CustomerRef to ``{"value","name"}``; bad or inactive ids are refused."""
        return self._name_ref("Customer", ref, "DisplayName")

    def item_ref(self, ref: Any) -> dict[str, str]:
        """Resolve an ItemRef to ``{"value","name"}``."""
        return self._name_ref("Item", ref, "Name")

    def _name_ref(self, entity: str, ref: Any, name_field: str) -> dict[str, str]:
        ref_id = ref_value(ref)
        if ref_id is None:
            raise required(f"{entity}Ref")
        row = self.rows[entity].get(ref_id)
        if row is None:
            raise invalid_reference(entity, ref_id)
        if not row.get("Active", True):
            raise object_not_found(entity, ref_id)
        return {"value": ref_id, "name": row[name_field]}

    # -- writing ------------------------------------------------------------------------------------------
    def next_id(self, entity: str) -> str:
        """Allocate the next Id (transactions share one sequence, as QBO's TxnIds do)."""
        sequence = _SEQUENCE.get(entity, "Txn")
        value = self._counters[sequence]
        self._counters[sequence] = value + 1
        return str(value)

    def write(self, entity: str, doc: dict[str, Any], moment: datetime, *, old: dict[str, Any] | None = None) -> None:
        """Store ``doc`` (a new dict), bumping SyncToken/MetaData over ``old``, and index and log it."""
        updated = self._stamp(moment)
        created = updated if old is None else old["MetaData"]["CreateTime"]
        if old is not None:
            doc["SyncToken"] = str(int(old["SyncToken"]) + 1)
        doc["domain"], doc["sparse"] = "QBO", False
        doc["MetaData"] = {"CreateTime": created, "LastUpdatedTime": updated}
        self.rows[entity][doc["Id"]] = doc
        self._reindex(entity, old, doc)
        self._owe(entity, old, -1)
        self._owe(entity, doc, 1)
        self.log.append(entity, doc["Id"], moment)

    def _stamp(self, moment: datetime) -> str:
        if self._last_stamp[0] != moment:
            self._last_stamp = (moment, stamp(moment))
        return self._last_stamp[1]

    def tombstone(self, entity: str, old: dict[str, Any], moment: datetime) -> None:
        """Delete a row, leaving the tombstone CDC reports."""
        del self.rows[entity][old["Id"]]
        self.deleted[entity][old["Id"]] = {
            "Id": old["Id"],
            "status": "Deleted",
            "domain": "QBO",
            "MetaData": {"LastUpdatedTime": self._stamp(moment)},
        }
        self._reindex(entity, old, None)
        self._owe(entity, old, -1)
        self.log.append(entity, old["Id"], moment)

    def flush(self, moment: datetime) -> None:
        """Write the customers whose Balance the operation changed (once each, SyncToken bumped)."""
        pending, self._pending = self._pending, {}
        for customer_id, delta in pending.items():
            current = self.rows["Customer"].get(customer_id)
            if delta == 0 or current is None:
                continue
            balance = self.balances.get(customer_id, ZERO) + delta
            self.balances[customer_id] = balance
            self.write("Customer", {**current, "Balance": balance, "BalanceWithJobs": balance}, moment, old=current)

    def check_docnumber(self, entity: str, doc: dict[str, Any], own_id: str | None, allow_dup: bool) -> None:
        """Enforce DocNumber uniqueness per type (6140) or auto-number a document that has none."""
        index = self.docnumbers[entity]
        number = doc.get("DocNumber")
        if number is None:
            if own_id is None:
                doc["DocNumber"] = self._auto_number(entity)
            return
        holders = [holder for holder in index.get(number, []) if holder != own_id]
        if holders and not allow_dup:
            raise duplicate_docnumber()

    def _auto_number(self, entity: str) -> str:
        value = self._next_docnumber[entity]
        while str(value) in self.docnumbers[entity]:
            value += 1
        self._next_docnumber[entity] = value + 1
        return str(value)

    def _reindex(self, entity: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        self.version += 1
        name_field = NAME_FIELD.get(entity)
        if name_field is not None:
            if old is not None:
                self.names[entity].pop(old[name_field].lower(), None)
            if new is not None:
                self.names[entity][new[name_field].lower()] = new["Id"]
        index = self.docnumbers.get(entity)
        if index is None:
            return
        if old is not None and old.get("DocNumber") is not None:
            holders = index.get(old["DocNumber"], [])
            if old["Id"] in holders:
                holders.remove(old["Id"])
            if not holders:
                index.pop(old["DocNumber"], None)
        if new is not None and new.get("DocNumber") is not None:
            index.setdefault(new["DocNumber"], []).append(new["Id"])
            if new["DocNumber"].isdigit():
                self._next_docnumber[entity] = max(self._next_docnumber[entity], int(new["DocNumber"]) + 1)

    def _owe(self, entity: str, doc: dict[str, Any] | None, sign: int) -> None:
        # Customer.Balance = Σ open invoice balances − Σ unapplied payments − Σ remaining credit [I].
        if doc is None or entity not in ("Invoice", "CreditMemo", "Payment"):
            return
        field, direction = {
            "Invoice": ("Balance", 1),
            "CreditMemo": ("RemainingCredit", -1),
            "Payment": ("UnappliedAmt", -1),
        }[entity]
        value = doc.get(field, ZERO)
        customer_id = ref_value(doc.get("CustomerRef"))
        if customer_id is not None and value:
            self._pending[customer_id] = self._pending.get(customer_id, ZERO) + sign * direction * value

    # -- change data capture -------------------------------------------------------------------------------
    def changes(self, entities: list[str], since: datetime, limit: int) -> dict[str, list[dict[str, Any]]]:
        """Return the current state (or tombstone) of objects changed at or after ``since``, oldest first.

        At most ``limit`` objects in all: the oldest by LastUpdatedTime (a choice: QBO caps a CDC answer at
        1,000 objects without saying which). ``since`` is inclusive [I].
        """
        found: list[tuple[datetime, int, dict[str, Any]]] = []
        with self.lock:
            for position, entity in enumerate(entities):
                for moment, entity_id in self.log.latest(entity, since, limit):
                    row = self.rows[entity].get(entity_id) or self.deleted[entity].get(entity_id)
                    if row is not None:
                        found.append((moment, position, row))
        found.sort(key=lambda item: (item[0], item[1]))
        answer: dict[str, list[dict[str, Any]]] = {entity: [] for entity in entities}
        for _, position, row in found[:limit]:
            answer[entities[position]].append(row)
        return answer
