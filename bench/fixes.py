"""Measure the fixes Tally plans on seeded books (run on demand: ``python bench/fixes.py [--large]``).

For each set of books: serve them, run one check (sync, reconcile, propose), compare the findings with the
manifest (missed / extra), approve every proposed fix in a random order and execute it against the sandboxes, then
count what a bookkeeper cares about:

- fixes proposed, and how each ended (succeeded, superseded by the re-check, failed, unsure);
- fixes refused by a sandbox (a write sent and turned down, e.g. an amount over the balance) — target 0;
- mirrored documents that duplicate one QuickBooks already had (same customer and a look-alike number, or the same
  total and date) — target 0;
- fixes proposed again unchanged by a second check after a spent one — target 0.

Exits non-zero when a target is missed or the findings differ from the manifest.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from sync.actions import approve, approver_check, execute  # noqa: E402
from sync.checks import run_check  # noqa: E402
from sync.db import make_engine, session_scope  # noqa: E402
from sync.migrate import upgrade  # noqa: E402
from sync.models import Action  # noqa: E402
from sync.reconcile.model import loose_key  # noqa: E402
from sync.settings import load_settings  # noqa: E402
from tests.sandboxes import cw_client, qbo_client, sandbox  # noqa: E402

APPROVERS = ("U1", "U2")


def run(dataset: str, seed: int) -> dict[str, Any]:
    """One set of books, end to end; return the numbers."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, sandbox(dataset, seed=seed) as running:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'tally.db'}")
        upgrade(engine)
        settings = load_settings(_env_file=None, **running.env(), TALLY_APPROVERS=",".join(APPROVERS))
        manifest = running.books.manifest
        with cw_client(running) as cw, qbo_client(running) as qbo:
            first = run_check(engine, settings, cw=cw, qbo=qbo, actor="bench")
            found = {(f.kind, f.key) for f in first.findings}
            planted = {(f.kind, f.key) for f in manifest.findings}
            proposed = [a for a in first.actions.values() if a.status == "proposed" and a.id is not None]
            random.Random(seed).shuffle(proposed)
            is_approver = approver_check(settings)
            ended: Counter[str] = Counter()
            refused = []
            for action in proposed:
                assert action.id is not None
                for approver in APPROVERS:
                    if approve(engine, action.id, approver=approver, is_approver=is_approver).ready:
                        break
                done = execute(engine, action.id, cw=cw, qbo=qbo, actor="U1", tolerance=settings.tolerance)
                ended[done.status] += 1
                if done.status == "failed":
                    refused.append(f"{done.kind} {done.description}: {done.result}")
            duplicates = _duplicate_mirrors(engine, running)
            second = run_check(engine, settings, cw=cw, qbo=qbo, actor="bench")
            again = _proposed_again_unchanged(engine)
        engine.dispose()
    return {
        "books": f"{dataset} seed {seed}",
        "planted": len(planted),
        "found": len(found),
        "missed": len(planted - found),
        "extra": len(found - planted),
        "fixes_proposed": len(proposed),
        "ended": dict(ended),
        "refused_by_sandbox": len(refused),
        "refusals": refused[:5],
        "duplicate_mirrors": duplicates,
        "proposed_again_unchanged": again,
        "fixable_after": sum(1 for f in second.findings if f.fix is not None),
        "seconds": round(time.perf_counter() - started, 1),
    }


def _duplicate_mirrors(engine: Any, running: Any) -> int:
    """Mirrors Tally created although QuickBooks already had a look-alike of the same customer."""
    with session_scope(engine) as session:
        created = [
            a.remote_id
            for a in session.execute(select(Action).where(Action.status == "succeeded")).scalars()
            if a.kind in ("mirror_invoice", "mirror_credit_memo")
        ]
    books = running.qbo.service.store.company(running.app.realm_id)
    docs = [*books.all("Invoice"), *books.all("CreditMemo")]
    count = 0
    for doc in docs:
        if doc["Id"] not in created:
            continue
        customer = doc["CustomerRef"]["value"]
        for other in docs:
            if other is doc or other["CustomerRef"]["value"] != customer:
                continue
            same_number = loose_key(other.get("DocNumber")) == loose_key(doc.get("DocNumber"))
            same_money = other["TotalAmt"] == doc["TotalAmt"] and other.get("TxnDate") == doc.get("TxnDate")
            if same_number or same_money:
                count += 1
                break
    return count


def _proposed_again_unchanged(engine: Any) -> int:
    """Actions whose params repeat an earlier spent (failed or superseded) action of the same finding."""
    with session_scope(engine) as session:
        rows = list(session.execute(select(Action).order_by(Action.id)).scalars())
    spent: dict[str, set[str]] = {}
    again = 0
    for row in rows:
        params = json.loads(row.params or "{}")
        params.pop("date", None)
        shape = json.dumps(params, sort_keys=True)
        if shape in spent.get(row.finding_key, set()):
            again += 1
        if row.status in ("failed", "superseded"):
            spent.setdefault(row.finding_key, set()).add(shape)
    return again


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", action="store_true", help="also the large books (seed 1): several minutes")
    args = parser.parse_args()
    runs = [("small", seed) for seed in (1, 4, 9, 13)] + ([("large", 1)] if args.large else [])
    failed = False
    for dataset, seed in runs:
        numbers = run(dataset, seed)
        print(json.dumps(numbers), flush=True)
        failed |= bool(numbers["missed"] or numbers["extra"] or numbers["refused_by_sandbox"])
        failed |= bool(numbers["duplicate_mirrors"] or numbers["proposed_again_unchanged"])
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
