"""Reading orders: one order in full, lists, the timeline."""

from __future__ import annotations

import re
from collections import defaultdict

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from oms.auth.service import Principal
from oms.channels.model import Channel
from oms.db import Database
from oms.errors import NotFound
from oms.inventory.model import Warehouse
from oms.orders.model import Allocation, Order, OrderEvent, OrderLine, Payment
from oms.orders.schemas import (
    AddressOut,
    AllocationOut,
    CustomerOut,
    LineOut,
    OrderEventOut,
    OrderOut,
    OrderSummary,
    PaymentOut,
)
from oms.schemas import Page, keyset, page_of

NUMBER_PREFIX = "SO-"
_NUMBER = re.compile(r"^(?:SO-?)?0*(\d{1,12})$", re.IGNORECASE)


def order_id_of(number: str) -> int | None:
    """The id in an order number as people type it: "SO-000042", "so000042", "42"."""
    m = _NUMBER.match(number.strip())
    return int(m.group(1)) if m else None


def order_number(order_id: int) -> str:
    return f"{NUMBER_PREFIX}{order_id:06d}"


def _visible(stmt, principal: Principal | None):  # type: ignore[no-untyped-def]
    """Customers (orders:read_own) see only the orders placed with their own email."""
    if principal is not None and "orders:read" not in principal.scopes:
        stmt = stmt.where(Order.customer_email == principal.email)
    return stmt


def shipping_address(order: Order) -> AddressOut:
    return AddressOut(
        name=order.ship_name,
        line1=order.ship_line1,
        line2=order.ship_line2,
        city=order.ship_city,
        region=order.ship_region,
        postal_code=order.ship_postal_code,
        country=order.ship_country,
        latitude=order.ship_latitude,
        longitude=order.ship_longitude,
    )


def order_out(order: Order, channel_code: str, lines: list[LineOut]) -> OrderOut:
    warehouses: list[str] = []
    for line in lines:
        for a in line.allocations:
            if a.warehouse not in warehouses:
                warehouses.append(a.warehouse)
    return OrderOut(
        id=order.id,
        number=order_number(order.id),
        channel=channel_code,
        external_id=order.external_id,
        status=order.status,
        payment_status=order.payment_status,
        currency=order.currency,
        customer=CustomerOut(email=order.customer_email, name=order.customer_name, phone=order.customer_phone),
        shipping_address=shipping_address(order),
        subtotal=order.subtotal,
        shipping_total=order.shipping_total,
        tax_total=order.tax_total,
        discount_total=order.discount_total,
        total=order.total,
        authorized_amount=order.authorized_amount,
        paid_amount=order.paid_amount,
        lines=lines,
        warehouses=warehouses,
        routing=order.routing,
        ship_by=order.ship_by,
        deliver_by=order.deliver_by,
        service_level=order.service_level,
        created_at=order.created_at,
        updated_at=order.updated_at,
    )


def load_order(session: Session, order_id: int, principal: Principal | None = None) -> OrderOut:
    row = session.execute(
        _visible(select(Order, Channel.code).join(Channel, Channel.id == Order.channel_id), principal).where(
            Order.id == order_id
        )
    ).first()
    if row is None:
        raise NotFound(f"no order with id {order_id}")
    order, channel_code = row
    allocs: dict[int, list[AllocationOut]] = defaultdict(list)
    for line_id, code, qty in session.execute(
        select(Allocation.order_line_id, Warehouse.code, Allocation.quantity)
        .join(Warehouse, Warehouse.id == Allocation.warehouse_id)
        .where(Allocation.order_id == order_id)
        .order_by(Allocation.id)
    ):
        allocs[line_id].append(AllocationOut(warehouse=code, quantity=qty))
    lines = [
        LineOut(
            id=line.id,
            line_no=line.line_no,
            sku=line.sku,
            name=line.name,
            quantity=line.quantity,
            unit_price=line.unit_price,
            reserved=line.reserved,
            backordered=line.backordered,
            shipped=line.shipped,
            allocations=allocs[line.id],
        )
        for line in session.scalars(select(OrderLine).where(OrderLine.order_id == order_id).order_by(OrderLine.line_no))
    ]
    return order_out(order, channel_code, lines)


def read_order(db: Database, order_id: int, principal: Principal) -> OrderOut:
    with db.read() as session:
        return load_order(session, order_id, principal)


def list_orders(
    db: Database,
    principal: Principal,
    *,
    status: str | None,
    channel: str | None,
    q: str | None,
    limit: int,
    cursor: str | None,
) -> Page[OrderSummary]:
    """Newest first."""
    stmt = keyset(
        _visible(select(Order, Channel.code).join(Channel, Channel.id == Order.channel_id), principal),
        Order.id,
        cursor,
        limit,
        newest_first=True,
    )
    if status:
        stmt = stmt.where(Order.status == status)
    if channel:
        stmt = stmt.where(Channel.code == channel)
    if q:
        q = q.strip()
        like = f"%{q.lower()}%"
        conditions = [Order.customer_email.like(like), Order.external_id == q, Order.customer_name.ilike(like)]
        if (number := order_id_of(q)) is not None:
            conditions.append(Order.id == number)
        stmt = stmt.where(or_(*conditions))
    with db.read() as session:
        rows = [
            OrderSummary(
                id=o.id,
                number=order_number(o.id),
                channel=code,
                external_id=o.external_id,
                status=o.status,
                payment_status=o.payment_status,
                currency=o.currency,
                total=o.total,
                customer_email=o.customer_email,
                customer_name=o.customer_name,
                created_at=o.created_at,
            )
            for o, code in session.execute(stmt)
        ]
    return page_of(rows, limit)


# What a customer reads of their own timeline: what happened, not who on the staff did it or why.
CUSTOMER_MESSAGES = {
    "created": "Order placed",
    "payment": "Payment received",
    "backordered": "Some items are on backorder",
    "backorder_filled": "Backordered items reserved",
    "held": "Order on hold",
    "released": "Order released",
    "cancelled": "Order cancelled",
    "confirmed": "Order confirmed",
}


def _for_customer(event: OrderEventOut) -> OrderEventOut:
    return event.model_copy(
        update={
            "actor": "oms",
            "data": None,
            "message": CUSTOMER_MESSAGES.get(event.type, event.type.replace("_", " ")),
        }
    )


def list_events(db: Database, order_id: int, principal: Principal) -> Page[OrderEventOut]:
    """The whole timeline in one page: an order's history is short."""
    with db.read() as session:
        load_order_header(session, order_id, principal)
        if "orders:read" not in principal.scopes:
            events = session.scalars(select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.id))
            return Page[OrderEventOut](items=[_for_customer(OrderEventOut.model_validate(e)) for e in events])
        return Page[OrderEventOut](
            items=[
                OrderEventOut.model_validate(e)
                for e in session.scalars(
                    select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.id)
                )
            ]
        )


def list_payments(db: Database, order_id: int, principal: Principal) -> Page[PaymentOut]:
    with db.read() as session:
        load_order_header(session, order_id, principal)
        return Page[PaymentOut](
            items=[
                PaymentOut.model_validate(p)
                for p in session.scalars(select(Payment).where(Payment.order_id == order_id).order_by(Payment.id))
            ]
        )


def load_order_header(session: Session, order_id: int, principal: Principal | None = None) -> Order:
    order = session.scalar(_visible(select(Order), principal).where(Order.id == order_id))
    if order is None:
        raise NotFound(f"no order with id {order_id}")
    return order
