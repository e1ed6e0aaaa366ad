"""Notifications: what a body names, which are news (duplicates, replays and older news are not), the caller's rate,
and the coalescing of a burst into one check."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine

from sync.notifications import CW, QBO, CallerLimit, Coalescer, Listener, Notice, cw_notice, news, qbo_notices, sources

REALM = "9130350000000001"


def legacy(*entities: tuple[str, str, str, str], realm: str = REALM) -> dict[str, object]:
    return {
        "eventNotifications": [
            {
                "realmId": realm,
                "dataChangeEvent": {
                    "entities": [{"name": n, "id": i, "operation": op, "lastUpdated": at} for n, i, op, at in entities]
                },
            }
        ]
    }


def test_both_webhook_formats_name_the_documents_of_our_realm_only() -> None:
    body = legacy(("Payment", "9", "Create", "2026-12-03T05:00:00-08:00"))
    other = legacy(("Payment", "9", "Create", "2026-12-03T05:00:00-08:00"), realm="42")
    (notice,) = qbo_notices(body, REALM)
    assert (notice.entity, notice.id, notice.operation) == ("Payment", "9", "Create")
    assert notice.stamp == datetime(2026, 12, 3, 13, 0, tzinfo=UTC)
    assert qbo_notices(other, REALM) == []
    events = [
        {"id": "e1", "type": "qbo.creditmemo.created.v1", "time": "2026-12-03T13:00:00Z", "intuitentityid": "5",
         "intuitaccountid": REALM},
        {"id": "e2", "type": "qbo.invoice.voided.v1", "time": "2026-12-03T13:00:01Z", "intuitentityid": "6",
         "intuitaccountid": "42"},
    ]  # fmt: skip
    assert [(n.entity, n.id, n.operation) for n in qbo_notices(events, REALM)] == [("CreditMemo", "5", "created")]


def test_a_connectwise_callback_names_a_record_id_and_nothing_else_counts() -> None:
    notice = cw_notice({"MessageId": "m1", "Action": "updated", "Type": "invoice", "ID": 57, "Entity": "{}"}, None)
    assert notice == Notice(CW, "invoice", "57", "updated", message_id="m1")
    assert cw_notice({}, "58") == Notice(CW, "invoice", "58", "")
    assert cw_notice({"ID": "57; DROP"}, None) is None


def test_repeats_and_older_news_are_not_news(engine: Engine) -> None:
    at = datetime(2026, 12, 3, 13, 0, tzinfo=UTC)
    first = Notice(QBO, "Payment", "9", "Create", at)
    assert news(engine, QBO, [first]) == [first]
    assert news(engine, QBO, [first]) == []  # a duplicate or a replay
    older = Notice(QBO, "Payment", "9", "Update", at - timedelta(seconds=5))
    assert news(engine, QBO, [older]) == []  # out of order: already had newer news
    newer = Notice(QBO, "Payment", "9", "Update", at + timedelta(seconds=5))
    assert news(engine, QBO, [newer, Notice(QBO, "Invoice", "3", "Update", at)]) == [
        newer,
        Notice(QBO, "Invoice", "3", "Update", at),
    ]
    message = Notice(CW, "invoice", "57", "updated", message_id="m1")
    assert news(engine, CW, [message]) == [message]
    assert news(engine, CW, [message]) == []
    pushed = sources(engine)
    assert (pushed[QBO].received, pushed[QBO].ignored) == (4, 2)
    assert (pushed[CW].received, pushed[CW].ignored) == (2, 1)


def test_one_caller_is_held_to_its_rate() -> None:
    now = [0.0]
    limit = CallerLimit(3, clock=lambda: now[0])
    assert [limit.allow("10.0.0.1") for _ in range(4)] == [True, True, True, False]
    assert limit.allow("10.0.0.2")  # another caller has its own budget
    now[0] = 61.0
    assert limit.allow("10.0.0.1")


def test_a_burst_becomes_one_run_and_a_trickle_is_cut_at_max_wait() -> None:
    runs: list[int] = []
    done = threading.Event()

    def run(batch: list[Notice]) -> None:
        runs.append(len(batch))
        done.set()

    coalescer = Coalescer(run, quiet=0.3, max_wait=5.0)
    for index in range(50):
        coalescer.add([Notice(QBO, "Payment", str(index))])
    assert done.wait(3)
    time.sleep(0.5)
    assert runs == [50]
    trickle = Coalescer(lambda batch: runs.append(len(batch)), quiet=0.3, max_wait=0.8)
    started = time.monotonic()
    while time.monotonic() - started < 1.2:  # never quiet for 0.3 s
        trickle.add([Notice(QBO, "Payment", "x")])
        time.sleep(0.1)
    time.sleep(0.6)
    assert len(runs) >= 3  # the max wait cut the trickle into runs
    coalescer.stop()
    trickle.stop()


def test_the_listener_counts_the_checks_and_drops_what_is_over_the_rate(engine: Engine) -> None:
    checks = threading.Event()
    listener = Listener(
        engine, checks.set, realm_id=REALM, quiet=timedelta(seconds=0.1), max_wait=timedelta(seconds=1),
        callback_rate=2,
    )  # fmt: skip
    assert len(listener.cw({"ID": 1, "MessageId": "a"}, None, "10.0.0.9")) == 1
    assert len(listener.cw({"ID": 2, "MessageId": "b"}, None, "10.0.0.9")) == 1
    assert listener.cw({"ID": 3, "MessageId": "c"}, None, "10.0.0.9") == []  # over the caller's rate
    assert checks.wait(3)
    deadline = time.monotonic() + 3
    while sources(engine)[CW].checks < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    source = sources(engine)[CW]
    assert (source.received, source.ignored, source.checks) == (3, 1, 1)
    listener.stop()
