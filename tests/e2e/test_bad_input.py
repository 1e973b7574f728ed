"""Bad input gets a clear JSON error with the right status, and nothing is written."""

import base64
import json

import pytest
from sqlalchemy import func, select

from oms.inventory.model import StockMovement
from oms.orders.model import Order
from tests.factories import order_body


@pytest.fixture
def shop(api):
    api.warehouse("NJ1")
    api.product("MUG-1", barcode="4006381333931")
    api.channel("web", currency="USD")
    api.receive("NJ1", "MUG-1", 10)
    return api


def _nothing_written(db, movements_before: int = 1) -> None:
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Order)) == 0
        assert s.scalar(select(func.count()).select_from(StockMovement)) == movements_before


def _assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == code
    assert isinstance(body["detail"], str) and body["detail"]
    return body


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"lines": [{"sku": "MUG-1", "quantity": 0, "unit_price": "10.00"}]}, "validation_error"),
        ({"lines": [{"sku": "MUG-1", "quantity": -2, "unit_price": "10.00"}]}, "validation_error"),
        ({"lines": [{"sku": "MUG-1", "quantity": 1.5, "unit_price": "10.00"}]}, "validation_error"),
        ({"lines": [{"sku": "MUG-1", "quantity": 1, "unit_price": "-1.00"}]}, "validation_error"),
        ({"lines": []}, "validation_error"),
        ({"lines": [{"sku": "NOPE", "quantity": 1, "unit_price": "10.00"}]}, "unknown_sku"),
        ({"currency": "EUR"}, "currency_mismatch"),
        ({"currency": "ZZZ"}, "invalid_currency"),
        ({"currency": "US"}, "validation_error"),
        ({"total": "11.00"}, "totals_mismatch"),
        ({"discount_total": "99.00"}, "totals_mismatch"),
        ({"shipping_total": "1.001"}, "invalid_amount"),
        ({"shipping_total": "NaN"}, "validation_error"),
        ({"status": "shipped"}, "validation_error"),
        ({"channel": "nowhere"}, "not_found"),
        ({"customer": {"email": "not-an-email"}}, "validation_error"),
        ({"customer": {"email": "a@example.com", "role": "admin"}}, "validation_error"),
        ({"payment": {"status": "paid", "amount": "1000.00"}}, "overpayment"),
    ],
)
def test_a_bad_order_is_refused_with_a_clear_error_and_writes_nothing(shop, db, change, code):
    status = {"unknown_sku": 422, "not_found": 404, "overpayment": 409}.get(code, 422)
    if code in {"currency_mismatch", "invalid_currency", "totals_mismatch", "invalid_amount"}:
        status = 422
    body = order_body([("MUG-1", 1)]) | change
    _assert_error(shop.post("/orders", body), status, code)
    _nothing_written(db)


def test_an_unknown_field_is_refused_and_named(shop, db):
    body = order_body([("MUG-1", 1)]) | {"priority": "vip"}
    error = _assert_error(shop.post("/orders", body), 422, "validation_error")
    assert error["errors"][0]["field"] == "priority"
    assert "priority" in error["detail"]
    _nothing_written(db)


def test_a_body_that_is_not_json_is_a_400(shop, db):
    response = shop.client.post(
        "/api/v1/orders",
        content=b'{"channel": "web", ',
        headers={"Authorization": f"Bearer {shop.token}", "Content-Type": "application/json"},
    )
    _assert_error(response, 400, "malformed_json")
    _nothing_written(db)


def test_a_huge_body_is_refused_before_it_is_read(shop, db):
    body = order_body([("MUG-1", 1)]) | {"external_id": "x" * 2_000_000}
    _assert_error(shop.post("/orders", body), 413, "payload_too_large")
    chunks = (b"x" * 65536 for _ in range(40))  # no Content-Length: streamed, counted as it arrives
    response = shop.client.post(
        "/api/v1/orders",
        content=chunks,
        headers={"Authorization": f"Bearer {shop.token}", "Content-Type": "application/json"},
    )
    _assert_error(response, 413, "payload_too_large")
    _nothing_written(db)


@pytest.mark.parametrize("barcode", ["4006381333932", "12345", "978-0-471-11709-5", "00000000", "ABCDEFGHIJKLM"])
def test_a_product_with_a_bad_gtin_is_refused(shop, barcode):
    response = shop.post(
        "/products",
        {
            "sku": "BAD-1",
            "name": "Bad",
            "barcode": barcode,
            "price": "1.00",
            "weight_g": 1,
            "length_mm": 1,
            "width_mm": 1,
            "height_mm": 1,
        },
    )
    error = _assert_error(response, 422, "validation_error")
    assert error["errors"][0]["field"] == "barcode"
    assert shop.get("/products/BAD-1").status_code == 404


def test_a_gtin_written_with_separators_is_stored_as_digits(shop):
    product = shop.product("BOOK-1", barcode="978-0-471-11709-4")
    assert product["barcode"] == "9780471117094"
    taken = shop.post(
        "/products",
        {
            "sku": "BOOK-2",
            "name": "Dup",
            "barcode": "9780471117094",
            "price": "1.00",
            "weight_g": 1,
            "length_mm": 1,
            "width_mm": 1,
            "height_mm": 1,
        },
    )
    _assert_error(taken, 409, "already_exists")


def test_unknown_routes_and_methods_answer_in_the_error_shape(shop):
    _assert_error(shop.get("/nowhere"), 404, "not_found")
    _assert_error(
        shop.client.delete("/api/v1/orders", headers={"Authorization": f"Bearer {shop.token}"}),
        405,
        "method_not_allowed",
    )
    _assert_error(shop.get("/orders/999999"), 404, "not_found")
    _assert_error(shop.get("/orders/abc"), 422, "validation_error")
    _assert_error(shop.get("/orders", params={"cursor": "garbage!"}), 422, "invalid_cursor")
    _assert_error(shop.get("/orders", params={"limit": 10_000}), 422, "validation_error")


def test_stock_changes_that_would_go_negative_are_refused_and_change_nothing(shop, db):
    shop.warehouse("IL1")
    shop.order([("MUG-1", 4)])
    adjust = shop.post("/inventory/adjustments", {"warehouse": "NJ1", "sku": "MUG-1", "delta": -7, "reason": "count"})
    error = _assert_error(adjust, 409, "insufficient_stock")
    assert "4 reserved" in error["detail"]
    transfer = shop.post(
        "/inventory/transfers",
        {"from_warehouse": "NJ1", "to_warehouse": "IL1", "lines": [{"sku": "MUG-1", "quantity": 7}]},
    )
    _assert_error(transfer, 409, "insufficient_stock")
    zero = shop.post("/inventory/adjustments", {"warehouse": "NJ1", "sku": "MUG-1", "delta": 0, "reason": "x"})
    _assert_error(zero, 422, "validation_error")
    unknown = shop.post("/inventory/receipts", {"warehouse": "XX", "lines": [{"sku": "MUG-1", "quantity": 1}]})
    _assert_error(unknown, 422, "unknown_warehouse")
    stock = shop.stock("MUG-1")
    assert (stock["on_hand"], stock["reserved"], stock["available"]) == (10, 4, 6)
    assert shop.ok(
        shop.post(
            "/inventory/adjustments", {"warehouse": "NJ1", "sku": "MUG-1", "delta": -6, "reason": "water damage"}
        ),
        201,
    )
    assert shop.stock("MUG-1")["available"] == 0


def test_long_text_and_large_numbers_get_a_4xx_not_a_crash_on_either_database(shop):
    order = shop.order([("MUG-1", 1)])
    too_long = shop.post(f"/orders/{order['id']}/hold", {"reason": "x" * 301})
    _assert_error(too_long, 422, "validation_error")
    held = shop.ok(shop.post(f"/orders/{order['id']}/hold", {"reason": "y" * 300}))
    assert held["status"] == "on_hold"
    shop.ok(shop.post(f"/orders/{order['id']}/cancel", {"reason": "z" * 300}))
    big_point = shop.patch("/products/MUG-1", {"reorder_point": 10**12})
    _assert_error(big_point, 422, "validation_error")
    cursor = base64.urlsafe_b64encode(json.dumps({"after": 10**20}).encode()).decode()
    _assert_error(shop.get("/orders", params={"cursor": cursor}), 422, "invalid_cursor")
    huge = order_body([("MUG-1", 101)], price="999999999999.00") | {"payment": None}
    _assert_error(shop.post("/orders", huge), 422, "amount_too_large")
    long_path = shop.post(
        f"/warehouses/{'W' * 300}/bins", {"code": "A1", "x_m": 1, "y_m": 1}, headers={"Idempotency-Key": "k-long-path"}
    )
    assert long_path.status_code in (404, 422), long_path.text


def test_a_backordered_order_with_many_long_lines_is_taken(shop):
    skus = [f"BACKORDERABLE-PRODUCT-WITH-A-LONG-SKU-{i:02d}" for i in range(20)]
    for sku in skus:
        shop.product(sku, allow_backorder=True)
    order = shop.order([(sku, 2) for sku in skus])
    assert order["status"] == "backordered"
    assert sum(line["backordered"] for line in order["lines"]) == 40
