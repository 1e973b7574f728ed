"""Capture plans from stock read without locks. When that read is stale (another order took the
stock in between), the write must refuse itself and leave nothing behind, and the order is planned
again under row locks: on PostgreSQL the one-statement write (oms.orders.capture_pg) fails as a
whole, on SQLite the portable write rolls back."""

from dataclasses import replace

import pytest
from sqlalchemy import func, select

from oms.events.model import OutboxEvent
from oms.inventory.stock import bin_mismatches, ledger_mismatches
from oms.orders import capture, capture_pg
from oms.orders.model import Order, OrderEvent, OrderLine, Payment
from tests.factories import order_body


@pytest.fixture
def stale_reads(monkeypatch):
    """Every unlocked read sees 100 units on hand and none reserved, in every warehouse."""
    calls = []

    def inflate(read):
        def stale(*args, **kwargs):
            snap = read(*args, **kwargs)
            calls.append(read.__name__)
            return replace(snap, available={key: (100, 0) for key in snap.available})

        return stale

    monkeypatch.setattr(capture_pg, "read", inflate(capture_pg.read))
    monkeypatch.setattr(capture, "_read", inflate(capture._read))
    return calls


def _counts(db):
    with db.read() as s:
        return {
            model.__name__: s.scalar(select(func.count()).select_from(model))
            for model in (Order, OrderLine, Payment, OrderEvent, OutboxEvent)
        }


def _ledger_is_sound(db):
    with db.read() as s:
        assert ledger_mismatches(s) == {} and bin_mismatches(s) == {}


def test_a_stale_read_that_promised_stock_ends_in_a_clean_refusal(api, db, stale_reads):
    api.warehouse("NJ1")
    api.channel("web", warehouses=["NJ1"])
    api.product("MUG")
    api.receive("NJ1", "MUG", 2)
    before = _counts(db)

    r = api.post("/orders", order_body([("MUG", 3)]))

    assert r.status_code == 409 and r.json()["error"] == "insufficient_stock", r.text
    assert stale_reads, "the stale read was used"
    assert _counts(db) == before  # the refused write left no order, line, payment, timeline or event
    assert (api.stock("MUG")["on_hand"], api.stock("MUG")["reserved"]) == (2, 0)
    _ledger_is_sound(db)


def test_a_stale_read_is_planned_again_under_locks_and_the_order_goes_where_the_stock_is(api, db, stale_reads):
    api.warehouse("NJ1")
    api.warehouse("IL1")
    api.channel("web", warehouses=["NJ1", "IL1"])
    api.product("MUG")
    api.receive("NJ1", "MUG", 1)
    api.receive("IL1", "MUG", 5)

    order = api.ok(api.post("/orders", order_body([("MUG", 3)])), 201)

    assert stale_reads
    assert [a["warehouse"] for a in order["lines"][0]["allocations"]] == ["IL1"]
    assert order["lines"][0]["reserved"] == 3 and order["status"] == "confirmed"
    assert api.stock("MUG")["reserved"] == 3
    assert _counts(db)["Order"] == 1 and _counts(db)["OrderLine"] == 1
    _ledger_is_sound(db)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # SQLite never takes this write
def test_a_write_that_postgresql_breaks_off_is_decided_again_on_the_path_that_retries(api, db, monkeypatch):
    import psycopg

    api.warehouse("NJ1")
    api.channel("web", warehouses=["NJ1"])
    api.product("MUG")
    api.receive("NJ1", "MUG", 5)
    broken = []

    def deadlocked(*args, **kwargs):
        broken.append(True)
        raise psycopg.errors.DeadlockDetected("deadlock detected")

    monkeypatch.setattr(capture_pg, "write", deadlocked)
    order = api.ok(api.post("/orders", order_body([("MUG", 2)])), 201)

    assert broken and order["lines"][0]["reserved"] == 2
    assert _counts(db)["Order"] == 1 and api.stock("MUG")["reserved"] == 2
    _ledger_is_sound(db)
