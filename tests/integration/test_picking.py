"""Picking through the API and the database: pick lists, waves, scan verification, short picks."""

from __future__ import annotations

import zlib
from typing import Any

import pytest
from sqlalchemy import func, select

from oms.events.model import OutboxEvent
from oms.inventory import stock
from oms.inventory.model import Bin, BinStock, StockLevel
from oms.orders.model import Allocation
from oms.picking import planning
from oms.picking.layout import Layout
from oms.picking.model import PickScan
from oms.picking.pickpath import optimal_tour, s_shape, tour_length
from tests.conftest import SECRET
from tests.factories import Api, gtin13, make_token

# Two aisles, A at x=0 and B at x=5; the depot sits at the front of aisle A.
BINS = [
    ("A-01", 0.0, 2.0, "A"),
    ("A-05", 0.0, 10.0, "A"),
    ("A-09", 0.0, 18.0, "A"),
    ("B-01", 5.0, 2.0, "B"),
    ("B-05", 5.0, 10.0, "B"),
    ("B-09", 5.0, 18.0, "B"),
]


def _warehouse(api: Api, code: str, bins: list[tuple[str, float, float, str]] | None = BINS) -> None:
    api.warehouse(code)
    for b, x, y, aisle in bins or []:
        api.ok(api.post(f"/warehouses/{code}/bins", {"code": b, "x_m": x, "y_m": y, "aisle": aisle}), 201)


def _products(api: Api, *skus: str) -> dict[str, str]:
    barcodes = {}
    for n, sku in enumerate(skus, start=1):
        barcodes[sku] = gtin13(zlib.crc32(sku.encode()) % 10**8 * 10 + n)
        api.product(sku, barcode=barcodes[sku])
    return barcodes


def _put(api: Api, warehouse: str, sku: str, quantity: int, bin_code: str | None) -> None:
    line: dict[str, Any] = {"sku": sku, "quantity": quantity}
    if bin_code:
        line["bin"] = bin_code
    api.ok(api.post("/inventory/receipts", {"warehouse": warehouse, "lines": [line]}), 201)


def _pick_lists(api: Api, order_id: int) -> dict[str, Any]:
    return api.ok(api.post(f"/orders/{order_id}/pick-lists"), 201)


def _scan(api: Api, list_id: int, **body: Any):  # type: ignore[no-untyped-def]
    return api.post(f"/pick-lists/{list_id}/scans", body)


def _pick_task(api: Api, list_id: int, task: dict[str, Any]) -> None:
    if task["bin"]:
        api.ok(_scan(api, list_id, task_id=task["id"], bin=task["bin"]), 201)
    api.ok(_scan(api, list_id, task_id=task["id"], item=task["barcode"] or task["sku"]), 201)
    api.ok(_scan(api, list_id, task_id=task["id"], quantity=task["remaining"]), 201)


def _balanced(db) -> None:  # type: ignore[no-untyped-def]
    with db.read() as session:
        assert stock.ledger_mismatches(session) == {}
        assert stock.bin_mismatches(session) == {}


def _bin_qty(db, warehouse_code: str, bin_code: str) -> int:  # type: ignore[no-untyped-def]
    with db.read() as session:
        return int(
            session.scalar(
                select(func.coalesce(func.sum(BinStock.quantity), 0))
                .join(Bin, Bin.id == BinStock.bin_id)
                .where(Bin.code == bin_code)
            )
        )


def _topics(db) -> list[str]:  # type: ignore[no-untyped-def]
    with db.read() as session:
        return list(session.scalars(select(OutboxEvent.topic).order_by(OutboxEvent.id)))


@pytest.fixture
def floor(api: Api) -> dict[str, str]:
    """NJ (bins in two aisles) and IL (no bins); a channel preferring NJ; three products in NJ's bins."""
    _warehouse(api, "NJ")
    _warehouse(api, "IL", bins=None)
    api.channel("web", warehouses=["NJ", "IL"])
    barcodes = _products(api, "MUG", "TEA", "JAM")
    _put(api, "NJ", "MUG", 10, "A-09")
    _put(api, "NJ", "TEA", 10, "B-05")
    _put(api, "NJ", "JAM", 10, "A-01")
    return barcodes


def test_a_pick_list_walks_the_optimal_tour_through_both_aisles(api: Api, db, floor) -> None:  # type: ignore[no-untyped-def]
    order = api.order([("TEA", 2), ("MUG", 1), ("JAM", 3)])
    assert order["status"] == "confirmed"

    out = _pick_lists(api, order["id"])

    assert out["order_status"] == "in_fulfilment"
    [pl] = out["pick_lists"]
    assert pl["kind"] == "order" and pl["status"] == "open" and pl["warehouse"] == "NJ"
    assert [t["seq"] for t in pl["tasks"]] == [1, 2, 3]
    assert {t["tote"] for t in pl["tasks"]} == {"T01"}
    layout = Layout.from_bins(BINS)
    where = layout.locate_bins(BINS)
    walked = [where[t["bin"]] for t in pl["tasks"]]
    best = optimal_tour(layout, walked)
    assert pl["path_length_m"] == pytest.approx(best.length_m)
    assert tour_length(layout, walked, range(len(walked))) == pytest.approx(best.length_m)
    assert pl["s_shape_length_m"] == pytest.approx(s_shape(layout, walked).length_m)
    assert pl["route"][0] == pl["route"][-1] == list(layout.depot)
    first = pl["tasks"][0]
    assert {"bin", "x_m", "y_m", "sku", "product_name", "barcode", "quantity", "order_number"} <= first.keys()
    assert first["next_step"] == "bin" and pl["current_task_id"] == first["id"]
    assert "picking.started" in _topics(db)
    events = api.ok(api.get(f"/orders/{order['id']}/events"))["items"]
    assert any(e["type"] == "picking_started" for e in events)

    again = api.post(f"/orders/{order['id']}/pick-lists")
    assert again.status_code == 409 and again.json()["error"] == "nothing_to_pick"
    assert api.ok(api.get(f"/pick-lists/{pl['id']}"))["tasks"] == pl["tasks"]
    page = api.ok(api.get("/pick-lists", params={"warehouse": "NJ", "status": "open"}))
    assert [(p["id"], p["units"], p["orders"]) for p in page["items"]] == [(pl["id"], 6, 1)]
    assert api.ok(api.get("/pick-lists", params={"status": "done"}))["items"] == []


def test_wrong_bin_wrong_item_and_too_many_are_refused_naming_what_was_expected_and_recorded(
    api: Api, db, floor
) -> None:  # type: ignore[no-untyped-def]
    order = api.order([("MUG", 3)])
    pl = _pick_lists(api, order["id"])["pick_lists"][0]
    lid = pl["id"]

    r = _scan(api, lid, bin="B-05")
    assert r.status_code == 422 and r.json()["error"] == "wrong_bin" and r.json()["expected_bin"] == "A-09"
    assert "A-09" in r.json()["detail"]
    r = _scan(api, lid, item=floor["MUG"])
    assert r.status_code == 409 and r.json()["error"] == "scan_bin_first"
    api.ok(_scan(api, lid, bin="a-09"), 201)  # case does not matter
    r = _scan(api, lid, quantity=1)
    assert r.status_code == 409 and r.json()["error"] == "scan_item_first"
    r = _scan(api, lid, item="TEA")
    assert r.status_code == 422 and r.json()["error"] == "wrong_item"
    assert r.json()["expected_sku"] == "MUG" and r.json()["expected_barcode"] == floor["MUG"]
    ok = api.ok(_scan(api, lid, item="mug"), 201)  # the SKU does as well as the barcode
    assert ok["task"]["next_step"] == "quantity"
    r = _scan(api, lid, quantity=4)
    assert r.status_code == 422 and r.json()["error"] == "too_many" and r.json()["remaining"] == 3

    with db.read() as session:
        scans = session.execute(
            select(PickScan.step, PickScan.value, PickScan.accepted, PickScan.error).order_by(PickScan.id)
        ).all()
    assert [tuple(s) for s in scans] == [
        ("bin", "B-05", False, "wrong_bin"),
        ("item", floor["MUG"], False, "scan_bin_first"),
        ("bin", "a-09", True, None),
        ("quantity", "1", False, "scan_item_first"),
        ("item", "TEA", False, "wrong_item"),
        ("item", "mug", True, None),
        ("quantity", "4", False, "too_many"),
    ]
    assert _bin_qty(db, "NJ", "A-09") == 10  # nothing was picked by the refusals


def test_a_full_pick_leaves_the_shipment_ready_to_pack_and_the_books_balanced(api: Api, db, floor) -> None:  # type: ignore[no-untyped-def]
    order = api.order([("MUG", 3), ("TEA", 2)])
    pl = _pick_lists(api, order["id"])["pick_lists"][0]
    lid = pl["id"]
    first = pl["tasks"][0]
    api.ok(_scan(api, lid, bin=first["bin"]), 201)
    api.ok(_scan(api, lid, item=first["barcode"]), 201)
    partly = api.ok(_scan(api, lid, quantity=1), 201)
    assert partly["task"]["picked"] == 1 and partly["task"]["next_step"] == "item"  # bin still verified
    assert partly["shipment_status"] == "picking"
    api.ok(_scan(api, lid, item=first["barcode"]), 201)
    api.ok(_scan(api, lid, quantity=first["quantity"] - 1), 201)
    second = api.ok(api.get(f"/pick-lists/{lid}"))["tasks"][1]
    _pick_task(api, lid, second)

    done = api.ok(api.get(f"/pick-lists/{lid}"))
    assert done["status"] == "done" and done["completed_at"] and done["current_task_id"] is None
    assert all(t["status"] == "picked" and t["remaining"] == 0 for t in done["tasks"])
    assert done["orders"][0]["shipment_status"] == "ready_to_pack"
    assert _bin_qty(db, "NJ", "A-09") == 7 and _bin_qty(db, "NJ", "B-05") == 8
    assert api.stock("MUG")["warehouses"][0]["on_hand"] == 10  # in a tote, still in the building
    assert api.stock("MUG")["reserved"] == 3
    with db.read() as session:
        assert sorted(session.execute(select(Allocation.quantity, Allocation.picked)).all()) == [(2, 2), (3, 3)]
    assert {"shipment.ready_to_pack", "picking.completed"} <= set(_topics(db))
    r = _scan(api, lid, bin="A-09")
    assert r.status_code == 409 and r.json()["error"] == "pick_list_done"
    _balanced(db)


def test_stock_in_no_bin_is_picked_at_the_depot_without_a_bin_scan(api: Api, db) -> None:  # type: ignore[no-untyped-def]
    _warehouse(api, "IL", bins=None)
    api.channel("web", warehouses=["IL"])
    _products(api, "MUG")
    _put(api, "IL", "MUG", 5, None)
    order = api.order([("MUG", 2)])
    pl = _pick_lists(api, order["id"])["pick_lists"][0]
    assert pl["path_length_m"] == 0 and pl["tasks"][0]["bin"] is None
    assert pl["tasks"][0]["next_step"] == "item"
    _pick_task(api, pl["id"], pl["tasks"][0])
    assert api.ok(api.get(f"/pick-lists/{pl['id']}"))["status"] == "done"
    _balanced(db)


def test_a_pick_is_split_over_the_fewest_bins_and_the_rest_comes_from_the_depot(api: Api, db) -> None:  # type: ignore[no-untyped-def]
    _warehouse(api, "NJ")
    api.channel("web", warehouses=["NJ"])
    _products(api, "MUG")
    _put(api, "NJ", "MUG", 2, "A-01")
    _put(api, "NJ", "MUG", 5, "B-09")
    _put(api, "NJ", "MUG", 4, "A-05")
    _put(api, "NJ", "MUG", 3, None)
    order = api.order([("MUG", 12)])
    tasks = _pick_lists(api, order["id"])["pick_lists"][0]["tasks"]
    assert tasks[0]["bin"] is None and tasks[0]["quantity"] == 1  # the depot comes first
    assert sorted((t["bin"] or "", t["quantity"]) for t in tasks) == [("", 1), ("A-01", 2), ("A-05", 4), ("B-09", 5)]


def test_an_order_that_is_not_confirmed_cannot_be_picked(api: Api, floor) -> None:  # type: ignore[no-untyped-def]
    order = api.order([("MUG", 1)], payment=None)
    assert order["status"] == "pending_payment"
    r = api.post(f"/orders/{order['id']}/pick-lists")
    assert r.status_code == 409 and r.json()["error"] == "invalid_transition"
    assert api.post("/orders/999999/pick-lists").status_code == 404


def test_a_wave_takes_the_oldest_order_and_then_the_closest_ones_with_a_tote_each(api: Api, db, floor) -> None:  # type: ignore[no-untyped-def]
    _products(api, "FAR", "NEAR")
    _put(api, "NJ", "FAR", 5, "B-09")
    _put(api, "NJ", "NEAR", 5, "A-05")
    oldest = api.order([("MUG", 1)])
    far = api.order([("FAR", 1)])  # B-09: across the warehouse
    near = api.order([("NEAR", 1), ("MUG", 1)])  # on the way
    pending = api.order([("JAM", 1)], payment=None)  # not paid: not ready

    wave = api.ok(api.post("/warehouses/NJ/waves", {"max_orders": 2}), 201)

    assert wave["kind"] == "wave"
    assert [(o["order_id"], o["tote"]) for o in wave["orders"]] == [(oldest["id"], "T01"), (near["id"], "T02")]
    assert {t["tote"] for t in wave["tasks"] if t["order_id"] == near["id"]} == {"T02"}
    layout = Layout.from_bins(BINS)
    where = layout.locate_bins(BINS)
    walked = [where[t["bin"]] for t in wave["tasks"]]
    assert wave["path_length_m"] == pytest.approx(optimal_tour(layout, walked).length_m)
    for o in (oldest, near):
        assert api.ok(api.get(f"/orders/{o['id']}"))["status"] == "in_fulfilment"
    assert api.ok(api.get(f"/orders/{far['id']}"))["status"] == "confirmed"

    rest = api.ok(api.post("/warehouses/NJ/waves", {}), 201)
    assert [o["order_id"] for o in rest["orders"]] == [far["id"]]
    r = api.post("/warehouses/NJ/waves", {"max_orders": 5})
    assert r.status_code == 409 and r.json()["error"] == "nothing_to_pick"
    assert api.ok(api.get(f"/orders/{pending['id']}"))["status"] == "pending_payment"

    for t in wave["tasks"]:
        _pick_task(api, wave["id"], t)
    shipments = api.ok(api.get(f"/pick-lists/{wave['id']}"))["orders"]
    assert {s["shipment_status"] for s in shipments} == {"ready_to_pack"}
    _balanced(db)


def test_orders_already_on_pick_lists_do_not_hide_newer_ones_from_the_next_wave(api: Api, floor, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # A wave chooses among the oldest ready orders, at most WAVE_CANDIDATES_MAX (1,000); shrunk
    # to 2 here, two orders being picked must not fill the window.
    monkeypatch.setattr(planning, "WAVE_CANDIDATES_MAX", 2)
    first = [api.order([("MUG", 1)]) for _ in range(2)]
    newer = [api.order([("MUG", 1)]) for _ in range(2)]
    wave = api.ok(api.post("/warehouses/NJ/waves", {"max_orders": 2}), 201)
    assert [o["order_id"] for o in wave["orders"]] == [o["id"] for o in first]

    next_wave = api.ok(api.post("/warehouses/NJ/waves", {"max_orders": 2}), 201)

    assert [o["order_id"] for o in next_wave["orders"]] == [o["id"] for o in newer]


def test_a_wave_keeps_to_max_units_and_cutoff(api: Api, floor) -> None:  # type: ignore[no-untyped-def]
    first = api.order([("MUG", 2)])
    api.order([("TEA", 5)])
    third = api.order([("JAM", 1)])
    wave = api.ok(api.post("/warehouses/NJ/waves", {"max_orders": 10, "max_units": 3}), 201)
    assert [o["order_id"] for o in wave["orders"]] == [first["id"], third["id"]]
    r = api.post("/warehouses/NJ/waves", {"cutoff": "2000-01-01T00:00:00Z"})
    assert r.status_code == 409 and r.json()["error"] == "nothing_to_pick"
    assert api.post("/warehouses/NJ/waves", {"max_orders": 0}).status_code == 422
    assert api.post("/warehouses/XX/waves", {}).status_code == 404


def test_a_short_pick_corrects_the_stock_and_reroutes_the_rest_to_another_warehouse(api: Api, db, floor) -> None:  # type: ignore[no-untyped-def]
    _products(api, "CUP")
    _put(api, "NJ", "CUP", 4, "A-05")
    _put(api, "IL", "CUP", 6, None)
    order = api.order([("CUP", 4)])
    pl = _pick_lists(api, order["id"])["pick_lists"][0]
    task = pl["tasks"][0]
    assert pl["warehouse"] == "NJ" and task["bin"] == "A-05"
    api.ok(_scan(api, pl["id"], bin="A-05"), 201)
    api.ok(_scan(api, pl["id"], item="CUP"), 201)
    api.ok(_scan(api, pl["id"], quantity=1), 201)

    short = api.ok(api.post(f"/pick-lists/{pl['id']}/tasks/{task['id']}/short", {"found": 1}), 201)

    assert short["missing"] == 2 and short["backordered"] == 0
    assert short["rerouted"] == [{"warehouse": "IL", "quantity": 2}]
    assert short["task"]["status"] == "short" and short["task"]["picked"] == 2 and short["task"]["short"] == 2
    assert short["order_status"] == "in_fulfilment"
    assert short["pick_list_status"] == "done" and short["shipment_status"] == "ready_to_pack"
    [new_id] = short["new_pick_lists"]
    il = api.ok(api.get(f"/pick-lists/{new_id}"))
    assert il["warehouse"] == "IL" and [(t["sku"], t["quantity"]) for t in il["tasks"]] == [("CUP", 2)]
    cup = {w["warehouse"]: w for w in api.stock("CUP")["warehouses"]}
    assert (cup["NJ"]["on_hand"], cup["NJ"]["reserved"]) == (2, 2)  # 2 in the tote, 2 written off
    assert (cup["IL"]["on_hand"], cup["IL"]["reserved"]) == (6, 2)
    assert _bin_qty(db, "NJ", "A-05") == 0
    with db.read() as session:
        scans = session.execute(select(PickScan.step, PickScan.value).where(PickScan.step == "short")).all()
        assert [tuple(s) for s in scans] == [("short", "1")]
    moves = api.ok(api.get("/inventory/movements", params={"sku": "CUP", "warehouse": "NJ"}))["items"]
    adjust = [m for m in moves if m["kind"] == "adjustment"]
    assert [(m["delta_on_hand"], m["bin"], m["reason"]) for m in adjust] == [(-2, "A-05", "short pick")]
    assert any(m["kind"] == "release" and m["delta_reserved"] == -2 for m in moves)
    events = api.ok(api.get(f"/orders/{order['id']}/events"))["items"]
    assert any(e["type"] == "short_pick" and "re-reserved 2 in IL" in e["message"] for e in events)
    assert "stock.discrepancy" in _topics(db)
    _balanced(db)

    _pick_task(api, new_id, il["tasks"][0])
    assert api.ok(api.get(f"/pick-lists/{new_id}"))["orders"][0]["shipment_status"] == "ready_to_pack"
    _balanced(db)


def test_a_short_pick_with_no_stock_anywhere_backorders_the_missing_units(api: Api, db, floor) -> None:  # type: ignore[no-untyped-def]
    order = api.order([("TEA", 10)])
    pl = _pick_lists(api, order["id"])["pick_lists"][0]
    task = pl["tasks"][0]
    r = api.post(f"/pick-lists/{pl['id']}/tasks/{task['id']}/short", {"found": 10})
    assert r.status_code == 422 and r.json()["error"] == "not_short"

    short = api.ok(api.post(f"/pick-lists/{pl['id']}/tasks/{task['id']}/short", {"found": 0}), 201)

    assert short["missing"] == 10 and short["backordered"] == 10 and short["rerouted"] == []
    assert short["order_status"] == "backordered" and short["shipment_status"] == "cancelled"
    full = api.ok(api.get(f"/orders/{order['id']}"))
    assert full["status"] == "backordered"
    assert full["lines"][0]["backordered"] == 10 and full["lines"][0]["reserved"] == 0
    tea = api.stock("TEA")
    assert (tea["on_hand"], tea["reserved"]) == (0, 0)
    assert _bin_qty(db, "NJ", "B-05") == 0
    types = [e["type"] for e in api.ok(api.get(f"/orders/{order['id']}/events"))["items"]]
    assert "short_pick" in types and "backordered" in types
    r = api.post(f"/pick-lists/{pl['id']}/tasks/{task['id']}/short", {"found": 0})
    assert r.status_code == 409 and r.json()["error"] == "task_done"
    _balanced(db)

    # Stock arrives: the order is confirmed again and the rest goes on a new list.
    _put(api, "NJ", "TEA", 10, "B-01")
    assert api.ok(api.get(f"/orders/{order['id']}"))["status"] == "confirmed"
    again = _pick_lists(api, order["id"])["pick_lists"][0]
    assert [(t["bin"], t["quantity"]) for t in again["tasks"]] == [("B-01", 10)]
    _pick_task(api, again["id"], again["tasks"][0])
    _balanced(db)


def test_picking_needs_the_pickers_scope(api: Api, db, floor, client) -> None:  # type: ignore[no-untyped-def]
    order = api.order([("MUG", 1)])
    picker = api.as_token(make_token(db, SECRET, "picker"))
    for role in ("clerk", "support", "packer"):
        other = api.as_token(make_token(db, SECRET, role))
        for response in (
            other.post(f"/orders/{order['id']}/pick-lists"),
            other.post("/warehouses/NJ/waves", {}),
            other.get("/pick-lists"),
            other.get("/pick-lists/1"),
            other.post("/pick-lists/1/scans", {"bin": "A-09"}),
            other.post("/pick-lists/1/tasks/1/short", {"found": 0}),
        ):
            assert response.status_code == 403, (role, response.text)
            assert response.json()["error"] == "forbidden"
    pl = picker.ok(picker.post(f"/orders/{order['id']}/pick-lists"), 201)["pick_lists"][0]
    _pick_task(picker, pl["id"], pl["tasks"][0])
    assert picker.ok(picker.get(f"/pick-lists/{pl['id']}"))["status"] == "done"


def test_scans_refuse_bad_bodies_and_unknown_lists(api: Api, floor) -> None:  # type: ignore[no-untyped-def]
    order = api.order([("MUG", 1)])
    lid = _pick_lists(api, order["id"])["pick_lists"][0]["id"]
    assert _scan(api, lid, bin="A-09", item="MUG").status_code == 422  # one thing per scan
    assert _scan(api, lid).status_code == 422
    assert _scan(api, lid, bin="A-09", colour="red").status_code == 422
    assert _scan(api, 999999, bin="A-09").status_code == 404
    assert _scan(api, lid, task_id=999999, bin="A-09").status_code == 404
    assert api.get("/pick-lists/999999").status_code == 404


def test_stock_levels_stay_untouched_by_picks(api: Api, db, floor) -> None:  # type: ignore[no-untyped-def]
    order = api.order([("JAM", 4)])
    pl = _pick_lists(api, order["id"])["pick_lists"][0]
    with db.read() as session:
        before = session.execute(select(StockLevel.on_hand, StockLevel.reserved)).all()
    _pick_task(api, pl["id"], pl["tasks"][0])
    with db.read() as session:
        assert session.execute(select(StockLevel.on_hand, StockLevel.reserved)).all() == before
    assert _bin_qty(db, "NJ", "A-01") == 6
    _balanced(db)


def test_an_order_put_on_hold_is_not_picked_until_released(api: Api, floor) -> None:  # type: ignore[no-untyped-def]
    order = api.order([("MUG", 1)])
    pl = _pick_lists(api, order["id"])["pick_lists"][0]
    api.ok(api.post(f"/orders/{order['id']}/hold", {"reason": "address check"}))
    r = _scan(api, pl["id"], bin="A-09")
    assert r.status_code == 409 and r.json()["error"] == "order_on_hold"
    api.ok(api.post(f"/orders/{order['id']}/release"))
    _pick_task(api, pl["id"], pl["tasks"][0])


def test_creating_a_pick_list_again_with_the_same_idempotency_key_replays_it(api: Api, floor) -> None:  # type: ignore[no-untyped-def]
    order = api.order([("MUG", 1)])
    headers = {"Idempotency-Key": "pick-42"}
    first = api.post(f"/orders/{order['id']}/pick-lists", headers=headers)
    again = api.post(f"/orders/{order['id']}/pick-lists", headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true" and again.json() == first.json()


def test_pick_lists_built_at_the_same_moment_never_claim_the_same_units_of_a_bin(api: Api, db) -> None:  # type: ignore[no-untyped-def]
    """Eight orders of two mugs each, sixteen mugs in eight bins of two, all lists built at once by
    real concurrent clients (threads with their own connections): every bin is claimed at most
    as far as it holds, and every list can be picked to the end."""
    import threading

    from oms.auth.service import authenticate_token
    from oms.picking import service as picking

    _warehouse(api, "NJ", bins=[(f"A-{n:02d}", 0.0, 2.0 * n, "A") for n in range(1, 9)])
    api.channel("web", warehouses=["NJ"])
    _products(api, "MUG")
    for n in range(1, 9):
        _put(api, "NJ", "MUG", 2, f"A-{n:02d}")
    orders = [api.order([("MUG", 2)])["id"] for _ in range(8)]
    with db.read() as session:
        principal = authenticate_token(session, SECRET, api.token)
    start = threading.Barrier(len(orders))
    results: list[object] = []

    def build(order_id: int) -> None:
        start.wait()
        try:
            results.append(picking.create_order_pick_lists(db, order_id, principal))
        except Exception as exc:  # noqa: BLE001  (collected and asserted below)
            results.append(exc)

    threads = [threading.Thread(target=build, args=(o,)) for o in orders]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(not isinstance(r, Exception) for r in results), results
    claimed: dict[str, int] = {}
    for r in results:
        for pick_list in r.pick_lists:  # type: ignore[attr-defined]
            for task in pick_list.tasks:
                claimed[task.bin] = claimed.get(task.bin, 0) + task.quantity
    assert claimed == {f"A-{n:02d}": 2 for n in range(1, 9)}
