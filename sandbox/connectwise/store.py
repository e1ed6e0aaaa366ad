"""The ConnectWise sandbox's data: companies, invoices and payment rows, behind one lock.

Records are dicts in API shape keyed by id, plus an ascending id list per kind (ids only grow, so appends
keep it sorted) for paging. Stored records are replaced, never mutated, so a reader may serialise the
records a query returned after the lock is released. Every method returns copies."""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sandbox.clock import Clock
from sandbox.connectwise.errors import bad_request, invalid, not_found, required
from sandbox.connectwise.ledger import Ledger
from sandbox.connectwise.patch import apply_patch
from sandbox.connectwise.records import (
    READ_ONLY,
    Record,
    as_object,
    build_company,
    build_invoice,
    copy_record,
)
from sandbox.connectwise.schema import COMPANY, INVOICE, PAYMENT
from sandbox.connectwise.values import format_time
from sandbox.switches import Switches, cw_switches

T = TypeVar("T")
ADDRESS_FIELDS = ("addressLine1", "addressLine2", "city", "state", "zip", "country", "site")
Query = Callable[[Sequence[int], Mapping[int, Record]], T]


class CWStore:
    """Thread-safe in-memory ConnectWise data; methods raise ``CWError`` as the API would answer."""

    def __init__(self, clock: Clock, switches: Switches | None = None) -> None:
        self.clock = clock
        self.switches = switches or cw_switches()
        self.lock = threading.RLock()
        self._companies: dict[int, Record] = {}
        self._company_ids: list[int] = []
        self._identifiers: dict[str, int] = {}
        self._invoices: dict[int, Record] = {}
        self._invoice_ids: list[int] = []
        self._numbers: dict[str, int] = {}
        self._ledger = Ledger()
        self._next_company = 250
        self._next_invoice = 1
        self._next_number = 1000
        # told of every invoice change as (record or None when deleted, invoice id, action): callbacks listen here
        self.on_change: Callable[[Record | None, int, str], None] | None = None

    # -- companies -----------------------------------------------------------------------------------------
    def create_company(
        self,
        body: dict[str, Any],
        *,
        at: datetime | None = None,
        updated_by: str = "sandbox",
        require_address: bool = False,
    ) -> Record:
        """Create a company (``identifier`` and ``name`` required, identifier unique) and return it.

        ``require_address`` (the API's POST) also wants one address field, as the Company schema does
        ("address fields (at least one required)", https://github.com/ai-connor/connectwise model_company.go);
        seeding the store directly skips it.
        """
        with self.lock:
            built = build_company(body)
            if require_address and not any(built.get(name) for name in ADDRESS_FIELDS):
                names = ", ".join(ADDRESS_FIELDS)
                # The wording and the field named are [I]; that one address field is required is [V].
                message = f"An address is required: set at least one of {names}."
                raise invalid(COMPANY.name, "MissingRequiredField", message, "addressLine1")
            key = built["identifier"].lower()
            if key in self._identifiers:
                message = f"The identifier {built['identifier']} is already in use."
                raise invalid(COMPANY.name, "ObjectExists", message, "identifier")
            company_id = self._next_company
            self._next_company += 1
            record = {"id": company_id, **built, "_info": self._stamp(at, updated_by)}
            self._companies[company_id] = record
            self._company_ids.append(company_id)
            self._identifiers[key] = company_id
            return copy_record(record)

    def rename_company(
        self, company_id: int, name: str, *, at: datetime | None = None, updated_by: str = "sandbox"
    ) -> Record:
        """Rename a company, as a person does in ConnectWise (its ``lastUpdated`` moves); return it."""
        with self.lock:
            record = self._company(company_id)
            record["name"] = name
            record["_info"] = self._stamp(at, updated_by, record["_info"])
            return copy_record(record)

    def get_company(self, company_id: int) -> Record:
        """Return one company or raise 404."""
        with self.lock:
            return copy_record(self._company(company_id))

    def find_company(self, identifier: str) -> Record | None:
        """Return the company with ``identifier`` (case-insensitive), if any."""
        with self.lock:
            company_id = self._identifiers.get(identifier.lower())
            return None if company_id is None else copy_record(self._companies[company_id])

    def companies(self) -> list[Record]:
        """Return every company, by id."""
        with self.lock:
            return [copy_record(self._companies[company_id]) for company_id in self._company_ids]

    def query_companies(self, query: Query[T]) -> T:
        """Run ``query(ids, records)`` under the lock; records must not be mutated."""
        with self.lock:
            return query(self._company_ids, self._companies)

    # -- invoices ------------------------------------------------------------------------------------------
    def create_invoice(
        self, body: dict[str, Any], *, at: datetime | None = None, updated_by: str = "sandbox"
    ) -> Record:
        """Create an invoice (``company`` and ``type`` required) and return it with its derived amounts."""
        with self.lock:
            built = build_invoice(body, self._lookup_company, format_time(at or self.clock.now()))
            number = built.get("invoiceNumber") or self._free_number()
            invoice_id = self._next_invoice
            self._claim_number(number, invoice_id)
            self._next_invoice += 1
            record = {"id": invoice_id, "invoiceNumber": number, **built}
            self._invoice_ids.append(invoice_id)
            return copy_record(self._save(record, at, updated_by))

    def replace_invoice(
        self, invoice_id: int, body: Any, *, at: datetime | None = None, updated_by: str = "sandbox"
    ) -> Record:
        """PUT: replace every writable field; omitted ones reset to their defaults."""
        with self.lock:
            old = self._invoice(invoice_id)
            body = as_object(body, INVOICE)
            if not body.get("invoiceNumber"):
                raise required(INVOICE.name, "invoiceNumber")  # "Required On Updates" in the spec
            return self._update(old, body, at, updated_by)

    def patch_invoice(
        self, invoice_id: int, operations: Any, *, at: datetime | None = None, updated_by: str = "sandbox"
    ) -> Record:
        """PATCH: apply add/replace/remove operations to the current invoice."""
        with self.lock:
            old = self._invoice(invoice_id)
            current = {key: value for key, value in old.items() if key not in READ_ONLY}
            return self._update(old, apply_patch(copy_record(current), operations, INVOICE), at, updated_by)

    def delete_invoice(self, invoice_id: int) -> None:
        """Delete an invoice that has no payments and has not been applied as a credit memo [I]."""
        with self.lock:
            old = self._invoice(invoice_id)
            if self._ledger.in_use(invoice_id):
                message = f"Invoice {old['invoiceNumber']} has payments or credits applied and cannot be deleted."
                raise invalid(INVOICE.name, "InvalidField", message, "payments")
            del self._invoices[invoice_id]
            del self._invoice_ids[bisect_left(self._invoice_ids, invoice_id)]
            self._numbers.pop(str(old["invoiceNumber"]).upper(), None)
            if self.on_change is not None:
                self.on_change(None, invoice_id, "deleted")

    def get_invoice(self, invoice_id: int) -> Record:
        """Return one invoice or raise 404."""
        with self.lock:
            return copy_record(self._invoice(invoice_id))

    def find_invoice(self, invoice_number: str) -> Record | None:
        """Return the invoice numbered ``invoice_number`` (case-insensitive), if any."""
        with self.lock:
            invoice_id = self._numbers.get(invoice_number.upper())
            return None if invoice_id is None else copy_record(self._invoices[invoice_id])

    def invoices(self) -> list[Record]:
        """Return every invoice, by id."""
        with self.lock:
            return [copy_record(self._invoices[invoice_id]) for invoice_id in self._invoice_ids]

    def query_invoices(self, query: Query[T]) -> T:
        """Run ``query(ids, records)`` under the lock; records must not be mutated."""
        with self.lock:
            return query(self._invoice_ids, self._invoices)

    # -- payments ------------------------------------------------------------------------------------------
    def create_payment(
        self,
        invoice_id: int,
        body: dict[str, Any],
        *,
        at: datetime | None = None,
        updated_by: str = "sandbox",
    ) -> Record:
        """Record a payment (or, with ``credit: {"id"}``, apply a credit memo) on an invoice."""
        with self.lock:
            invoice = self._invoice(invoice_id)
            body = as_object(body, PAYMENT)
            credit = self._credit_memo(body["credit"], invoice) if body.get("credit") else None
            now_text = format_time(at or self.clock.now())
            row = self._ledger.new_row(invoice, credit, body, now_text, self._stamp(at, updated_by))
            self._ledger.add(row)
            self._touch(row, at, updated_by)
            return self._ledger.view(row, self._invoices)

    def delete_payment(
        self, invoice_id: int, payment_id: int, *, at: datetime | None = None, updated_by: str = "sandbox"
    ) -> None:
        """Remove a payment row; the invoice (and any credit memo it drew on) get their balance back."""
        with self.lock:
            self._invoice(invoice_id)
            row = self._ledger.row_of(invoice_id, payment_id)
            self._ledger.remove(row)
            self._touch(row, at, updated_by)

    def get_payment(self, invoice_id: int, payment_id: int) -> Record:
        """Return one payment row of an invoice or raise 404."""
        with self.lock:
            self._invoice(invoice_id)
            return self._ledger.view(self._ledger.row_of(invoice_id, payment_id), self._invoices)

    def payments(self, invoice_id: int) -> list[Record]:
        """Return an invoice's payment rows, by id."""
        with self.lock:
            self._invoice(invoice_id)
            rows = self._ledger.by_invoice.get(invoice_id, {})
            return [self._ledger.view(self._ledger.rows[row_id], self._invoices) for row_id in sorted(rows)]

    # -- internals -----------------------------------------------------------------------------------------
    def _stamp(self, at: datetime | None, updated_by: str, previous: Record | None = None) -> Record:
        """Return ``_info``: last change now, creation carried over from ``previous`` (or now when creating).

        ``dateEntered``/``enteredBy`` are on many ConnectWise models' ``_info``; on invoices they are [I].
        """
        moment = format_time(at or self.clock.now())
        entered = previous or {"dateEntered": moment, "enteredBy": updated_by}
        return {
            "lastUpdated": moment,
            "updatedBy": updated_by,
            "dateEntered": entered.get("dateEntered", moment),
            "enteredBy": entered.get("enteredBy", updated_by),
        }

    def _save(self, record: Record, at: datetime | None, updated_by: str, *, stamp: bool = True) -> Record:
        saved = self._ledger.derive(record)
        previous = self._invoices.get(saved["id"])
        if stamp or previous is None:
            saved["_info"] = self._stamp(at, updated_by, None if previous is None else previous["_info"])
        else:
            saved["_info"] = dict(previous["_info"])
        self._invoices[saved["id"]] = saved
        if self.on_change is not None:
            self.on_change(copy_record(saved), saved["id"], "added" if previous is None else "updated")
        return saved

    def _touch(self, row: Record, at: datetime | None, updated_by: str) -> None:
        """Re-derive and re-stamp the invoices a payment row changed (its invoice and its credit memo).

        Whether ConnectWise moves ``lastUpdated`` here is unverified [U]; ``cw_payments_touch_last_updated``
        (``sandbox/switches.py``) plays either reading; the amounts are re-derived under both.
        """
        stamp = bool(self.switches.get("cw_payments_touch_last_updated"))
        for invoice_id in (row["invoiceId"], row["creditId"]):
            if invoice_id is not None:
                self._save(self._invoices[invoice_id], at, updated_by, stamp=stamp)

    def _update(self, old: Record, body: Record, at: datetime | None, updated_by: str) -> Record:
        built = build_invoice(body, self._lookup_company, format_time(at or self.clock.now()))
        number = built.get("invoiceNumber") or old["invoiceNumber"]
        self._ledger.check_update(old, built)
        self._claim_number(number, old["id"])
        if str(number).upper() != str(old["invoiceNumber"]).upper():
            self._numbers.pop(str(old["invoiceNumber"]).upper(), None)
        record = {"id": old["id"], "invoiceNumber": number, **built}
        return copy_record(self._save(record, at, updated_by))

    def _invoice(self, invoice_id: int) -> Record:
        record = self._invoices.get(invoice_id)
        if record is None:
            raise not_found("Invoice", invoice_id)
        return record

    def _company(self, company_id: int) -> Record:
        record = self._companies.get(company_id)
        if record is None:
            raise not_found("Company", company_id)
        return record

    def _lookup_company(self, reference: Any, field: str) -> Record:
        """Resolve a CompanyReference body given by ``id`` or ``identifier``."""
        if not isinstance(reference, Mapping):
            raise invalid(INVOICE.name, "InvalidField", f"The {field} field must be an object.", field)
        if reference.get("id") is not None:
            found = self._companies.get(_int(reference["id"]))
            ident, path = reference["id"], f"{field}/id"
        else:
            ident, path = reference.get("identifier"), f"{field}/identifier"
            company_id = self._identifiers.get(str(ident).lower())
            found = None if company_id is None else self._companies[company_id]
        if found is None:
            raise invalid(INVOICE.name, "NotFound", f"Company {ident} not found", path)
        return found

    def _credit_memo(self, reference: Any, invoice: Record) -> Record:
        """Resolve the ``credit`` of a payment body to a CreditMemo invoice other than ``invoice``."""
        if not isinstance(reference, Mapping):
            raise invalid(PAYMENT.name, "InvalidField", "The credit field must be an object.", "credit")
        if reference.get("id") is not None:
            found = self._invoices.get(_int(reference["id"]))
            ident, path = reference["id"], "credit/id"
        else:
            ident, path = reference.get("identifier"), "credit/identifier"
            found_id = self._numbers.get(str(ident).upper())
            found = None if found_id is None else self._invoices[found_id]
        if found is None:
            raise invalid(PAYMENT.name, "NotFound", f"Invoice {ident} not found", path)
        if found["type"] != "CreditMemo" or found["id"] == invoice["id"]:
            message = f"Invoice {found['invoiceNumber']} is not a credit memo that can be applied to this invoice."
            raise invalid(PAYMENT.name, "InvalidField", message, "credit")
        return found

    def _claim_number(self, number: str, owner: int) -> None:
        """Reserve an invoice number for ``owner``; invoice numbers are unique [I]."""
        holder = self._numbers.get(str(number).upper())
        if holder is not None and holder != owner:
            message = f"Invoice number {number} is already in use."
            raise invalid(INVOICE.name, "ObjectExists", message, "invoiceNumber")
        self._numbers[str(number).upper()] = owner

    def _free_number(self) -> str:
        while str(self._next_number) in self._numbers:
            self._next_number += 1
        return str(self._next_number)


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise bad_request(f"The value {value!r} is not a valid id.") from None
