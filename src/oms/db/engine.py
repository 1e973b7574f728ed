"""Engines and sessions.

SQLite: WAL, a busy timeout, foreign keys, and *our* transaction control: pysqlite's own BEGIN
handling is switched off so that write transactions start with ``BEGIN IMMEDIATE``. A deferred
transaction that later upgrades to a write lock fails at once under contention instead of
waiting; IMMEDIATE takes the write lock up front and waits on the busy timeout. Reads keep a
plain deferred BEGIN so they never queue behind writers (WAL lets them run beside one).

PostgreSQL: one engine, READ COMMITTED; stock rows are changed with conditional UPDATEs and, when
a race is seen, locked in key order (``oms.db.locks``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import psycopg
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from oms.errors import OutcomeUnknown

T = TypeVar("T")


def _make_engine(url: str, *, immediate: bool, pool_size: int, max_overflow: int, busy_s: float) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": busy_s},
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_pre_ping=False,
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see module doc)
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA busy_timeout={int(busy_s * 1000)}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        begin_sql = "BEGIN IMMEDIATE" if immediate else "BEGIN"

        @event.listens_for(engine, "begin")
        def _on_begin(conn):  # type: ignore[no-untyped-def]
            conn.exec_driver_sql(begin_sql)

        return engine
    # No pre-ping: it costs a round trip per checkout on the hot path. A connection that died
    # (server restart) is invalidated on first use and ``Database.run`` retries the use case; the
    # order capture's autocommit road discards it and falls back to ``Database.run``.
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=False,
        pool_recycle=1800,
    )


class Database:
    """The one owner of engines and sessions; built by create_app()/the CLI, never at import."""

    def __init__(self, url: str, *, pool_size: int = 10, max_overflow: int = 10, busy_s: float = 60.0) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.write_engine = _make_engine(
            url, immediate=True, pool_size=pool_size, max_overflow=max_overflow, busy_s=busy_s
        )
        self.read_engine = (
            _make_engine(url, immediate=False, pool_size=pool_size, max_overflow=max_overflow, busy_s=busy_s)
            if self.is_sqlite
            else self.write_engine
        )
        self._write = sessionmaker(self.write_engine, expire_on_commit=False, autoflush=False)
        self._read = sessionmaker(self.read_engine, expire_on_commit=False, autoflush=False)

    @property
    def dialect(self) -> str:
        return self.write_engine.dialect.name

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A unit of work: commits when the block ends, rolls back on any exception."""
        with self._write() as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._read() as session, session.begin():
            yield session

    @contextmanager
    def autocommit_connection(self) -> Iterator[psycopg.Connection]:
        """A pooled PostgreSQL driver connection in autocommit, for the hot path that writes in one
        statement (oms.orders.capture_pg): every statement is its own transaction, so there is no
        BEGIN or COMMIT to send. The connection goes back to the pool out of autocommit; if it broke
        (``psycopg.OperationalError`` with ``conn.broken``) it is discarded instead."""
        pooled = self.write_engine.raw_connection()
        conn = pooled.driver_connection
        try:
            conn.autocommit = True
            yield conn
        finally:
            try:
                if conn.broken or conn.closed:
                    pooled.invalidate()  # a dead connection never goes back to the pool
                else:
                    conn.autocommit = False
            except psycopg.Error:
                pooled.invalidate()  # not idle after all: it must not serve a session
            finally:
                pooled.close()

    def run(self, use_case: Callable[[Session], T], *, attempts: int = 5) -> T:
        """Run ``use_case`` in a write transaction, retrying on deadlock / serialization failure
        (PostgreSQL 40P01 / 40001) and on SQLite 'database is locked'. Nothing outside the database
        may happen inside ``use_case``: it can run more than once."""
        for attempt in range(1, attempts + 1):
            try:
                with self._write() as session:
                    transaction = session.begin()
                    try:
                        result = use_case(session)
                    except BaseException:
                        transaction.rollback()
                        raise
                    _commit(transaction)
                    return result
            except (OperationalError, DBAPIError) as exc:
                if attempt == attempts or not (_is_retryable(exc) or exc.connection_invalidated):
                    raise
                time.sleep(0.005 * attempt)
        raise AssertionError("unreachable")

    def dispose(self) -> None:
        self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            self.read_engine.dispose()


def _commit(transaction: SessionTransaction) -> None:
    """A connection lost during COMMIT leaves the outcome unknown: the server may have committed
    before the reply was lost. Running the use case again could do its work twice, so say so."""
    try:
        transaction.commit()
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise OutcomeUnknown(
                "the database connection was lost while the change was being committed, so it may or"
                " may not have been made: look before sending it again"
            ) from exc
        raise


def _is_retryable(exc: DBAPIError) -> bool:
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    if code in {"40P01", "40001"}:
        return True
    return "database is locked" in str(exc.orig)
