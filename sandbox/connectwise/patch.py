"""PATCH bodies: a JSON-Patch-like array of ``add`` / ``replace`` / ``remove`` operations.

Per the developer guide, ``path`` names a top-level field, case-sensitively, and objects are replaced whole.
A nested path such as ``company/identifier`` is accepted and changes nothing: the guide warns it "can give a
false 200", and a faithful stand-in must let a client make that mistake visibly only on read-back."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sandbox.connectwise.errors import bad_request, invalid
from sandbox.connectwise.records import READ_ONLY, Record, copy_value
from sandbox.connectwise.schema import Resource

OPERATIONS = ("add", "replace", "remove")


def apply_patch(body: Record, operations: Any, resource: Resource) -> Record:
    """Apply ``operations`` to ``body`` (a writable copy of the record) and return it."""
    if not isinstance(operations, list) or not operations:
        raise bad_request("The request body must be a non-empty array of patch operations.")
    for operation in operations:
        if not isinstance(operation, Mapping):
            raise bad_request("Each patch operation must be an object with op, path and value.")
        _apply_one(body, operation, resource)
    return body


def _apply_one(body: Record, operation: Mapping[str, Any], resource: Resource) -> None:
    kind = str(operation.get("op") or "").lower()
    if kind not in OPERATIONS:
        message = f"The op '{operation.get('op')}' is not supported; use add, replace or remove."
        raise invalid(resource.name, "InvalidField", message, "op")
    path = str(operation.get("path") or "")
    path = path[1:] if path.startswith("/") else path  # JSON-Patch style "/field" tolerated [I]
    top, _, rest = path.partition("/")
    if resource.canonical(top) is None:
        message = f"The field '{path}' does not exist on {resource.name}; patch paths are case-sensitive."
        raise invalid(resource.name, "InvalidField", message, path or "path")
    if rest or top in READ_ONLY:
        return  # the documented false 200: nested paths and read-only fields change nothing
    if kind == "remove":
        body.pop(top, None)
        return
    if "value" not in operation:
        raise invalid(resource.name, "MissingRequiredField", f"The {kind} operation needs a value.", path)
    body[top] = copy_value(operation["value"])
