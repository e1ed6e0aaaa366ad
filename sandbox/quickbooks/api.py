"""The API operations behind the routes (and behind batch items): read, write, query, CDC, batch.

Each returns the response object without ``time`` (the server adds it) and raises ``QBOFault`` on error.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sandbox.quickbooks.entities import WRITABLE_ENTITIES
from sandbox.quickbooks.evaluate import QueryRunner
from sandbox.quickbooks.faults import QBOFault, invalid_reference, invalid_value, required, unsupported
from sandbox.quickbooks.query import parse
from sandbox.quickbooks.store import QBOCompany
from sandbox.quickbooks.values import parse_datetime
from sandbox.switches import Switches

CDC_WINDOW = timedelta(days=30)
CDC_LIMIT = 1000
BATCH_LIMIT = 30
CDC_ENTITIES = ("Customer", "Item", "Invoice", "CreditMemo", "Payment", "Account")


def read(company: QBOCompany, entity: str, entity_id: str) -> dict[str, Any]:
    """Answer ``GET /{entity}/{id}``."""
    if entity.lower() == "companyinfo":
        return {"CompanyInfo": company_info(company)}
    name = company.canonical(entity)
    return {name: company.row(name, entity_id)}


def company_info(company: QBOCompany) -> dict[str, Any]:
    """Return a minimal CompanyInfo for the realm."""
    return {
        "Id": "1",
        "SyncToken": "0",
        "CompanyName": f"Sandbox Company_US_{company.realm_id[-1:]}",
        "LegalName": "Sandbox Company",
        "Country": "US",
        "SupportedLanguages": "en",
        "domain": "QBO",
        "sparse": False,
    }


def write(
    company: QBOCompany,
    entity: str,
    body: Any,
    *,
    operation: str | None,
    include: str | None,
    custom_numbers: bool = True,
) -> dict[str, Any]:
    """Answer ``POST /{entity}`` as create, update, sparse update, delete or void.

    ``custom_numbers=False`` plays a company with "Custom transaction numbers" off: a created invoice or credit
    memo is numbered by QuickBooks whatever ``DocNumber`` it was sent with [I: research on
    ``Preferences.SalesFormsPrefs.CustomTxnNumbers``; whether QBO refuses or overrides is unverified].
    """
    name = company.canonical(entity)
    if not isinstance(body, dict):
        raise invalid_value(name, "request body is not a JSON object")
    if not custom_numbers and name in ("Invoice", "CreditMemo") and body.get("Id") in (None, ""):
        body = {key: value for key, value in body.items() if key != "DocNumber"}
    includes = {part.strip().lower() for part in (include or "").split(",") if part.strip()}
    allow_dup = "allowduplicatedocnum" in includes
    op = (operation or "").lower()
    if op == "delete":
        result = company.delete(name, body)
    elif op == "void" or (op in ("", "update") and "void" in includes):
        result = company.void(name, body)
    elif op not in ("", "create", "update"):
        raise unsupported(operation or "")
    elif body.get("Id") not in (None, ""):
        sparse = str(body.get("sparse", False)).lower() == "true"
        result = company.update(name, body, sparse=sparse, allow_duplicate_docnum=allow_dup)
    else:
        result = company.create(name, body, allow_duplicate_docnum=allow_dup)
    return {name: result}


def query(company: QBOCompany, runner: QueryRunner, text: str | None, drop_row: int = 0) -> dict[str, Any]:
    """Answer ``/query``; ``drop_row`` > 0 leaves out that (1-based) row of the page (``qbo_drop_row`` switch)."""
    if not text or not text.strip():
        raise required("query")
    answer = runner.run(company, parse(text))
    if drop_row > 0:
        for key, rows in list(answer.items()):
            if isinstance(rows, list) and len(rows) >= drop_row:
                answer = {**answer, key: rows[: drop_row - 1] + rows[drop_row:]}
    return {"QueryResponse": answer}


def preferences(company: QBOCompany, switches: Switches) -> dict[str, Any]:
    """Answer ``GET /preferences`` with the parts Tally reads, as the switches set them for this company.

    Field names follow Intuit's Preferences entity (https://developer.intuit.com/app/developer/qbo/docs/api/
    accounting/all-entities/preferences): ``SalesFormsPrefs.CustomTxnNumbers``, ``CurrencyPrefs.
    MultiCurrencyEnabled``/``HomeCurrency``, ``TaxPrefs.UsingSalesTax``. The rest of the entity is left out [I].
    """
    realm = company.realm_id
    return {
        "Preferences": {
            "Id": "1",
            "SyncToken": "0",
            "domain": "QBO",
            "sparse": False,
            "SalesFormsPrefs": {
                "CustomTxnNumbers": bool(switches.get("qbo_custom_txn_numbers", realm)),
                "AllowDeposit": False,
                "AllowDiscount": True,
                "AutoApplyCredit": True,
            },
            "CurrencyPrefs": {
                "MultiCurrencyEnabled": bool(switches.get("qbo_multicurrency", realm)),
                "HomeCurrency": {"value": "USD"},
            },
            "TaxPrefs": {"UsingSalesTax": bool(switches.get("qbo_sales_tax", realm))},
            "MetaData": {"CreateTime": "2024-01-01T00:00:00-08:00", "LastUpdatedTime": "2024-01-01T00:00:00-08:00"},
        }
    }


def cdc(
    company: QBOCompany, entities: str | None, changed_since: str | None, now: datetime, cap: int = CDC_LIMIT
) -> dict[str, Any]:
    """Answer ``/cdc?entities=...&changedSince=...`` with at most ``cap`` objects in all.

    Intuit caps a whole CDC answer, not each entity, at 1,000 objects ("The maximum number of entities that can be
    returned in a response is 1000", https://developer.intuit.com/app/developer/qbo/docs/learn/
    explore-the-quickbooks-online-api/change-data-capture). Which objects survive the cut is not said [U]: the
    sandbox keeps the oldest; a client must not rely on that.
    """
    if not entities:
        raise required("entities")
    if not changed_since:
        raise required("changedSince")
    names: list[str] = []
    for part in entities.split(","):
        matches = [name for name in CDC_ENTITIES if name.lower() == part.strip().lower()]
        if not matches:
            raise invalid_value("entities", part.strip())
        if matches[0] not in names:
            names.append(matches[0])
    try:
        since = parse_datetime(changed_since)
    except ValueError:
        raise invalid_value("changedSince", changed_since) from None
    if since < now - CDC_WINDOW:
        # Code and Message are a choice [I]; the Detail is the wording seen in a third-party report [V3].
        raise QBOFault(
            400,
            "500",
            "Unsupported Operation",
            f"Operation cdc with changedSince date {changed_since} which is older than fixed days is not supported.",
        )
    changed = company.changes(names, since, cap)
    blocks: list[dict[str, Any]] = []
    for name in names:
        rows = changed[name]
        blocks.append({name: rows, "startPosition": 1, "maxResults": len(rows)} if rows else {})
    return {"CDCResponse": [{"QueryResponse": blocks}]}


def batch(company: QBOCompany, runner: QueryRunner, body: Any, *, custom_numbers: bool = True) -> dict[str, Any]:
    """Answer ``/batch``: each item runs on its own; a failing item carries a ``Fault`` (HTTP stays 200)."""
    items = body.get("BatchItemRequest") if isinstance(body, dict) else None
    if not isinstance(items, list) or not items:
        raise required("BatchItemRequest")
    if len(items) > BATCH_LIMIT:
        # The limit is 30 payloads (D-LIMITS, B-BATCH); code and wording of the refusal are [I].
        raise QBOFault(
            400,
            "2010",
            "Request has invalid or unsupported property",
            f"Batch request has {len(items)} BatchItemRequest items; the maximum is {BATCH_LIMIT}.",
        )
    answers = []
    created: dict[str, set[str]] = {}  # objects this batch created, which its later items must not see
    for item in items:
        bid = str(item.get("bId", "")) if isinstance(item, dict) else ""
        try:
            _refuse_references_to(created, item)
            result = _batch_item(company, runner, item, custom_numbers)
        except QBOFault as fault:
            result = {"Fault": fault.fault()}
        else:
            result = _hide_created(created, result)
            if isinstance(item, dict) and str(item.get("operation", "")).lower() == "create":
                for name in WRITABLE_ENTITIES:
                    if isinstance(result.get(name), dict) and result[name].get("Id") is not None:
                        created.setdefault(name, set()).add(str(result[name]["Id"]))
        answers.append({"bId": bid, **result})
    return {"BatchItemResponse": answers}


# Items of one batch run one after another but "cannot see objects created by earlier items in the same batch"
# (Intuit developer blog, 2017-07-27, on batch operations) [V]. The sandbox plays that strictly: a later item
# referring to such an object is refused as an invalid reference (2500, as for any unknown id [I]) and a later
# query does not return it.
def _refuse_references_to(created: dict[str, set[str]], item: Any) -> None:
    if not created or not isinstance(item, dict):
        return
    for kind, ref_id in _references(item):
        if ref_id in created.get(kind, set()):
            raise invalid_reference(kind, ref_id)


def _references(value: Any, key: str = "") -> list[tuple[str, str]]:
    """(entity, id) of every ``XxxRef {"value"}`` and ``LinkedTxn {"TxnId", "TxnType"}`` in a body."""
    found: list[tuple[str, str]] = []
    if isinstance(value, dict):
        if key.endswith("Ref") and value.get("value") is not None:
            found.append((key[: -len("Ref")], str(value["value"])))
        if value.get("TxnId") is not None and value.get("TxnType"):
            found.append((str(value["TxnType"]), str(value["TxnId"])))
        for child_key, child in value.items():
            found += _references(child, str(child_key))
    elif isinstance(value, list):
        for child in value:
            found += _references(child, key)
    return found


def _hide_created(created: dict[str, set[str]], result: dict[str, Any]) -> dict[str, Any]:
    answer = result.get("QueryResponse")
    if not created or not isinstance(answer, dict):
        return result
    kept = dict(answer)
    for name, rows in answer.items():
        if isinstance(rows, list) and name in created:
            kept[name] = [row for row in rows if str(row.get("Id")) not in created[name]]
            if "maxResults" in kept:
                kept["maxResults"] = len(kept[name])
    return {**result, "QueryResponse": kept}


def _batch_item(company: QBOCompany, runner: QueryRunner, item: Any, custom_numbers: bool) -> dict[str, Any]:
    if not isinstance(item, dict) or not item.get("bId"):
        raise required("bId")
    if "Query" in item:
        return query(company, runner, str(item["Query"]))
    keys = [key for key in item if key in WRITABLE_ENTITIES]
    if len(keys) != 1:
        raise required("BatchItemRequest entity")
    operation = str(item.get("operation", "")).lower()
    if operation not in ("create", "update", "delete"):
        raise unsupported(f"batch operation {operation!r}")
    options = str(item.get("optionsData", "")).lower()
    if operation == "update" and options == "void":
        return write(company, keys[0], item[keys[0]], operation="update", include="void")
    if operation == "delete":
        return write(company, keys[0], item[keys[0]], operation="delete", include=None)
    return write(
        company, keys[0], item[keys[0]], operation=operation, include=options or None, custom_numbers=custom_numbers
    )
