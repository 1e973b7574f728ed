"""Order use cases: cancel, hold, release, record payment (and create, from oms.orders.capture).

Each opens one write transaction, loads, applies the rules, writes, emits events, commits."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from oms.auth.service import Principal
from oms.db import Database
from oms.db.base import utcnow
from oms.db.locks import lock_in_key_order
from oms.errors import InvalidTransition, NotFound
from oms.events.outbox import emit_many
from oms.inventory import stock
from oms.inventory.stock import Movement, MovementKind
from oms.money import check_amount
from oms.orders.backorders import fill_backorders, lock_waiting_orders, units_waiting
from oms.orders.capture import create_order  # noqa: F401  (the service's whole surface in one place)
from oms.orders.locks import lock_order
from oms.orders.model import Allocation, Order, OrderLine, Payment
from oms.orders.queries import load_order, order_number
from oms.orders.rules import (
    OPEN_STATUSES,
    TRANSITIONS,
    OrderStatus,
    PaymentStatus,
    check_payment,
    check_transition,
    derive_status,
    payment_status_for,
)
from oms.orders.schemas import OrderOut, PaymentCreate
from oms.orders.timeline import record
from oms.picking.model import PickList, PickTask
from oms.shipping.model import Shipment


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
    _stop_fulfilment(session, order.id)
    session.execute(delete(Allocation).where(Allocation.order_id == order.id))
    session.execute(update(OrderLine).where(OrderLine.order_id == order.id).values(reserved=0, backordered=0))
    fill_backorders(session, {p for p, _, _ in allocations}, actor)
    return sum(q for _, _, q in allocations)


def _stop_fulfilment(session: Session, order_id: int) -> None:
    """A cancelled order leaves the floor: its open pick tasks are cancelled (they and their scans
    stay, for the record), pick lists with nothing left to do are done, and its shipments not yet
    shipped are cancelled. Units already in a tote stay on hand, outside any bin, to be put away."""
    now = utcnow()
    # The lock order of picking: (the order, held by the caller), its pick lists, then tasks.
    lists = sorted(set(session.scalars(select(PickTask.pick_list_id).where(PickTask.order_id == order_id))))
    if lists:
        session.execute(lock_in_key_order(session, select(PickList.id).where(PickList.id.in_(lists)), PickList.id))
    session.execute(
        update(PickTask).where(PickTask.order_id == order_id, PickTask.status == "open").values(status="cancelled")
    )
    for list_id in lists:
        still_open = session.scalar(
            select(PickTask.id).where(PickTask.pick_list_id == list_id, PickTask.status == "open").limit(1)
        )
        if still_open is None:
            session.execute(
                update(PickList)
                .where(PickList.id == list_id, PickList.status == "open")
                .values(status="done", completed_at=now)
            )
    labelled = session.execute(
        select(Shipment.id, Shipment.carrier, Shipment.tracking_number).where(
            Shipment.order_id == order_id, Shipment.status == "labelled"
        )
    ).all()
    session.execute(
        update(Shipment)
        .where(Shipment.order_id == order_id, Shipment.status.not_in(["shipped", "delivered", "cancelled"]))
        .values(status="cancelled", updated_at=now)
    )
    # Labels already bought are voided at the carrier after commit (a call to the outside world),
    # by the worker: oms.shipping.labelling.void_cancelled.
    emit_many(
        session,
        [
            ("shipment.labels_to_void", {"shipment_id": sid, "carrier": carrier, "tracking_number": number})
            for sid, carrier, number in labelled
        ],
    )


def cancel_order(db: Database, order_id: int, principal: Principal, reason: str | None) -> OrderOut:
    def use_case(session: Session) -> OrderOut:
        # Lock this order together with the orders that may receive its stock, in id order,
        # before any stock row (the lock order every writer follows; see lock_waiting_orders).
        products = set(session.scalars(select(OrderLine.product_id).where(OrderLine.order_id == order_id)))
        order = lock_waiting_orders(session, products, order_id).get(order_id)
        if order is None:
            raise NotFound(f"no order with id {order_id}")
        check_transition(order.status, OrderStatus.CANCELLED, "cancel")
        if order.status == OrderStatus.ON_HOLD and order.held_from:
            # Holding an order must not open a way round the table (e.g. cancel after shipping).
            check_transition(order.held_from, OrderStatus.CANCELLED, "cancel")
        released = _release_all(session, order, principal.actor, reason or "order cancelled")
        previous = order.status
        order.status = OrderStatus.CANCELLED.value
        order.held_from = None
        # What was only authorised is released; what was captured stays recorded (a refund is due).
        had_authorisation = order.authorized_amount > 0
        order.authorized_amount = Decimal(0)
        if order.paid_amount > 0:
            order.payment_status = payment_status_for(order.total, Decimal(0), order.paid_amount).value
        elif had_authorisation:
            order.payment_status = PaymentStatus.VOIDED.value
        order.updated_at = utcnow()
        note = f"Cancelled (was {previous}); released {released} reserved unit(s)"
        if order.paid_amount > 0:
            note += f"; {order.paid_amount} {order.currency} captured, refund due"
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
            target = derive_status(order.payment_status, units_waiting(session, [order.id]).get(order.id, 0))
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


def apply_payment(
    session: Session,
    order: Order,
    status: str,
    amount: Decimal,
    actor: str,
    *,
    method: str | None,
    reference: str | None,
    message: str,
    data: dict[str, Any] | None = None,
) -> None:
    """Records an authorisation or capture on a locked order: the amounts checked and updated, the
    payment row, the timeline entry and the ``payment.recorded`` event. The one way a payment is
    taken, from the API (record_payment) and on shipment (oms.shipping.confirm)."""
    order.authorized_amount, order.paid_amount = check_payment(
        status, amount, order.total, order.authorized_amount, order.paid_amount, order.status
    )
    order.payment_status = payment_status_for(order.total, order.authorized_amount, order.paid_amount).value
    session.add(
        Payment(
            order_id=order.id,
            status=status,
            amount=amount,
            currency=order.currency,
            method=method,
            reference=reference,
            actor=actor,
        )
    )
    record(session, [(order.id, actor, "payment", message, data)])
    emit_many(
        session,
        [
            (
                "payment.recorded",
                {"order_id": order.id, "status": status, "amount": str(amount), "payment_status": order.payment_status},
            )
        ],
    )


def record_payment(db: Database, order_id: int, data: PaymentCreate, principal: Principal) -> OrderOut:
    def use_case(session: Session) -> OrderOut:
        order = lock_order(session, order_id)
        amount = check_amount(data.amount, order.currency, "amount")
        apply_payment(
            session,
            order,
            data.status,
            amount,
            principal.actor,
            method=data.method,
            reference=data.reference,
            message=f"Payment {data.status}: {amount} {order.currency}",
            data={"reference": data.reference, "method": data.method},
        )
        timeline: list[tuple[int, str, str, str, dict[str, Any] | None]] = []
        events: list[tuple[str, dict[str, Any]]] = []
        if order.status in OPEN_STATUSES:
            target = derive_status(order.payment_status, units_waiting(session, [order.id]).get(order.id, 0))
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
