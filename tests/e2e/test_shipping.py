"""Shipping through the HTTP API: rate shopping, labels read back by a barcode decoder, documents,
confirming a shipment against the ledger, signed tracking events, manifests and late orders."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pypdfium2
import pytest
import zxingcpp
from sqlalchemy import select

from oms.events.worker import Worker, default_registry
from oms.inventory import stock
from oms.inventory.model import StockMovement
from oms.shipping import tracking
from tests.factories import Api
from tests.shipping_floor import BARCODES, BROOKLYN, as_role, build_floor, pack, pick, pick_and_pack, tracking_post


@pytest.fixture
def floor(api: Api, db) -> Api:  # type: ignore[no-untyped-def]
    return build_floor(api, db)


def _order(api: Api, lines: list[tuple[str, int]], **kw) -> dict:  # type: ignore[no-untyped-def, type-arg]
    return api.order(lines, shipping_address=BROOKLYN, **kw)


def _pdf_barcodes(pdf: bytes) -> list[str]:
    doc = pypdfium2.PdfDocument(pdf)
    found = []
    for page in doc:
        image = page.render(scale=300 / 72).to_pil()
        found += [r.text for r in zxingcpp.read_barcodes(image)]
    return found


def _pdf_text(pdf: bytes) -> str:
    doc = pypdfium2.PdfDocument(pdf)
    return "\n".join(page.get_textpage().get_text_range() for page in doc)


def _event(number: str, code: str, at: datetime, key: str, **kw) -> dict:  # type: ignore[no-untyped-def, type-arg]
    return {"id": key, "tracking_number": number, "code": code, "occurred_at": at.isoformat(), **kw}


def test_a_packed_order_is_rate_shopped_labelled_shipped_against_the_ledger_and_delivered(floor, db, settings):
    order = _order(floor, [("MUG-1", 1), ("BOOK-1", 2)])
    shipper = as_role(floor, db, settings, "shipper")
    picked = pick(floor, order["id"])
    for step in ("ship", "labels"):  # picked, not packed: neither a label nor the truck
        early = shipper.post(f"/shipments/{picked}/{step}")
        assert early.status_code == 409 and "not packed" in early.json()["detail"], early.text
    shipment_id = pack(floor, picked)

    choice = shipper.ok(shipper.post(f"/shipments/{shipment_id}/rates"))
    assert choice["rule"] == "cheapest_at_level" and choice["chosen"]["level"] == "standard"
    assert choice["alternatives"] and all(
        a["cost"] >= choice["chosen"]["cost"] for a in choice["alternatives"] if a["level"] == "standard"
    )
    assert any(c["code"] == "fragile" for p in choice["chosen"]["packages"] for c in p["breakdown"])
    assert shipper.ok(shipper.get(f"/shipments/{shipment_id}/rates"))["chosen"] == choice["chosen"]

    not_yet = shipper.post(f"/shipments/{shipment_id}/ship")
    assert not_yet.status_code == 409 and "no label" in not_yet.json()["detail"]

    labelled = shipper.ok(shipper.post(f"/shipments/{shipment_id}/labels"), 201)
    number = labelled["tracking_number"]
    assert labelled["status"] == "labelled" and tracking.is_valid_tracking_number(number)
    assert labelled["carrier"] == choice["chosen"]["carrier"] and labelled["service"] == choice["chosen"]["service"]
    assert labelled["tracking_url"].endswith(f"/track/{number}")

    pdf = shipper.client.get(
        f"/api/v1/shipments/{shipment_id}/label.pdf", headers={"Authorization": f"Bearer {shipper.token}"}
    )
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert number in _pdf_barcodes(pdf.content)
    zpl = shipper.client.get(
        f"/api/v1/shipments/{shipment_id}/label.zpl", headers={"Authorization": f"Bearer {shipper.token}"}
    ).text
    assert zpl.startswith("^XA") and zpl.rstrip().endswith("^XZ") and "^BC" in zpl and number in zpl
    slip = shipper.client.get(
        f"/api/v1/shipments/{shipment_id}/packing-slip.pdf", headers={"Authorization": f"Bearer {shipper.token}"}
    )
    text = _pdf_text(slip.content)
    assert "MUG-1" in text and "BOOK-1" in text and order["number"] in text
    inv = shipper.client.get(
        f"/api/v1/shipments/{shipment_id}/invoice.pdf", headers={"Authorization": f"Bearer {shipper.token}"}
    )
    invoice_text = _pdf_text(inv.content)
    assert f"INV-{order['number']}" in invoice_text and "oms demo store" in invoice_text  # OMS_COMPANY_NAME
    assert "Edison" in invoice_text and "Brooklyn" in invoice_text  # ships from, ships to

    before = floor.stock("BOOK-1")
    shipped = shipper.ok(shipper.post(f"/shipments/{shipment_id}/ship"))
    assert shipped["status"] == "shipped" and shipped["shipped_at"]
    after = floor.stock("BOOK-1")
    assert after["on_hand"] == before["on_hand"] - 2 and after["reserved"] == before["reserved"] - 2
    assert after["available"] == before["available"]
    again = shipper.post(f"/shipments/{shipment_id}/ship")
    assert again.status_code == 409
    view = floor.ok(floor.get(f"/orders/{order['id']}"))
    assert view["status"] == "shipped" and [ln["shipped"] for ln in view["lines"]] == [1, 2]
    with db.read() as session:
        assert stock.ledger_mismatches(session) == {} and stock.bin_mismatches(session) == {}
        kinds = session.scalars(select(StockMovement.kind).where(StockMovement.order_id == order["id"])).all()
        assert kinds.count("shipment") == 2

    t0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    bad = floor.client.post(
        "/api/v1/carriers/oms/tracking-events",
        content=b'{"events": []}',
        headers={"Oms-Carrier-Signature": "sha256=" + "0" * 64},
    )
    assert bad.status_code == 401 and bad.json()["error"] == "signature_invalid"
    unsigned = floor.client.post("/api/v1/carriers/oms/tracking-events", content=b"not json at all")
    assert unsigned.status_code == 401
    res = tracking_post(
        floor,
        [
            _event(number, "picked_up", t0, "e1", location="EDISON, NJ"),
            _event(number, "in_transit", t0 + timedelta(hours=5), "e2"),
            _event("OMS00000099990", "in_transit", t0, "e3"),
        ],
    )
    assert res.status_code == 200, res.text
    assert [r["result"] for r in res.json()["results"]] == ["applied", "applied", "unknown_tracking_number"]
    replay = tracking_post(floor, [_event(number, "picked_up", t0, "e1", location="EDISON, NJ")])
    assert replay.json()["results"][0]["result"] == "duplicate"
    late = tracking_post(floor, [_event(number, "picked_up", t0 - timedelta(hours=1), "e0")])
    assert late.json()["results"][0]["result"] == "out_of_order"
    assert shipper.ok(shipper.get(f"/shipments/{shipment_id}/shipping"))["tracking_status"] == "in_transit"
    tracking_post(floor, [_event(number, "delayed", t0 + timedelta(hours=20), "e4", description="weather")])
    tracking_post(floor, [_event(number, "delivered", t0 + timedelta(days=1), "e5", location="BROOKLYN, NY")])
    done = floor.ok(floor.get(f"/orders/{order['id']}"))
    assert done["status"] == "delivered"
    after_delivery = tracking_post(floor, [_event(number, "in_transit", t0 + timedelta(days=2), "e6")])
    assert after_delivery.json()["results"][0]["result"] == "out_of_order"
    history = shipper.ok(shipper.get(f"/shipments/{shipment_id}/tracking"))["items"]
    assert [h["code"] for h in history] == [
        "picked_up",
        "picked_up",
        "in_transit",
        "delayed",
        "delivered",
        "in_transit",
    ]
    page = floor.client.get(f"/track/{number}")  # the public page the shipping email links to
    assert page.status_code == 200 and "Delivered" in page.text and "BROOKLYN, NY" in page.text
    assert "Ada" not in page.text  # nothing about the customer
    assert floor.client.get("/track/OMS00000099990").status_code == 404
    timeline = [e["type"] for e in floor.ok(floor.get(f"/orders/{order['id']}/events"))["items"]]
    for step in ("rates_shopped", "label_created", "shipped", "tracking", "delivered"):
        assert step in timeline


def test_labels_can_be_voided_before_shipping_and_a_held_order_is_not_shipped(floor, db, settings):
    order = _order(floor, [("LAMP-1", 1)])
    shipment_id = pick_and_pack(floor, order["id"])
    shipper = as_role(floor, db, settings, "shipper")
    first = shipper.ok(shipper.post(f"/shipments/{shipment_id}/labels", {"carrier": "oms", "service": "express"}), 201)
    assert first["service"] == "express"
    voided = shipper.ok(shipper.post(f"/shipments/{shipment_id}/void", {"reason": "wrong service"}))
    assert voided["status"] == "packed" and voided["tracking_number"] is None
    assert [lb["status"] for lb in voided["labels"]] == ["voided"]
    second = shipper.ok(shipper.post(f"/shipments/{shipment_id}/labels"), 201)
    assert second["tracking_number"] != first["tracking_number"]
    floor.ok(floor.post(f"/orders/{order['id']}/hold", {"reason": "address check"}))
    held = shipper.post(f"/shipments/{shipment_id}/ship")
    assert held.status_code == 409 and held.json()["error"] == "order_not_packable"
    unknown = shipper.post(f"/shipments/{shipment_id}/labels", {"carrier": "oms", "service": "teleport"})
    assert unknown.status_code in (409, 422)


def test_the_promised_date_picks_a_faster_service_and_a_missed_ship_by_is_listed_late(floor, db, settings):
    soon = datetime.now(UTC) + timedelta(days=1)
    order = _order(floor, [("BOOK-1", 1)], deliver_by=soon.isoformat())
    shipment_id = pick_and_pack(floor, order["id"])
    shipper = as_role(floor, db, settings, "shipper")
    choice = shipper.ok(shipper.post(f"/shipments/{shipment_id}/rates"))
    assert choice["promised_by_days"] is not None
    assert choice["rule"] in ("cheapest_meeting_promise", "fastest_missing_promise")

    overdue = _order(floor, [("LAMP-1", 1)], ship_by=(datetime.now(UTC) - timedelta(hours=2)).isoformat())
    late = shipper.ok(shipper.get("/late-orders?flag=late_to_ship"))
    assert [o["order_id"] for o in late["items"]] == [overdue["id"]] and late["next_cursor"] is None
    assert late["items"][0]["flags"][0]["kind"] == "late_to_ship"
    assert shipper.get("/late-orders?flag=nonsense").status_code == 422


def test_late_orders_come_a_page_at_a_time_the_most_overdue_first(floor, db, settings):
    now = datetime.now(UTC)
    overdue = [_order(floor, [("BOOK-1", 1)], ship_by=(now - timedelta(hours=h)).isoformat()) for h in (1, 5, 3, 5)]
    shipper = as_role(floor, db, settings, "shipper")
    whole = shipper.ok(shipper.get("/late-orders?flag=late_to_ship"))["items"]
    # By ship-by date, then by order: the two orders due 5 hours ago first, in the order they came.
    expected = [overdue[1]["id"], overdue[3]["id"], overdue[2]["id"], overdue[0]["id"]]
    assert [o["order_id"] for o in whole] == expected

    seen, cursor = [], None
    while True:
        page = shipper.ok(shipper.get("/late-orders", params={"flag": "late_to_ship", "limit": 1, "cursor": cursor}))
        seen += [o["order_id"] for o in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == expected

    # Not base64 JSON; an id alone; not a date; a date without its time zone (twice).
    for bad in (
        "nonsense",
        "eyJhZnRlciI6IDF9",
        "eyJhZnRlciI6IFsibm90IGEgZGF0ZSIsIDFdfQ",
        "eyJhZnRlciI6IFsiMjAyMC0wMS0wMVQwMDowMDowMCIsIDFdfQ",
        "eyJhZnRlciI6IFsiMjAyMC0wMS0wMSIsIDFdfQ",
    ):
        r = shipper.get("/late-orders", params={"cursor": bad})
        assert (r.status_code, r.json()["error"]) == (422, "invalid_cursor"), bad


def test_the_end_of_day_manifest_lists_the_days_parcels_once(floor, db, settings):
    shipper = as_role(floor, db, settings, "shipper")
    numbers = []
    for sku in ("BOOK-1", "LAMP-1"):
        order = _order(floor, [(sku, 1)])
        sid = pick_and_pack(floor, order["id"])
        shipper.ok(shipper.post(f"/shipments/{sid}/labels", {"carrier": "oms", "service": "ground"}), 201)
        numbers.append(shipper.ok(shipper.post(f"/shipments/{sid}/ship"))["tracking_number"])
    m = shipper.ok(shipper.post("/manifests", {"carrier": "oms", "warehouse": "NJ1"}), 201)
    assert m["shipments"] == 2 and sorted(m["tracking_numbers"]) == sorted(numbers)
    again = shipper.post("/manifests", {"carrier": "oms", "warehouse": "NJ1"})
    assert again.status_code == 409 and again.json()["error"] == "nothing_to_manifest"
    auth = {"Authorization": f"Bearer {shipper.token}"}
    rows = list(csv.DictReader(io.StringIO(shipper.client.get(f"/api/v1/manifests/{m['id']}.csv", headers=auth).text)))
    assert sorted(r["tracking_number"] for r in rows) == sorted(numbers)
    pdf = shipper.client.get(f"/api/v1/manifests/{m['id']}.pdf", headers=auth)
    assert pdf.status_code == 200 and all(n in _pdf_text(pdf.content) for n in numbers)
    assert shipper.ok(shipper.get("/manifests"))["items"][0]["id"] == m["id"]


def test_carriers_are_configured_data_that_only_an_admin_changes(floor, db, settings):
    carrier = floor.ok(floor.get("/carriers/metro"))
    body = {"name": "Metro Courier", "services": carrier["services"], "tracking_prefix": "MRC"}
    changed = floor.ok(floor.put("/carriers/metro", body))
    assert changed["name"] == "Metro Courier"
    broken = [{**carrier["services"][0], "rates": {**carrier["services"][0]["rates"], "breaks_g": [500, 100]}}]
    bad = floor.put("/carriers/metro", {**body, "services": broken})
    assert bad.status_code == 422
    renamed = floor.put("/carriers/metro", {**body, "tracking_prefix": "MRX"})
    assert renamed.status_code == 422 and renamed.json()["error"] == "prefix_in_use"
    clash = floor.put("/carriers/fast", {**body, "tracking_prefix": "OMT"})
    assert clash.status_code == 422
    created = floor.put("/carriers/fast", {**body, "name": "Fast", "tracking_prefix": "FST"})
    assert created.status_code == 201
    shipper = as_role(floor, db, settings, "shipper")
    assert shipper.put("/carriers/fast", body).status_code == 403
    carriers = shipper.ok(shipper.get("/carriers"))
    assert carriers["next_cursor"] is None and carriers["items"]


def test_a_short_picked_order_ships_what_was_found_then_the_rest_when_stock_comes(floor, db, settings):
    order = _order(floor, [("MUG-1", 5), ("BOOK-1", 1)])
    [pick_list] = floor.ok(floor.post(f"/orders/{order['id']}/pick-lists"), 201)["pick_lists"]
    scans = f"/pick-lists/{pick_list['id']}/scans"
    for task in pick_list["tasks"]:
        if task["sku"] == "MUG-1":  # the bin holds 3 of the 5
            floor.ok(floor.post(f"/pick-lists/{pick_list['id']}/tasks/{task['id']}/short", {"found": 3}), 201)
            continue
        floor.ok(floor.post(scans, {"task_id": task["id"], "bin": task["bin"]}), 201)
        floor.ok(floor.post(scans, {"task_id": task["id"], "item": BARCODES[task["sku"]]}), 201)
        floor.ok(floor.post(scans, {"task_id": task["id"], "quantity": task["quantity"]}), 201)
    [shipment] = [s for s in floor.ok(floor.get("/shipments?status=ready_to_pack"))["items"]]
    pack(floor, shipment["id"])
    shipper = as_role(floor, db, settings, "shipper")
    shipper.ok(shipper.post(f"/shipments/{shipment['id']}/labels"), 201)
    shipper.ok(shipper.post(f"/shipments/{shipment['id']}/ship"))
    view = floor.ok(floor.get(f"/orders/{order['id']}"))
    assert view["status"] == "partially_shipped"
    assert {ln["sku"]: ln["shipped"] for ln in view["lines"]} == {"MUG-1": 3, "BOOK-1": 1}

    # The 2 missing mugs arrive: the backorder fills, and they are picked, packed and shipped too
    # (the first parcel's tasks no longer count as covering the line's allocation).
    receipt = {"warehouse": "NJ1", "lines": [{"sku": "MUG-1", "quantity": 2, "bin": "B-04"}]}
    floor.ok(floor.post("/inventory/receipts", receipt), 201)
    second = pack(floor, pick(floor, order["id"]))
    shipper.ok(shipper.post(f"/shipments/{second}/labels"), 201)
    shipper.ok(shipper.post(f"/shipments/{second}/ship"))
    view = floor.ok(floor.get(f"/orders/{order['id']}"))
    assert view["status"] == "shipped"
    assert {ln["sku"]: ln["shipped"] for ln in view["lines"]} == {"MUG-1": 5, "BOOK-1": 1}
    with db.read() as session:
        assert stock.ledger_mismatches(session) == {} and stock.bin_mismatches(session) == {}


def test_a_carrier_scan_before_the_clerk_confirms_applies_when_the_shipment_ships(floor, db, settings):
    order = _order(floor, [("BOOK-1", 1)])
    shipment_id = pick_and_pack(floor, order["id"])
    shipper = as_role(floor, db, settings, "shipper")
    number = shipper.ok(shipper.post(f"/shipments/{shipment_id}/labels"), 201)["tracking_number"]
    at = datetime.now(UTC) - timedelta(minutes=5)
    early = tracking_post(floor, [_event(number, "picked_up", at, "early-1", location="EDISON, NJ")])
    assert early.json()["results"][0]["result"] == "not_shipped"
    assert shipper.ok(shipper.get(f"/shipments/{shipment_id}/shipping"))["tracking_status"] is None
    shipped = shipper.ok(shipper.post(f"/shipments/{shipment_id}/ship"))
    assert shipped["tracking_status"] == "picked_up"
    again = tracking_post(floor, [_event(number, "picked_up", at, "early-1", location="EDISON, NJ")])
    assert again.json()["results"][0]["result"] == "duplicate"


def test_dates_outside_the_century_and_odd_digits_are_refused_not_a_500(floor):
    for when in ("0001-01-01T00:30:00+01:00", "9999-12-31T23:30:00-05:00", "1900-01-01T00:00:00Z"):
        refused = floor.order([("BOOK-1", 1)], status=None, deliver_by=when)
        assert refused.status_code == 422, refused.text
        event = tracking_post(floor, [_event("OMS00000000422", "in_transit", datetime(2026, 1, 1, tzinfo=UTC), "d")])
        assert event.status_code == 200
        odd = tracking_post(
            floor, [{**_event("OMS00000000422", "in_transit", datetime(2026, 1, 1), "d"), "occurred_at": when}]
        )
        assert odd.status_code == 422
    assert floor.client.post("/feedback/x.y", data={"rating": "²", "item:MUG-1": "³"}).status_code < 500


def test_a_switched_off_or_unknown_carrier_takes_no_tracking_events(floor):
    assert (
        tracking_post(
            floor, [_event("OMS00000000422", "in_transit", datetime.now(UTC), "s")], carrier="nope"
        ).status_code
        == 401
    )
    carrier = floor.ok(floor.get("/carriers/oms"))
    floor.ok(
        floor.put(
            "/carriers/oms",
            {"name": carrier["name"], "services": carrier["services"], "tracking_prefix": "OMS", "is_active": False},
        )
    )
    off = tracking_post(floor, [_event("OMS00000000422", "in_transit", datetime.now(UTC), "s")])
    assert off.status_code == 401 and off.json()["error"] == "webhook_not_configured"


def test_an_authorised_payment_is_captured_when_the_parcel_ships(floor, db, settings):
    order = _order(floor, [("BOOK-1", 1)], payment={"status": "authorized", "amount": "10.00"})
    assert order["payment_status"] == "authorized"
    shipment_id = pick_and_pack(floor, order["id"])
    shipper = as_role(floor, db, settings, "shipper")
    shipper.ok(shipper.post(f"/shipments/{shipment_id}/labels"), 201)
    shipper.ok(shipper.post(f"/shipments/{shipment_id}/ship"))
    shipped = floor.ok(floor.get(f"/orders/{order['id']}"))
    assert (
        shipped["payment_status"] == "paid"
        and shipped["paid_amount"] == "10.00"
        and shipped["authorized_amount"] == "0.00"
    )
    payments = [
        e["message"] for e in floor.ok(floor.get(f"/orders/{order['id']}/events"))["items"] if e["type"] == "payment"
    ]
    assert any("captured on shipment" in m for m in payments)


def test_cancelling_a_labelled_order_voids_its_labels_after_commit(floor, db, settings):
    order = _order(floor, [("BOOK-1", 1)])
    shipment_id = pick_and_pack(floor, order["id"])
    shipper = as_role(floor, db, settings, "shipper")
    shipper.ok(shipper.post(f"/shipments/{shipment_id}/labels"), 201)
    floor.ok(floor.post(f"/orders/{order['id']}/cancel", {"reason": "customer called"}))
    view = shipper.ok(shipper.get(f"/shipments/{shipment_id}/shipping"))
    assert view["status"] == "cancelled" and [lb["status"] for lb in view["labels"]] == ["bought"]
    Worker(db, default_registry(db, settings)).drain()  # the carrier is called after commit, by the worker
    view = shipper.ok(shipper.get(f"/shipments/{shipment_id}/shipping"))
    assert [lb["status"] for lb in view["labels"]] == ["voided"]
    Worker(db, default_registry(db, settings)).drain()  # nothing left to do twice
