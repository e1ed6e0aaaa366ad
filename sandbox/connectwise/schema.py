"""The fields each resource exposes, for resolving ``conditions``, ``orderBy``, ``fields`` and PATCH paths.

Field names in conditions are case-insensitive (real integrations send ``LastUpdated >= [...]``), so each
name resolves to its canonical spelling. ``lastUpdated`` works on every resource as ``_info/lastUpdated``:
the research notes that ConnectWise accepts it "even if no such field exists in the object format"."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

ANY = frozenset({"*"})  # children of free-form objects (``_info``, custom fields)
REF = frozenset({"id", "identifier", "name", "_info"})
STATUS_REF = REF | {"isClosed"}
CURRENCY_REF = REF | {
    "symbol",
    "currencyCode",
    "decimalSeparator",
    "numberOfDecimals",
    "thousandsSeparator",
    "negativeParenthesesFlag",
    "displaySymbolFlag",
    "currencyIdentifier",
    "displayIdFlag",
    "rightAlign",
}
INVOICE_REF = frozenset({"id", "identifier", "billingType", "applyToType", "invoiceDate", "chargeFirmFlag", "_info"})


class UnknownField(Exception):
    """A field path the resource does not have."""

    def __init__(self, path: str, resource: str) -> None:
        super().__init__(path)
        self.path = path
        self.resource = resource


@dataclass(frozen=True, eq=False)
class Resource:
    """One ConnectWise model: its name and each top-level field with the children it allows."""

    name: str
    fields: Mapping[str, frozenset[str] | None]
    _lookup: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._lookup.update({name.lower(): name for name in self.fields})

    def resolve(self, path: str) -> tuple[str, ...]:
        """Return the canonical segments of ``path`` (case-insensitive); raise ``UnknownField``."""
        parts = path.split("/")
        top = self._lookup.get(parts[0].lower())
        if top is None:
            if parts[0].lower() == "lastupdated" and len(parts) == 1:
                return ("_info", "lastUpdated")
            raise UnknownField(path, self.name)
        children = self.fields[top]
        if len(parts) == 1:
            return (top,)
        if children is None:
            raise UnknownField(path, self.name)
        if children is ANY:
            return (top, *parts[1:])
        child = next((name for name in children if name.lower() == parts[1].lower()), None)
        if child is None or (len(parts) > 2 and child != "_info"):
            raise UnknownField(path, self.name)
        return (top, child, *parts[2:])

    def canonical(self, name: str) -> str | None:
        """Return ``name`` if it is exactly a top-level field (PATCH paths are case-sensitive)."""
        return name if name in self.fields else None


def _fields(scalars: Iterable[str], refs: Mapping[str, frozenset[str]]) -> dict[str, frozenset[str] | None]:
    out: dict[str, frozenset[str] | None] = dict.fromkeys(scalars)
    out.update(refs)
    return out


_INVOICE_SCALARS = str.split(
    """id invoiceNumber type accountNumber attention shipToAttention applyToType applyToId date dueDate
    reference customerPO taxableFlag locationId departmentId territoryId templateSetupId
    emailTemplateId addToBatchEmailList topComment bottomComment internalNotes serviceTotal
    expenseTotal productTotal agreementAmount serviceAdjustmentAmount downpaymentApplied
    previousProgressApplied remainingDownpayment subtotal salesTax total payments credits balance
    specialInvoiceFlag restrictDownpaymentFlag overrideDownPaymentAmountFlag
    downpaymentPreviouslyTaxedFlag adjustmentReason adjustedBy closedBy billingSiteAddressLine1
    billingSiteAddressLine2 billingSiteCity billingSiteState billingSiteZip billingSiteCountry
    shippingSiteAddressLine1 shippingSiteAddressLine2 shippingSiteCity shippingSiteState
    shippingSiteZip shippingSiteCountry"""
)
_INVOICE_REFS = {
    **dict.fromkeys(
        str.split(
            """company billToCompany shipToCompany billingSite shippingSite ticket project phase
            salesOrder agreement billingTerms location department territory invoiceTemplate taxCode
            glBatch unbatchedBatch billingSetupReference"""
        ),
        REF,
    ),
    "status": STATUS_REF,
    "currency": CURRENCY_REF,
    "customFields": ANY,
    "_info": ANY,
}
INVOICE = Resource("invoice", _fields(_INVOICE_SCALARS, _INVOICE_REFS))

_COMPANY_SCALARS = str.split(
    """id identifier name addressLine1 addressLine2 city state zip phoneNumber faxNumber website
    accountNumber dateAcquired annualRevenue numberOfEmployees leadFlag unsubscribeFlag
    vendorIdentifier taxIdentifier invoiceDeliveryMethod invoiceToEmailAddress invoiceCCEmailAddress
    deletedFlag dateDeleted deletedBy isVendorFlag mobileGuid facebookUrl twitterUrl linkedInUrl
    resellerIdentifier"""
)
_COMPANY_REFS = {
    **dict.fromkeys(
        str.split(
            """status country territory market defaultContact sicCode parentCompany timeZoneSetup
            leadSource taxCode billingTerms invoiceTemplate pricingSchedule companyEntityType
            billToCompany billingSite billingContact territoryManager site"""
        ),
        REF,
    ),
    "currency": CURRENCY_REF,
    "types": ANY,
    "integratorTags": ANY,
    "customFields": ANY,
    "_info": ANY,
}
COMPANY = Resource("company", _fields(_COMPANY_SCALARS, _COMPANY_REFS))

_PAYMENT_SCALARS = str.split(
    """id type source amount balance invoiceBalance invoiceTotal paymentDate appliedBy
    paymentSyncStatus glBatchID paymentSyncDate"""
)
_PAYMENT_REFS = {
    "invoice": INVOICE_REF,
    "credit": INVOICE_REF,
    "paymentAccount": REF,
    "aRPaymentAccount": REF,
    "wisePayPayment": ANY,
    "_info": ANY,
}
PAYMENT = Resource("payment", _fields(_PAYMENT_SCALARS, _PAYMENT_REFS))
