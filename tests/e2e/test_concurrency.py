"""The proof that stock is never oversold: hundreds of clients at once against the real server
(``oms serve --workers 2``, two processes sharing one SQLite file or one PostgreSQL database).

Each test builds its business over HTTP, fires every request of the burst together
(httpx.AsyncClient + asyncio.gather, one connection per client), then checks the outcome three
ways: the HTTP answers, the stock levels, and the ledger (levels == sum of movements, reserved ==
sum of allocations)."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text

from oms.db import Database
from oms.inventory.model import StockLevel
from oms.inventory.stock import Level, ledger_mismatches
from oms.orders.model import Allocation, Order
from tests.conftest import SECRET
from tests.factories import Api, make_token, order_body
from tests.server import LiveServer, live_server  # noqa: F401

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("live_server")]

CLIENTS = 200
TIMEOUT_S = 60.0


# -- helpers ----------------------------------------------------------------------------------------


@pytest.fixture
def shop(live_server: LiveServer, db: Database) -> Iterator[Api]:  # noqa: F811
    """The factories' Api, talking to the live server instead of a TestClient."""
    token = make_token(db, SECRET, "admin")
    with httpx.Client(base_url=live_server.url, timeout=TIMEOUT_S) as client:
        yield Api(client, token)  # type: ignore[arg-type]


Request = tuple[dict[str, Any], dict[str, str]]  # (JSON body, extra headers)


def burst(server: LiveServer, token: str, requests: list[Request]) -> list[httpx.Response]:
    """POST every order at the same time, each on its own connection; fail on any transport error
    (timeout, reset) or 5xx, showing the server's log."""

    async def fire() -> list[httpx.Response | BaseException]:
        limits = httpx.Limits(max_connections=len(requests), max_keepalive_connections=len(requests))
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=TIMEOUT_S, headers=headers) as client:
            go = asyncio.Event()

            async def one(body: dict[str, Any], extra: dict[str, str]) -> httpx.Response:
                await go.wait()
                return await client.post("/api/v1/orders", json=body, headers=extra)

            tasks = [asyncio.create_task(one(body, extra)) for body, extra in requests]
            await asyncio.sleep(0)  # every task is now waiting at the start line
            go.set()
            return await asyncio.gather(*tasks, return_exceptions=True)

    started = time.monotonic()
    results = asyncio.run(fire())
    elapsed = time.monotonic() - started
    broken = [
        f"#{i}: {r!r}" if isinstance(r, BaseException) else f"#{i}: {r.status_code} {r.text[:500]}"
        for i, r in enumerate(results)
        if isinstance(r, BaseException) or r.status_code >= 500
    ]
    assert not broken, (
        f"{len(broken)} of {len(results)} requests failed in {elapsed:.1f}s:\n"
        + "\n".join(broken[:20])
        + f"\n--- server log (tail) ---\n{server.read_log()[-8000:]}"
    )
    print(f"{len(results)} concurrent orders answered in {elapsed:.2f}s: {dict(statuses(results))}")  # type: ignore[arg-type]
    return results  # type: ignore[return-value]


def statuses(responses: list[httpx.Response]) -> Counter[int]:
    return Counter(r.status_code for r in responses)


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == code, body
    assert isinstance(body["detail"], str) and body["detail"], body


def assert_levels_match_ledger(db: Database) -> None:
    """Every stock row equals the sum of its movements, and reserved equals the allocations."""
    with db.read() as s:
        c = StockLevel.__table__.c
        levels = {
            (p, w): Level(oh, r)
            for p, w, oh, r in s.execute(select(c.product_id, c.warehouse_id, c.on_hand, c.reserved))
        }
        assert ledger_mismatches(s) == {}
        by_row = select(Allocation.product_id, Allocation.warehouse_id, func.sum(Allocation.quantity)).group_by(
            Allocation.product_id, Allocation.warehouse_id
        )
        allocated = {(p, w): int(q) for p, w, q in s.execute(by_row)}
        assert {k: v.reserved for k, v in levels.items() if v.reserved} == allocated


def ledger_over_http(shop: Api, sku: str) -> tuple[int, int]:
    """(on_hand, reserved) as the sum of GET /inventory/movements for the SKU, every page."""
    on_hand = reserved = 0
    params: dict[str, Any] = {"sku": sku, "limit": 200}
    while True:
        page = shop.ok(shop.get("/inventory/movements", params=params))
        on_hand += sum(m["delta_on_hand"] for m in page["items"])
        reserved += sum(m["delta_reserved"] for m in page["items"])
        if not page["next_cursor"]:
            return on_hand, reserved
        params["cursor"] = page["next_cursor"]


def deadlocks(db: Database) -> int | None:
    """PostgreSQL's count of deadlocks detected in this database (None on SQLite)."""
    if db.dialect != "postgresql":
        return None
    with db.read() as s:
        return int(s.scalar(text("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")) or 0)


def order_count(db: Database) -> int:
    with db.read() as s:
        return int(s.scalar(select(func.count()).select_from(Order)) or 0)


def per_warehouse(stock: dict[str, Any]) -> dict[str, tuple[int, int, int]]:
    return {w["warehouse"]: (w["on_hand"], w["reserved"], w["available"]) for w in stock["warehouses"]}


def workers_that_worked(server: LiveServer, before: dict[int, float]) -> dict[int, float]:
    after = server.cpu_seconds()
    return {pid: round(after[pid] - before[pid], 2) for pid in before if pid in after}


# -- the proofs -------------------------------------------------------------------------------------


def test_200_clients_racing_for_the_last_50_units_get_exactly_50_orders(shop, live_server, db):  # noqa: F811
    shop.warehouse("NJ1")
    shop.product("MUG-1")
    shop.channel("web", warehouses=["NJ1"])
    shop.receive("NJ1", "MUG-1", 50)
    cpu_before = live_server.cpu_seconds()

    responses = burst(live_server, shop.token, [(order_body([("MUG-1", 1)]), {}) for _ in range(CLIENTS)])

    assert statuses(responses) == {201: 50, 409: 150}
    for r in responses:
        if r.status_code == 409:
            assert_error(r, 409, "insufficient_stock")
    assert len({r.json()["id"] for r in responses if r.status_code == 201}) == 50
    assert order_count(db) == 50
    stock = shop.stock("MUG-1")
    assert (stock["on_hand"], stock["reserved"], stock["available"]) == (50, 50, 0)
    assert ledger_over_http(shop, "MUG-1") == (50, 50)
    assert_levels_match_ledger(db)
    # Both worker processes took part (each spent CPU on the burst), so the race was between processes.
    cpu = workers_that_worked(live_server, cpu_before)
    print(f"CPU seconds per worker during the burst: {cpu}")
    assert len(cpu) == 2 and all(t >= 0.1 for t in cpu.values()), cpu  # idle, a worker uses ~0.01s


def test_multi_line_orders_in_random_line_order_neither_deadlock_nor_oversell(shop, live_server, db):  # noqa: F811
    skus = [f"SKU-{i}" for i in range(1, 6)]
    shop.warehouse("NJ1")
    shop.warehouse("IL1")
    for sku in skus:
        shop.product(sku)
    shop.channel("web", warehouses=["NJ1", "IL1"])
    stock_in = {"NJ1": [30, 12, 25, 8, 20], "IL1": [10, 25, 15, 30, 20]}
    for code, quantities in stock_in.items():
        for sku, quantity in zip(skus, quantities, strict=True):
            shop.receive(code, sku, quantity)
    rng = random.Random(20240611)
    requests: list[Request] = []
    for _ in range(CLIENTS):
        chosen = rng.sample(skus, rng.randint(2, 4))  # distinct products, in a random order
        requests.append((order_body([(sku, rng.randint(1, 3)) for sku in chosen]), {}))
    deadlocks_before = deadlocks(db)

    responses = burst(live_server, shop.token, requests)

    counts = statuses(responses)
    assert set(counts) <= {201, 409}, counts
    assert counts[201] >= 10 and counts[409] >= 10, f"the stock should run out part-way: {counts}"
    ordered: dict[str, int] = defaultdict(int)
    allocated: dict[tuple[str, str], int] = defaultdict(int)
    for r in responses:
        if r.status_code == 409:
            assert_error(r, 409, "insufficient_stock")
            continue
        for line in r.json()["lines"]:
            assert (line["reserved"], line["backordered"]) == (line["quantity"], 0), line
            ordered[line["sku"]] += line["quantity"]
            for a in line["allocations"]:
                allocated[(line["sku"], a["warehouse"])] += a["quantity"]
    assert order_count(db) == counts[201]
    for i, sku in enumerate(skus):
        stock = shop.stock(sku)
        assert stock["on_hand"] == stock_in["NJ1"][i] + stock_in["IL1"][i]
        assert stock["reserved"] == ordered[sku], sku
        assert stock["available"] >= 0, stock
        for code, (on_hand, reserved, available) in per_warehouse(stock).items():
            assert reserved == allocated[(sku, code)], (sku, code)
            assert available == on_hand - reserved >= 0, (sku, code)
    assert_levels_match_ledger(db)
    # A deadlock would have been retried and so be invisible above; PostgreSQL counts them. Its
    # backends report the count when they exit, hence the stop.
    live_server.stop()
    assert deadlocks(db) == deadlocks_before


def test_one_product_in_three_warehouses_is_sold_out_everywhere_and_no_further(shop, live_server, db):  # noqa: F811
    for code in ("NJ1", "IL1", "CA1"):
        shop.warehouse(code)
    shop.product("MUG-1")
    shop.channel("web", warehouses=["NJ1", "IL1", "CA1"])
    shop.receive("NJ1", "MUG-1", 20)
    shop.receive("IL1", "MUG-1", 15)
    shop.receive("CA1", "MUG-1", 15)

    responses = burst(live_server, shop.token, [(order_body([("MUG-1", 1)]), {}) for _ in range(CLIENTS)])

    assert statuses(responses) == {201: 50, 409: 150}
    for r in responses:
        if r.status_code == 409:
            assert_error(r, 409, "insufficient_stock")
    used = Counter(
        a["warehouse"] for r in responses if r.status_code == 201 for a in r.json()["lines"][0]["allocations"]
    )
    assert used == {"NJ1": 20, "IL1": 15, "CA1": 15}
    assert order_count(db) == 50
    stock = shop.stock("MUG-1")
    assert (stock["on_hand"], stock["reserved"], stock["available"]) == (50, 50, 0)
    assert per_warehouse(stock) == {"NJ1": (20, 20, 0), "IL1": (15, 15, 0), "CA1": (15, 15, 0)}
    assert ledger_over_http(shop, "MUG-1") == (50, 50)
    assert_levels_match_ledger(db)


def test_the_same_channel_order_sent_ten_times_at_once_is_created_once(shop, live_server, db):  # noqa: F811
    shop.warehouse("NJ1")
    shop.product("MUG-1")
    shop.channel("web", warehouses=["NJ1"])
    shop.receive("NJ1", "MUG-1", 10)
    body = order_body([("MUG-1", 2)], external_id="SHOPIFY-1001")

    responses = burst(live_server, shop.token, [(body, {}) for _ in range(10)])

    assert statuses(responses) == {201: 1, 200: 9}
    assert len({r.json()["id"] for r in responses}) == 1
    assert {r.json()["external_id"] for r in responses} == {"SHOPIFY-1001"}
    assert order_count(db) == 1
    stock = shop.stock("MUG-1")
    assert (stock["on_hand"], stock["reserved"], stock["available"]) == (10, 2, 8)
    assert_levels_match_ledger(db)


def test_the_same_idempotency_key_sent_ten_times_at_once_creates_one_order(shop, live_server, db):  # noqa: F811
    shop.warehouse("NJ1")
    shop.product("MUG-1")
    shop.channel("web", warehouses=["NJ1"])
    shop.receive("NJ1", "MUG-1", 10)
    body = order_body([("MUG-1", 2)])
    key = {"Idempotency-Key": "checkout-7f3a"}

    responses = burst(live_server, shop.token, [(body, key) for _ in range(10)])

    counts = statuses(responses)
    assert set(counts) <= {201, 409}, counts
    created = [r for r in responses if r.status_code == 201]
    first = [r for r in created if r.headers.get("Idempotent-Replayed") != "true"]
    assert len(first) == 1, [(r.status_code, dict(r.headers)) for r in responses]
    assert {r.json()["id"] for r in created} == {first[0].json()["id"]}
    for r in responses:
        if r.status_code == 409:
            assert_error(r, 409, "idempotency_in_progress")
    assert order_count(db) == 1
    # Once the first has finished, a retry with the same key is a replay of it.
    again = shop.post("/orders", body, headers=key)
    assert again.status_code == 201, again.text
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json()["id"] == first[0].json()["id"]
    assert order_count(db) == 1
    stock = shop.stock("MUG-1")
    assert (stock["on_hand"], stock["reserved"], stock["available"]) == (10, 2, 8)
    assert_levels_match_ledger(db)
