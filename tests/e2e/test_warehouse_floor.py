"""Issue 3's proof, through the HTTP API: an order from Brooklyn with stock in New Jersey,
Illinois and California is routed to New Jersey (and can be routed again), picked along the
shortest walk with a wrong scan refused, and packed into the expected box with the fragile mug
protected."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from oms.inventory import stock
from oms.picking.model import PickScan
from tests.factories import Api, gtin13, make_token

MUG_BARCODE, BOOK_BARCODE = gtin13(11), gtin13(12)
SITES = {  # code: (city, region, ZIP): three regions of the United States
    "NJ1": ("Edison", "NJ", "08817"),
    "IL1": ("Joliet", "IL", "60431"),
    "CA1": ("Ontario", "CA", "91761"),
}


@pytest.fixture
def floor(api: Api) -> Api:
    for code, (city, region, zip_code) in SITES.items():
        address = {"line1": "1 Logistics Way", "city": city, "region": region, "postal_code": zip_code, "country": "US"}
        api.ok(
            api.post("/warehouses", {"code": code, "name": f"DC {city}", "kind": "warehouse", "address": address}), 201
        )
    # The channel lists California first: distance, not the list, decides.
    api.channel("web", warehouses=["CA1", "IL1", "NJ1"])
    for b, x, y, aisle in [("A-02", 0, 2, "A"), ("A-08", 0, 8, "A"), ("B-04", 3, 4, "B"), ("B-09", 3, 9, "B")]:
        api.ok(api.post("/warehouses/NJ1/bins", {"code": b, "x_m": x, "y_m": y, "aisle": aisle}), 201)
    api.product("MUG-1", barcode=MUG_BARCODE, weight_g=350, length_mm=120, width_mm=90, height_mm=100, fragile=True)
    api.product("BOOK-1", barcode=BOOK_BARCODE, weight_g=600, length_mm=230, width_mm=150, height_mm=30)
    receipt = [{"sku": "MUG-1", "quantity": 5, "bin": "B-09"}, {"sku": "BOOK-1", "quantity": 5, "bin": "A-08"}]
    api.ok(api.post("/inventory/receipts", {"warehouse": "NJ1", "lines": receipt}), 201)
    for code in ("IL1", "CA1"):
        api.ok(
            api.post(
                "/inventory/receipts",
                {"warehouse": code, "lines": [{"sku": s, "quantity": 5} for s in ("MUG-1", "BOOK-1")]},
            ),
            201,
        )
    for code, length, w, h, max_g, tare, cost in [
        ("SMALL", 200, 150, 100, 2000, 100, "0.50"),
        ("MEDIUM", 300, 250, 200, 5000, 250, "1.00"),
        ("LARGE", 400, 300, 300, 10000, 400, "2.00"),
    ]:
        body = {"code": code, "name": f"Box {code}", "inner_length_mm": length, "inner_width_mm": w}
        body |= {"inner_height_mm": h, "max_weight_g": max_g, "tare_weight_g": tare, "cost": cost}
        api.ok(api.post("/boxes", body), 201)
    return api


def _as(api: Api, db, settings, role: str) -> Api:  # type: ignore[no-untyped-def]
    return Api(api.client, make_token(db, settings.resolved_secret_key(), role, email=f"{role}@oms.test"))


def test_brooklyn_order_is_routed_to_new_jersey_picked_with_a_wrong_scan_refused_and_packed(floor, db, settings):
    order = floor.order([("MUG-1", 1), ("BOOK-1", 1)])  # ships to 12 Atlantic Ave, Brooklyn NY 11201
    assert {a["warehouse"] for line in order["lines"] for a in line["allocations"]} == {"NJ1"}

    routing = floor.ok(floor.get(f"/orders/{order['id']}/routing"))
    assert routing["destination"]["source"] == "zip"
    by_code = {c["code"]: c for c in routing["candidates"]}
    assert by_code["NJ1"]["distance_km"] < 60 < 1000 < by_code["IL1"]["distance_km"] < by_code["CA1"]["distance_km"]
    assert "NJ1" in routing["why"]

    picker = _as(floor, db, settings, "picker")
    [pick_list] = picker.ok(picker.post(f"/orders/{order['id']}/pick-lists"), 201)["pick_lists"]
    assert pick_list["warehouse"] == "NJ1"
    assert [t["bin"] for t in pick_list["tasks"]] == ["A-08", "B-09"]  # up aisle A, down aisle B
    assert pick_list["path_length_m"] <= pick_list["s_shape_length_m"]

    book, mug = pick_list["tasks"]
    scans = f"/pick-lists/{pick_list['id']}/scans"
    wrong = picker.post(scans, {"task_id": book["id"], "bin": "B-09"})
    assert wrong.status_code == 422 and wrong.json()["error"] == "wrong_bin" and "A-08" in wrong.json()["detail"]
    picker.ok(picker.post(scans, {"task_id": book["id"], "bin": "A-08"}), 201)
    wrong_item = picker.post(scans, {"task_id": book["id"], "item": MUG_BARCODE})
    assert wrong_item.status_code == 422 and wrong_item.json()["error"] == "wrong_item"
    picker.ok(picker.post(scans, {"task_id": book["id"], "item": BOOK_BARCODE}), 201)
    picker.ok(picker.post(scans, {"task_id": book["id"], "quantity": 1}), 201)
    picker.ok(picker.post(scans, {"task_id": mug["id"], "bin": "B-09"}), 201)
    picker.ok(picker.post(scans, {"task_id": mug["id"], "item": MUG_BARCODE}), 201)
    done = picker.ok(picker.post(scans, {"task_id": mug["id"], "quantity": 1}), 201)
    assert done["shipment_status"] == "ready_to_pack"
    with db.read() as session:
        refused = session.scalars(select(PickScan.error).where(PickScan.accepted.is_(False))).all()
        assert sorted(refused) == ["wrong_bin", "wrong_item"]
        assert stock.ledger_mismatches(session) == {} and stock.bin_mismatches(session) == {}
    assert picker.post(f"/orders/{order['id']}/reroute", {}).status_code == 403  # a picker may not re-route

    packer = _as(floor, db, settings, "packer")
    [shipment] = packer.ok(packer.get("/shipments?status=ready_to_pack"))["items"]
    packed = packer.ok(packer.post(f"/shipments/{shipment['id']}/pack"), 201)
    [package] = packed["packages"]
    assert package["box"]["code"] == "MEDIUM"  # SMALL cannot take the wrapped mug beside the book
    assert package["fragile"] and "FRAGILE" in package["marks"]
    assert any("bubble wrap" in i and "MUG-1" in i for i in package["instructions"])
    assert 0 < package["fill_rate"] < 1
    for item in (BOOK_BARCODE, MUG_BARCODE):
        packer.ok(packer.post(f"/packages/{package['id']}/scans", {"item": item}), 201)
    closed = packer.ok(
        packer.post(f"/packages/{package['id']}/close", {"measured_weight_g": package["expected_weight_g"]})
    )
    assert closed["shipment_status"] == "packed" and closed["weight_ok"]


def test_an_order_is_routed_again_without_a_closed_warehouse_and_keeps_the_books_balanced(floor, db):
    order = floor.order([("MUG-1", 2), ("BOOK-1", 1)])
    again = floor.ok(floor.post(f"/orders/{order['id']}/reroute", {"exclude": ["NJ1"], "reason": "NJ1 snowed in"}))
    assert {a["warehouse"] for line in again["lines"] for a in line["allocations"]} == {"IL1"}  # next closest
    routing = floor.ok(floor.get(f"/orders/{order['id']}/routing"))
    assert routing["rerouted"]["excluded"] == ["NJ1"] and routing["rerouted"]["reason"] == "NJ1 snowed in"
    assert "NJ1" not in {c["code"] for c in routing["candidates"]}
    stock_of: dict[str, Any] = {w["warehouse"]: w for w in floor.stock("MUG-1")["warehouses"]}
    assert (stock_of["NJ1"]["reserved"], stock_of["IL1"]["reserved"]) == (0, 2)
    with db.read() as session:
        assert stock.ledger_mismatches(session) == {}
    events = [e["type"] for e in floor.ok(floor.get(f"/orders/{order['id']}/events"))["items"]]
    assert "rerouted" in events

    unknown = floor.post(f"/orders/{order['id']}/reroute", {"exclude": ["XX9"]})
    assert unknown.status_code == 422 and unknown.json()["error"] == "unknown_warehouse"
    floor.ok(floor.post(f"/orders/{order['id']}/pick-lists"), 201)
    started = floor.post(f"/orders/{order['id']}/reroute", {})
    assert started.status_code == 409 and started.json()["error"] == "cannot_reroute"  # in_fulfilment now


def test_a_shop_ships_only_for_channels_that_allow_stores(floor):
    address = {"line1": "148 Montague St", "city": "Brooklyn", "region": "NY", "postal_code": "11201", "country": "US"}
    floor.ok(
        floor.post("/warehouses", {"code": "BK-SHOP", "name": "Brooklyn shop", "kind": "store", "address": address}),
        201,
    )
    floor.ok(
        floor.post("/inventory/receipts", {"warehouse": "BK-SHOP", "lines": [{"sku": "MUG-1", "quantity": 5}]}), 201
    )
    rules = floor.ok(
        floor.patch("/channels/web", {"warehouses": ["CA1", "IL1", "NJ1", "BK-SHOP"], "allow_stores": False})
    )
    assert (rules["allow_stores"], rules["warehouses"][-1]) == (False, "BK-SHOP")
    first = floor.order([("MUG-1", 1)])
    assert first["lines"][0]["allocations"] == [{"warehouse": "NJ1", "quantity": 1}]
    assert "BK-SHOP" not in {c["code"] for c in floor.ok(floor.get(f"/orders/{first['id']}/routing"))["candidates"]}

    floor.ok(floor.patch("/channels/web", {"allow_stores": True}))
    second = floor.order([("MUG-1", 1)])
    assert second["lines"][0]["allocations"] == [{"warehouse": "BK-SHOP", "quantity": 1}]  # around the corner


def test_cancelling_an_order_mid_pick_stops_its_tasks_and_shipment_and_keeps_the_scans(floor, db):
    order = floor.order([("MUG-1", 1), ("BOOK-1", 1)])
    [pick_list] = floor.ok(floor.post(f"/orders/{order['id']}/pick-lists"), 201)["pick_lists"]
    book = pick_list["tasks"][0]
    scans = f"/pick-lists/{pick_list['id']}/scans"
    for step in ({"bin": book["bin"]}, {"item": BOOK_BARCODE}, {"quantity": 1}):
        floor.ok(floor.post(scans, {"task_id": book["id"], **step}), 201)

    cancelled = floor.ok(floor.post(f"/orders/{order['id']}/cancel", {"reason": "customer changed their mind"}))
    assert cancelled["status"] == "cancelled"
    after = floor.ok(floor.get(f"/pick-lists/{pick_list['id']}"))
    assert after["status"] == "done"
    assert sorted(t["status"] for t in after["tasks"]) == ["cancelled", "picked"]
    [shipment] = floor.ok(floor.get("/shipments?status=cancelled"))["items"]
    assert shipment["order_id"] == order["id"]
    assert floor.post(f"/shipments/{shipment['id']}/pack").status_code == 409
    with db.read() as session:
        assert len(session.scalars(select(PickScan.id)).all()) == 3  # the scans are kept
        assert stock.ledger_mismatches(session) == {} and stock.bin_mismatches(session) == {}
    mugs = {w["warehouse"]: w for w in floor.stock("MUG-1")["warehouses"]}
    assert mugs["NJ1"]["reserved"] == 0 and mugs["NJ1"]["on_hand"] == 5


def test_an_address_nothing_matches_falls_back_to_the_channels_order_and_says_why(floor):
    far_away = {"name": "Base", "line1": "1 Ice Shelf", "city": "Nowhere", "postal_code": "00000", "country": "AQ"}
    order = floor.order([("MUG-1", 1)], shipping_address=far_away)
    # The channel lists CA1 first; without a position for the customer, its order decides.
    assert order["lines"][0]["allocations"] == [{"warehouse": "CA1", "quantity": 1}]
    routing = floor.ok(floor.get(f"/orders/{order['id']}/routing"))
    assert routing["destination"] is None and "not geocoded" in routing["fallback_reason"]
