"""Picking use cases: pick lists for one order or a wave, scans, short picks, and reading lists.

Lock order (the one every writer follows): order rows (by id), then pick task rows, then stock
rows (``oms.inventory.stock``). A refused scan is recorded in a second transaction after the
first one rolled back, so the audit trail keeps it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import Session

from oms.auth.service import Principal
from oms.catalog.model import Product
from oms.db import Database
from oms.db.base import utcnow
from oms.db.locks import lock_in_key_order
from oms.errors import Conflict, DomainError, InvalidTransition, NotFound
from oms.events.outbox import emit_many
from oms.inventory import stock
from oms.inventory.model import Bin, BinStock, Warehouse
from oms.inventory.stock import Movement, MovementKind
from oms.inventory.warehouses import get_warehouse
from oms.orders.backorders import fill_backorders, lock_waiting_orders, units_waiting
from oms.orders.locks import lock_order, lock_orders
from oms.orders.model import Allocation, Order, OrderLine
from oms.orders.queries import order_number
from oms.orders.rules import TRANSITIONS, OrderStatus, check_transition
from oms.orders.timeline import record
from oms.picking import rules
from oms.picking.layout import Layout, Location
from oms.picking.model import PickList, PickScan, PickTask
from oms.picking.pickpath import optimal_tour, s_shape
from oms.picking.rules import BinOffer, ListStatus, Step, TaskStatus, WaveCandidate
from oms.picking.schemas import (
    OrderPickListsOut,
    PickListOrderOut,
    PickListOut,
    PickListSummary,
    PickTaskOut,
    ScanCreate,
    ScanOut,
    ShortCreate,
    ShortOut,
    WaveCreate,
)
from oms.schemas import Page, keyset, page_of
from oms.shipping.model import Shipment

# Orders that may be put on a pick list: confirmed ones, and ones already in fulfilment that still
# have reserved units on no list (an order split over warehouses, or units re-routed by a short).
PICKABLE = (OrderStatus.CONFIRMED, OrderStatus.IN_FULFILMENT)
WAVE_CANDIDATES_MAX = 1000  # the oldest ready orders a wave chooses among
DEPOT = "depot"  # the place of a pick made at the depot, for wave proximity


# --- planning ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Need:
    """Units of one allocation not yet on any pick list."""

    order_id: int
    allocation_id: int
    product_id: int
    warehouse_id: int
    quantity: int


def _untasked(session: Session, order_ids: Iterable[int], warehouse_id: int | None = None) -> list[_Need]:
    """Reserved units on no pick list: the allocation minus what its tasks cover (an open or
    picked task covers its quantity; a short one only what was picked, the rest left the
    allocation)."""
    ids = sorted(set(order_ids))
    if not ids:
        return []
    a = Allocation
    stmt = select(a.id, a.order_id, a.product_id, a.warehouse_id, a.quantity).where(a.order_id.in_(ids))
    if warehouse_id is not None:
        stmt = stmt.where(a.warehouse_id == warehouse_id)
    allocations = session.execute(stmt.order_by(a.order_id, a.id)).all()
    if not allocations:
        return []
    covered = dict(
        session.execute(
            select(PickTask.allocation_id, func.sum(PickTask.quantity - PickTask.short))
            .where(PickTask.allocation_id.in_([r.id for r in allocations]), PickTask.status != TaskStatus.CANCELLED)
            .group_by(PickTask.allocation_id)
        ).all()
    )
    out = []
    for r in allocations:
        left = r.quantity - int(covered.get(r.id) or 0)
        if left > 0:
            out.append(_Need(r.order_id, r.id, r.product_id, r.warehouse_id, left))
    return out


class _Floor:
    """One warehouse as the planner sees it: its layout (None without bins), where each bin is
    picked, and the units each bin holds that no open task has claimed."""

    def __init__(
        self,
        session: Session,
        warehouse_id: int,
        product_ids: Iterable[int],
        avoid: frozenset[tuple[int, int]] = frozenset(),
    ) -> None:
        bins = session.execute(
            select(Bin.id, Bin.code, Bin.x_m, Bin.y_m, Bin.aisle).where(Bin.warehouse_id == warehouse_id)
        ).all()
        self.layout: Layout | None = None
        self.location: dict[int, Location] = {}
        self.depot_m: dict[int, float] = {}
        if bins:
            self.layout = Layout.from_bins([(b.code, b.x_m, b.y_m, b.aisle) for b in bins])
            by_code = self.layout.locate_bins([(b.code, b.x_m, b.y_m, b.aisle) for b in bins])
            self.location = {b.id: by_code[b.code] for b in bins}
            self.depot_m = {i: self.layout.depot_distance(loc) for i, loc in self.location.items()}
        pids = sorted(set(product_ids))
        self.free: dict[tuple[int, int], int] = {}
        if not pids or not bins:
            return
        for p, b, q in session.execute(
            select(BinStock.product_id, BinStock.bin_id, BinStock.quantity).where(
                BinStock.warehouse_id == warehouse_id, BinStock.product_id.in_(pids), BinStock.quantity > 0
            )
        ):
            self.free[(p, b)] = q
        promised = session.execute(
            select(PickTask.product_id, PickTask.bin_id, func.sum(PickTask.quantity - PickTask.picked - PickTask.short))
            .join(PickList, PickList.id == PickTask.pick_list_id)
            .where(
                PickList.warehouse_id == warehouse_id,
                PickTask.status == TaskStatus.OPEN,
                PickTask.bin_id.is_not(None),
                PickTask.product_id.in_(pids),
            )
            .group_by(PickTask.product_id, PickTask.bin_id)
        )
        for p, b, q in promised:
            if (p, b) in self.free:
                self.free[(p, b)] -= int(q or 0)
        for key in avoid:
            self.free.pop(key, None)

    def choose(self, product_id: int, quantity: int, *, claim: bool) -> list[tuple[int | None, int]]:
        offers = [BinOffer(b, q, self.depot_m[b]) for (p, b), q in self.free.items() if p == product_id and q > 0]
        chosen = rules.choose_bins(quantity, offers)
        if claim:
            for b, q in chosen:
                if b is not None:
                    self.free[(product_id, b)] -= q
        return chosen

    def place(self, bin_id: int | None) -> Hashable:
        return DEPOT if bin_id is None else self.location[bin_id]

    def walk(self, places: Sequence[Hashable]) -> float:
        """Length of the shortest walk from the depot through ``places`` and back."""
        stops = [p for p in places if p != DEPOT]
        if self.layout is None or not stops:
            return 0.0
        return optimal_tour(self.layout, stops).length_m  # type: ignore[arg-type]

    def distance(self, a: Hashable, b: Hashable) -> float:
        if self.layout is None or a == b:
            return 0.0
        if a == DEPOT:
            return self.layout.depot_distance(b)  # type: ignore[arg-type]
        if b == DEPOT:
            return self.layout.depot_distance(a)  # type: ignore[arg-type]
        return self.layout.distance(a, b)  # type: ignore[arg-type]


def _shipment_for(session: Session, order_id: int, warehouse_id: int) -> int:
    """The order's shipment from this warehouse still being picked, or a new one."""
    existing = session.scalar(
        select(Shipment.id)
        .where(Shipment.order_id == order_id, Shipment.warehouse_id == warehouse_id, Shipment.status == "picking")
        .order_by(Shipment.id)
        .limit(1)
    )
    if existing is not None:
        return existing
    shipment = Shipment(order_id=order_id, warehouse_id=warehouse_id, status="picking")
    session.add(shipment)
    session.flush()
    return shipment.id


def _build_list(
    session: Session,
    warehouse_id: int,
    kind: str,
    groups: Sequence[tuple[int, str, list[_Need]]],
    actor: str,
    avoid: frozenset[tuple[int, int]] = frozenset(),
) -> PickList:
    """One pick list: for each (order, tote, needs) a shipment and tasks from the fewest, closest
    bins, all visited in one optimal walk. Depot tasks (stock in no bin) come first: the picker
    starts there."""
    floor = _Floor(session, warehouse_id, {n.product_id for _, _, needs in groups for n in needs}, avoid)
    rows: list[dict[str, Any]] = []
    for order_id, tote, needs in groups:
        shipment_id = _shipment_for(session, order_id, warehouse_id)
        for need in needs:
            for bin_id, qty in floor.choose(need.product_id, need.quantity, claim=True):
                rows.append(
                    {
                        "shipment_id": shipment_id,
                        "order_id": order_id,
                        "allocation_id": need.allocation_id,
                        "product_id": need.product_id,
                        "bin_id": bin_id,
                        "tote": tote,
                        "quantity": qty,
                    }
                )
    at_depot = [i for i, r in enumerate(rows) if r["bin_id"] is None]
    binned = [i for i, r in enumerate(rows) if r["bin_id"] is not None]
    length = s_length = 0.0
    route: list[list[float]] = []
    walk: list[int] = []
    if binned and floor.layout is not None:
        picks = [floor.location[rows[i]["bin_id"]] for i in binned]
        tour = optimal_tour(floor.layout, picks)
        length, s_length = tour.length_m, s_shape(floor.layout, picks).length_m
        route = [[x, y] for x, y in tour.route]
        walk = [binned[k] for k in tour.order]
    pick_list = PickList(
        warehouse_id=warehouse_id,
        kind=kind,
        status=ListStatus.OPEN.value,
        path_length_m=round(length, 3),
        s_shape_length_m=round(s_length, 3),
        route=route,
        created_by=actor,
    )
    session.add(pick_list)
    session.flush()
    session.add_all(
        PickTask(pick_list_id=pick_list.id, seq=seq, picked=0, short=0, status=TaskStatus.OPEN.value, **rows[i])
        for seq, i in enumerate(at_depot + walk, start=1)
    )
    session.flush()
    return pick_list


def _start(session: Session, orders: Sequence[Order], pick_list: PickList, warehouse_code: str, actor: str) -> None:
    """Orders on a new list: confirmed ones move to in_fulfilment; timeline and event."""
    now = utcnow()
    entries = []
    for order in orders:
        if order.status == OrderStatus.CONFIRMED:
            check_transition(order.status, OrderStatus.IN_FULFILMENT, "start picking")
            order.status = OrderStatus.IN_FULFILMENT.value
        order.updated_at = now
        entries.append(
            (
                order.id,
                actor,
                "picking_started",
                f"Picking started in {warehouse_code} (pick list {pick_list.id}, {pick_list.kind})",
                {"pick_list_id": pick_list.id, "warehouse": warehouse_code},
            )
        )
    record(session, entries)  # type: ignore[arg-type]
    emit_many(
        session,
        [
            (
                "picking.started",
                {
                    "pick_list_id": pick_list.id,
                    "kind": pick_list.kind,
                    "warehouse": warehouse_code,
                    "order_ids": [o.id for o in orders],
                },
            )
        ],
    )


def _lists_for_order(
    session: Session, order: Order, actor: str, avoid: frozenset[tuple[int, int]] = frozenset()
) -> list[PickList]:
    """A list per warehouse holding reserved units of the order that are on no list yet, taking
    nothing from the (product, bin) pairs in ``avoid``."""
    by_warehouse: dict[int, list[_Need]] = defaultdict(list)
    for need in _untasked(session, [order.id]):
        by_warehouse[need.warehouse_id].append(need)
    codes = dict(session.execute(select(Warehouse.id, Warehouse.code).where(Warehouse.id.in_(by_warehouse))).all())
    made = []
    for wid in sorted(by_warehouse):
        groups = [(order.id, rules.tote_code(1), by_warehouse[wid])]
        pick_list = _build_list(session, wid, "order", groups, actor, avoid)
        _start(session, [order], pick_list, codes[wid], actor)
        made.append(pick_list)
    return made


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
        made = _lists_for_order(session, order, principal.actor)
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
            pick_lists=[_load_list(session, pl.id) for pl in made],
        )

    return db.run(use_case)


def create_wave(db: Database, warehouse_code: str, data: WaveCreate, principal: Principal) -> PickListOut:
    def use_case(session: Session) -> PickListOut:
        warehouse = get_warehouse(session, warehouse_code)
        ready = _ready_orders(session, warehouse.id, data.cutoff)
        needs = _needs_by_order(session, ready, warehouse.id)
        if not needs:
            raise Conflict(f"nothing to pick: no order is ready in {warehouse.code}", code="nothing_to_pick")
        floor = _Floor(session, warehouse.id, {n.product_id for ns in needs.values() for n in ns})
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
        still = _needs_by_order(session, pickable, warehouse.id)
        chosen = [o for o in chosen if o in still]
        if not chosen:
            raise Conflict(f"nothing to pick: no order is ready in {warehouse.code}", code="nothing_to_pick")
        groups = [(oid, rules.tote_code(n), still[oid]) for n, oid in enumerate(chosen, start=1)]
        pick_list = _build_list(session, warehouse.id, "wave", groups, principal.actor)
        _start(session, [orders[o] for o in chosen], pick_list, warehouse.code, principal.actor)
        session.flush()
        return _load_list(session, pick_list.id)

    return db.run(use_case)


def _ready_orders(session: Session, warehouse_id: int, cutoff: datetime | None) -> list[int]:
    """Oldest first: pickable orders with reserved, unpicked units in this warehouse."""
    stmt = (
        select(Order.id, Order.created_at)
        .join(Allocation, and_(Allocation.order_id == Order.id, Allocation.warehouse_id == warehouse_id))
        .where(Order.status.in_([s.value for s in PICKABLE]), Allocation.quantity > Allocation.picked)
        .distinct()
        .order_by(Order.created_at, Order.id)
        .limit(WAVE_CANDIDATES_MAX)
    )
    if cutoff is not None:
        stmt = stmt.where(Order.created_at < cutoff)
    return [oid for oid, _ in session.execute(stmt)]


def _needs_by_order(session: Session, order_ids: Iterable[int], warehouse_id: int) -> dict[int, list[_Need]]:
    out: dict[int, list[_Need]] = defaultdict(list)
    for need in _untasked(session, order_ids, warehouse_id):
        out[need.order_id].append(need)
    return dict(out)


# --- scanning ----------------------------------------------------------------------------------


def _lock_task(session: Session, task_id: int) -> PickTask:
    stmt = lock_in_key_order(session, select(PickTask).where(PickTask.id == task_id), PickTask.id)
    task = session.scalar(stmt.execution_options(populate_existing=True))
    if task is None:
        raise NotFound(f"no pick task {task_id}")
    return task


def _current_task(session: Session, pick_list: PickList, task_id: int | None) -> PickTask:
    if task_id is not None:
        task = session.get(PickTask, task_id)
        if task is None or task.pick_list_id != pick_list.id:
            raise NotFound(f"pick list {pick_list.id} has no task {task_id}")
        return task
    task = session.scalar(
        select(PickTask)
        .where(PickTask.pick_list_id == pick_list.id, PickTask.status == TaskStatus.OPEN)
        .order_by(PickTask.seq)
        .limit(1)
    )
    if task is None:
        raise Conflict(f"pick list {pick_list.id} has no open task", code="pick_list_done")
    return task


def _open_list(session: Session, list_id: int) -> PickList:
    pick_list = session.get(PickList, list_id)
    if pick_list is None:
        raise NotFound(f"no pick list {list_id}")
    return pick_list


def _check_task_open(task: PickTask, order: Order) -> None:
    if task.status != TaskStatus.OPEN:
        raise Conflict(f"task {task.id} is {task.status}: nothing left to pick", code="task_done")
    if order.status == OrderStatus.ON_HOLD:
        raise Conflict(f"order {order_number(order.id)} is on hold: do not pick it", code="order_on_hold")


def _pick_movements(task: PickTask, warehouse_id: int, quantity: int, actor: str) -> list[Movement]:
    """From the bin into the tote: the bin goes down, the warehouse's on_hand does not."""
    common = {"reason": "picked", "reference": f"pick list {task.pick_list_id}", "order_id": task.order_id}
    p, kind = task.product_id, MovementKind.PICK
    return [
        Movement(p, warehouse_id, kind, actor, delta_on_hand=-quantity, bin_id=task.bin_id, **common),  # type: ignore[arg-type]
        Movement(p, warehouse_id, kind, actor, delta_on_hand=quantity, **common),  # type: ignore[arg-type]
    ]


def _take(session: Session, task: PickTask, warehouse_id: int, quantity: int, actor: str) -> list[Movement]:
    """Count ``quantity`` units into the tote (allocation and task); the caller applies the
    movements returned."""
    if quantity:
        session.execute(
            update(Allocation).where(Allocation.id == task.allocation_id).values(picked=Allocation.picked + quantity)
        )
        task.picked += quantity
    if task.picked + task.short == task.quantity:
        task.status = TaskStatus.PICKED.value if task.short == 0 else TaskStatus.SHORT.value
    return _pick_movements(task, warehouse_id, quantity, actor) if quantity else []


def scan(db: Database, list_id: int, data: ScanCreate, principal: Principal) -> ScanOut:
    if data.bin is not None:
        step, value = Step.BIN, data.bin
    elif data.item is not None:
        step, value = Step.ITEM, data.item
    else:
        step, value = Step.QUANTITY, str(data.quantity)
    seen: dict[str, int] = {}

    def use_case(session: Session) -> ScanOut:
        pick_list = _open_list(session, list_id)
        seen["list"] = pick_list.id
        if pick_list.status != ListStatus.OPEN:
            raise Conflict(f"pick list {pick_list.id} is {pick_list.status}", code="pick_list_done")
        task = _current_task(session, pick_list, data.task_id)
        seen["task"] = task.id
        order = lock_order(session, task.order_id)
        task = _lock_task(session, task.id)
        _check_task_open(task, order)
        remaining = task.quantity - task.picked - task.short
        accepted = list(
            session.scalars(
                select(PickScan.step)
                .where(PickScan.task_id == task.id, PickScan.accepted, PickScan.step != Step.SHORT)
                .order_by(PickScan.id)
            )
        )
        expected = rules.expected_step(task.bin_id is not None, accepted, remaining)
        rules.check_order_of_scans(step, expected or Step.QUANTITY)
        info = session.execute(_TASK_INFO.where(PickTask.id == task.id)).one()
        if step == Step.BIN:
            rules.check_bin(value, info.code if task.bin_id else None)
        elif step == Step.ITEM:
            rules.check_item(value, info.sku, info.barcode)
        else:
            rules.check_quantity(data.quantity or 0, remaining)
            stock.apply(session, _take(session, task, pick_list.warehouse_id, data.quantity or 0, principal.actor))
        row = PickScan(
            pick_list_id=pick_list.id, task_id=task.id, step=step.value, value=value[:64], accepted=True,
            actor=principal.actor,
        )  # fmt: skip
        session.add(row)
        session.flush()
        if task.status != TaskStatus.OPEN:  # only a quantity can finish a task, its shipment or its list
            _settle(session, pick_list, [task.shipment_id], principal.actor)
        next_task_id = session.scalar(
            select(PickTask.id)
            .where(PickTask.pick_list_id == pick_list.id, PickTask.status == TaskStatus.OPEN)
            .order_by(PickTask.seq)
            .limit(1)
        )
        shipment_status = session.scalar(select(Shipment.status).where(Shipment.id == task.shipment_id))
        return ScanOut(
            scan_id=row.id,
            step=step.value,
            value=value,
            accepted=True,
            task=_task_out(task, info, [*accepted, step.value]),
            next_task_id=next_task_id,
            pick_list_status=pick_list.status,
            shipment_status=shipment_status or "",
        )

    try:
        return db.run(use_case)
    except DomainError as exc:
        if "list" in seen:
            _record_refusal(db, seen["list"], seen.get("task"), step, value, exc.code, principal.actor)
        raise


def _record_refusal(
    db: Database, list_id: int, task_id: int | None, step: Step, value: str, error: str, actor: str
) -> None:
    """The refused scan, in a transaction of its own: the use case's was rolled back."""

    def use_case(session: Session) -> None:
        session.add(
            PickScan(
                pick_list_id=list_id,
                task_id=task_id,
                step=step.value,
                value=value[:64],
                accepted=False,
                error=error[:48],
                actor=actor,
            )
        )

    db.run(use_case)


# --- short picks -------------------------------------------------------------------------------


def short_pick(db: Database, list_id: int, task_id: int, data: ShortCreate, principal: Principal) -> ShortOut:
    seen: dict[str, int] = {}
    actor = principal.actor

    def use_case(session: Session) -> ShortOut:
        pick_list = _open_list(session, list_id)
        seen["list"] = pick_list.id
        task = _current_task(session, pick_list, task_id)
        seen["task"] = task.id
        # Orders first (this one and those waiting for the product, in id order), then stock.
        order = lock_waiting_orders(session, {task.product_id}, task.order_id)[task.order_id]
        task = _lock_task(session, task.id)
        _check_task_open(task, order)
        remaining = task.quantity - task.picked - task.short
        missing = rules.check_short(data.found, remaining)
        wid = pick_list.warehouse_id
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
        reference = f"pick list {pick_list.id}"
        task.short = missing
        movements = _take(session, task, wid, data.found, actor)
        movements.append(
            Movement(
                task.product_id, wid, MovementKind.RELEASE, actor, delta_reserved=-missing,
                reason="short pick", reference=reference, order_id=order.id,
            )
        )  # fmt: skip
        # The bin held less than the books said: take the missing units off the books, from the
        # bin (as far as the books have them there) and the rest from the unbinned stock.
        at_bin = min(missing, max(in_bin - data.found, 0)) if task.bin_id is not None else 0
        for bin_id, qty in ((task.bin_id, at_bin), (None, missing - at_bin)):
            if qty:
                movements.append(
                    Movement(
                        task.product_id, wid, MovementKind.ADJUSTMENT, actor, delta_on_hand=-qty,
                        reason="short pick", reference=reference, order_id=order.id, bin_id=bin_id,
                    )
                )  # fmt: skip
        stock.apply(session, movements)
        # Keep a zero allocation rather than delete it: its tasks and their scans (the audit
        # trail) hang on it with ON DELETE CASCADE.
        allocation.quantity -= missing
        line.reserved -= missing
        line.backordered += missing
        session.flush()

        before = _allocated(session, line.id)
        fill_backorders(session, {task.product_id}, actor)
        after = _allocated(session, line.id)
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
            new_lists = _lists_for_order(session, order, actor, avoid)
        _settle(session, pick_list, [task.shipment_id], actor)
        out = _load_list(session, pick_list.id)
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
            _record_refusal(db, seen["list"], seen.get("task"), Step.SHORT, str(data.found), exc.code, actor)
        raise


def _allocated(session: Session, line_id: int) -> dict[int, int]:
    return dict(
        session.execute(
            select(Allocation.warehouse_id, Allocation.quantity).where(Allocation.order_line_id == line_id)
        ).all()
    )


def _settle(session: Session, pick_list: PickList, shipment_ids: Iterable[int], actor: str) -> None:
    """Shipments whose tasks are all settled are ready to pack (cancelled if nothing was picked);
    a list whose tasks are all settled is done."""
    session.flush()
    now = utcnow()
    events: list[tuple[str, dict[str, Any]]] = []
    entries = []
    for sid in sorted(set(shipment_ids)):
        open_left, picked = session.execute(
            select(
                func.count().filter(PickTask.status == TaskStatus.OPEN), func.coalesce(func.sum(PickTask.picked), 0)
            ).where(PickTask.shipment_id == sid)
        ).one()
        shipment = session.get(Shipment, sid)
        if open_left or shipment is None or shipment.status != "picking":
            continue
        shipment.status = "ready_to_pack" if picked else "cancelled"
        shipment.updated_at = now
        code = session.scalar(select(Warehouse.code).where(Warehouse.id == shipment.warehouse_id))
        if picked:
            events.append(
                (
                    "shipment.ready_to_pack",
                    {"shipment_id": sid, "order_id": shipment.order_id, "warehouse": code, "units": int(picked)},
                )
            )
            entries.append(
                (shipment.order_id, actor, "ready_to_pack", f"Shipment {sid} from {code} picked: ready to pack", None)
            )
        else:
            why = f"Shipment {sid}: nothing was picked"
            entries.append((shipment.order_id, actor, "shipment_cancelled", why, None))
    still_open = session.scalar(
        select(func.count()).where(PickTask.pick_list_id == pick_list.id, PickTask.status == TaskStatus.OPEN)
    )
    if not still_open and pick_list.status == ListStatus.OPEN:
        pick_list.status = ListStatus.DONE.value
        pick_list.completed_at = now
        events.append(("picking.completed", {"pick_list_id": pick_list.id}))
    record(session, entries)  # type: ignore[arg-type]
    emit_many(session, events)
    session.flush()


# --- reading -----------------------------------------------------------------------------------

# What a screen shows of a task beyond its own row: where the bin is and what the product is.
_TASK_INFO = (
    select(Bin.code, Bin.x_m, Bin.y_m, Bin.aisle, Product.sku, Product.name, Product.barcode)
    .select_from(PickTask)
    .outerjoin(Bin, Bin.id == PickTask.bin_id)
    .join(Product, Product.id == PickTask.product_id)
)


def _task_out(t: PickTask, info: Any, steps: Sequence[str]) -> PickTaskOut:
    """``info``: a row with the columns of _TASK_INFO; ``steps``: the task's accepted scans."""
    remaining = t.quantity - t.picked - t.short
    is_open = t.status == TaskStatus.OPEN
    return PickTaskOut(
        id=t.id, seq=t.seq, order_id=t.order_id, order_number=order_number(t.order_id),
        shipment_id=t.shipment_id, tote=t.tote, bin=info.code, x_m=info.x_m, y_m=info.y_m, aisle=info.aisle,
        sku=info.sku, product_name=info.name, barcode=info.barcode, quantity=t.quantity, picked=t.picked,
        short=t.short, remaining=remaining, status=t.status,
        next_step=rules.expected_step(t.bin_id is not None, steps, remaining) if is_open else None,
    )  # fmt: skip


def _load_list(session: Session, list_id: int) -> PickListOut:
    stmt = select(PickList, Warehouse.code).join(Warehouse, Warehouse.id == PickList.warehouse_id)
    row = session.execute(stmt.where(PickList.id == list_id)).first()
    if row is None:
        raise NotFound(f"no pick list {list_id}")
    pick_list, code = row
    tasks = session.execute(
        select(PickTask, *_TASK_INFO.selected_columns)
        .outerjoin(Bin, Bin.id == PickTask.bin_id)
        .join(Product, Product.id == PickTask.product_id)
        .where(PickTask.pick_list_id == list_id)
        .order_by(PickTask.seq)
    ).all()
    scans: dict[int, list[str]] = defaultdict(list)
    for task_id, step in session.execute(
        select(PickScan.task_id, PickScan.step)
        .where(PickScan.pick_list_id == list_id, PickScan.accepted, PickScan.step != Step.SHORT)
        .order_by(PickScan.id)
    ):
        scans[task_id].append(step)
    shipment_ids = {row[0].shipment_id for row in tasks}
    shipments = dict(
        session.execute(select(Shipment.id, Shipment.status).where(Shipment.id.in_(shipment_ids))).all()
    ) if shipment_ids else {}  # fmt: skip
    out_tasks = []
    orders: dict[int, PickListOrderOut] = {}
    for row in tasks:
        t = row[0]
        out_tasks.append(_task_out(t, row, scans[t.id]))
        orders.setdefault(
            t.order_id,
            PickListOrderOut(
                order_id=t.order_id, order_number=order_number(t.order_id), tote=t.tote,
                shipment_id=t.shipment_id, shipment_status=shipments.get(t.shipment_id, ""),
            ),
        )  # fmt: skip
    current = next((t.id for t in out_tasks if t.status == TaskStatus.OPEN), None)
    return PickListOut(
        id=pick_list.id,
        kind=pick_list.kind,
        status=pick_list.status,
        warehouse=code,
        path_length_m=pick_list.path_length_m,
        s_shape_length_m=pick_list.s_shape_length_m,
        route=[(float(x), float(y)) for x, y in pick_list.route or []],
        created_by=pick_list.created_by,
        created_at=pick_list.created_at,
        completed_at=pick_list.completed_at,
        current_task_id=current,
        orders=sorted(orders.values(), key=lambda o: o.tote),
        tasks=out_tasks,
    )


def read_pick_list(db: Database, list_id: int) -> PickListOut:
    with db.read() as session:
        return _load_list(session, list_id)


def list_pick_lists(
    db: Database, warehouse: str | None, status: ListStatus | None, limit: int, cursor: str | None
) -> Page[PickListSummary]:
    with db.read() as session:
        stmt = select(PickList, Warehouse.code).join(Warehouse, Warehouse.id == PickList.warehouse_id)
        if warehouse is not None:
            stmt = stmt.where(PickList.warehouse_id == get_warehouse(session, warehouse).id)
        if status is not None:
            stmt = stmt.where(PickList.status == status.value)
        rows = session.execute(keyset(stmt, PickList.id, cursor, limit)).all()
        ids = [pl.id for pl, _ in rows]
        counts = {
            r[0]: r[1:]
            for r in session.execute(
                select(
                    PickTask.pick_list_id,
                    func.count(func.distinct(PickTask.order_id)),
                    func.count(),
                    func.sum(PickTask.quantity),
                    func.sum(PickTask.picked),
                )
                .where(PickTask.pick_list_id.in_(ids))
                .group_by(PickTask.pick_list_id)
            )
        } if ids else {}  # fmt: skip
        items = []
        for pl, code in rows:
            n_orders, n_tasks, units, picked = counts.get(pl.id, (0, 0, 0, 0))
            items.append(
                PickListSummary(
                    id=pl.id, kind=pl.kind, status=pl.status, warehouse=code, orders=n_orders, tasks=n_tasks,
                    units=int(units or 0), picked=int(picked or 0), path_length_m=pl.path_length_m,
                    s_shape_length_m=pl.s_shape_length_m, created_at=pl.created_at, completed_at=pl.completed_at,
                )
            )  # fmt: skip
        return page_of(items, limit)
