"""Test fixtures. Every database test runs on SQLite and on PostgreSQL.

SQLite: a migrated template file is made once per test process and copied for each test.
PostgreSQL: each xdist worker gets its own database, migrated once and truncated before each test.
The PostgreSQL server is OMS_TEST_DATABASE_URL (default: the local one on 127.0.0.1:5432); when it
cannot be reached the PostgreSQL variants skip with the reason, except under CI, where they fail.
"""

from __future__ import annotations

import atexit
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from oms.config import Settings
from oms.db import Database
from oms.db.base import Base
from oms.db.migrate import upgrade

PG_URL = os.environ.get("OMS_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SECRET = "test-secret-key-not-for-production"


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


_pg_state: dict[str, object] = {}


def _pg_database_url() -> str:
    """Create (once per worker) a database of our own beside the one we were given."""
    if "url" in _pg_state:
        return _pg_state["url"]  # type: ignore[return-value]
    if "error" in _pg_state:
        _skip_or_fail(str(_pg_state["error"]))
    base = make_url(PG_URL)
    # Unique per process, so parallel pytest runs on one server never share (or drop) a database.
    name = f"oms_test_{_worker()}_{os.getpid()}"
    try:
        admin = create_engine(base, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
    except Exception as exc:  # no server, no rights...
        _pg_state["error"] = f"PostgreSQL at {base.render_as_string(hide_password=True)} is not reachable: {exc}"
        _skip_or_fail(str(_pg_state["error"]))
    atexit.register(_drop_database, base, name)
    url = base.set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    _pg_state["url"] = url
    return url


def _drop_database(base, name: str) -> None:  # type: ignore[no-untyped-def]
    try:
        admin = create_engine(base, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    except Exception:  # best effort at exit
        pass


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must run the PostgreSQL tests)")
    pytest.skip(reason)


_sqlite_template: dict[str, Path] = {}


def _sqlite_url(tmp_path: Path) -> str:
    if "path" not in _sqlite_template:
        template_dir = Path(os.environ.get("TMPDIR", "/tmp")) / f"oms-test-template-{os.getpid()}"
        shutil.rmtree(template_dir, ignore_errors=True)
        template_dir.mkdir(parents=True)
        path = template_dir / "template.db"
        upgrade(f"sqlite:///{path}")
        _sqlite_template["path"] = path
    target = tmp_path / "oms.db"
    shutil.copyfile(_sqlite_template["path"], target)
    return f"sqlite:///{target}"


def truncate_all(db: Database) -> None:
    tables = [t.name for t in Base.metadata.sorted_tables]
    with db.write() as session:
        if db.dialect == "postgresql":
            session.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for name in reversed(tables):
                session.execute(text(f"DELETE FROM {name}"))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return _sqlite_url(tmp_path)
    return _pg_database_url()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        env="test",
        data_dir=tmp_path,
        database_url=database_url,
        secret_key=SECRET,  # type: ignore[arg-type]
        db_pool_size=5,
        log_level="warning",
    )


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = Database(settings.resolved_database_url(), pool_size=5, max_overflow=20)
    if database.dialect == "postgresql":
        truncate_all(database)
    yield database
    database.dispose()


pytest_plugins = ["tests.factories"]
