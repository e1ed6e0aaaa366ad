"""The generator's ground truth: finding kinds and keys, ``Finding``, ``NotFinding`` and the ``Manifest``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

# The reconciliation vocabulary (docs/vocabulary.md), in its order.
KINDS = (
    "invoice_missing_in_qbo",
    "credit_memo_missing_in_qbo",
    "amount_mismatch",
    "customer_mismatch",
    "duplicate_in_qbo",
    "orphan_in_qbo",
    "payment_not_synced",
    "payment_only_in_cw",
    "credit_not_applied_in_qbo",
    "credit_not_applied_in_cw",
    "balance_mismatch",
)

Record = dict[str, Any]


def finding_key(kind: str, *numbers: str) -> str:
    """Return the stable finding key: kind and the document numbers, stripped of whitespace and upper-cased."""
    return ":".join([kind, *("".join(n.split()).upper() for n in numbers)])


@dataclass(frozen=True, slots=True)
class Finding:
    """One planted discrepancy, as the reconciliation engine should report it."""

    kind: str
    key: str
    documents: tuple[str, ...]
    customer: str  # CW accountNumber
    amount: Decimal  # money at stake
    note: str
    fix: str = ""  # the fix a bookkeeper expects, where it matters: "none: <why>" or "<kind> <amount>"

    def to_dict(self) -> dict[str, Any]:
        """Return the manifest JSON form."""
        found = {
            "kind": self.kind,
            "key": self.key,
            "documents": list(self.documents),
            "customer": self.customer,
            "amount": str(self.amount),
            "note": self.note,
        }
        return found | ({"fix": self.fix} if self.fix else {})


@dataclass(frozen=True, slots=True)
class NotFinding:
    """Something that looks odd but that a correct engine must not report."""

    reason: str  # in_grace | open_in_cw | rounding | payment_rounding | look_alike
    documents: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return the manifest JSON form."""
        return {"reason": self.reason, "documents": list(self.documents)}


@dataclass(frozen=True)
class Manifest:
    """Ground truth for one generated set of books."""

    seed: int
    size: str
    now: datetime
    counts: dict[str, int]
    findings: tuple[Finding, ...]
    not_findings: tuple[NotFinding, ...]
    totals: dict[str, dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        """Return the manifest as JSON-ready data (amounts as strings)."""
        return {
            "seed": self.seed,
            "size": self.size,
            "now": self.now.isoformat(),
            "counts": dict(self.counts),
            "findings": [f.to_dict() for f in self.findings],
            "not_findings": [n.to_dict() for n in self.not_findings],
            "totals": {side: {k: _plain(v) for k, v in values.items()} for side, values in self.totals.items()},
        }

    def to_json(self) -> str:
        """Return the manifest as indented JSON."""
        return json.dumps(self.to_dict(), indent=2)

    def write(self, path: str | Path) -> None:
        """Write the manifest JSON to ``path``."""
        Path(path).write_text(self.to_json() + "\n", encoding="utf-8")


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value
