"""The demo business: complete, consistent with the stock ledger, seeded once, and reachable from the CLI."""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select
from stdnum import ean

from oms.auth.model import ApiToken, User
from oms.auth.rules import Role
from oms.auth.service import authenticate_token
from oms.auth.service import login as password_login
from oms.catalog.model import Product
from oms.channels.service import read_channel
from oms.db import Database
from oms.db.base import Base
from oms.demo import ADMIN_EMAIL, DEMO_PASSWORD, build_catalogue, gtin13, seed_demo
from oms.inventory.model import Bin, StockLevel, Warehouse
from oms.inventory.schemas import WarehouseAddress, WarehouseCreate
from oms.inventory.stock import Level, bin_mismatches, ledger_mismatches
from oms.inventory.warehouses import create_warehouse
from oms.orders.model import Allocation, Order, OrderLine
from oms.shipping.queries import late_orders


def _row_counts(db: Database) -> dict[str, int]:
    with db.read() as session:
        return {t.name: session.scalar(select(func.count()).select_from(t)) or 0 for t in Base.metadata.sorted_tables}


def test_the_demo_is_a_whole_business_whose_stock_matches_the_ledger(db, settings, capsys):
    secret = settings.resolved_secret_key()
    steps: list[str] = []
    login = seed_demo(db, secret, progress=steps.append)

    assert capsys.readouterr().out == ""  # the CLI prints, not the seeder
    assert steps, "progress is reported"
    assert (login.email, login.password) == (ADMIN_EMAIL, DEMO_PASSWORD)

    with db.read() as session:
        sites = session.scalars(select(Warehouse)).all()
        warehouses = [w for w in sites if w.kind == "warehouse"]
        assert len(warehouses) >= 4
        assert len({w.region for w in warehouses}) >= 4
        assert [w.kind for w in sites].count("store") == 1
        assert all(w.latitude is not None and w.country == "US" for w in sites)
        bins_per_site = dict(session.execute(select(Bin.warehouse_id, func.count()).group_by(Bin.warehouse_id)).all())
        assert all(bins_per_site[w.id] >= 20 for w in warehouses)
        for b in session.scalars(select(Bin)):
            assert b.aisle and b.level
            assert b.x_m == (ord(b.aisle) - ord("A") + 1) * 3.0

        products = session.scalars(select(Product)).all()
        assert len(products) >= 100
        assert any(p.fragile for p in products) and not all(p.fragile for p in products)
        assert any(p.allow_backorder for p in products)
        assert any(p.reorder_point is not None for p in products)
        assert all(p.barcode and len(p.barcode) == 13 and ean.is_valid(p.barcode) for p in products)
        assert all(p.price == p.price.quantize(Decimal("0.01")) and p.currency == "USD" for p in products)
        assert len({(p.weight_g, p.length_mm) for p in products}) > len(products) // 2  # sizes vary

        roles = set(session.scalars(select(User.role)))
        assert roles == {r.value for r in Role}

        # Stock: levels equal the ledger; reservations equal the allocations of open orders.
        levels = {
            (s.product_id, s.warehouse_id): Level(s.on_hand, s.reserved) for s in session.scalars(select(StockLevel))
        }
        assert levels and ledger_mismatches(session) == {} and bin_mismatches(session) == {}
        allocated: dict[tuple[int, int], int] = defaultdict(int)
        for a in session.scalars(select(Allocation).where(Allocation.quantity > 0)):  # 0: shipped from there
            allocated[(a.product_id, a.warehouse_id)] += a.quantity
        assert {k: v.reserved for k, v in levels.items() if v.reserved} == dict(allocated)
        stocked = {pid for (pid, _), level in levels.items() if level.on_hand > 0}
        assert any(p.allow_backorder and p.id not in stocked for p in products), "something to pre-order"

        all_orders = session.scalars(select(Order)).all()
        assert len(all_orders) >= 30
        statuses = {o.status for o in all_orders}
        assert len(statuses) >= 4
        assert {"confirmed", "pending_payment", "backordered", "cancelled", "on_hold", "delivered"} <= statuses
        assert statuses & {"shipped", "partially_shipped"}
        assert any(o.deliver_by for o in all_orders) and any(o.ship_by for o in all_orders)
        assert late_orders(db, "late_to_ship", None), "the backorders waiting past their ship-by date"
        assert {"paid", "authorized", "pending"} <= {o.payment_status for o in all_orders}
        assert len({o.ship_region for o in all_orders}) >= 10
        lines_of: dict[int, list[OrderLine]] = defaultdict(list)
        for line in session.scalars(select(OrderLine)):
            lines_of[line.order_id].append(line)
        for o in all_orders:
            assert o.subtotal == sum(line.quantity * line.unit_price for line in lines_of[o.id])
            assert o.total == o.subtotal + o.shipping_total + o.tax_total - o.discount_total
            if o.payment_status == "paid":
                assert o.paid_amount == o.total
            if o.status == "backordered":
                assert any(line.backordered for line in lines_of[o.id])
            if o.status == "cancelled":
                assert not any(line.reserved for line in lines_of[o.id])

        assert authenticate_token(session, secret, login.token).role == "admin"

    with db.write() as session:  # every demo user signs in with the one documented password
        for user in session.scalars(select(User)).all():
            login_token, _ = password_login(session, secret, user.email, DEMO_PASSWORD)
            assert authenticate_token(session, secret, login_token).role == user.role

    web, marketplace, store = (read_channel(db, c) for c in ("web", "marketplace", "store-brooklyn"))
    assert (web.kind, marketplace.kind, store.kind) == ("web", "marketplace", "pos")
    assert set(web.warehouses) == {w.code for w in warehouses}
    assert 0 < len(marketplace.warehouses) < len(web.warehouses)
    assert [store_site.code for store_site in sites if store_site.kind == "store"] == store.warehouses
    with db.read() as session:
        external = session.scalars(select(Order.external_id).where(Order.channel_id == marketplace.id)).all()
    assert external and all(external)


def test_seeding_again_adds_nothing_but_a_fresh_working_token(db, settings):
    secret = settings.resolved_secret_key()
    first = seed_demo(db, secret)
    before = _row_counts(db)

    second = seed_demo(db, secret)

    after = _row_counts(db)
    assert after.pop(ApiToken.__tablename__) == before.pop(ApiToken.__tablename__) + 1
    assert after == before
    assert second.email == first.email and second.token != first.token
    with db.read() as session:
        for token in (first.token, second.token):
            assert authenticate_token(session, secret, token).email == ADMIN_EMAIL


def test_a_database_already_in_use_only_gets_the_demo_admin(db, settings):
    create_warehouse(
        db,
        WarehouseCreate(
            code="OWN-1",
            name="Our own warehouse",
            address=WarehouseAddress(line1="1 Main St", city="Reno", region="NV", postal_code="89501", country="US"),
        ),
    )

    login = seed_demo(db, settings.resolved_secret_key())

    counts = _row_counts(db)
    assert (counts["warehouses"], counts["products"], counts["orders"], counts["users"]) == (1, 0, 0, 1)
    with db.read() as session:
        principal = authenticate_token(session, settings.resolved_secret_key(), login.token)
    assert (principal.email, principal.role) == (ADMIN_EMAIL, "admin")


def test_the_catalogue_is_the_same_every_time_with_valid_unique_codes():
    first, second = build_catalogue(random.Random(42)), build_catalogue(random.Random(42))
    assert [p.model_dump() for p, _ in first] == [p.model_dump() for p, _ in second]
    skus = [p.sku for p, _ in first]
    barcodes = [p.barcode for p, _ in first]
    assert len(set(skus)) == len(skus) >= 120
    assert all(re.fullmatch(r"[A-Z]{3}-[A-Z]{3}-\d{4}", s) for s in skus)
    assert len(set(barcodes)) == len(barcodes)
    assert all(b and ean.is_valid(b) and b.startswith("2") for b in barcodes)


def test_gtin13_appends_the_gs1_check_digit():
    assert gtin13("400638133393") == "4006381333931"
    assert gtin13("200000000001") == "2000000000015"


def _oms_command() -> list[str]:
    script = Path(sys.executable).parent / "oms"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from oms.cli import main; main()"]


def test_oms_demo_no_serve_seeds_sqlite_and_prints_a_working_token(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMS_")}
    env.update(OMS_DATA_DIR=str(tmp_path), COLUMNS="200")

    result = subprocess.run(
        [*_oms_command(), "demo", "--no-serve"], env=env, capture_output=True, text=True, timeout=600
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{ADMIN_EMAIL} / {DEMO_PASSWORD}" in result.stdout
    match = re.search(r"API token: (oms_[A-Za-z0-9_-]+)", result.stdout)
    assert match, result.stdout
    db = Database(f"sqlite:///{tmp_path / 'oms.db'}")
    try:
        with db.read() as session:
            principal = authenticate_token(session, (tmp_path / "secret_key").read_text().strip(), match.group(1))
            assert principal.email == ADMIN_EMAIL
            assert (session.scalar(select(func.count()).select_from(Order)) or 0) >= 30
    finally:
        db.dispose()
