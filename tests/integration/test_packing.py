"""Packing through the API: the box catalogue, planning a shipment's packages, scanning, closing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from oms.events.model import OutboxEvent
from oms.orders.model import Allocation
from oms.packing.cartons import validate
from oms.packing.model import PackScan
from oms.packing.service import RULES, stored_plan
from oms.picking.model import PickList, PickTask
from oms.shipping.model import Shipment
from tests.conftest import SECRET
from tests.factories import Api, gtin13, make_token

BOOK_BARCODE = gtin13(1)
LAMP_BARCODE = gtin13(2)
CATALOGUE = [
    # code, inner l × w × h, max weight, tare, cost
    ("SMALL", 200, 150, 100, 2000, 100, "0.50"),
    ("MEDIUM", 300, 250, 200, 5000, 250, "1.00"),
    ("LARGE", 400, 300, 300, 10000, 400, "2.00"),
]


def box_body(code: str, l: int, w: int, h: int, max_g: int, tare_g: int, cost: str) -> dict[str, Any]:  # noqa: E741
    return {
        "code": code,
        "name": f"Box {code}",
        "inner_length_mm": l,
        "inner_width_mm": w,
        "inner_height_mm": h,
        "max_weight_g": max_g,
        "tare_weight_g": tare_g,
        "cost": cost,
    }


def catalogue(api: Api, boxes: list[tuple] = CATALOGUE) -> None:  # type: ignore[type-arg]
    for b in boxes:
        api.ok(api.post("/boxes", box_body(*b)), 201)


def shop(api: Api) -> None:
    api.warehouse("NJ1")
    api.channel("web", warehouses=["NJ1"])
    api.product("MUG-1", weight_g=350, length_mm=120, width_mm=90, height_mm=100, fragile=True)
    api.product("BOOK-1", weight_g=600, length_mm=230, width_mm=150, height_mm=30, barcode=BOOK_BARCODE)
    api.product("LAMP-1", weight_g=900, length_mm=200, width_mm=200, height_mm=300, barcode=LAMP_BARCODE)
    for sku in ("MUG-1", "BOOK-1", "LAMP-1"):
        api.receive("NJ1", sku, 10)


def picked_shipment(db, order_id: int, status: str = "ready_to_pack") -> int:  # type: ignore[no-untyped-def]
    """What picking leaves behind: a shipment with every allocated unit picked into a tote."""
    with db.write() as session:
        allocations = session.scalars(select(Allocation).where(Allocation.order_id == order_id)).all()
        warehouse_id = allocations[0].warehouse_id
        shipment = Shipment(order_id=order_id, warehouse_id=warehouse_id, status=status)
        pick_list = PickList(
            warehouse_id=warehouse_id, kind="order", status="done", path_length_m=0, s_shape_length_m=0, created_by="t"
        )
        session.add_all([shipment, pick_list])
        session.flush()
        for seq, a in enumerate(allocations, 1):
            a.picked = a.quantity
            session.add(
                PickTask(
                    pick_list_id=pick_list.id,
                    seq=seq,
                    shipment_id=shipment.id,
                    order_id=order_id,
                    allocation_id=a.id,
                    product_id=a.product_id,
                    tote="T1",
                    quantity=a.quantity,
                    picked=a.quantity,
                    short=0,
                    status="picked",
                )
            )
        return shipment.id


def mug_and_book(api: Api, db) -> tuple[dict[str, Any], int]:  # type: ignore[no-untyped-def]
    shop(api)
    catalogue(api)
    order = api.order([("MUG-1", 1), ("BOOK-1", 1)])
    return order, picked_shipment(db, order["id"])


def topics(db) -> list[str]:  # type: ignore[no-untyped-def]
    with db.read() as session:
        return list(session.scalars(select(OutboxEvent.topic).order_by(OutboxEvent.id)))


def scans(db) -> list[tuple[str, bool, str | None]]:  # type: ignore[no-untyped-def]
    with db.read() as session:
        rows = session.execute(select(PackScan.value, PackScan.accepted, PackScan.error).order_by(PackScan.id))
        return [tuple(r) for r in rows]  # type: ignore[misc]


# --- the box catalogue ----------------------------------------------------------------------------


def test_boxes_are_validated_listed_in_pages_changed_and_retired(api, db):
    catalogue(api)
    assert api.post("/boxes", box_body("SMALL", 1, 1, 1, 10, 1, "0.10")).status_code == 409
    for bad in (
        box_body("X", 0, 10, 10, 100, 10, "1.00"),
        box_body("X", 10, 10, 10, -5, 10, "1.00"),
        box_body("X", 10, 10, 10, 100, 10, "0"),
        box_body("X", 10, 10, 10, 100, 100, "1.00"),  # tare as heavy as the limit
        {**box_body("X", 10, 10, 10, 100, 10, "1.00"), "is_active": False},  # unknown field on create
    ):
        response = api.post("/boxes", bad)
        assert response.status_code == 422, bad
    page1 = api.ok(api.get("/boxes", params={"limit": 2}))
    page2 = api.ok(api.get("/boxes", params={"limit": 2, "cursor": page1["next_cursor"]}))
    assert [b["code"] for b in page1["items"] + page2["items"]] == ["SMALL", "MEDIUM", "LARGE"]
    assert page2["next_cursor"] is None
    changed = api.ok(api.patch("/boxes/SMALL", {"cost": "0.45", "is_active": False}))
    assert (changed["cost"], changed["is_active"]) == ("0.45", False)
    assert [b["code"] for b in api.ok(api.get("/boxes", params={"active": True}))["items"]] == ["MEDIUM", "LARGE"]
    assert api.patch("/boxes/NOPE", {"cost": "1.00"}).status_code == 404
    assert api.patch("/boxes/MEDIUM", {"tare_weight_g": 6000}).json()["error"] == "validation_error"


# --- planning the packages ------------------------------------------------------------------------


def test_a_mug_and_a_book_go_into_the_medium_box_with_the_mug_wrapped_and_the_package_marked_fragile(api, db):
    order, shipment_id = mug_and_book(api, db)
    packed = api.ok(api.post(f"/shipments/{shipment_id}/pack"), 201)
    assert packed["status"] == "packing"
    assert (packed["order_number"], packed["warehouse"]) == (order["number"], "NJ1")
    [package] = packed["packages"]
    assert package["box"] == {
        "code": "MEDIUM",
        "name": "Box MEDIUM",
        "inner_length_mm": 300,
        "inner_width_mm": 250,
        "inner_height_mm": 200,
    }
    assert (package["number"], package["of"], package["label"], package["status"]) == (1, 1, "1 of 1", "open")
    assert package["fragile"] is True and package["marks"] == ["FRAGILE"]
    assert "Wrap MUG-1 in bubble wrap (2 layers)" in package["instructions"]
    assert "Mark the package FRAGILE" in package["instructions"]
    item_volume = 120 * 90 * 100 + 230 * 150 * 30
    assert package["fill_rate"] == pytest.approx(item_volume / (300 * 250 * 200))
    assert package["expected_weight_g"] > 350 + 600 + 250  # items + box + bubble wrap and air pillows
    assert sorted((i["sku"], i["expected"], i["scanned"]) for i in package["items"]) == [
        ("BOOK-1", 1, 0),
        ("MUG-1", 1, 0),
    ]
    assert package["missing"] == {"BOOK-1": 1, "MUG-1": 1}
    assert [p["sku"] for p in package["placements"]] == ["BOOK-1", "MUG-1"]  # fragile last
    plan = packed["plan"]
    assert plan["cost"] == "1.00" and plan["lower_bound_boxes"] == 1
    assert plan["explanation"][0].startswith("SMALL (0.50): MUG-1")
    assert plan["explanation"][-1] == "MEDIUM (1.00) is the cheapest box that takes all 2 items"

    with db.read() as session:
        stored = stored_plan(session, package["id"])
    assert validate(stored, RULES) == []
    assert stored.weight_g == package["expected_weight_g"]

    shown = api.ok(api.get(f"/shipments/{shipment_id}"))
    assert shown["packages"] == packed["packages"] and shown["status"] == "packing"
    assert "shipment.packing" in topics(db)
    timeline = api.ok(api.get(f"/orders/{order['id']}/events"))["items"]
    assert any(e["type"] == "packing_started" and "MEDIUM (FRAGILE)" in e["message"] for e in timeline)


def test_planning_again_before_any_scan_replaces_the_plan_and_after_a_scan_is_refused(api, db):
    _, shipment_id = mug_and_book(api, db)
    first = api.ok(api.post(f"/shipments/{shipment_id}/pack"), 201)
    api.ok(api.patch("/boxes/MEDIUM", {"is_active": False}))
    again = api.ok(api.post(f"/shipments/{shipment_id}/pack"), 201)
    [package] = again["packages"]
    assert package["box"]["code"] == "LARGE" and package["number"] == 1
    assert first["packages"][0]["box"]["code"] == "MEDIUM"
    assert [p["id"] for p in api.ok(api.get(f"/shipments/{shipment_id}"))["packages"]] == [package["id"]]

    api.ok(api.post(f"/packages/{package['id']}/scans", {"item": "MUG-1"}), 201)
    refused = api.post(f"/shipments/{shipment_id}/pack")
    assert refused.status_code == 409 and refused.json()["error"] == "packing_started"
    assert [p["id"] for p in api.ok(api.get(f"/shipments/{shipment_id}"))["packages"]] == [package["id"]]


def test_only_a_shipment_ready_to_pack_is_planned_and_an_item_no_box_fits_is_refused(api, db):
    shop(api)
    catalogue(api, CATALOGUE[:1])
    order = api.order([("MUG-1", 1)])
    picking = picked_shipment(db, order["id"], status="picking")
    response = api.post(f"/shipments/{picking}/pack")
    assert response.status_code == 409 and response.json()["error"] == "invalid_transition"
    assert api.post("/shipments/999999/pack").status_code == 404

    ready = picked_shipment(db, api.order([("MUG-1", 1)])["id"])
    too_large = api.post(f"/shipments/{ready}/pack")
    assert too_large.status_code == 409 and too_large.json()["error"] == "item_too_large"
    assert "MUG-1" in too_large.json()["detail"]
    assert api.ok(api.get(f"/shipments/{ready}"))["status"] == "ready_to_pack"

    api.ok(api.patch("/boxes/SMALL", {"is_active": False}))
    no_boxes = api.post(f"/shipments/{ready}/pack")
    assert no_boxes.status_code == 409 and no_boxes.json()["error"] == "no_boxes"


# --- scanning in and closing ----------------------------------------------------------------------


def test_every_scan_is_verified_and_recorded_and_the_last_close_makes_the_shipment_packed(api, db):
    order, shipment_id = mug_and_book(api, db)
    [package] = api.ok(api.post(f"/shipments/{shipment_id}/pack"), 201)["packages"]
    scan_url, close_url = f"/packages/{package['id']}/scans", f"/packages/{package['id']}/close"

    wrong = api.post(scan_url, {"item": LAMP_BARCODE})
    assert wrong.status_code == 422 and wrong.json()["error"] == "wrong_item"
    assert "LAMP-1 is not in this shipment" in wrong.json()["detail"]
    assert "still needs" in wrong.json()["detail"] and wrong.json()["expected"] == {"BOOK-1": 1, "MUG-1": 1}

    mug = api.ok(api.post(scan_url, {"item": "MUG-1"}), 201)
    assert (mug["accepted"], mug["sku"], mug["complete"]) == (True, "MUG-1", False)
    assert mug["package"]["missing"] == {"BOOK-1": 1}

    extra = api.post(scan_url, {"item": "MUG-1"})
    assert extra.status_code == 409 and extra.json()["error"] == "extra_item"
    assert "still needs BOOK-1" in extra.json()["detail"]

    missing = api.post(close_url, {})
    assert missing.status_code == 409 and missing.json()["error"] == "items_missing"
    assert missing.json()["missing"] == {"BOOK-1": 1} and "BOOK-1" in missing.json()["detail"]

    book = api.ok(api.post(scan_url, {"item": BOOK_BARCODE}), 201)
    assert book["sku"] == "BOOK-1" and book["complete"] is True
    assert scans(db) == [
        (LAMP_BARCODE, False, "wrong_item"),
        ("MUG-1", True, None),
        ("MUG-1", False, "extra_item"),
        (BOOK_BARCODE, True, None),
    ]

    heavy = round(package["expected_weight_g"] * 1.2)
    closed = api.ok(api.post(close_url, {"measured_weight_g": heavy}))
    assert closed["weight_ok"] is False and "20.0% over" in closed["warnings"][0]
    assert closed["package"]["status"] == "closed" and closed["package"]["weight_warning"] == closed["warnings"][0]
    assert closed["package"]["measured_weight_g"] == heavy and closed["package"]["closed_by"]
    assert closed["shipment_status"] == "packed"
    assert api.ok(api.get(f"/shipments/{shipment_id}"))["status"] == "packed"
    assert topics(db)[-2:] == ["shipment.packing", "shipment.packed"]
    timeline = api.ok(api.get(f"/orders/{order['id']}/events"))["items"]
    assert any(e["type"] == "packed" and "weight flagged on package(s) 1" in e["message"] for e in timeline)

    again = api.post(scan_url, {"item": "MUG-1"})
    assert again.status_code == 409 and again.json()["error"] == "shipment_not_packing"
    assert scans(db)[-1] == ("MUG-1", False, "shipment_not_packing")


def test_a_shipment_of_two_packages_is_packed_when_its_second_package_closes(api, db):
    shop(api)
    catalogue(api, [("FLAT", 240, 160, 40, 2000, 100, "0.40")])
    order = api.order([("BOOK-1", 2)])
    shipment_id = picked_shipment(db, order["id"])
    packages = api.ok(api.post(f"/shipments/{shipment_id}/pack"), 201)["packages"]
    assert [(p["label"], p["box"]["code"], p["fragile"], p["marks"]) for p in packages] == [
        ("1 of 2", "FLAT", False, []),
        ("2 of 2", "FLAT", False, []),
    ]
    first, second = (p["id"] for p in packages)
    api.ok(api.post(f"/packages/{first}/scans", {"item": "BOOK-1"}), 201)
    extra = api.post(f"/packages/{first}/scans", {"item": "BOOK-1"})
    assert extra.status_code == 409 and extra.json()["error"] == "extra_item"
    in_weight = api.ok(api.post(f"/packages/{first}/close", {"measured_weight_g": packages[0]["expected_weight_g"]}))
    assert (in_weight["weight_ok"], in_weight["shipment_status"]) == (True, "packing")
    assert api.post(f"/packages/{first}/close").json()["error"] == "package_closed"
    api.ok(api.post(f"/packages/{second}/scans", {"item": BOOK_BARCODE}), 201)
    assert api.ok(api.post(f"/packages/{second}/close"))["shipment_status"] == "packed"
    assert topics(db).count("shipment.packed") == 1


# --- reading shipments ----------------------------------------------------------------------------


def test_shipments_are_listed_by_status_and_warehouse_in_pages(api, db):
    shop(api)
    catalogue(api)
    ids = [picked_shipment(db, api.order([("BOOK-1", 1)])["id"]) for _ in range(3)]
    api.ok(api.post(f"/shipments/{ids[0]}/pack"), 201)
    ready = api.ok(api.get("/shipments", params={"status": "ready_to_pack", "warehouse": "NJ1", "limit": 1}))
    more = api.ok(api.get("/shipments", params={"status": "ready_to_pack", "cursor": ready["next_cursor"]}))
    assert [s["id"] for s in ready["items"] + more["items"]] == ids[1:]
    assert more["next_cursor"] is None
    [packing] = api.ok(api.get("/shipments", params={"status": "packing"}))["items"]
    assert packing["id"] == ids[0] and packing["packages"][0]["box"]["code"] == "MEDIUM"
    assert api.ok(api.get("/shipments", params={"warehouse": "IL9"}))["items"] == []
    assert api.get("/shipments", params={"status": "lost"}).status_code == 422
    assert api.get("/shipments/999999").status_code == 404


# --- who may pack ---------------------------------------------------------------------------------


def test_packing_needs_the_packer_scope_and_the_box_catalogue_a_manager(api, db):
    _, shipment_id = mug_and_book(api, db)
    packer = api.as_token(make_token(db, SECRET, "packer"))
    for role in ("picker", "clerk"):
        other = api.as_token(make_token(db, SECRET, role))
        assert other.post(f"/shipments/{shipment_id}/pack").status_code == 403, role
    assert packer.post("/boxes", box_body("XL", 500, 500, 500, 20000, 600, "3.00")).status_code == 403
    assert packer.patch("/boxes/SMALL", {"is_active": False}).status_code == 403
    assert [b["code"] for b in packer.ok(packer.get("/boxes"))["items"]] == ["SMALL", "MEDIUM", "LARGE"]

    [package] = packer.ok(packer.post(f"/shipments/{shipment_id}/pack"), 201)["packages"]
    assert packer.ok(packer.get(f"/shipments/{shipment_id}"))["status"] == "packing"
    for role in ("picker", "clerk"):
        other = api.as_token(make_token(db, SECRET, role))
        assert other.post(f"/packages/{package['id']}/scans", {"item": "MUG-1"}).status_code == 403, role
        assert other.post(f"/packages/{package['id']}/close").status_code == 403, role
    customer = api.as_token(make_token(db, SECRET, "customer"))
    assert customer.get("/boxes").status_code == 403
    assert customer.get(f"/shipments/{shipment_id}").status_code == 403
    assert scans(db) == []  # a refused token never reaches the scan record


def test_a_scan_sent_again_with_its_idempotency_key_counts_once(api, db):
    _, shipment_id = mug_and_book(api, db)
    [package] = api.ok(api.post(f"/shipments/{shipment_id}/pack"), 201)["packages"]
    headers = {"Idempotency-Key": "scan-1"}
    first = api.ok(api.post(f"/packages/{package['id']}/scans", {"item": "MUG-1"}, headers=headers), 201)
    replay = api.post(f"/packages/{package['id']}/scans", {"item": "MUG-1"}, headers=headers)
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == first
    assert scans(db) == [("MUG-1", True, None)]
