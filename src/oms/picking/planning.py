"""Planning pick lists: which bins to take each unit from (the fewest, closest ones), which
orders are ready to pick, and building a list (shipments, tasks in one optimal walk) for an order
or a wave. Used by the write use cases in ``oms.picking.service``."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from oms.db.base import utcnow
from oms.events.outbox import emit_many
from oms.inventory.model import Bin, BinStock, Warehouse
from oms.orders.model import Allocation, Order
from oms.orders.rules import OrderStatus, check_transition
from oms.orders.timeline import record
from oms.packing.rules import ShipmentStatus
from oms.picking import rules
from oms.picking.layout import Layout, Location
from oms.picking.model import PickList, PickTask
from oms.picking.pickpath import optimal_tour, s_shape
from oms.picking.rules import BinOffer, ListStatus, TaskStatus
from oms.shipping.model import Shipment

# Orders that may be put on a pick list: confirmed ones, and ones already in fulfilment (or partly
# shipped) that still have reserved units on no list (an order split over warehouses, units
# re-routed by a short, a backorder filled after the first parcel left).
PICKABLE = (OrderStatus.CONFIRMED, OrderStatus.IN_FULFILMENT, OrderStatus.PARTIALLY_SHIPPED)
# Shipments whose picked units have left their allocations (oms.shipping.confirm): their tasks
# cover nothing any more.
GONE = (ShipmentStatus.SHIPPED, ShipmentStatus.DELIVERED)
WAVE_CANDIDATES_MAX = 1000  # the oldest ready orders a wave chooses among
DEPOT = "depot"  # the place of a pick made at the depot, for wave proximity


@dataclass(frozen=True)
class Need:
    """Units of one allocation not yet on any pick list."""

    order_id: int
    allocation_id: int
    product_id: int
    warehouse_id: int
    quantity: int


def untasked(session: Session, order_ids: Iterable[int], warehouse_id: int | None = None) -> list[Need]:
    """Reserved units on no pick list: the allocation minus what its tasks cover (an open or
    picked task covers its quantity; a short one only what was picked, the rest left the
    allocation; a shipped one nothing, its units left the allocation when they shipped)."""
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
            .join(Shipment, Shipment.id == PickTask.shipment_id)
            .where(
                PickTask.allocation_id.in_([r.id for r in allocations]),
                PickTask.status != TaskStatus.CANCELLED,
                Shipment.status.notin_(GONE),
            )
            .group_by(PickTask.allocation_id)
        ).all()
    )
    out = []
    for r in allocations:
        left = r.quantity - int(covered.get(r.id) or 0)
        if left > 0:
            out.append(Need(r.order_id, r.id, r.product_id, r.warehouse_id, left))
    return out


class Floor:
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


def lock_floor(session: Session, warehouse_id: int) -> None:
    """Pick lists of one warehouse are built one at a time: the units a bin can still give are
    read and claimed under this lock, so two lists built at once never count the same units.
    PostgreSQL: a transaction-scoped advisory lock (no row lock, so no new lock-order edge with
    the writers of warehouse rows). SQLite needs none: BEGIN IMMEDIATE already serialises writers."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(_FLOOR_LOCK_SPACE, warehouse_id)))


_FLOOR_LOCK_SPACE = 0x504B  # "PK": the key space of pick-list building locks


def build_list(
    session: Session,
    warehouse_id: int,
    kind: str,
    groups: Sequence[tuple[int, str, list[Need]]],
    actor: str,
    avoid: frozenset[tuple[int, int]] = frozenset(),
) -> PickList:
    """One pick list: for each (order, tote, needs) a shipment and tasks from the fewest, closest
    bins, all visited in one optimal walk. Depot tasks (stock in no bin) come first: the picker
    starts there."""
    lock_floor(session, warehouse_id)
    floor = Floor(session, warehouse_id, {n.product_id for _, _, needs in groups for n in needs}, avoid)
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


def start_picking(
    session: Session, orders: Sequence[Order], pick_list: PickList, warehouse_code: str, actor: str
) -> None:
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


def lists_for_order(
    session: Session, order: Order, actor: str, avoid: frozenset[tuple[int, int]] = frozenset()
) -> list[PickList]:
    """A list per warehouse holding reserved units of the order that are on no list yet, taking
    nothing from the (product, bin) pairs in ``avoid``."""
    by_warehouse: dict[int, list[Need]] = defaultdict(list)
    for need in untasked(session, [order.id]):
        by_warehouse[need.warehouse_id].append(need)
    codes = dict(session.execute(select(Warehouse.id, Warehouse.code).where(Warehouse.id.in_(by_warehouse))).all())
    made = []
    for wid in sorted(by_warehouse):
        groups = [(order.id, rules.tote_code(1), by_warehouse[wid])]
        pick_list = build_list(session, wid, "order", groups, actor, avoid)
        start_picking(session, [order], pick_list, codes[wid], actor)
        made.append(pick_list)
    return made


def ready_orders(session: Session, warehouse_id: int, cutoff: datetime | None) -> list[int]:
    """Oldest first: pickable orders with reserved units in this warehouse that no pick list covers
    yet (the rule of ``untasked``, in SQL). Orders already on open pick lists are left out before
    the window of WAVE_CANDIDATES_MAX is cut, or a thousand orders being picked would hide every
    newer one from the next wave."""
    covered = (
        select(func.coalesce(func.sum(PickTask.quantity - PickTask.short), 0))
        .join(Shipment, Shipment.id == PickTask.shipment_id)
        .where(
            PickTask.allocation_id == Allocation.id,
            PickTask.status != TaskStatus.CANCELLED,
            Shipment.status.notin_(GONE),
        )
        .correlate(Allocation)
        .scalar_subquery()
    )
    stmt = (
        select(Order.id, Order.created_at)
        .join(Allocation, and_(Allocation.order_id == Order.id, Allocation.warehouse_id == warehouse_id))
        .where(
            Order.status.in_([s.value for s in PICKABLE]),
            Allocation.quantity > Allocation.picked,
            Allocation.quantity > covered,
        )
        .distinct()
        .order_by(Order.created_at, Order.id)
        .limit(WAVE_CANDIDATES_MAX)
    )
    if cutoff is not None:
        stmt = stmt.where(Order.created_at < cutoff)
    return [oid for oid, _ in session.execute(stmt)]


def needs_by_order(session: Session, order_ids: Iterable[int], warehouse_id: int) -> dict[int, list[Need]]:
    out: dict[int, list[Need]] = defaultdict(list)
    for need in untasked(session, order_ids, warehouse_id):
        out[need.order_id].append(need)
    return dict(out)
