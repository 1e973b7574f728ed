"""Routing an open order again: give back its reservations and plan the whole order afresh from
today's stock, the closest warehouses first (oms.routing). Staff ask for it when a warehouse is
closed or late (``exclude``); it is refused once picking has started, because units in a tote
are already committed to their warehouse."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from oms.auth.service import Principal
from oms.catalog.model import Product
from oms.channels.service import routing_candidates
from oms.db import Database
from oms.db.base import utcnow
from oms.errors import Conflict, InsufficientStock, InvalidInput, NotFound
from oms.events.outbox import emit_many
from oms.inventory import stock
from oms.inventory.stock import Movement, MovementKind
from oms.orders.backorders import fill_backorders, lock_waiting_orders
from oms.orders.model import Allocation, Order, OrderLine
from oms.orders.queries import load_order, order_number
from oms.orders.rules import OPEN_STATUSES, check_transition, derive_status
from oms.orders.schemas import OrderOut
from oms.orders.timeline import record
from oms.picking.model import PickTask
from oms.routing.rules import LineRequest
from oms.routing.service import order_destination, planner_for


def read_routing(db: Database, order_id: int) -> dict[str, Any]:
    with db.read() as session:
        row = session.execute(select(Order.id, Order.routing).where(Order.id == order_id)).first()
        if row is None:
            raise NotFound(f"no order with id {order_id}")
        return {"order_id": row.id, "number": order_number(row.id), **(row.routing or {})}


def reroute_order(
    db: Database, order_id: int, principal: Principal, exclude: list[str], reason: str | None
) -> OrderOut:
    def use_case(session: Session) -> OrderOut:
        # Orders before stock: this order and those waiting for its products, in id order.
        products = set(session.scalars(select(OrderLine.product_id).where(OrderLine.order_id == order_id)))
        order = lock_waiting_orders(session, products, order_id).get(order_id)
        if order is None:
            raise NotFound(f"no order with id {order_id}")
        if order.status not in OPEN_STATUSES:
            raise Conflict(
                f"order {order_number(order.id)} is {order.status}; only orders waiting to be picked "
                f"({', '.join(sorted(OPEN_STATUSES))}) can be routed again",
                code="cannot_reroute",
                current_status=order.status,
            )
        started = session.scalar(select(func.count()).select_from(PickTask).where(PickTask.order_id == order.id))
        if started:
            raise Conflict(f"picking has started for order {order_number(order.id)}", code="picking_started")

        allow_stores, candidates = routing_candidates(session, order.channel_id)
        unknown = sorted(set(exclude) - {c.code for c in candidates})
        if unknown:
            raise InvalidInput(
                f"not among this order's eligible warehouses: {', '.join(unknown)}", code="unknown_warehouse"
            )
        eligible_ids = {c.id for c in candidates}
        candidates = [c for c in candidates if c.code not in exclude]
        actor, reference = principal.actor, f"order {order_number(order.id)}"

        before = session.execute(
            select(Allocation.product_id, Allocation.warehouse_id, Allocation.quantity).where(
                Allocation.order_id == order.id
            )
        ).all()
        movements = [
            Movement(
                p,
                w,
                MovementKind.RELEASE,
                actor,
                delta_reserved=-q,
                reason="re-route",
                reference=reference,
                order_id=order.id,
            )
            for p, w, q in before
        ]
        lines = session.execute(
            select(OrderLine.id, OrderLine.line_no, OrderLine.product_id, OrderLine.sku, OrderLine.quantity)
            .where(OrderLine.order_id == order.id)
            .order_by(OrderLine.line_no)
        ).all()
        allow_backorder = dict(
            session.execute(select(Product.id, Product.allow_backorder).where(Product.id.in_(products))).all()
        )
        wids = [c.id for c in candidates]
        pids = sorted(products)
        # One lock, in key order, over every stock row this may touch: the rows released (an
        # excluded warehouse among them), the rows planned from, and those a backorder fill of
        # the same channel may take; locking more later could close a cycle with another writer.
        lock_wids = sorted(eligible_ids | {w for _, w, _ in before})
        stock.ensure_level_rows(session, [(p, w) for p in pids for w in lock_wids])
        levels = stock.read_levels(session, pids, lock_wids, lock=True)
        available = {k: v.available for k, v in levels.items() if k[1] in set(wids)}
        for p, w, q in before:  # what this order holds now is available to its new plan
            if (p, w) in available:
                available[(p, w)] += q
        plan = planner_for(candidates, order_destination(order), allow_stores)(
            [LineRequest(n, p, q) for _, n, p, _, q in lines], wids, available
        )
        by_no = {n: (line_id, sku, p) for line_id, n, p, sku, _ in lines}
        refused = [by_no[n][1] for n in plan.short if not allow_backorder[by_no[n][2]]]
        if refused:
            raise InsufficientStock(
                f"routing again would leave {', '.join(refused)} without stock; the order keeps its current plan",
                skus=refused,
            )
        movements += stock.reservations(plan.picks, actor, order.id, reference, reason="re-route")
        stock.apply(session, movements)
        session.execute(delete(Allocation).where(Allocation.order_id == order.id))
        if plan.picks:
            session.execute(
                Allocation.__table__.insert(),
                [
                    {
                        "order_id": order.id,
                        "order_line_id": by_no[p.line_no][0],
                        "product_id": p.product_id,
                        "warehouse_id": p.warehouse_id,
                        "quantity": p.quantity,
                        "picked": 0,
                    }
                    for p in plan.picks
                ],
            )
        for line_id, n, _, _, quantity in lines:
            short = plan.short.get(n, 0)
            session.execute(
                update(OrderLine).where(OrderLine.id == line_id).values(reserved=quantity - short, backordered=short)
            )
        code_of = {c.id: c.code for c in candidates}
        order.routing = {
            **plan.explanation,
            "warehouse_order": [c.code for c in candidates],
            "rerouted": {"at": utcnow().isoformat(), "by": actor, "reason": reason, "excluded": sorted(exclude)},
        }
        target = derive_status(order.payment_status, sum(plan.short.values()))
        if target != order.status:
            check_transition(order.status, target, "reroute")
            order.status = target.value
        order.updated_at = utcnow()
        where = sorted({code_of[p.warehouse_id] for p in plan.picks})
        message = f"Routed again to {', '.join(where) or 'no warehouse'}" + (f": {reason}" if reason else "")
        record(session, [(order.id, actor, "rerouted", message, {"warehouses": where, "excluded": sorted(exclude)})])
        emit_many(session, [("order.rerouted", {"order_id": order.id, "warehouses": where})])
        # Stock this order let go of may serve orders that were waiting for it.
        fill_backorders(session, products, actor)
        session.flush()
        return load_order(session, order.id)

    return db.run(use_case)
