"""PostgreSQL's order capture writes in autocommit, one statement that is its own transaction. A
connection lost before that statement is sent costs nothing (the order takes the path that
reconnects and retries); one lost while it runs may have committed, so the order is not written a
second time: the client is told the outcome is unknown."""

from datetime import UTC, datetime

import psycopg
import pytest
from sqlalchemy import func, make_url, select, text

from oms.inventory.stock import ledger_mismatches
from oms.orders import capture_pg
from oms.orders.model import Order
from tests.factories import order_body

# PostgreSQL only: SQLite has no autocommit road and no connections to lose.
pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


@pytest.fixture
def shop(api, db):
    api.warehouse("NJ1")
    api.channel("web", warehouses=["NJ1"])
    api.product("MUG")
    api.receive("NJ1", "MUG", 100)
    yield api
    db.write_engine.dispose()  # connections this test broke must not reach the next test


def _admin(db):
    return psycopg.connect(
        make_url(db.url).set(drivername="postgresql").render_as_string(hide_password=False), autocommit=True
    )


def _kill(db, pid=None):
    """What a server restart does to the pool: every connection of this database (or one) is cut."""
    with _admin(db) as admin:
        if pid is None:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        else:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


def _orders(db):
    with db.read() as s:
        return s.scalar(select(func.count()).select_from(Order))


def test_orders_go_on_when_the_database_cut_every_pooled_connection(shop, db):
    for _ in range(3):
        shop.ok(shop.post("/orders", order_body([("MUG", 1)])), 201)
    held = [db.write_engine.raw_connection() for _ in range(6)]  # six connections in the pool,
    for connection in held:  # as after a busy minute
        connection.close()
    _kill(db)

    answers = [shop.post("/orders", order_body([("MUG", 1)])).status_code for _ in range(4)]

    assert answers == [201, 201, 201, 201]
    assert _orders(db) == 7 and shop.stock("MUG")["reserved"] == 7
    with db.read() as s:
        assert ledger_mismatches(s) == {}


def test_a_connection_lost_after_the_write_ran_is_reported_not_written_again(shop, db, monkeypatch):
    write = capture_pg.write

    def committed_then_cut(conn, *args, **kwargs):
        written = write(conn, *args, **kwargs)  # autocommit: the order exists now
        _kill(db, conn.info.backend_pid)
        conn.execute("SELECT 1")  # the reply that never comes: OperationalError, connection broken
        return written

    monkeypatch.setattr(capture_pg, "write", committed_then_cut)
    r = shop.post("/orders", order_body([("MUG", 2)]))

    assert (r.status_code, r.json()["error"]) == (503, "outcome_unknown"), r.text
    assert "Idempotency-Key" in r.json()["detail"]
    assert _orders(db) == 1 and shop.stock("MUG")["reserved"] == 2  # written once, not twice


def test_with_an_idempotency_key_the_unknown_outcome_is_the_keys_answer_for_good(shop, db, monkeypatch):
    write = capture_pg.write

    def committed_then_cut(conn, *args, **kwargs):
        written = write(conn, *args, **kwargs)
        _kill(db, conn.info.backend_pid)
        conn.execute("SELECT 1")
        return written

    monkeypatch.setattr(capture_pg, "write", committed_then_cut)
    headers = {"Idempotency-Key": "lost-reply-1"}
    first = shop.post("/orders", order_body([("MUG", 2)]), headers=headers)
    monkeypatch.undo()
    # Even once the key's lock has run out, a retry replays the answer instead of writing again.
    with db.write() as s:
        s.execute(text("UPDATE idempotency_keys SET locked_until = :past"), {"past": datetime(2000, 1, 1, tzinfo=UTC)})
    again = shop.post("/orders", order_body([("MUG", 2)]), headers=headers)

    assert (first.status_code, first.json()["error"]) == (503, "outcome_unknown"), first.text
    assert (again.status_code, again.json()["error"]) == (503, "outcome_unknown"), again.text
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert _orders(db) == 1


def test_a_connection_lost_at_commit_is_reported_not_run_again(shop, db):
    """Database.run retries what the database breaks off, but not a lost COMMIT: it may have
    committed, and running the use case again could do its work twice."""
    from oms.errors import OutcomeUnknown

    runs = []

    def use_case(session):
        runs.append(True)
        session.execute(text("SELECT 1"))
        _kill(db, session.connection().connection.driver_connection.info.backend_pid)

    with pytest.raises(OutcomeUnknown):
        db.run(use_case)
    assert len(runs) == 1
