"""What one order writes, row by row, is the same on both paths: PostgreSQL's two-statement
capture (oms.orders.capture_pg) and the portable one SQLite takes."""

from decimal import Decimal

from sqlalchemy import select

from oms.events.model import OutboxEvent
from oms.inventory.model import StockMovement
from oms.orders.model import Allocation, OrderEvent, OrderLine, Payment
from tests.factories import order_body


def test_an_order_writes_lines_allocations_ledger_payment_timeline_and_events(api, db):
    api.warehouse("NJ1")
    api.warehouse("IL1")
    api.channel("web", warehouses=["NJ1", "IL1"])
    api.product("MUG", reorder_point=8)
    api.product("TEE")
    api.receive("NJ1", "MUG", 10)
    api.receive("IL1", "TEE", 5)
    body = order_body([("MUG", 3), ("TEE", 2), ("MUG", 1)])
    order = api.ok(api.post("/orders", body), 201)

    with db.read() as s:
        lines = s.execute(select(OrderLine.line_no, OrderLine.sku, OrderLine.quantity, OrderLine.reserved)).all()
        allocations = s.execute(
            select(OrderLine.line_no, Allocation.quantity)
            .join(OrderLine, OrderLine.id == Allocation.order_line_id)
            .order_by(OrderLine.line_no)
        ).all()
        ledger = s.execute(
            select(StockMovement.kind, StockMovement.delta_reserved, StockMovement.reference, StockMovement.order_id)
            .where(StockMovement.kind == "reservation")
            .order_by(StockMovement.id)
        ).all()
        payments = s.execute(select(Payment.status, Payment.amount, Payment.currency)).all()
        timeline = s.scalars(select(OrderEvent.type).order_by(OrderEvent.id)).all()
        events = {e.topic: e.payload for e in s.scalars(select(OutboxEvent).order_by(OutboxEvent.id))}

    assert sorted(lines) == [(1, "MUG", 3, 3), (2, "TEE", 2, 2), (3, "MUG", 1, 1)]
    assert allocations == [(1, 3), (2, 2), (3, 1)]
    reference = f"order {order['number']}"
    assert ledger == [
        ("reservation", 3, reference, order["id"]),
        ("reservation", 2, reference, order["id"]),
        ("reservation", 1, reference, order["id"]),
    ]
    assert [(p.status, p.amount, p.currency) for p in payments] == [("paid", Decimal("60.00"), "USD")]
    assert timeline == ["created", "payment"]
    assert events["order.created"] == {"order_id": order["id"], "channel": "web", "status": order["status"]}
    # MUG: 10 on hand, 4 reserved by two lines -> 6 available, crossing its reorder point of 8 once.
    assert events["stock.low"]["available"] == 6 and events["stock.low"]["reorder_point"] == 8
    stock = api.ok(api.get("/inventory/MUG"), 200)
    assert (stock["on_hand"], stock["reserved"], stock["available"]) == (10, 4, 6)
