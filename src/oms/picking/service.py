"""Picking write use cases: pick lists for one order or a wave, scans and short picks. Planning the
lists lives in ``oms.picking.planning``, task mechanics in ``oms.picking.tasks``, reads in
``oms.picking.queries``.

Lock order (the one every writer follows): order rows (by id), then the pick list row, then pick
task rows, then stock rows (``oms.inventory.stock``); building lists also takes the warehouse's
floor lock (``planning.lock_floor``) after the orders. A refused scan is recorded in a second transaction after the
first one rolled back, so the audit trail keeps it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from oms.auth.service import Principal
from oms.catalog.model import Product
from oms.db import Database
from oms.db.base import utcnow
from oms.errors import Conflict, DomainError, InvalidTransition
from oms.events.outbox import emit_many
from oms.inventory import stock
from oms.inventory.model import Bin, BinStock, StockLevel, Warehouse
from oms.inventory.stock import Movement, MovementKind
from oms.inventory.warehouses import get_warehouse
from oms.orders.backorders import channel_rules, fill_backorders, lock_waiting_orders, reach, units_waiting
from oms.orders.locks import lock_order, lock_orders
from oms.orders.model import Allocation, Order, OrderLine
from oms.orders.queries import order_number
from oms.orders.rules import TRANSITIONS, OrderStatus, check_transition
from oms.orders.timeline import record
from oms.picking import rules
from oms.picking.model import PickScan, PickTask
from oms.picking.planning import (
    DEPOT,
    PICKABLE,
    Floor,
    build_list,
    lists_for_order,
    needs_by_order,
    ready_orders,
    start_picking,
)
from oms.picking.queries import TASK_INFO, load_list, task_out
from oms.picking.rules import Step, TaskStatus, WaveCandidate
from oms.picking.schemas import OrderPickListsOut, PickListOut, ScanCreate, ScanOut, ShortCreate, ShortOut, WaveCreate
from oms.picking.tasks import (
    allocated_by_warehouse,
    check_task_open,
    current_task,
    lock_list,
    lock_task,
    open_list,
    record_refusal,
    scan_target,
    settle,
    take,
)
from oms.shipping.model import Shipment


def _check_pickable(order: Order) -> None:
    if order.status not in PICKABLE:
        raise InvalidTransition(
            f"cannot pick an order that is {order.status}; it must be confirmed (fully reserved)",
            current_status=order.status,
            allowed=sorted(s.value for s in TRANSITIONS[OrderStatus(order.status)]),
        )


def create_order_pick_lists(db: Database, order_id: int, principal: Principal) -> OrderPickListsOut:
    def use_case(session: Session) -> OrderPickListsOut:
        order = lock_order(session, order_id)
        _check_pickable(order)
        made = lists_for_order(session, order, principal.actor)
        if not made:
            raise Conflict(
                f"nothing to pick: every reserved unit of order {order_number(order.id)} is on a pick list already",
                code="nothing_to_pick",
            )
        session.flush()
        return OrderPickListsOut(
            order_id=order.id,
            order_number=order_number(order.id),
            order_status=order.status,
            pick_lists=[load_list(session, pl.id) for pl in made],
        )

    return db.run(use_case)


def create_wave(db: Database, warehouse_code: str, data: WaveCreate, principal: Principal) -> PickListOut:
    def use_case(session: Session) -> PickListOut:
        warehouse = get_warehouse(session, warehouse_code)
        ready = ready_orders(session, warehouse.id, data.cutoff)
        needs = needs_by_order(session, ready, warehouse.id)
        if not needs:
            raise Conflict(f"nothing to pick: no order is ready in {warehouse.code}", code="nothing_to_pick")
        floor = Floor(session, warehouse.id, {n.product_id for ns in needs.values() for n in ns})
        candidates = [
            WaveCandidate(
                oid,
                sum(n.quantity for n in needs[oid]),
                tuple(
                    dict.fromkeys(
                        floor.place(b)
                        for n in needs[oid]
                        for b, _ in floor.choose(n.product_id, n.quantity, claim=False)
                    )
                ),
            )
            for oid in ready
            if oid in needs
        ]
        chosen = rules.select_wave(
            candidates, floor.distance, DEPOT, max_orders=data.max_orders, max_units=data.max_units, walk=floor.walk
        )
        # Lock the chosen orders, then look again: another list may have taken one meanwhile.
        orders = lock_orders(session, chosen)
        pickable = [o for o in chosen if o in orders and orders[o].status in PICKABLE]
        still = needs_by_order(session, pickable, warehouse.id)
        chosen = [o for o in chosen if o in still]
        if not chosen:
            raise Conflict(f"nothing to pick: no order is ready in {warehouse.code}", code="nothing_to_pick")
        groups = [(oid, rules.tote_code(n), still[oid]) for n, oid in enumerate(chosen, start=1)]
        pick_list = build_list(session, warehouse.id, "wave", groups, principal.actor)
        start_picking(session, [orders[o] for o in chosen], pick_list, warehouse.code, principal.actor)
        session.flush()
        return load_list(session, pick_list.id)

    return db.run(use_case)


# --- scanning ----------------------------------------------------------------------------------


# A scan's reads, built once: the task's accepted scans so far, and its bin and product.
_ACCEPTED_STEPS = (
    select(PickScan.step)
    .where(PickScan.task_id == bindparam("task_id"), PickScan.accepted, PickScan.step != Step.SHORT)
    .order_by(PickScan.id)
)
_TASK_INFO_BY_ID = TASK_INFO.where(PickTask.id == bindparam("task_id"))

# What a scan answers with besides the task, in one statement: the next open task in the walk and
# the shipment's status.
_AFTER_SCAN = select(
    select(PickTask.id)
    .where(PickTask.pick_list_id == bindparam("list_id"), PickTask.status == TaskStatus.OPEN)
    .order_by(PickTask.seq)
    .limit(1)
    .scalar_subquery(),
    select(Shipment.status).where(Shipment.id == bindparam("shipment_id")).scalar_subquery(),
)


def scan(db: Database, list_id: int, data: ScanCreate, principal: Principal) -> ScanOut:
    if data.bin is not None:
        step, value = Step.BIN, data.bin
    elif data.item is not None:
        step, value = Step.ITEM, data.item
    else:
        step, value = Step.QUANTITY, str(data.quantity)
    seen: dict[str, int] = {}

    def use_case(session: Session) -> ScanOut:
        # The task and its order read in one statement, then locked: order, list, task.
        task_id, order_id = scan_target(session, list_id, data.task_id, seen)
        order = lock_order(session, order_id)
        pick_list = lock_list(session, list_id)
        task = lock_task(session, task_id)
        check_task_open(task, order)
        remaining = task.quantity - task.picked - task.short
        accepted = list(session.scalars(_ACCEPTED_STEPS, {"task_id": task.id}))
        expected = rules.expected_step(task.bin_id is not None, accepted, remaining)
        rules.check_order_of_scans(step, expected or Step.QUANTITY)
        info = session.execute(_TASK_INFO_BY_ID, {"task_id": task.id}).one()
        if step == Step.BIN:
            rules.check_bin(value, info.code if task.bin_id else None)
        elif step == Step.ITEM:
            rules.check_item(value, info.sku, info.barcode)
        else:
            rules.check_quantity(data.quantity or 0, remaining)
            stock.apply(session, take(session, task, pick_list.warehouse_id, data.quantity or 0, principal.actor))
        row = PickScan(
            pick_list_id=pick_list.id, task_id=task.id, step=step.value, value=value[:64], accepted=True,
            actor=principal.actor,
        )  # fmt: skip
        session.add(row)
        session.flush()
        if task.status != TaskStatus.OPEN:  # only a quantity can finish a task, its shipment or its list
            settle(session, pick_list, [task.shipment_id], principal.actor)
        next_task_id, shipment_status = session.execute(
            _AFTER_SCAN, {"list_id": pick_list.id, "shipment_id": task.shipment_id}
        ).one()
        return ScanOut(
            scan_id=row.id,
            step=step.value,
            value=value,
            accepted=True,
            task=task_out(task, info, [*accepted, step.value]),
            next_task_id=next_task_id,
            pick_list_status=pick_list.status,
            shipment_status=shipment_status or "",
        )

    try:
        return db.run(use_case)
    except DomainError as exc:
        if "list" in seen:
            record_refusal(db, seen["list"], seen.get("task"), step, value, exc.code, principal.actor)
        raise


# --- short picks -------------------------------------------------------------------------------


def _loose_units(session: Session, product_id: int, warehouse_id: int) -> int:
    """Units of a product on hand in a warehouse that are neither in a bin nor in a tote (picked
    for an order): received without a bin, or left by a cancelled order's pick."""
    on_hand = session.scalar(
        select(StockLevel.on_hand).where(StockLevel.product_id == product_id, StockLevel.warehouse_id == warehouse_id)
    )
    in_bins = session.scalar(
        select(func.coalesce(func.sum(BinStock.quantity), 0)).where(
            BinStock.product_id == product_id, BinStock.warehouse_id == warehouse_id
        )
    )
    in_totes = session.scalar(
        select(func.coalesce(func.sum(Allocation.picked), 0)).where(
            Allocation.product_id == product_id, Allocation.warehouse_id == warehouse_id
        )
    )
    return max((on_hand or 0) - int(in_bins or 0) - int(in_totes or 0), 0)


def short_pick(db: Database, list_id: int, task_id: int, data: ShortCreate, principal: Principal) -> ShortOut:
    seen: dict[str, int] = {}
    actor = principal.actor

    def use_case(session: Session) -> ShortOut:
        pick_list = open_list(session, list_id)
        seen["list"] = pick_list.id
        task = current_task(session, pick_list, task_id)
        seen["task"] = task.id
        # Orders first (this one and those waiting for the product, in id order), then stock.
        waiting = lock_waiting_orders(session, {task.product_id}, task.order_id)
        order = waiting[task.order_id]
        pick_list = lock_list(session, pick_list.id)
        task = lock_task(session, task.id)
        check_task_open(task, order)
        remaining = task.quantity - task.picked - task.short
        missing = rules.check_short(data.found, remaining)
        wid = pick_list.warehouse_id
        # Every stock row of this product the correction and the re-route may touch, locked once
        # in key order before any changes: this warehouse's and every warehouse the waiting
        # orders' channels may ship from.
        stock.read_levels(
            session, [task.product_id], {wid} | reach(channel_rules(session, waiting.values())), lock=True
        )
        allocation = session.scalar(
            select(Allocation).where(Allocation.id == task.allocation_id).execution_options(populate_existing=True)
        )
        line = session.scalar(
            select(OrderLine)
            .where(OrderLine.id == allocation.order_line_id)  # type: ignore[union-attr]
            .execution_options(populate_existing=True)
        )
        assert allocation is not None and line is not None
        bin_code, in_bin = None, 0
        if task.bin_id is not None:
            bin_code = session.scalar(select(Bin.code).where(Bin.id == task.bin_id))
            in_bin = (
                session.scalar(
                    select(BinStock.quantity).where(
                        BinStock.product_id == task.product_id, BinStock.bin_id == task.bin_id
                    )
                )
                or 0
            )
        loose = _loose_units(session, task.product_id, wid)
        reference = f"pick list {pick_list.id}"
        task.short = missing
        movements = take(session, task, wid, data.found, actor)
        movements.append(
            Movement(
                task.product_id, wid, MovementKind.RELEASE, actor, delta_reserved=-missing,
                reason="short pick", reference=reference, order_id=order.id,
            )
        )  # fmt: skip
        # The bin held less than the books said: take the missing units off the books, from the
        # bin (as far as the books have them there), then from the loose stock outside any bin
        # and any tote. Units the books cannot place stay on them: the stock.discrepancy event
        # asks for a count, and nothing is written off from another order's tote.
        at_bin = min(missing, max(in_bin - data.found, 0)) if task.bin_id is not None else 0
        at_depot = min(missing - at_bin, loose)
        for bin_id, qty in ((task.bin_id, at_bin), (None, at_depot)):
            if qty:
                movements.append(
                    Movement(
                        task.product_id, wid, MovementKind.ADJUSTMENT, actor, delta_on_hand=-qty,
                        reason="short pick", reference=reference, order_id=order.id, bin_id=bin_id,
                    )
                )  # fmt: skip
        stock.apply(session, movements)
        # The allocation stays even at zero: its picked count and its tasks refer to it.
        allocation.quantity -= missing
        line.reserved -= missing
        line.backordered += missing
        session.flush()

        before = allocated_by_warehouse(session, line.id)
        fill_backorders(session, {task.product_id}, actor)
        after = allocated_by_warehouse(session, line.id)
        codes = dict(session.execute(select(Warehouse.id, Warehouse.code)).all())
        rerouted = [
            {"warehouse": codes[w], "quantity": after[w] - before.get(w, 0)}
            for w in sorted(after)
            if after[w] > before.get(w, 0)
        ]
        waiting = session.scalar(select(OrderLine.backordered).where(OrderLine.id == line.id)) or 0

        sku = session.scalar(select(Product.sku).where(Product.id == task.product_id))
        where = f"bin {bin_code}" if bin_code else "the depot"
        note = f"Short pick: found {data.found} of {remaining} x {sku} in {where} ({codes[wid]}); {missing} missing"
        if rerouted:
            note += "; re-reserved " + ", ".join(f"{r['quantity']} in {r['warehouse']}" for r in rerouted)
        if waiting:
            note += f"; {waiting} backordered"
        events: list[tuple[str, dict[str, Any]]] = [
            (
                "stock.discrepancy",
                {
                    "product_id": task.product_id,
                    "sku": sku,
                    "warehouse_id": wid,
                    "bin_id": task.bin_id,
                    "bin": bin_code,
                    "expected": remaining,
                    "found": data.found,
                    "missing": missing,
                    "order_id": order.id,
                    "pick_list_id": pick_list.id,
                    "task_id": task.id,
                },
            )
        ]
        detail = {"task_id": task.id, "missing": missing, "rerouted": rerouted}
        entries = [(order.id, actor, "short_pick", note, detail)]
        if units_waiting(session, [order.id]).get(order.id, 0) and order.status == OrderStatus.IN_FULFILMENT:
            check_transition(order.status, OrderStatus.BACKORDERED, "backorder")
            order.status = OrderStatus.BACKORDERED.value
            why = "Order backordered: units missing after a short pick"
            entries.append((order.id, actor, "backordered", why, None))
            events.append(("order.backordered", {"order_id": order.id}))
        order.updated_at = utcnow()
        record(session, entries)  # type: ignore[arg-type]
        emit_many(session, events)
        session.add(
            PickScan(
                pick_list_id=pick_list.id, task_id=task.id, step=Step.SHORT.value, value=str(data.found),
                accepted=True, actor=actor,
            )
        )  # fmt: skip
        session.flush()
        # Units re-reserved for an order still in fulfilment go on new lists at once, never from
        # the bin that just came up short (its count is in doubt until someone counts it).
        new_lists = []
        if order.status == OrderStatus.IN_FULFILMENT:
            avoid = frozenset({(task.product_id, task.bin_id)}) if task.bin_id is not None else frozenset()
            new_lists = lists_for_order(session, order, actor, avoid)
        settle(session, pick_list, [task.shipment_id], actor)
        out = load_list(session, pick_list.id)
        return ShortOut(
            task=next(t for t in out.tasks if t.id == task.id),
            missing=missing,
            rerouted=rerouted,
            backordered=waiting,
            new_pick_lists=[pl.id for pl in new_lists],
            order_status=order.status,
            pick_list_status=out.status,
            shipment_status=session.scalar(select(Shipment.status).where(Shipment.id == task.shipment_id)) or "",
        )

    try:
        return db.run(use_case)
    except DomainError as exc:
        if "list" in seen:
            record_refusal(db, seen["list"], seen.get("task"), Step.SHORT, str(data.found), exc.code, actor)
        raise
