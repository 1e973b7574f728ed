"""The transactional outbox and the worker that drains it."""

import threading
from collections import Counter
from datetime import timedelta

from sqlalchemy import select, update

from oms.db.base import utcnow
from oms.events.model import OutboxEvent
from oms.events.outbox import emit
from oms.events.worker import Registry, Worker


def _topics(db):
    with db.read() as s:
        return [t for (t,) in s.execute(select(OutboxEvent.topic).order_by(OutboxEvent.id))]


def test_events_are_written_with_their_cause_and_not_at_all_when_it_fails(api, db):
    api.warehouse("NJ1")
    api.product("MUG-1", reorder_point=2)
    api.channel("web")
    api.receive("NJ1", "MUG-1", 4)
    assert _topics(db) == ["stock.received"]
    assert api.order([("MUG-1", 9)], status=None).status_code == 409
    assert _topics(db) == ["stock.received"]
    api.order([("MUG-1", 1)])
    assert _topics(db)[-1] == "order.created"
    api.order([("MUG-1", 1)])  # available 4 -> 2: crosses the reorder point
    assert sorted(_topics(db)[-2:]) == ["order.created", "stock.low"]
    api.order([("MUG-1", 1)])  # already below: no second alert
    assert _topics(db).count("stock.low") == 1


def test_the_worker_delivers_each_event_to_each_handler_and_marks_it_processed(db):
    seen = []
    registry = Registry()
    registry.subscribe("order.created", "audit", lambda eid, topic, payload: seen.append(("audit", payload)))
    registry.subscribe("*", "all", lambda eid, topic, payload: seen.append(("all", topic)))
    with db.write() as s:
        emit(s, "order.created", {"order_id": 1})
        emit(s, "stock.low", {"product_id": 2})
    worker = Worker(db, registry)
    assert worker.drain() == 2
    assert seen == [("audit", {"order_id": 1}), ("all", "order.created"), ("all", "stock.low")]
    assert worker.drain() == 0
    with db.read() as s:
        assert all(e.processed_at is not None and e.attempts == 1 for e in s.scalars(select(OutboxEvent)))


def test_a_failing_handler_is_retried_later_without_repeating_the_handlers_that_succeeded(db):
    calls = Counter()
    failures = {"n": 1}

    def flaky(eid, topic, payload):
        calls["flaky"] += 1
        if failures["n"]:
            failures["n"] -= 1
            raise RuntimeError("mail server down")

    registry = Registry()
    registry.subscribe("*", "steady", lambda *a: calls.update(["steady"]))
    registry.subscribe("*", "flaky", flaky)
    with db.write() as s:
        emit(s, "order.created", {"order_id": 7})
    worker = Worker(db, registry)
    worker.drain()
    with db.read() as s:
        event = s.scalars(select(OutboxEvent)).one()
    assert event.processed_at is None and event.attempts == 1
    assert "mail server down" in event.last_error
    assert worker.drain() == 0  # backing off: not due yet
    with db.write() as s:  # time passes
        s.execute(update(OutboxEvent).values(available_at=utcnow() - timedelta(seconds=1)))
    worker.drain()
    assert calls == {"steady": 1, "flaky": 2}
    with db.read() as s:
        assert s.scalars(select(OutboxEvent)).one().processed_at is not None


def test_several_workers_draining_at_once_deliver_every_event_once(db):
    with db.write() as s:
        for i in range(120):
            emit(s, "order.created", {"order_id": i})
    delivered = Counter()
    lock = threading.Lock()

    def handler(eid, topic, payload):
        with lock:
            delivered[payload["order_id"]] += 1

    registry = Registry()
    registry.subscribe("order.created", "count", handler)
    workers = [Worker(db, registry, batch=10) for _ in range(3)]
    threads = [threading.Thread(target=w.drain) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(delivered) == list(range(120))
    assert set(delivered.values()) == {1}
