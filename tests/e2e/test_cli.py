"""The `oms` command, run as a real process."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SECRET

OMS = str(Path(sys.executable).parent / "oms")


@pytest.fixture
def run(database_url, db, tmp_path):  # db: a clean database for each test
    env = {**os.environ, "OMS_DATABASE_URL": database_url, "OMS_SECRET_KEY": SECRET, "OMS_DATA_DIR": str(tmp_path)}

    def _run(*args: str, ok: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run([OMS, *args], env=env, capture_output=True, text=True, timeout=60)
        if ok:
            assert result.returncode == 0, result.stderr + result.stdout
        return result

    return _run


def test_users_and_tokens_are_created_from_the_command_line_and_the_token_works(run, client):
    run("db", "upgrade")
    assert "created picker" in run("users", "create", "--email", "pat@example.com", "--role", "picker").stdout
    token = run("tokens", "create", "--email", "pat@example.com", "--scope", "orders:read").stdout
    assert token.startswith("oms_") and token.count("\n") == 1, "the token must be alone on stdout"
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token.strip()}"})
    assert me.json()["scopes"] == ["orders:read"]
    users = json.loads(run("users", "list", "--json").stdout)
    assert [u["email"] for u in users] == ["pat@example.com"]


def test_command_line_mistakes_exit_non_zero_with_a_reason(run):
    bad_role = run("users", "create", "--email", "x@example.com", "--role", "wizard", ok=False)
    assert bad_role.returncode == 1 and "unknown_role" in bad_role.stderr
    run("users", "create", "--email", "pat@example.com", "--role", "picker")
    beyond = run("tokens", "create", "--email", "pat@example.com", "--scope", "orders:cancel", ok=False)
    assert beyond.returncode == 1 and "may not hold" in beyond.stderr
    nobody = run("tokens", "create", "--email", "ghost@example.com", ok=False)
    assert nobody.returncode == 1 and "no user" in nobody.stderr


def test_stock_and_orders_print_tables_or_json(run, api):
    api.warehouse("NJ1")
    api.product("MUG-1")
    api.channel("web")
    api.receive("NJ1", "MUG-1", 3)
    order = api.order([("MUG-1", 1)])
    stock = json.loads(run("stock", "MUG-1", "--json").stdout)
    assert (stock["on_hand"], stock["reserved"]) == (3, 1)
    assert "NJ1" in run("stock", "MUG-1").stdout
    orders = json.loads(run("orders", "--json").stdout)
    assert [o["number"] for o in orders] == [order["number"]]
    assert order["number"] in run("orders").stdout


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    env = {**os.environ, "OMS_ENV": "production", "OMS_DATA_DIR": str(tmp_path)}
    env.pop("OMS_SECRET_KEY", None)
    result = subprocess.run([OMS, "db", "upgrade"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "OMS_SECRET_KEY is required" in result.stderr


def test_the_worker_drains_the_outbox_and_exits_with_once(run, api, db):
    from sqlalchemy import func, select

    from oms.events.model import OutboxEvent

    api.warehouse("NJ1")
    api.product("MUG-1")
    api.channel("web")
    api.receive("NJ1", "MUG-1", 3)
    api.order([("MUG-1", 1)])
    assert "delivered 2 event(s)" in run("worker", "--once").stdout
    with db.read() as s:
        pending = s.scalar(select(func.count()).select_from(OutboxEvent).where(OutboxEvent.processed_at.is_(None)))
    assert pending == 0
    assert "delivered 0 event(s)" in run("worker", "--once").stdout
