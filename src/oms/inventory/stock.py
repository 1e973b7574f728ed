"""The only code that changes stock levels. Every change is a ledger row written in the same
transaction, and each level row is changed by one conditional UPDATE that the database refuses if
it would leave reserved < 0 or available (on_hand - reserved) < 0. Rows are touched in
(product_id, warehouse_id) order, the lock order every writer follows."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from sqlalchemy import bindparam, func, insert, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from oms.catalog.model import Product
from oms.db.base import utcnow
from oms.db.locks import lock_in_key_order, sorted_keys
from oms.errors import InsufficientStock
from oms.events.outbox import emit_many
from oms.inventory.model import BinStock, StockLevel, StockMovement

levels_table = StockLevel.__table__
movements_table = StockMovement.__table__


_c = levels_table.c
# One conditional UPDATE per stock row, built once: the row changes only if it stays
# reserved >= 0 and available >= 0; no row back means "not enough stock".
_CHANGE_LEVEL = (
    update(levels_table)
    .where(
        _c.product_id == bindparam("p"),
        _c.warehouse_id == bindparam("w"),
        _c.on_hand + bindparam("doh") >= _c.reserved + bindparam("dr"),
        _c.reserved + bindparam("dr") >= 0,
    )
    .values(on_hand=_c.on_hand + bindparam("doh"), reserved=_c.reserved + bindparam("dr"))
    .returning(_c.on_hand, _c.reserved)
)


_b = BinStock.__table__.c
# Bin quantities: the same conditional shape; a bin never goes below zero.
_TAKE_FROM_BIN = (
    update(BinStock.__table__)
    .where(_b.product_id == bindparam("p"), _b.bin_id == bindparam("b"), _b.quantity + bindparam("d") >= 0)
    .values(quantity=_b.quantity + bindparam("d"))
    .returning(_b.quantity)
)

# RETURNING makes SQLAlchemy send many rows as one multi-row INSERT (see oms.orders.capture).
_INSERT_MOVEMENTS = insert(movements_table).returning(movements_table.c.id)


class MovementKind(StrEnum):
    RECEIPT = "receipt"
    ADJUSTMENT = "adjustment"
    TRANSFER_OUT = "transfer_out"
    TRANSFER_IN = "transfer_in"
    RESERVATION = "reservation"
    RELEASE = "release"
    PUTAWAY = "putaway"  # into or between bins: the warehouse's on_hand does not change
    PICK = "pick"  # from a bin into a tote: the warehouse's on_hand does not change
    SHIPMENT = "shipment"
    RETURN = "return"  # a returned unit restocked into a sellable bin
    # A returned unit that is not sold again: the row records the decision and its reason; on_hand
    # does not change, because the unit left it when it shipped.
    QUARANTINE = "quarantine"
    WRITE_OFF = "write_off"


@dataclass(frozen=True)
class Movement:
    product_id: int
    warehouse_id: int
    kind: MovementKind
    actor: str
    delta_on_hand: int = 0
    delta_reserved: int = 0
    reason: str | None = None
    reference: str | None = None
    order_id: int | None = None
    bin_id: int | None = None


class Reservable(Protocol):
    product_id: int
    warehouse_id: int
    quantity: int


def reservations(
    picks: Iterable[Reservable], actor: str, order_id: int, reference: str, reason: str | None = None
) -> list[Movement]:
    """The ledger rows that reserve a plan's picks (oms.routing.rules.Pick) for an order."""
    return [
        Movement(
            p.product_id,
            p.warehouse_id,
            MovementKind.RESERVATION,
            actor,
            delta_reserved=p.quantity,
            reason=reason,
            reference=reference,
            order_id=order_id,
        )
        for p in picks
    ]


@dataclass(frozen=True)
class Level:
    on_hand: int
    reserved: int

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


Key = tuple[int, int]  # (product_id, warehouse_id)


def read_levels(
    session: Session, product_ids: Iterable[int], warehouse_ids: Iterable[int], *, lock: bool = False
) -> dict[Key, Level]:
    """Levels for every (product, warehouse) pair that has a row; ``lock`` takes row locks in key
    order (PostgreSQL) so a plan made from them cannot be overtaken."""
    pids, wids = sorted(set(product_ids)), sorted(set(warehouse_ids))
    if not pids or not wids:
        return {}
    stmt = select(
        levels_table.c.product_id, levels_table.c.warehouse_id, levels_table.c.on_hand, levels_table.c.reserved
    ).where(levels_table.c.product_id.in_(pids), levels_table.c.warehouse_id.in_(wids))
    if lock:
        stmt = lock_in_key_order(session, stmt, levels_table.c.product_id, levels_table.c.warehouse_id)
    return {(p, w): Level(oh, r) for p, w, oh, r in session.execute(stmt)}


def _ledger_row(m: Movement, now: datetime) -> dict[str, object]:
    row = {**asdict(m), "kind": m.kind.value, "created_at": now}
    # Free text is cut to its column (300 / 200 characters) rather than refused mid-transaction.
    row["reason"] = m.reason[:300] if m.reason else m.reason
    row["reference"] = m.reference[:200] if m.reference else m.reference
    return row


def ensure_level_rows(session: Session, keys: list[Key]) -> None:
    """Create missing (zero) level rows, so they can be locked or updated. Zero rows agree with an
    empty ledger."""
    if not keys:
        return
    dialect = session.get_bind().dialect.name
    ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(levels_table)
    session.execute(
        ins.on_conflict_do_nothing(index_elements=["product_id", "warehouse_id"]),
        [{"product_id": p, "warehouse_id": w, "on_hand": 0, "reserved": 0} for p, w in keys],
    )


def apply(
    session: Session, movements: list[Movement], *, reorder_points: dict[int, int | None] | None = None
) -> dict[Key, Level]:
    """Apply movements and append them to the ledger. Raises InsufficientStock (and the caller's
    transaction must roll back) if any level would go below zero available or reserved."""
    if not movements:
        return {}
    net: dict[Key, list[int]] = defaultdict(lambda: [0, 0])
    for m in movements:
        d = net[(m.product_id, m.warehouse_id)]
        d[0] += m.delta_on_hand
        d[1] += m.delta_reserved
    growing = [k for k, (doh, _) in net.items() if doh > 0]
    if growing:
        ensure_level_rows(session, sorted_keys(growing))
    conn = session.connection()
    after: dict[Key, Level] = {}
    for key in sorted_keys(net):
        doh, dr = net[key]
        if doh == 0 and dr == 0:
            continue
        row = conn.execute(_CHANGE_LEVEL, {"p": key[0], "w": key[1], "doh": doh, "dr": dr}).first()
        if row is None:
            raise InsufficientStock(
                "not enough stock available for this change",
                product_id=key[0],
                warehouse_id=key[1],
            )
        after[key] = Level(row[0], row[1])
    _move_bins(session, movements)
    now = utcnow()
    conn.execute(_INSERT_MOVEMENTS, [_ledger_row(m, now) for m in movements])
    _emit_low_stock(session, net, after, reorder_points)
    return after


def _move_bins(session: Session, movements: list[Movement]) -> None:
    """Bin quantities follow the ledger rows that name a bin, in (product, bin) order, after the
    level rows (the lock order). Taking more than a bin holds raises InsufficientStock."""
    net: dict[tuple[int, int], int] = defaultdict(int)
    warehouse_of: dict[int, int] = {}
    for m in movements:
        if m.bin_id is not None and m.delta_on_hand:
            net[(m.product_id, m.bin_id)] += m.delta_on_hand
            warehouse_of[m.bin_id] = m.warehouse_id
    if not net:
        return
    growing = sorted(k for k, d in net.items() if d > 0)
    if growing:
        dialect = session.get_bind().dialect.name
        ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(BinStock.__table__)
        session.execute(
            ins.on_conflict_do_nothing(index_elements=["product_id", "bin_id"]),
            [{"product_id": p, "bin_id": b, "warehouse_id": warehouse_of[b], "quantity": 0} for p, b in growing],
        )
    conn = session.connection()
    for (p, b), d in sorted(net.items()):
        if d and conn.execute(_TAKE_FROM_BIN, {"p": p, "b": b, "d": d}).first() is None:
            raise InsufficientStock("the bin holds fewer units than this takes", product_id=p, bin_id=b)


def bin_mismatches(session: Session) -> dict[tuple[int, int], tuple[int, int]]:
    """Every (product, bin) whose quantity differs from the sum of its ledger rows:
    {key: (quantity, ledger)}. Empty means the bins balance."""
    c = movements_table.c
    ledger = {
        (p, b): int(q or 0)
        for p, b, q in session.execute(
            select(c.product_id, c.bin_id, func.sum(c.delta_on_hand))
            .where(c.bin_id.is_not(None))
            .group_by(c.product_id, c.bin_id)
        )
    }
    held = {(p, b): q for p, b, q in session.execute(select(_b.product_id, _b.bin_id, _b.quantity))}
    return {
        k: (held.get(k, 0), ledger.get(k, 0)) for k in held.keys() | ledger.keys() if held.get(k, 0) != ledger.get(k, 0)
    }


def _emit_low_stock(
    session: Session, net: dict[Key, list[int]], after: dict[Key, Level], reorder_points: dict[int, int | None] | None
) -> None:
    """stock.low fires once, when available crosses down to or below the product's reorder point."""
    falling = [k for k, (doh, dr) in net.items() if doh - dr < 0 and k in after]
    if not falling:
        return
    if reorder_points is None:
        pids = {k[0] for k in falling}
        reorder_points = dict(
            session.execute(select(Product.id, Product.reorder_point).where(Product.id.in_(pids))).all()
        )
    events = []
    for key in falling:
        point = reorder_points.get(key[0])
        if point is None:
            continue
        now_available = after[key].available
        before = now_available - (net[key][0] - net[key][1])
        if now_available <= point < before:
            events.append(
                (
                    "stock.low",
                    {"product_id": key[0], "warehouse_id": key[1], "available": now_available, "reorder_point": point},
                )
            )
    emit_many(session, events)


def ledger_mismatches(session: Session) -> dict[Key, tuple[Level, Level]]:
    """Every (product, warehouse) whose level differs from its ledger sum: {key: (level, ledger)}.
    A missing row and a row at zero are the same thing. Empty means the books balance."""
    c = levels_table.c
    levels = {
        (p, w): Level(oh, r)
        for p, w, oh, r in session.execute(select(c.product_id, c.warehouse_id, c.on_hand, c.reserved))
    }
    ledger = ledger_sums(session)
    zero = Level(0, 0)
    return {
        k: (levels.get(k, zero), ledger.get(k, zero))
        for k in levels.keys() | ledger.keys()
        if levels.get(k, zero) != ledger.get(k, zero)
    }


def ledger_sums(session: Session, keys: Iterable[Key] | None = None) -> dict[Key, Level]:
    """Sum of the ledger per (product, warehouse): what the levels must equal."""
    c = movements_table.c
    stmt = select(c.product_id, c.warehouse_id, func.sum(c.delta_on_hand), func.sum(c.delta_reserved)).group_by(
        c.product_id, c.warehouse_id
    )
    if keys is not None:
        stmt = stmt.where(tuple_(c.product_id, c.warehouse_id).in_(list(keys)))
    return {(p, w): Level(int(oh or 0), int(r or 0)) for p, w, oh, r in session.execute(stmt)}
