"""Order use cases: create (with stock reservation), cancel, hold, release, record payment.

Each opens one write transaction, loads, applies the rules, writes, emits events, commits."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from oms.auth.service import Principal
from oms.catalog.model import Product
from oms.channels.service import eligible_warehouses, get_channel
from oms.db import Database
from oms.db.base import utcnow
from oms.errors import InsufficientStock, InvalidInput, InvalidTransition
from oms.events.outbox import emit_many
from oms.inventory import stock
from oms.inventory.stock import Movement, MovementKind
from oms.money import check_amount
from oms.orders.backorders import fill_backorders
from oms.orders.locks import lock_order
from oms.orders.model import Allocation, Order, OrderLine, Payment
from oms.orders.queries import load_order, order_number, order_out
from oms.orders.rules import (
    OPEN_STATUSES,
    TRANSITIONS,
    OrderStatus,
    PaymentStatus,
    check_payment,
    check_transition,
    compute_total,
    derive_status,
    payment_status_for,
)
from oms.orders.schemas import AllocationOut, LineOut, OrderCreate, OrderOut, PaymentCreate
from oms.orders.timeline import record
from oms.routing.rules import LineRequest, Planner, plan_by_preference

orders_t = Order.__table__
lines_t = OrderLine.__table__


class _StockMoved(Exception):
    """Stock changed between reading levels and reserving: plan again, this time under row locks."""


def create_order(
    db: Database, data: OrderCreate, principal: Principal, planner: Planner = plan_by_preference
) -> tuple[OrderOut, bool]:
    """Returns (order, created). A repeat of (channel, external_id) returns the first order."""
    for lock in (False, True):
        try:
            return db.run(lambda s, lock=lock: _create(s, data, principal, planner, lock))
        except _StockMoved:
            continue
        except IntegrityError:
            if data.external_id is None:
                raise
            # Another request created the same channel order a moment ago.
            with db.read() as session:
                existing = _existing(session, data)
                if existing is not None:
                    return existing, False
            raise
    raise InsufficientStock("stock kept changing while reserving; try again")


def _existing(session: Session, data: OrderCreate) -> OrderOut | None:
    channel = get_channel(session, data.channel)
    order_id = session.scalar(
        select(Order.id).where(Order.channel_id == channel.id, Order.external_id == data.external_id)
    )
    return load_order(session, order_id) if order_id is not None else None


def _create(
    session: Session, data: OrderCreate, principal: Principal, planner: Planner, lock: bool
) -> tuple[OrderOut, bool]:
    channel = get_channel(session, data.channel)
    if not channel.is_active:
        raise InvalidInput(f"channel {channel.code!r} is switched off", code="channel_inactive")
    if channel.currency and channel.currency != data.currency:
        raise InvalidInput(
            f"channel {channel.code!r} takes orders in {channel.currency}, not {data.currency}",
            code="currency_mismatch",
        )
    if data.external_id is not None:
        existing_id = session.scalar(
            select(Order.id).where(Order.channel_id == channel.id, Order.external_id == data.external_id)
        )
        if existing_id is not None:
            return load_order(session, existing_id), False

    skus = list(dict.fromkeys(line.sku for line in data.lines))
    products = {
        row.sku: row
        for row in session.execute(
            select(
                Product.id, Product.sku, Product.name, Product.allow_backorder, Product.reorder_point, Product.is_active
            ).where(Product.sku.in_(skus))
        )
    }
    unknown = [s for s in skus if s not in products]
    if unknown:
        raise InvalidInput(f"unknown SKU(s): {', '.join(unknown)}", code="unknown_sku", skus=unknown)
    inactive = [s for s in skus if not products[s].is_active]
    if inactive:
        raise InvalidInput(f"product(s) no longer sold: {', '.join(inactive)}", code="inactive_product", skus=inactive)

    subtotal, total = compute_total(
        [(line.quantity, line.unit_price) for line in data.lines],
        data.shipping_total,
        data.tax_total,
        data.discount_total,
        data.total,
    )
    authorized = paid = Decimal(0)
    if data.payment is not None and data.payment.status != "pending":
        authorized, paid = check_payment(data.payment.status, data.payment.amount, total, authorized, paid, "new")
    payment_status = payment_status_for(total, authorized, paid)

    warehouses = eligible_warehouses(session, channel.id)
    wids = [w.id for w in warehouses]
    requests = [LineRequest(i, products[line.sku].id, line.quantity) for i, line in enumerate(data.lines, 1)]
    levels = stock.read_levels(session, [r.product_id for r in requests], wids, lock=lock)
    plan = planner(requests, wids, {k: v.available for k, v in levels.items()})

    short_refused = [
        {
            "line_no": n,
            "sku": data.lines[n - 1].sku,
            "requested": data.lines[n - 1].quantity,
            "available": data.lines[n - 1].quantity - q,
        }
        for n, q in plan.short.items()
        if not products[data.lines[n - 1].sku].allow_backorder
    ]
    if short_refused:
        names = ", ".join(f"{s['sku']} (wanted {s['requested']}, {s['available']} available)" for s in short_refused)
        raise InsufficientStock(f"not enough stock for: {names}", lines=short_refused)

    backordered = sum(plan.short.values())
    status = derive_status(payment_status, backordered)
    now = utcnow()
    code_of = {w.id: w.code for w in warehouses}
    routing = {**plan.explanation, "warehouse_order": [code_of[w] for w in wids]}
    addr, cust = data.shipping_address, data.customer
    order_row = {
        "channel_id": channel.id,
        "external_id": data.external_id,
        "status": status.value,
        "payment_status": payment_status.value,
        "currency": data.currency,
        "customer_email": cust.email,
        "customer_name": cust.name,
        "customer_phone": cust.phone,
        "ship_name": addr.name,
        "ship_line1": addr.line1,
        "ship_line2": addr.line2,
        "ship_city": addr.city,
        "ship_region": addr.region,
        "ship_postal_code": addr.postal_code,
        "ship_country": addr.country,
        "ship_latitude": addr.latitude,
        "ship_longitude": addr.longitude,
        "subtotal": subtotal,
        "shipping_total": data.shipping_total,
        "tax_total": data.tax_total,
        "discount_total": data.discount_total,
        "total": total,
        "authorized_amount": authorized,
        "paid_amount": paid,
        "routing": routing,
        "created_by": principal.actor,
        "created_at": now,
        "updated_at": now,
    }
    order_id = session.execute(insert(orders_t).returning(orders_t.c.id), [order_row]).scalar_one()
    line_rows = [
        {
            "order_id": order_id,
            "line_no": r.line_no,
            "product_id": r.product_id,
            "sku": line.sku,
            "name": products[line.sku].name,
            "quantity": line.quantity,
            "unit_price": line.unit_price,
            "reserved": plan.reserved_for(r.line_no),
            "backordered": plan.short.get(r.line_no, 0),
        }
        for r, line in zip(requests, data.lines, strict=True)
    ]
    # Plain multi-row INSERT, then one SELECT for the ids: RETURNING with many rows is sent row
    # by row on SQLite, which would make the statement count grow with the lines.
    session.execute(insert(lines_t), line_rows)
    line_ids = dict(
        session.execute(select(lines_t.c.line_no, lines_t.c.id).where(lines_t.c.order_id == order_id)).all()
    )
    reference = f"order {order_number(order_id)}"
    try:
        stock.apply(
            session,
            [
                Movement(
                    p.product_id,
                    p.warehouse_id,
                    MovementKind.RESERVATION,
                    principal.actor,
                    delta_reserved=p.quantity,
                    reference=reference,
                    order_id=order_id,
                )
                for p in plan.picks
            ],
            reorder_points={row.id: row.reorder_point for row in products.values()},
        )
    except InsufficientStock:
        if lock:  # under row locks the plan cannot be overtaken; this is a real shortage
            raise
        raise _StockMoved from None
    if plan.picks:
        session.execute(
            insert(Allocation),
            [
                {
                    "order_id": order_id,
                    "order_line_id": line_ids[p.line_no],
                    "product_id": p.product_id,
                    "warehouse_id": p.warehouse_id,
                    "quantity": p.quantity,
                }
                for p in plan.picks
            ],
        )
    timeline: list[tuple[int, str, str, str, dict[str, Any] | None]] = [
        (order_id, principal.actor, "created", f"Order created from channel {channel.code}", None)
    ]
    events: list[tuple[str, dict[str, Any]]] = [
        ("order.created", {"order_id": order_id, "channel": channel.code, "status": status.value})
    ]
    if data.payment is not None and data.payment.status != "pending":
        session.execute(
            insert(Payment),
            [
                {
                    "order_id": order_id,
                    "status": data.payment.status.value,
                    "amount": data.payment.amount,
                    "currency": data.currency,
                    "method": data.payment.method,
                    "reference": data.payment.reference,
                    "actor": principal.actor,
                    "created_at": now,
                }
            ],
        )
        timeline.append(
            (
                order_id,
                principal.actor,
                "payment",
                f"Payment {data.payment.status.value}: {data.payment.amount} {data.currency}",
                None,
            )
        )
    if backordered:
        waiting = {data.lines[n - 1].sku: q for n, q in plan.short.items()}
        timeline.append(
            (
                order_id,
                principal.actor,
                "backordered",
                "Waiting for stock: " + ", ".join(f"{q} x {s}" for s, q in waiting.items()),
                waiting,
            )
        )
        events.append(("order.backordered", {"order_id": order_id, "lines": waiting}))
    record(session, timeline)
    emit_many(session, events)
    # The response is built from what was just written: no read-back on the hot path.
    allocations: dict[int, list[AllocationOut]] = {}
    for p in plan.picks:
        allocations.setdefault(p.line_no, []).append(
            AllocationOut(warehouse=code_of[p.warehouse_id], quantity=p.quantity)
        )
    lines_out = [
        LineOut(id=line_ids[row["line_no"]], allocations=allocations.get(row["line_no"], []), **row)
        for row in line_rows
    ]
    return order_out(Order(id=order_id, **order_row), channel.code, lines_out), True


def _release_all(session: Session, order: Order, actor: str, reason: str) -> int:
    """Give back every reservation of the order, drop its backorder claims, and hand the freed
    stock to the orders waiting for it (first come, first served)."""
    allocations = session.execute(
        select(Allocation.product_id, Allocation.warehouse_id, Allocation.quantity).where(
            Allocation.order_id == order.id
        )
    ).all()
    stock.apply(
        session,
        [
            Movement(
                p,
                w,
                MovementKind.RELEASE,
                actor,
                delta_reserved=-q,
                reason=reason,
                reference=f"order {order_number(order.id)}",
                order_id=order.id,
            )
            for p, w, q in allocations
        ],
    )
    session.execute(delete(Allocation).where(Allocation.order_id == order.id))
    session.execute(update(OrderLine).where(OrderLine.order_id == order.id).values(reserved=0, backordered=0))
    fill_backorders(session, {p for p, _, _ in allocations}, actor)
    return sum(q for _, _, q in allocations)


def cancel_order(db: Database, order_id: int, principal: Principal, reason: str | None) -> OrderOut:
    def use_case(session: Session) -> OrderOut:
        order = lock_order(session, order_id)
        check_transition(order.status, OrderStatus.CANCELLED, "cancel")
        released = _release_all(session, order, principal.actor, reason or "order cancelled")
        previous = order.status
        order.status = OrderStatus.CANCELLED.value
        order.held_from = None
        if order.payment_status == PaymentStatus.AUTHORIZED:
            order.payment_status = PaymentStatus.VOIDED.value
            order.authorized_amount = Decimal(0)
        order.updated_at = utcnow()
        note = f"Cancelled (was {previous}); released {released} reserved unit(s)"
        if reason:
            note += f": {reason}"
        record(session, [(order.id, principal.actor, "cancelled", note, {"reason": reason})])
        emit_many(
            session,
            [("order.cancelled", {"order_id": order.id, "reason": reason, "payment_status": order.payment_status})],
        )
        session.flush()
        return load_order(session, order.id)

    return db.run(use_case)


def hold_order(db: Database, order_id: int, principal: Principal, reason: str | None) -> OrderOut:
    def use_case(session: Session) -> OrderOut:
        order = lock_order(session, order_id)
        check_transition(order.status, OrderStatus.ON_HOLD, "hold")
        order.held_from = order.status
        order.status = OrderStatus.ON_HOLD.value
        order.updated_at = utcnow()
        record(
            session,
            [
                (
                    order.id,
                    principal.actor,
                    "held",
                    "Put on hold" + (f": {reason}" if reason else ""),
                    {"reason": reason},
                )
            ],
        )
        emit_many(session, [("order.held", {"order_id": order.id, "reason": reason})])
        session.flush()
        return load_order(session, order.id)

    return db.run(use_case)


def release_order(db: Database, order_id: int, principal: Principal) -> OrderOut:
    def use_case(session: Session) -> OrderOut:
        order = lock_order(session, order_id)
        if order.status != OrderStatus.ON_HOLD:
            raise InvalidTransition(
                f"cannot release an order that is {order.status}; only orders on hold can be released",
                current_status=order.status,
                allowed=sorted(s.value for s in _allowed(order.status)),
            )
        target = OrderStatus(order.held_from or OrderStatus.PENDING_PAYMENT)
        if target in OPEN_STATUSES:  # payment or stock may have moved while it was held
            waiting = sum(session.scalars(select(OrderLine.backordered).where(OrderLine.order_id == order.id)))
            target = derive_status(order.payment_status, waiting)
        check_transition(order.status, target, "release")
        order.status = target.value
        order.held_from = None
        order.updated_at = utcnow()
        record(session, [(order.id, principal.actor, "released", f"Released from hold; now {target.value}", None)])
        emit_many(session, [("order.released", {"order_id": order.id, "status": target.value})])
        session.flush()
        return load_order(session, order.id)

    return db.run(use_case)


def _allowed(status: str) -> frozenset[OrderStatus]:
    return TRANSITIONS[OrderStatus(status)]


def record_payment(db: Database, order_id: int, data: PaymentCreate, principal: Principal) -> OrderOut:
    def use_case(session: Session) -> OrderOut:
        order = lock_order(session, order_id)
        amount = check_amount(data.amount, order.currency, "amount")
        order.authorized_amount, order.paid_amount = check_payment(
            data.status, amount, order.total, order.authorized_amount, order.paid_amount, order.status
        )
        order.payment_status = payment_status_for(order.total, order.authorized_amount, order.paid_amount).value
        session.add(
            Payment(
                order_id=order.id,
                status=data.status,
                amount=amount,
                currency=order.currency,
                method=data.method,
                reference=data.reference,
                actor=principal.actor,
            )
        )
        timeline = [
            (
                order.id,
                principal.actor,
                "payment",
                f"Payment {data.status}: {amount} {order.currency}",
                {"reference": data.reference, "method": data.method},
            )
        ]
        events: list[tuple[str, dict[str, Any]]] = [
            (
                "payment.recorded",
                {
                    "order_id": order.id,
                    "status": data.status,
                    "amount": str(amount),
                    "payment_status": order.payment_status,
                },
            )
        ]
        if order.status in OPEN_STATUSES:
            waiting = sum(session.scalars(select(OrderLine.backordered).where(OrderLine.order_id == order.id)))
            target = derive_status(order.payment_status, waiting)
            if target != order.status:
                check_transition(order.status, target, "confirm")
                order.status = target.value
                timeline.append((order.id, principal.actor, target.value, f"Order {target.value}", None))
                events.append((f"order.{target.value}", {"order_id": order.id}))
        order.updated_at = utcnow()
        record(session, timeline)  # type: ignore[arg-type]
        emit_many(session, events)
        session.flush()
        return load_order(session, order.id)

    return db.run(use_case)
