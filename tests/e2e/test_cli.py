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
    from oms.notifications.model import EmailMessage

    api.warehouse("NJ1")
    api.product("MUG-1")
    api.channel("web")
    api.receive("NJ1", "MUG-1", 3)
    api.order([("MUG-1", 1)])
    # The receipt's and the order's events, and the email.send the order's confirmation queues (kept
    # as "unsent": this test configures no SMTP server).
    assert "delivered 3 event(s)" in run("worker", "--once").stdout
    with db.read() as s:
        pending = s.scalar(select(func.count()).select_from(OutboxEvent).where(OutboxEvent.processed_at.is_(None)))
        status = s.scalar(select(EmailMessage.status))
    assert pending == 0 and status == "unsent"
    assert "delivered 0 event(s)" in run("worker", "--once").stdout


def test_the_warehouse_floor_from_the_command_line(run, api, db, tmp_path):
    """Route, pick (a wrong scan refused), pack, close and ship, as named users, in real processes."""
    from oms.shipping.carriers import seed_demo_carriers

    api.warehouse("NJ1")
    api.ok(api.post("/warehouses/NJ1/bins", {"code": "A-01", "x_m": 0, "y_m": 4, "aisle": "A"}), 201)
    api.product("BOOK-1", weight_g=600, length_mm=230, width_mm=150, height_mm=30)
    api.channel("web")
    api.ok(
        api.post(
            "/inventory/receipts", {"warehouse": "NJ1", "lines": [{"sku": "BOOK-1", "quantity": 3, "bin": "A-01"}]}
        ),
        201,
    )
    box = {"code": "MAILER", "name": "Mailer", "inner_length_mm": 300, "inner_width_mm": 230, "inner_height_mm": 40}
    api.ok(api.post("/boxes", {**box, "max_weight_g": 2000, "tare_weight_g": 40, "cost": "0.45"}), 201)
    order = api.order([("BOOK-1", 1)])
    run("users", "create", "--email", "pia@example.com", "--role", "picker")
    run("users", "create", "--email", "pax@example.com", "--role", "packer")

    assert "NJ1" in run("routing", "show", str(order["id"])).stdout
    denied = run("routing", "reroute", str(order["id"]), "--as", "pia@example.com", ok=False)
    assert denied.returncode == 1 and "forbidden" in denied.stderr

    made = json.loads(run("picking", "order", str(order["id"]), "--as", "pia@example.com", "--json").stdout)
    [pick_list] = made["pick_lists"]
    list_id = str(pick_list["id"])
    wrong = run("picking", "scan", list_id, "--bin", "B-99", "--as", "pia@example.com", ok=False)
    assert wrong.returncode == 1 and "wrong_bin" in wrong.stderr and "A-01" in wrong.stderr
    both = run("picking", "scan", list_id, "--bin", "A-01", "--item", "BOOK-1", "--as", "pia@example.com", ok=False)
    assert both.returncode == 2 and "exactly one" in both.stderr
    run("picking", "scan", list_id, "--bin", "A-01", "--as", "pia@example.com")
    run("picking", "scan", list_id, "--item", "BOOK-1", "--as", "pia@example.com")
    done = run("picking", "scan", list_id, "--quantity", "1", "--as", "pia@example.com").stdout
    assert "ready_to_pack" in done

    shipment = pick_list["orders"][0]["shipment_id"]
    packed = json.loads(run("packing", "pack", str(shipment), "--as", "pax@example.com", "--json").stdout)
    [package] = packed["packages"]
    assert package["box"]["code"] == "MAILER"
    assert "MAILER" in run("packing", "boxes").stdout
    run("packing", "scan", str(package["id"]), "BOOK-1", "--as", "pax@example.com")
    closed = run("packing", "close", str(package["id"]), "--as", "pax@example.com").stdout
    assert "shipment packed" in closed

    run("users", "create", "--email", "sam@example.com", "--role", "shipper")
    with db.write() as session:
        seed_demo_carriers(session, "carrier-secret-for-cli-test")
    refused = run("shipping", "ship", str(shipment), "--as", "sam@example.com", ok=False)
    assert refused.returncode == 1 and "no label" in refused.stderr
    assert "OMS Ground" in run("shipping", "rates", str(shipment), "--as", "sam@example.com").stdout
    label = tmp_path / "label.pdf"
    bought = json.loads(
        run("shipping", "label", str(shipment), "--as", "sam@example.com", "--pdf", str(label), "--json").stdout
    )
    assert bought["status"] == "labelled" and label.read_bytes().startswith(b"%PDF")
    assert "shipped" in run("shipping", "ship", str(shipment), "--as", "sam@example.com").stdout
    sheet = tmp_path / "manifest.csv"
    run("shipping", "manifest", "oms", "NJ1", "--as", "sam@example.com", "--csv", str(sheet))
    assert bought["tracking_number"] in sheet.read_text()
    assert "flags" in run("shipping", "late").stdout
