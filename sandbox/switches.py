"""Run-time switches: which reading of an unverified API fact a sandbox plays.

Several things Tally relies on could not be verified against a real ConnectWise or QuickBooks company (see the
comments citing public sources next to each behaviour). Each switch below picks one reading, so a test, ``tally
doctor`` or a person at the terminal can check Tally under every reading. Defaults are the reading the sandbox
played before the switches existed.

Set them while a sandbox runs::

    POST /_sandbox/switches   {"cw_closed_flag": "missing", "cw_credit_memo_negative": true}   (ConnectWise)
    POST /_sandbox/switches   {"qbo_custom_txn_numbers": false, "realm": "9130..."}           (QuickBooks)
    GET  /_sandbox/switches   -> every switch and its current value

or at start: ``tally sandbox serve --cw-switch cw_closed_flag=null --qbo-switch qbo_multicurrency=true``.
An unknown name or a value of the wrong kind is answered 400 with a sentence; nothing is changed then.

ConnectWise switches
    ``cw_payments_touch_last_updated`` (bool, default true)
        Whether adding or removing a payment or credit row moves the invoice's (and the memo's)
        ``_info.lastUpdated``. Unverified [U]: no public source says either way. False makes an incremental sync
        (``lastUpdated >= cursor``) blind to payments; only the scheduled full sweep sees them.
    ``cw_credit_memo_negative`` (bool, default false)
        Whether credit memos are served with negative ``total``/``subtotal``/``salesTax``/``credits``/``balance``.
        Unverified [U] (research: the sign convention of ``Invoice.total`` on a CreditMemo is not documented in
        the 2025.1 model, https://github.com/ai-connor/connectwise ``model_invoice.go``). The sandbox stores memos
        positive either way; the switch only changes what GET answers.
    ``cw_closed_flag`` ("present" | "missing" | "null", default "present")
        Whether ``status.isClosed`` is sent, left out, or sent as ``null`` on invoices (and on a list's rows).
        Older codebases are reported to lack it [U].
    ``cw_link_style`` ("rel" | "bare", default "rel")
        The ``Link`` header form: RFC 5988 with ``rel="next"`` etc., or only the next page's ``<url>`` without any
        ``rel`` (the form ChristayLorCodes/ConnectWiseManageAPI ``Invoke-CWMAllResult.ps1`` copes with by taking
        ``Link.Split(';')[0]``).
    ``cw_forward_only`` (bool, default true)
        Whether the ``pagination-type: forward-only`` header is honoured. False plays a codebase before 2018.5
        (developer guide: forward-only paging "released 2018.5"): the header is ignored and ``page``/``pageSize``
        paging answers.
    ``cw_drop_row`` (int, default 0)
        Leave out the row at this 1-based position of every list page of invoices and companies while ``/count``
        still counts it: a list that silently loses a row, which a full read must notice. 0 = off.

QuickBooks switches (``realm`` in the body limits the call to one company; without it, every company)
    ``qbo_custom_txn_numbers`` (bool, default true)
        ``Preferences.SalesFormsPrefs.CustomTxnNumbers``. When false, QBO numbers sales forms itself and the
        ``DocNumber`` Tally sends is replaced [I: research, "Custom transaction numbers" company setting].
    ``qbo_multicurrency`` (bool, default false)
        ``Preferences.CurrencyPrefs.MultiCurrencyEnabled``.
    ``qbo_sales_tax`` (bool, default false)
        ``Preferences.TaxPrefs.UsingSalesTax``.
    ``qbo_cdc_cap`` (int, default 1000)
        How many objects one CDC answer holds at most, across all requested entities (Intuit: "The maximum number
        of entities that can be returned in a response is 1000", https://developer.intuit.com/app/developer/qbo/
        docs/learn/explore-the-quickbooks-online-api/change-data-capture). Lower it to test truncation cheaply.
    ``qbo_drop_row`` (int, default 0)
        Leave out the row at this 1-based position of every ``SELECT *`` query page while ``count(*)`` still
        counts it. 0 = off.
    ``qbo_hard_expiry_days`` (int, default 1826)
        How long after its consent a grant's refresh tokens die for good; token answers report what is left in
        ``x_refresh_token_hard_expires_in`` (Intuit's five-year cap, blogs.intuit.com 2025-11-12). Lower it to see
        a connection near its hard expiry. Per realm with ``"realm"``.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sandbox.web import Request, Response

Value = bool | int | str


@dataclass(frozen=True)
class Switch:
    """One switch: its default and, for a text switch, the values it accepts."""

    name: str
    default: Value
    choices: tuple[str, ...] = ()

    def parse(self, value: Any) -> Value:
        """Check (and, from text, convert) a value; raise ``ValueError`` with a sentence."""
        if isinstance(self.default, bool):
            if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", "yes", "no"):
                return value.strip().lower() in ("true", "1", "yes")
            if isinstance(value, bool):
                return value
            raise ValueError(f"{self.name} takes true or false, not {value!r}.")
        if isinstance(self.default, int):
            try:
                number = int(value) if not isinstance(value, bool) else None
            except (TypeError, ValueError):
                number = None
            if number is None or number < 0:
                raise ValueError(f"{self.name} takes a whole number of 0 or more, not {value!r}.")
            return number
        text = str(value).strip().lower()
        if text not in self.choices:
            raise ValueError(f"{self.name} takes one of {', '.join(self.choices)}, not {value!r}.")
        return text


CW_SWITCHES: tuple[Switch, ...] = (
    Switch("cw_payments_touch_last_updated", True),
    Switch("cw_credit_memo_negative", False),
    Switch("cw_closed_flag", "present", ("present", "missing", "null")),
    Switch("cw_link_style", "rel", ("rel", "bare")),
    Switch("cw_forward_only", True),
    Switch("cw_drop_row", 0),
)
QBO_SWITCHES: tuple[Switch, ...] = (
    Switch("qbo_custom_txn_numbers", True),
    Switch("qbo_multicurrency", False),
    Switch("qbo_sales_tax", False),
    Switch("qbo_cdc_cap", 1000),
    Switch("qbo_drop_row", 0),
    Switch("qbo_hard_expiry_days", 1826),
)


class Switches:
    """The current value of each switch of one sandbox, with optional per-realm overrides (QuickBooks)."""

    def __init__(self, switches: tuple[Switch, ...]) -> None:
        self._specs = {switch.name: switch for switch in switches}
        self._values: dict[str, Value] = {switch.name: switch.default for switch in switches}
        self._by_realm: dict[str, dict[str, Value]] = {}
        self._lock = threading.Lock()

    def get(self, name: str, realm: str | None = None) -> Any:
        """Return a switch's value (for ``realm`` when it has its own)."""
        with self._lock:
            if realm is not None and name in self._by_realm.get(realm, {}):
                return self._by_realm[realm][name]
            return self._values[name]

    def configure(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Set the switches named in ``body`` (all checked before any is set) and return the new snapshot."""
        realm = body.get("realm")
        parsed: dict[str, Value] = {}
        for name, value in body.items():
            if name == "realm":
                continue
            spec = self._specs.get(name)
            if spec is None:
                raise ValueError(f"There is no switch called {name!r}; the switches are {', '.join(self._specs)}.")
            parsed[name] = spec.parse(value)
        with self._lock:
            if realm is None:
                self._values.update(parsed)
                for overrides in self._by_realm.values():
                    for name in parsed:
                        overrides.pop(name, None)
            else:
                self._by_realm.setdefault(str(realm), {}).update(parsed)
        return self.snapshot()

    def snapshot(self) -> dict[str, Any]:
        """Every switch's value, plus ``realms`` with the per-company overrides when there are any."""
        with self._lock:
            answer: dict[str, Any] = dict(self._values)
            if any(self._by_realm.values()):
                answer["realms"] = {realm: dict(values) for realm, values in self._by_realm.items() if values}
            return answer


def parse_assignments(items: list[str], switches: tuple[Switch, ...]) -> dict[str, Value]:
    """Parse ``name=value`` command-line items; raise ``ValueError`` with a sentence on a bad one."""
    specs = {switch.name: switch for switch in switches}
    parsed: dict[str, Value] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or name not in specs:
            raise ValueError(f"{item!r} is not name=value with one of the switches {', '.join(specs)}.")
        parsed[name] = specs[name].parse(value)
    return parsed


def cw_switches() -> Switches:
    """Fresh ConnectWise switches at their defaults."""
    return Switches(CW_SWITCHES)


def qbo_switches() -> Switches:
    """Fresh QuickBooks switches at their defaults."""
    return Switches(QBO_SWITCHES)


def switches_admin(switches: Switches, request: Request) -> Response:
    """Answer ``GET|POST /_sandbox/switches`` for a sandbox server (400 with a sentence on a bad body)."""
    if request.method == "POST":
        try:
            body = request.json() if request.body else {}
        except ValueError:
            return Response.json({"message": "The switches must be a JSON object."}, status=400)
        if not isinstance(body, dict):
            return Response.json({"message": "The switches must be a JSON object."}, status=400)
        try:
            return Response.json(switches.configure(body))
        except ValueError as exc:
            return Response.json({"message": str(exc)}, status=400)
    return Response.json(switches.snapshot())
