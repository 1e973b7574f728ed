"""Filling backorders, first come first served, when stock arrives (receipt, transfer in, return,
positive adjustment, a short pick's missing units). Runs inside the transaction that added the
stock. Each waiting line is routed like a new order (oms.routing): the closest eligible warehouse
that has the units."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from oms.channels.service import routing_candidates
from oms.db.base import utcnow
from oms.events.outbox import emit_many
from oms.inventory import stock
from oms.inventory.stock import Movement
from oms.orders.locks import lock_orders
from oms.orders.model import Allocation, Order, OrderLine
from oms.orders.queries import order_number
from oms.orders.rules import OPEN_STATUSES, check_transition, derive_status
from oms.orders.timeline import record
from oms.routing.rules import LineRequest, Planner
from oms.routing.scoring import Candidate
from oms.routing.service import order_destination, planner_for


def lock_waiting_orders(session: Session, product_ids: Iterable[int], *also: int) -> dict[int, Order]:
    """Lock (in id order) the orders waiting for these products, plus ``also``.

    Every use case that may fill backorders calls this *before* it touches stock rows, so all
    writers take order locks first and stock locks second: no deadlock cycle between, say, a
    receipt and a cancellation."""
    pids = sorted(set(product_ids))
    waiting: set[int] = set()
    if pids:
        stmt = select(OrderLine.order_id).where(OrderLine.product_id.in_(pids), OrderLine.backordered > 0)
        waiting = set(session.scalars(stmt))
    return lock_orders(session, waiting | set(also))


def units_waiting(session: Session, order_ids: Iterable[int]) -> dict[int, int]:
    """Backordered units per order, for the orders given (one query)."""
    ids = sorted(set(order_ids))
    if not ids:
        return {}
    rows = session.execute(
        select(OrderLine.order_id, func.sum(OrderLine.backordered))
        .where(OrderLine.order_id.in_(ids))
        .group_by(OrderLine.order_id)
    )
    return {order_id: int(units or 0) for order_id, units in rows}


ChannelRules = dict[int, tuple[bool, list[Candidate]]]  # channel id -> (stores allowed, candidates)


def channel_rules(session: Session, orders: Iterable[Order]) -> ChannelRules:
    """The routing rules of the channels these orders came from."""
    return {cid: routing_candidates(session, cid) for cid in sorted({o.channel_id for o in orders})}


def reach(rules: ChannelRules) -> set[int]:
    """Every warehouse those channels may ship from: the stock rows a fill for them may touch."""
    return {c.id for _, candidates in rules.values() for c in candidates}


def fill_backorders(session: Session, product_ids: Iterable[int], actor: str) -> list[dict[str, Any]]:
    """Reserve newly available stock for waiting lines, oldest line first. Returns what was filled."""
    pids = sorted(set(product_ids))
    if not pids:
        return []
    orders = lock_waiting_orders(session, pids)
    if not orders:
        return []
    # Re-read the queue now the orders are locked: a cancel may have emptied some of it.
    queue = session.execute(
        select(OrderLine.id, OrderLine.order_id, OrderLine.product_id, OrderLine.sku, OrderLine.backordered)
        .where(OrderLine.product_id.in_(pids), OrderLine.backordered > 0, OrderLine.order_id.in_(orders))
        .order_by(OrderLine.id)
    ).all()
    # Each waiting line is routed like a new order: its channel's rules, the closest warehouse first.
    rules_by_channel = channel_rules(session, orders.values())
    all_wids = reach(rules_by_channel)
    levels = stock.read_levels(session, pids, all_wids, lock=True)
    available = {k: v.available for k, v in levels.items()}

    planners: dict[int, Planner] = {}
    movements: list[Movement] = []
    filled: list[dict[str, Any]] = []
    per_line: dict[int, int] = {}
    new_allocations: dict[tuple[int, int], int] = defaultdict(int)  # (line_id, warehouse) -> qty
    for line_id, order_id, product_id, sku, waiting_qty in queue:
        order = orders[order_id]
        allow_stores, candidates = rules_by_channel[order.channel_id]
        planner = planners.get(order_id)
        if planner is None:
            planner = planners[order_id] = planner_for(candidates, order_destination(order), allow_stores)
        plan = planner([LineRequest(0, product_id, waiting_qty)], [c.id for c in candidates], available)
        got = 0
        for pick in plan.picks:
            available[(product_id, pick.warehouse_id)] -= pick.quantity
            new_allocations[(line_id, pick.warehouse_id)] += pick.quantity
            got += pick.quantity
            movements += stock.reservations(
                [pick], actor, order_id, f"order {order_number(order_id)}", reason="backorder filled"
            )
        if got:
            per_line[line_id] = got
            filled.append(
                {
                    "order_id": order_id,
                    "order_line_id": line_id,
                    "sku": sku,
                    "quantity": got,
                    "still_backordered": waiting_qty - got,
                }
            )
    if not filled:
        return []
    stock.apply(session, movements)
    _save_allocations(session, new_allocations, {line_id: (o, p) for line_id, o, p, _, _ in queue})
    for line_id, got in per_line.items():
        session.execute(
            update(OrderLine)
            .where(OrderLine.id == line_id)
            .values(reserved=OrderLine.reserved + got, backordered=OrderLine.backordered - got)
        )
    _update_orders(session, orders, filled, actor)
    return filled


def _save_allocations(
    session: Session, quantities: dict[tuple[int, int], int], line_info: dict[int, tuple[int, int]]
) -> None:
    line_ids = {line_id for line_id, _ in quantities}
    existing = {
        (line_id, wid): aid
        for aid, line_id, wid in session.execute(
            select(Allocation.id, Allocation.order_line_id, Allocation.warehouse_id).where(
                Allocation.order_line_id.in_(line_ids)
            )
        )
    }
    fresh = []
    for (line_id, wid), qty in quantities.items():
        if (line_id, wid) in existing:
            session.execute(
                update(Allocation)
                .where(Allocation.id == existing[(line_id, wid)])
                .values(quantity=Allocation.quantity + qty)
            )
        else:
            order_id, product_id = line_info[line_id]
            fresh.append(
                {
                    "order_id": order_id,
                    "order_line_id": line_id,
                    "product_id": product_id,
                    "warehouse_id": wid,
                    "quantity": qty,
                }
            )
    if fresh:
        session.execute(insert(Allocation), fresh)


def _update_orders(session: Session, orders: dict, filled: list[dict[str, Any]], actor: str) -> None:  # type: ignore[type-arg]
    by_order: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for f in filled:
        by_order[f["order_id"]].append(f)
    now = utcnow()
    entries = []
    events = []
    waiting = units_waiting(session, by_order)
    for order_id, fills in sorted(by_order.items()):
        order = orders[order_id]
        if order.status in OPEN_STATUSES:
            target = derive_status(order.payment_status, waiting.get(order_id, 0))
            if target != order.status:
                check_transition(order.status, target, "confirm")
                order.status = target.value
                events.append((f"order.{target.value}", {"order_id": order_id}))
        order.updated_at = now
        summary = ", ".join(f"{f['quantity']} x {f['sku']}" for f in fills)
        entries.append((order_id, actor, "backorder_filled", f"Backorder filled: {summary}", {"lines": fills}))
        events.append(("backorder.filled", {"order_id": order_id, "lines": fills, "status": order.status}))
    record(session, entries)
    emit_many(session, events)
