"""Confirming a shipment: the parcel is handed to the carrier. Its units leave on_hand and their
reservation through the ledger, the order is shipped or partially shipped, the authorised payment
is captured, and the customer and subscribers are told (through the outbox)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from oms.auth.service import Principal
from oms.db import Database
from oms.db.base import utcnow
from oms.errors import Conflict
from oms.events.outbox import emit_many
from oms.inventory.stock import Movement, MovementKind, apply
from oms.orders.model import Allocation, Order, OrderLine
from oms.orders.rules import OrderStatus, PaymentStatus
from oms.orders.rules import check_transition as check_order_transition
from oms.orders.service import apply_payment
from oms.orders.timeline import record
from oms.packing.model import Package
from oms.packing.rules import ShipmentStatus as S
from oms.packing.service import lock_shipment
from oms.picking.model import PickTask
from oms.shipping import promises
from oms.shipping.carriers import get_carrier
from oms.shipping.model import Shipment
from oms.shipping.rules import check_transition
from oms.shipping.tracking_events import replay_early, tracking_url


def ship(db: Database, shipment_id: int, principal: Principal, public_url: str) -> dict[str, Any]:
    """Hand the shipment to the carrier: its units leave on_hand and their reservation (ledger rows),
    the order is shipped or partially shipped, and the customer and subscribers are told."""

    def use_case(session: Session) -> dict[str, Any]:
        shipment = lock_shipment(session, shipment_id)
        check_transition(shipment_id, shipment.status, S.SHIPPED, "ship")
        order = session.get(Order, shipment.order_id)
        assert order is not None
        now = utcnow()
        units = _consume_reservations(session, shipment, principal, now)
        shipment.status = S.SHIPPED.value
        shipment.shipped_at = now
        shipment.shipped_by = principal.actor
        shipment.estimated_delivery = promises.estimated_delivery(now.date(), shipment.transit_days or 0)
        shipment.updated_at = now
        lines = session.scalars(select(OrderLine).where(OrderLine.order_id == order.id)).all()
        target = (
            OrderStatus.SHIPPED if all(ln.shipped >= ln.quantity for ln in lines) else OrderStatus.PARTIALLY_SHIPPED
        )
        if order.status != target:
            check_order_transition(order.status, target, "ship")
            order.status = target.value
        order.updated_at = now
        _capture_on_shipment(session, order, shipment_id, principal)
        carrier = get_carrier(session, shipment.carrier or "")
        packages = (
            session.scalar(
                select(Package.number)
                .where(Package.shipment_id == shipment_id)
                .order_by(Package.number.desc())
                .limit(1)
            )
            or 0
        )
        url = tracking_url(public_url, shipment.tracking_number or "")
        record(
            session,
            [
                (
                    order.id,
                    principal.actor,
                    "shipped",
                    f"Shipment {shipment_id} shipped with {shipment.service_name}, tracking {shipment.tracking_number}"
                    f" ({units} unit(s) in {packages} package(s)); order is {order.status}",
                    {"shipment_id": shipment_id, "tracking_number": shipment.tracking_number},
                )
            ],
        )
        emit_many(
            session,
            [
                (
                    "shipment.shipped",
                    {
                        "order_id": order.id,
                        "shipment_id": shipment_id,
                        "carrier": shipment.carrier,
                        "carrier_name": carrier.name,
                        "service_name": shipment.service_name,
                        "tracking_number": shipment.tracking_number,
                        "tracking_url": url,
                        "packages": packages,
                        "shipped_at": now.isoformat(),
                    },
                ),
                (
                    "order.shipped",
                    {
                        "order_id": order.id,
                        "status": order.status,
                        "shipment_id": shipment_id,
                        "carrier": shipment.carrier,
                        "tracking_number": shipment.tracking_number,
                        "tracking_url": url,
                    },
                ),
            ],
        )
        emit_many(session, replay_early(session, shipment, order, public_url))
        session.flush()
        return {"shipment_id": shipment_id}

    return db.run(use_case)


def _capture_on_shipment(session: Session, order: Order, shipment_id: int, principal: Principal) -> None:
    """Capture what is authorised when the first parcel leaves (capture on fulfilment, as card
    networks expect: a card is charged for goods that have shipped)."""
    amount = order.authorized_amount
    if amount <= 0:
        return
    apply_payment(
        session,
        order,
        PaymentStatus.PAID.value,
        amount,
        principal.actor,
        method="capture",
        reference=f"shipment {shipment_id}",
        message=f"Payment captured on shipment: {amount} {order.currency}",
    )


def _consume_reservations(session: Session, shipment: Shipment, principal: Principal, now: datetime) -> int:
    """The picked units of the shipment leave the warehouse: one ledger row per product takes them
    off on_hand and off the reservation; allocations and order lines record them as shipped."""
    tasks = session.scalars(
        select(PickTask)
        .where(PickTask.shipment_id == shipment.id, PickTask.picked > 0, PickTask.status != "cancelled")
        .order_by(PickTask.id)
    ).all()
    if not tasks:
        raise Conflict(f"shipment {shipment.id} holds no picked units", code="nothing_to_ship")
    allocation_ids = sorted({t.allocation_id for t in tasks if t.allocation_id is not None})
    allocations = {
        a.id: a
        for a in session.scalars(select(Allocation).where(Allocation.id.in_(allocation_ids)).order_by(Allocation.id))
    }
    lines = {
        ln.id: ln
        for ln in session.scalars(
            select(OrderLine)
            .where(OrderLine.id.in_({a.order_line_id for a in allocations.values()}))
            .order_by(OrderLine.id)
        )
    }
    on_hand: dict[int, int] = defaultdict(int)
    reserved: dict[int, int] = defaultdict(int)
    for task in tasks:
        on_hand[task.product_id] += task.picked
        allocation = allocations.get(task.allocation_id) if task.allocation_id else None
        if allocation is None:  # re-routed away after it was picked: the units were not reserved here
            continue
        reserved[task.product_id] += task.picked
        allocation.quantity -= task.picked
        allocation.picked -= task.picked
        line = lines[allocation.order_line_id]
        line.reserved -= task.picked
        line.shipped += task.picked
    reference = f"shipment {shipment.id}"
    apply(
        session,
        [
            Movement(
                product_id,
                shipment.warehouse_id,
                MovementKind.SHIPMENT,
                principal.actor,
                delta_on_hand=-units,
                delta_reserved=-reserved[product_id],
                reference=reference,
                order_id=shipment.order_id,
            )
            for product_id, units in sorted(on_hand.items())
        ],
    )
    # Allocations that reach 0 stay: they record which warehouse the line shipped from.
    return sum(on_hand.values())
