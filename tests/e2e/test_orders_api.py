"""The order lifecycle through the HTTP API."""

from decimal import Decimal

import pytest

from tests.factories import order_body


@pytest.fixture
def shop(api):
    api.warehouse("NJ1")
    api.warehouse("IL1")
    api.warehouse("CA1")
    api.product("MUG-1")
    api.product("LAMP-1", allow_backorder=True, price="45.00")
    api.channel("web", warehouses=["NJ1", "IL1", "CA1"])
    return api


def test_a_paid_order_is_confirmed_and_reserves_from_the_first_listed_warehouse(shop):
    shop.receive("NJ1", "MUG-1", 5)
    shop.receive("IL1", "MUG-1", 5)
    order = shop.order([("MUG-1", 3)])
    assert order["status"] == "confirmed"
    assert order["payment_status"] == "paid"
    assert order["number"].startswith("SO-")
    assert order["lines"][0]["allocations"] == [{"warehouse": "NJ1", "quantity": 3}]
    # Warehouses with the same address tie on distance: the channel's order breaks the tie.
    assert order["routing"]["strategy"] == "fewest_shipments_then_distance"


def test_a_line_no_warehouse_can_cover_alone_is_split_across_as_few_warehouses_as_can(shop):
    shop.receive("NJ1", "MUG-1", 2)
    shop.receive("IL1", "MUG-1", 1)
    shop.receive("CA1", "MUG-1", 4)
    order = shop.order([("MUG-1", 5)])
    # Two shipments (NJ1 + CA1) beat three; the channel's first warehouse gives what it has.
    assert order["lines"][0]["allocations"] == [
        {"warehouse": "NJ1", "quantity": 2},
        {"warehouse": "CA1", "quantity": 3},
    ]
    assert shop.stock("MUG-1")["available"] == 2


def test_an_order_without_payment_waits_for_payment_and_is_confirmed_by_a_capture(shop):
    shop.receive("NJ1", "MUG-1", 5)
    order = shop.order([("MUG-1", 1)], payment=None, shipping_total="4.99", tax_total="1.20")
    assert (order["status"], order["payment_status"]) == ("pending_payment", "pending")
    assert order["total"] == "16.19"
    authorised = shop.ok(shop.post(f"/orders/{order['id']}/payments", {"status": "authorized", "amount": "16.19"}), 201)
    assert (authorised["status"], authorised["payment_status"]) == ("confirmed", "authorized")
    paid = shop.ok(shop.post(f"/orders/{order['id']}/payments", {"status": "paid", "amount": "16.19"}), 201)
    assert paid["payment_status"] == "paid"
    assert Decimal(paid["authorized_amount"]) == 0


def test_capturing_more_than_the_total_is_refused_and_changes_nothing(shop):
    shop.receive("NJ1", "MUG-1", 5)
    order = shop.order([("MUG-1", 1)], payment=None)
    response = shop.post(f"/orders/{order['id']}/payments", {"status": "paid", "amount": "10.01"})
    assert response.status_code == 409
    assert response.json()["error"] == "overpayment"
    assert shop.ok(shop.get(f"/orders/{order['id']}"))["paid_amount"] == "0.00"
    assert shop.ok(shop.get(f"/orders/{order['id']}/payments"))["items"] == []


def test_a_short_line_of_a_product_without_backorders_refuses_the_whole_order(shop):
    shop.receive("NJ1", "MUG-1", 1)
    shop.receive("NJ1", "LAMP-1", 5)
    response = shop.order([("LAMP-1", 1), ("MUG-1", 2)], status=None)
    assert response.status_code == 409
    body = response.json()
    assert body["error"] == "insufficient_stock"
    assert body["lines"] == [{"line_no": 2, "sku": "MUG-1", "requested": 2, "available": 1}]
    assert "MUG-1" in body["detail"]
    assert shop.ok(shop.get("/orders"))["items"] == []
    assert shop.stock("LAMP-1")["reserved"] == 0


def test_a_short_line_of_a_backorderable_product_is_backordered_and_filled_when_stock_arrives(shop):
    shop.receive("IL1", "LAMP-1", 1)
    order = shop.order([("LAMP-1", 3)], price="45.00")
    assert order["status"] == "backordered"
    assert (order["lines"][0]["reserved"], order["lines"][0]["backordered"]) == (1, 2)
    later = shop.order([("LAMP-1", 1)], price="45.00")
    assert later["lines"][0]["backordered"] == 1

    receipt = shop.receive("CA1", "LAMP-1", 2)
    assert [(f["order_id"], f["quantity"]) for f in receipt["backorders_filled"]] == [(order["id"], 2)]
    first = shop.ok(shop.get(f"/orders/{order['id']}"))
    assert first["status"] == "confirmed"
    assert first["lines"][0]["allocations"] == [
        {"warehouse": "IL1", "quantity": 1},
        {"warehouse": "CA1", "quantity": 2},
    ]
    assert shop.ok(shop.get(f"/orders/{later['id']}"))["status"] == "backordered"
    timeline = [e["type"] for e in shop.ok(shop.get(f"/orders/{order['id']}/events"))["items"]]
    assert timeline == ["created", "payment", "backordered", "backorder_filled"]

    shop.receive("NJ1", "LAMP-1", 1)
    assert shop.ok(shop.get(f"/orders/{later['id']}"))["status"] == "confirmed"
    assert shop.stock("LAMP-1") | {"warehouses": None} == {
        "sku": "LAMP-1",
        "on_hand": 4,
        "reserved": 4,
        "available": 0,
        "warehouses": None,
    }


def test_cancelling_releases_reservations_and_backorder_claims(shop):
    shop.receive("NJ1", "LAMP-1", 1)
    order = shop.order([("LAMP-1", 2)], price="45.00")
    cancelled = shop.ok(shop.post(f"/orders/{order['id']}/cancel", {"reason": "customer changed their mind"}))
    assert cancelled["status"] == "cancelled"
    assert cancelled["lines"][0]["reserved"] == 0 and cancelled["lines"][0]["backordered"] == 0
    assert shop.stock("LAMP-1")["available"] == 1
    # Stock arriving later must not go to the cancelled order.
    receipt = shop.receive("NJ1", "LAMP-1", 3)
    assert receipt["backorders_filled"] == []
    kinds = [m["kind"] for m in shop.ok(shop.get("/inventory/movements", params={"sku": "LAMP-1"}))["items"]]
    assert kinds == ["receipt", "release", "reservation", "receipt"]


def test_an_authorised_payment_is_voided_when_the_order_is_cancelled(shop):
    shop.receive("NJ1", "MUG-1", 2)
    order = shop.order([("MUG-1", 1)], payment={"status": "authorized", "amount": "10.00"})
    cancelled = shop.ok(shop.post(f"/orders/{order['id']}/cancel"))
    assert cancelled["payment_status"] == "voided"


def test_illegal_steps_are_refused_with_the_current_status_and_the_allowed_ones(shop):
    shop.receive("NJ1", "MUG-1", 2)
    order = shop.order([("MUG-1", 1)])
    shop.ok(shop.post(f"/orders/{order['id']}/cancel"))
    again = shop.post(f"/orders/{order['id']}/cancel")
    assert again.status_code == 409
    assert again.json() | {"detail": ""} == {
        "error": "invalid_transition",
        "detail": "",
        "current_status": "cancelled",
        "allowed": [],
    }
    release = shop.post(f"/orders/{order['id']}/release")
    assert release.status_code == 409 and release.json()["error"] == "invalid_transition"
    pay = shop.post(f"/orders/{order['id']}/payments", {"status": "paid", "amount": "1.00"})
    assert pay.status_code == 409 and pay.json()["error"] == "invalid_transition"


def test_hold_and_release_return_the_order_to_where_it_was(shop):
    shop.receive("NJ1", "MUG-1", 2)
    order = shop.order([("MUG-1", 1)])
    held = shop.ok(shop.post(f"/orders/{order['id']}/hold", {"reason": "fraud check"}))
    assert held["status"] == "on_hold"
    twice = shop.post(f"/orders/{order['id']}/hold")
    assert twice.status_code == 409
    assert "confirmed" in twice.json()["allowed"]
    assert shop.ok(shop.post(f"/orders/{order['id']}/release"))["status"] == "confirmed"
    events = shop.ok(shop.get(f"/orders/{order['id']}/events"))["items"]
    assert [e["type"] for e in events][-2:] == ["held", "released"]
    assert events[-2]["message"] == "Put on hold: fraud check"
    assert events[-2]["actor"].endswith("@example.com")


def test_the_same_channel_order_sent_twice_returns_the_first_order(shop):
    shop.receive("NJ1", "MUG-1", 5)
    first = shop.order([("MUG-1", 1)], external_id="#1001")
    again = shop.order([("MUG-1", 1)], external_id="#1001", status=200)
    assert again["id"] == first["id"]
    assert shop.stock("MUG-1")["reserved"] == 1
    other_channel = shop.channel("market", kind="marketplace")
    assert other_channel["warehouses"] == []
    assert shop.order([("MUG-1", 1)], channel="market", external_id="#1001")["id"] != first["id"]


def test_an_idempotency_key_replays_the_first_response_and_refuses_a_different_body(shop):
    shop.receive("NJ1", "MUG-1", 5)
    headers = {"Idempotency-Key": "order-abc"}
    first = shop.post("/orders", order_body([("MUG-1", 1)]), headers=headers)
    assert first.status_code == 201
    replay = shop.post("/orders", order_body([("MUG-1", 1)]), headers=headers)
    assert replay.status_code == 201
    assert replay.json() == first.json()
    assert replay.headers["Idempotent-Replayed"] == "true"
    different = shop.post("/orders", order_body([("MUG-1", 2)]), headers=headers)
    assert different.status_code == 422
    assert different.json()["error"] == "idempotency_key_reused"
    assert shop.stock("MUG-1")["reserved"] == 1


def test_a_failed_request_frees_its_idempotency_key_for_a_corrected_retry(shop):
    shop.receive("NJ1", "MUG-1", 1)
    headers = {"Idempotency-Key": "retry-me"}
    assert shop.post("/orders", order_body([("MUG-1", 2)]), headers=headers).status_code == 409
    shop.receive("NJ1", "MUG-1", 1)
    assert shop.post("/orders", order_body([("MUG-1", 2)]), headers=headers).status_code == 201


def test_orders_can_be_listed_filtered_searched_and_paged(shop):
    shop.receive("NJ1", "MUG-1", 50)
    ids = [shop.order([("MUG-1", 1)], external_id=f"ext-{i}")["id"] for i in range(5)]
    unpaid = shop.order([("MUG-1", 1)], payment=None)
    page1 = shop.ok(shop.get("/orders", params={"limit": 2}))
    assert [o["id"] for o in page1["items"]] == [unpaid["id"], ids[4]]
    page2 = shop.ok(shop.get("/orders", params={"limit": 2, "cursor": page1["next_cursor"]}))
    assert [o["id"] for o in page2["items"]] == [ids[3], ids[2]]
    assert shop.ok(shop.get("/orders", params={"status": "pending_payment"}))["items"][0]["id"] == unpaid["id"]
    assert [o["id"] for o in shop.ok(shop.get("/orders", params={"q": "ext-3"}))["items"]] == [ids[3]]
    number = shop.ok(shop.get(f"/orders/{ids[1]}"))["number"]
    assert [o["id"] for o in shop.ok(shop.get("/orders", params={"q": number}))["items"]] == [ids[1]]
    assert len(shop.ok(shop.get("/orders", params={"channel": "web", "limit": 200}))["items"]) == 6
    last = shop.ok(shop.get("/orders", params={"limit": 6}))
    assert last["next_cursor"] is None


def test_stock_freed_by_a_cancellation_goes_to_the_oldest_waiting_backorder(shop):
    shop.receive("NJ1", "LAMP-1", 2)
    first = shop.order([("LAMP-1", 2)], price="45.00")
    waiting = shop.order([("LAMP-1", 1)], price="45.00")
    assert waiting["status"] == "backordered"
    shop.ok(shop.post(f"/orders/{first['id']}/cancel"))
    now = shop.ok(shop.get(f"/orders/{waiting['id']}"))
    assert now["status"] == "confirmed"
    assert now["lines"][0]["allocations"] == [{"warehouse": "NJ1", "quantity": 1}]
    assert shop.stock("LAMP-1")["reserved"] == 1


def test_cancelling_after_a_partial_capture_keeps_the_captured_money_on_record(shop):
    shop.receive("NJ1", "MUG-1", 5)
    order = shop.order([("MUG-1", 1)], payment={"status": "authorized", "amount": "10.00"})
    shop.ok(shop.post(f"/orders/{order['id']}/payments", {"status": "paid", "amount": "4.00"}), 201)
    cancelled = shop.ok(shop.post(f"/orders/{order['id']}/cancel"))
    assert (cancelled["payment_status"], cancelled["paid_amount"], cancelled["authorized_amount"]) == (
        "partially_paid",
        "4.00",
        "0.00",
    )
    note = shop.ok(shop.get(f"/orders/{order['id']}/events"))["items"][-1]["message"]
    assert "refund due" in note


def test_switching_a_warehouse_back_on_fills_the_orders_waiting_for_its_stock(shop):
    shop.receive("IL1", "LAMP-1", 3)
    shop.ok(shop.patch("/warehouses/IL1", {"is_active": False}))
    waiting = shop.order([("LAMP-1", 3)], price="45.00")
    assert waiting["status"] == "backordered"
    shop.ok(shop.patch("/warehouses/IL1", {"is_active": True}))
    assert shop.ok(shop.get(f"/orders/{waiting['id']}"))["status"] == "confirmed"
    assert shop.order([("LAMP-1", 3)], price="45.00")["status"] == "backordered"


def test_a_channel_whose_warehouses_are_all_off_backorders_or_refuses_cleanly(shop):
    shop.receive("NJ1", "MUG-1", 5)
    for code in ("NJ1", "IL1", "CA1"):
        shop.ok(shop.patch(f"/warehouses/{code}", {"is_active": False}))
    refused = shop.order([("MUG-1", 1)], status=None)
    assert refused.status_code == 409 and refused.json()["error"] == "insufficient_stock"
    assert shop.order([("LAMP-1", 1)], price="45.00")["status"] == "backordered"
