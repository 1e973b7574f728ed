"""Getting an order to the shipping desk through the real API: routed, picked scan by scan, packed.
Shipping, notification and feedback tests start from here."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from oms.shipping.carriers import seed_demo_carriers
from oms.shipping.tracking_events import SIGNATURE_HEADER, sign
from tests.factories import Api, gtin13, make_token

MUG_BARCODE, BOOK_BARCODE, LAMP_BARCODE = gtin13(21), gtin13(22), gtin13(23)
CARRIER_SECRET = "carrier-webhook-secret-for-tests"
BROOKLYN = {
    "name": "Ada Lovelace",
    "line1": "12 Atlantic Ave",
    "city": "Brooklyn",
    "region": "NY",
    "postal_code": "11201",
    "country": "US",
}


def build_floor(api: Api, db) -> Api:  # type: ignore[no-untyped-def]
    """One New Jersey warehouse with bins, three products, boxes and the built-in carriers."""
    address = {"line1": "1 Logistics Way", "city": "Edison", "region": "NJ", "postal_code": "08817", "country": "US"}
    api.ok(api.post("/warehouses", {"code": "NJ1", "name": "DC Edison", "kind": "warehouse", "address": address}), 201)
    api.channel("web", warehouses=["NJ1"])
    for b, x, y, aisle in [("A-02", 0, 2, "A"), ("A-08", 0, 8, "A"), ("B-04", 3, 4, "B")]:
        api.ok(api.post("/warehouses/NJ1/bins", {"code": b, "x_m": x, "y_m": y, "aisle": aisle}), 201)
    api.product("MUG-1", barcode=MUG_BARCODE, weight_g=350, length_mm=120, width_mm=90, height_mm=100, fragile=True)
    api.product("BOOK-1", barcode=BOOK_BARCODE, weight_g=600, length_mm=230, width_mm=150, height_mm=30)
    api.product("LAMP-1", barcode=LAMP_BARCODE, weight_g=900, length_mm=200, width_mm=200, height_mm=300)
    receipt = [
        {"sku": "MUG-1", "quantity": 5, "bin": "B-04"},
        {"sku": "BOOK-1", "quantity": 5, "bin": "A-08"},
        {"sku": "LAMP-1", "quantity": 5, "bin": "A-02"},
    ]
    api.ok(api.post("/inventory/receipts", {"warehouse": "NJ1", "lines": receipt}), 201)
    for code, length, w, h, max_g, tare, cost in [
        ("SMALL", 200, 150, 100, 2000, 100, "0.50"),
        ("MEDIUM", 300, 250, 200, 5000, 250, "1.00"),
        ("LARGE", 400, 300, 350, 10000, 400, "2.00"),
    ]:
        body = {"code": code, "name": f"Box {code}", "inner_length_mm": length, "inner_width_mm": w}
        body |= {"inner_height_mm": h, "max_weight_g": max_g, "tare_weight_g": tare, "cost": cost}
        api.ok(api.post("/boxes", body), 201)
    with db.write() as session:
        seed_demo_carriers(session, CARRIER_SECRET)
    return api


def as_role(api: Api, db, settings, role: str) -> Api:  # type: ignore[no-untyped-def]
    return Api(api.client, make_token(db, settings.resolved_secret_key(), role))


BARCODES = {"MUG-1": MUG_BARCODE, "BOOK-1": BOOK_BARCODE, "LAMP-1": LAMP_BARCODE}


def pick(api: Api, order_id: int) -> int:
    """Pick every task (bin, item, quantity); returns the shipment, now ready to pack."""
    [pick_list] = api.ok(api.post(f"/orders/{order_id}/pick-lists"), 201)["pick_lists"]
    scans = f"/pick-lists/{pick_list['id']}/scans"
    for task in pick_list["tasks"]:
        api.ok(api.post(scans, {"task_id": task["id"], "bin": task["bin"]}), 201)
        api.ok(api.post(scans, {"task_id": task["id"], "item": BARCODES[task["sku"]]}), 201)
        api.ok(api.post(scans, {"task_id": task["id"], "quantity": task["quantity"]}), 201)
    [shipment] = [s for s in api.ok(api.get("/shipments?status=ready_to_pack"))["items"] if s["order_id"] == order_id]
    return int(shipment["id"])


def pack(api: Api, shipment_id: int) -> int:
    """Plan the packages of a picked shipment, scan every unit in and close them; returns the shipment."""
    packed = api.ok(api.post(f"/shipments/{shipment_id}/pack"), 201)
    for package in packed["packages"]:
        for item in package["items"]:
            for _ in range(item["expected"]):
                api.ok(api.post(f"/packages/{package['id']}/scans", {"item": BARCODES[item["sku"]]}), 201)
        api.ok(api.post(f"/packages/{package['id']}/close", {"measured_weight_g": package["expected_weight_g"]}))
    return shipment_id


def pick_and_pack(api: Api, order_id: int) -> int:
    """Pick every task and pack every package; returns the shipment id."""
    return pack(api, pick(api, order_id))


def tracking_post(api: Api, events: list[dict[str, Any]], carrier: str = "oms", secret: str = CARRIER_SECRET):  # type: ignore[no-untyped-def]
    """Deliver tracking events the way a carrier does: signed raw JSON, no bearer token."""
    body = json.dumps({"events": events}).encode()
    return api.client.post(
        f"/api/v1/carriers/{carrier}/tracking-events",
        content=body,
        headers={SIGNATURE_HEADER: sign(secret, body), "Content-Type": "application/json"},
    )


def deliver(api: Api, db, settings, order_id: int, *, ago: timedelta = timedelta(days=2)) -> str:  # type: ignore[no-untyped-def]
    """Pick, pack, label and ship the order, then have the carrier deliver it ``ago``; its tracking number."""
    shipment_id = pick_and_pack(api, order_id)
    shipper = as_role(api, db, settings, "shipper")
    number = shipper.ok(shipper.post(f"/shipments/{shipment_id}/labels"), 201)["tracking_number"]
    shipper.ok(shipper.post(f"/shipments/{shipment_id}/ship"))
    at = (datetime.now(UTC) - ago).isoformat()
    event = {"id": f"delivered-{number}", "tracking_number": number, "code": "delivered", "occurred_at": at}
    assert tracking_post(api, [event]).json()["results"][0]["result"] == "applied"
    return number
