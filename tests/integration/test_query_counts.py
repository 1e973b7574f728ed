"""POST /orders costs a fixed number of statements: on PostgreSQL two (oms.orders.capture_pg), each
its own transaction, on SQLite a fixed number plus one conditional UPDATE per stock row."""

import psycopg
import pytest
from sqlalchemy import event

from tests.factories import order_body


class StatementCounter:
    """Counts statements where they reach the driver. On PostgreSQL a psycopg cursor class does it,
    because the capture runs its statements on the pooled driver connection, below SQLAlchemy; it
    also notes whether each ran in autocommit (no BEGIN and COMMIT around it)."""

    def __init__(self, db):
        self.statements: list[str] = []
        self.autocommit: list[bool] = []
        self.postgresql = db.dialect == "postgresql"
        self.engines = {db.write_engine, db.read_engine}

    def __enter__(self):
        for engine in self.engines:
            if self.postgresql:
                event.listen(engine, "checkout", self._count_on)
                event.listen(engine, "checkin", self._count_off)
            else:
                event.listen(engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc):
        for engine in self.engines:
            if self.postgresql:
                event.remove(engine, "checkout", self._count_on)
                event.remove(engine, "checkin", self._count_off)
            else:
                event.remove(engine, "before_cursor_execute", self._record)

    def _record(self, conn, cursor, statement, params, context, executemany):
        self.statements.append(" ".join(statement.split()))

    def _count_on(self, dbapi_conn, record, proxy):
        counter = self

        class Counting(psycopg.Cursor):
            def execute(self, query, params=None, **kwargs):
                text = query.decode() if isinstance(query, bytes) else str(query)
                counter.statements.append(" ".join(text.split()))
                counter.autocommit.append(self.connection.autocommit)
                return super().execute(query, params, **kwargs)

        dbapi_conn.cursor_factory = Counting

    def _count_off(self, dbapi_conn, record):
        if dbapi_conn is not None:
            dbapi_conn.cursor_factory = psycopg.Cursor


@pytest.fixture
def shop(api):
    api.warehouse("NJ1")
    api.warehouse("IL1")
    api.channel("web", warehouses=["NJ1", "IL1"])
    for i in range(12):
        api.product(f"SKU-{i}")
        api.receive("NJ1", f"SKU-{i}", 100)
    return api


def _count(shop, db, lines):
    return _counter(shop, db, lines).statements


def _counter(shop, db, lines):
    with StatementCounter(db) as counter:
        shop.ok(shop.post("/orders", order_body(lines)), 201)
    return counter


def test_creating_an_order_takes_a_fixed_number_of_statements(shop, db):
    _count(shop, db, [("SKU-0", 1)])  # warm caches (first-use reflection and the like)
    two = _count(shop, db, [("SKU-1", 1), ("SKU-2", 1)])
    ten = _count(shop, db, [(f"SKU-{i}", 1) for i in range(2, 12)])
    if db.dialect == "postgresql":
        # One read and one write, whatever the number of lines, each its own transaction.
        assert len(two) == len(ten) == 2, "\n".join(ten)
        assert two[1].startswith("WITH d AS") and "UPDATE stock_levels" in " ".join(ten), "\n".join(ten)
        assert _counter(shop, db, [("SKU-3", 1)]).autocommit == [True, True]
        return
    updates_two = sum(s.startswith("UPDATE stock_levels") for s in two)
    updates_ten = sum(s.startswith("UPDATE stock_levels") for s in ten)
    assert (updates_two, updates_ten) == (2, 10), "\n".join(two)
    # Everything but the per-row stock UPDATEs is independent of the number of lines: no N+1.
    assert len(ten) - updates_ten == len(two) - updates_two, "\n".join(ten)
    assert len(two) <= 13, "\n".join(two)
