"""Document-level matching: mirrors found, missing, duplicated, orphaned, or disagreeing on customer or total."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sync.reconcile.customers import CustomerMap
from sync.reconcile.model import CwCompany, CwDoc, Finding, FixSpec, Policy, QboCustomer, QboDoc, finding_key, loose_key
from sync.reconcile.text import company_label, doc_word, money, values_cw, values_qbo


@dataclass
class Matched:
    """The outcome of matching: CW/QBO pairs and the findings about documents themselves."""

    pairs: list[tuple[CwDoc, QboDoc]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    explained_cw: set[int] = field(default_factory=set)  # CW doc ids some finding accounts for
    explained_qbo: set[str] = field(default_factory=set)  # QBO doc ids some finding accounts for


@dataclass(frozen=True)
class Books:
    """Indexes over one snapshot that every pass shares."""

    companies: dict[int, CwCompany]
    customers: dict[str, QboCustomer]
    cmap: CustomerMap
    policy: Policy

    def company(self, doc: CwDoc) -> CwCompany | None:
        """The CW company of ``doc``."""
        return self.companies.get(doc.company_id) if doc.company_id is not None else None

    def customer_label(self, doc: CwDoc) -> str | None:
        """How a finding names the customer of ``doc``."""
        company = self.company(doc)
        return company_label(company) if company else None

    def finding(
        self,
        kind: str,
        doc: CwDoc,
        *,
        amount: Decimal,
        explanation: str,
        qbo: QboDoc | None = None,
        fix: FixSpec | None = None,
    ) -> Finding:
        """A finding about one ConnectWise document (keyed by its number), with both sides' values."""
        return Finding(
            kind=kind,
            key=finding_key(kind, doc.number),
            documents=(doc.number,),
            customer=self.customer_label(doc),
            amount=amount,
            explanation=explanation,
            cw=values_cw(doc),
            qbo=values_qbo(qbo) if qbo is not None else {},
            fix=fix,
        )


def match_documents(books: Books, cw_docs: tuple[CwDoc, ...], qbo_docs: tuple[QboDoc, ...]) -> Matched:
    """Pair every CW document with its QBO mirror and report what does not pair cleanly."""
    result = Matched()
    qbo_by_key: dict[tuple[bool, str], list[QboDoc]] = defaultdict(list)
    for qdoc in sorted(qbo_docs, key=lambda d: (len(d.id), d.id)):
        qbo_by_key[(qdoc.is_cm, qdoc.key)].append(qdoc)
    cw_keys: set[tuple[bool, str]] = set()
    missing: list[CwDoc] = []
    for doc in cw_docs:
        if not doc.is_closed:
            continue  # open (draft) documents are not posted to accounting yet
        cw_keys.add((doc.is_cm, doc.key))
        candidates = qbo_by_key.get((doc.is_cm, doc.key), [])
        if not candidates:
            missing.append(doc)
            continue
        mirror = _pick_mirror(books, doc, candidates)
        result.pairs.append((doc, mirror))
        for extra in candidates:
            if extra is not mirror:
                _duplicate_number(books, doc, mirror, extra, result)
        _compare_pair(books, doc, mirror, result)
    unpaired = [qdoc for (is_cm, key), docs in qbo_by_key.items() if (is_cm, key) not in cw_keys for qdoc in docs]
    held: set[str] = set()
    look_alikes = LookAlikes(unpaired)
    for doc in missing:
        _missing(books, doc, result, look_alikes, held)
    _qbo_only(books, qbo_by_key, cw_keys, result, held)
    return result


class LookAlikes:
    """QuickBooks documents a CW document may already have been copied to under another number: the same customer
    and the same number once normalised (``loose_key``), or the same customer, total and date."""

    def __init__(self, qbo_docs: Iterable[QboDoc]) -> None:
        self._by_number: dict[tuple[bool, str | None, str], list[QboDoc]] = defaultdict(list)
        self._by_amount: dict[tuple[bool, str | None, Decimal, date | None], list[QboDoc]] = defaultdict(list)
        for qdoc in qbo_docs:
            self._by_number[(qdoc.is_cm, qdoc.customer_id, loose_key(qdoc.number))].append(qdoc)
            if qdoc.date is not None:
                self._by_amount[(qdoc.is_cm, qdoc.customer_id, qdoc.total, qdoc.date)].append(qdoc)

    def of(self, is_cm: bool, customer_id: str, number: str, total: Decimal, day: date | None) -> list[QboDoc]:
        """The look-alikes of one document, those with a similar number first."""
        found = list(self._by_number.get((is_cm, customer_id, loose_key(number)), []))
        if day is not None:
            found += [q for q in self._by_amount.get((is_cm, customer_id, total, day), []) if q not in found]
        return found


def why_alike(number: str, total: Decimal, day: date | None, qdoc: QboDoc) -> str:
    """Say why ``qdoc`` looks like the copy of document ``number``."""
    if loose_key(qdoc.number) == loose_key(number):
        return "the same number once leading zeros, case, spaces, punctuation and suffixes are set aside"
    return f"the same customer, total ({money(total)}) and date ({day.isoformat() if day else '?'})"


def _pick_mirror(books: Books, doc: CwDoc, candidates: list[QboDoc]) -> QboDoc:
    expected = books.cmap.qbo_of.get(doc.company_id or -1)
    tol = books.policy.tolerance

    def score(qdoc: QboDoc) -> tuple[int, int]:
        return (int(qdoc.customer_id != expected), int(abs(qdoc.total - doc.total) > tol))

    return min(candidates, key=score)  # stable: ties keep the oldest (lowest Id)


def _missing(books: Books, doc: CwDoc, result: Matched, look_alikes: LookAlikes, held: set[str]) -> None:
    policy = books.policy
    if doc.last_updated is not None and policy.now - doc.last_updated < policy.grace:
        return  # the sync tool may simply not have run yet
    kind = "credit_memo_missing_in_qbo" if doc.is_cm else "invoice_missing_in_qbo"
    fix_kind = "mirror_credit_memo" if doc.is_cm else "mirror_invoice"
    customer = books.cmap.qbo_of.get(doc.company_id or -1)
    alike = look_alikes.of(doc.is_cm, customer, doc.number, doc.total, doc.date) if customer else []
    if alike:
        _held_back(books, doc, kind, alike[0], result)
        held.update(qdoc.id for qdoc in alike)
        return
    params = {"cw_id": str(doc.id), "number": doc.number, "amount": str(doc.total)}
    if customer:
        params["qbo_customer_id"] = customer
    result.explained_cw.add(doc.id)
    result.findings.append(
        books.finding(
            kind,
            doc,
            amount=doc.total,
            explanation=(
                f"ConnectWise {doc_word(doc.is_cm)} {doc.number} for {money(doc.total)} has no copy in QuickBooks"
                f"{'' if customer else ', and its company has no QuickBooks customer yet'}."
            ),
            fix=FixSpec(fix_kind, params) if customer else None,
        )
    )


def _held_back(books: Books, doc: CwDoc, kind: str, qdoc: QboDoc, result: Matched) -> None:
    """Tally never creates a second copy: a look-alike is reported for a person to confirm, and nothing is mirrored."""
    result.explained_cw.add(doc.id)
    result.explained_qbo.add(qdoc.id)
    word = doc_word(doc.is_cm)
    finding = books.finding(
        kind,
        doc,
        amount=doc.total,
        explanation=(
            f"ConnectWise {word} {doc.number} for {money(doc.total)} has no QuickBooks copy under that number, but "
            f"QuickBooks {word} {qdoc.number or f'Id {qdoc.id}'} (Id {qdoc.id}, {money(qdoc.total)}) has "
            f"{why_alike(doc.number, doc.total, doc.date, qdoc)}: it is probably the copy. Tally does not mirror "
            "it, so the customer is not billed twice; a person must confirm whether it is the same document."
        ),
        qbo=qdoc,
    )
    finding.qbo["possible_match"] = "yes"
    result.findings.append(finding)


def _duplicate_number(books: Books, doc: CwDoc, mirror: QboDoc, extra: QboDoc, result: Matched) -> None:
    kind = "duplicate_in_qbo"
    result.explained_qbo.add(extra.id)
    result.findings.append(
        books.finding(
            kind,
            doc,
            amount=extra.total,
            explanation=(
                f"QuickBooks holds two {doc_word(doc.is_cm)}s numbered {doc.number}: the mirror (Id {mirror.id}) "
                f"and another for {money(extra.total)} (Id {extra.id}), which overstates AR."
            ),
            qbo=extra,
        )
    )


def _compare_pair(books: Books, doc: CwDoc, mirror: QboDoc, result: Matched) -> None:
    tol = books.policy.tolerance
    expected = books.cmap.qbo_of.get(doc.company_id or -1)
    if expected is not None and mirror.customer_id != expected:
        kind = "customer_mismatch"
        actual = books.customers.get(mirror.customer_id or "")
        wanted = books.customers.get(expected)
        result.explained_cw.add(doc.id)
        result.explained_qbo.add(mirror.id)
        result.findings.append(
            books.finding(
                kind,
                doc,
                amount=doc.total,
                explanation=(
                    f"{doc_word(doc.is_cm).capitalize()} {doc.number} belongs to "
                    f"{wanted.display_name if wanted else 'another customer'} in ConnectWise, but its QuickBooks "
                    f"copy is under {actual.display_name if actual else 'an unknown customer'}."
                ),
                qbo=mirror,
            )
        )
    if abs(mirror.total - doc.total) > tol:
        kind = "amount_mismatch"
        result.explained_cw.add(doc.id)
        result.explained_qbo.add(mirror.id)
        result.findings.append(
            books.finding(
                kind,
                doc,
                amount=abs(mirror.total - doc.total),
                explanation=(
                    f"{doc_word(doc.is_cm).capitalize()} {doc.number} totals {money(doc.total)} in ConnectWise but "
                    f"{money(mirror.total)} in QuickBooks; someone edited one side after it was synced."
                ),
                qbo=mirror,
            )
        )


def _qbo_only(
    books: Books,
    qbo_by_key: dict[tuple[bool, str], list[QboDoc]],
    cw_keys: set[tuple[bool, str]],
    result: Matched,
    held: set[str],
) -> None:
    mirrors = {(q.customer_id, q.total, q.date, q.is_cm): q for _, q in result.pairs}
    mirror_cw = {q.id: d for d, q in result.pairs}
    for (is_cm, key), docs in qbo_by_key.items():
        if (is_cm, key) in cw_keys:
            continue
        for position, qdoc in enumerate(docs):
            if qdoc.id in held:
                continue  # a look-alike held back for a person: the missing-document finding names it
            original = mirrors.get((qdoc.customer_id, qdoc.total, qdoc.date, is_cm))
            if original is not None:
                _hand_typed_copy(books, mirror_cw[original.id], original, qdoc, result)
            elif position == 0:
                _orphan(books, qdoc, docs, result)
            else:
                result.explained_qbo.add(qdoc.id)  # a second copy of an orphan: the orphan finding covers it


def _hand_typed_copy(books: Books, doc: CwDoc, original: QboDoc, copy: QboDoc, result: Matched) -> None:
    kind = "duplicate_in_qbo"
    number = copy.number or f"Id {copy.id}"
    result.explained_qbo.add(copy.id)
    result.findings.append(
        Finding(
            kind=kind,
            key=finding_key(kind, doc.number, number),
            documents=(doc.number, number),
            customer=books.customer_label(doc),
            amount=copy.total,
            explanation=(
                f"QuickBooks {doc_word(copy.is_cm)} {number} was typed by hand and duplicates {doc.number} "
                f"(same customer, {money(copy.total)}, same date), so the customer is billed twice."
            ),
            cw=values_cw(doc),
            qbo=values_qbo(copy),
        )
    )


def _orphan(books: Books, qdoc: QboDoc, copies: list[QboDoc], result: Matched) -> None:
    kind = "orphan_in_qbo"
    number = qdoc.number or f"Id {qdoc.id}"
    customer = books.customers.get(qdoc.customer_id or "")
    result.explained_qbo.add(qdoc.id)
    result.findings.append(
        Finding(
            kind=kind,
            key=finding_key(kind, number),
            documents=(number,),
            customer=customer.display_name if customer else None,
            amount=sum((copy.total for copy in copies), Decimal("0.00")),
            explanation=(
                f"QuickBooks {doc_word(qdoc.is_cm)} {number} for {money(qdoc.total)} has no source in ConnectWise: "
                "it was typed by hand in QuickBooks, so ConnectWise's AR does not include it."
            ),
            qbo=values_qbo(qdoc),
        )
    )
