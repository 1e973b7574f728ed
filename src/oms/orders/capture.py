"""Capturing an order: the hot path. One write transaction that reads the channel, the products
and their stock, plans the warehouses, reserves, and writes the order with its lines,
allocations, payment, timeline and events.

Written for speed because every order passes here (bench/orders_http.py measures it): Core
statements built once at import and executed on the session's connection (no ORM unit of work),
two reads, multi-row inserts, one conditional UPDATE per stock row, and the response built from
what was written instead of read back. tests/integration/test_query_counts.py holds the count.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import psycopg
from sqlalchemy import Connection, and_, bindparam, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from oms.auth.service import Principal
from oms.catalog.model import Product
from oms.channels.service import channel_for_order
from oms.db import Database
from oms.db.base import utcnow
from oms.errors import AlreadyExists, InsufficientStock, InvalidInput, OutcomeUnknown
from oms.events.outbox import emit_many
from oms.inventory import stock
from oms.inventory.model import StockLevel
from oms.inventory.stock import Level
from oms.orders import capture_pg
from oms.orders.capture_pg import ProductRow, Snapshot, StockMoved
from oms.orders.model import Allocation, Order, OrderLine, Payment
from oms.orders.queries import load_order, order_number, order_out
from oms.orders.rules import check_payment, compute_total, derive_status, payment_status_for
from oms.orders.schemas import AllocationOut, LineOut, OrderCreate, OrderOut
from oms.orders.timeline import record
from oms.routing.geocode import Geocode, NoMatch
from oms.routing.rules import LineRequest, Plan, Planner
from oms.routing.service import destination_of, planner_for

orders_t, lines_t = Order.__table__, OrderLine.__table__
products_t, levels_t = Product.__table__, StockLevel.__table__

# The ordered products with their stock in the eligible warehouses, in one read.
_PRODUCTS_AND_STOCK = (
    select(
        products_t.c.id,
        products_t.c.sku,
        products_t.c.name,
        products_t.c.allow_backorder,
        products_t.c.reorder_point,
        products_t.c.is_active,
        levels_t.c.warehouse_id,
        levels_t.c.on_hand,
        levels_t.c.reserved,
    )
    .select_from(products_t)
    .outerjoin(
        levels_t,
        and_(
            levels_t.c.product_id == products_t.c.id,
            levels_t.c.warehouse_id.in_(bindparam("warehouses", expanding=True)),
        ),
    )
    .where(products_t.c.sku.in_(bindparam("skus", expanding=True)))
)
_EXISTING = select(orders_t.c.id).where(
    orders_t.c.channel_id == bindparam("channel_id"), orders_t.c.external_id == bindparam("external_id")
)
_INSERT_ORDER = insert(orders_t).returning(orders_t.c.id)
# With RETURNING, SQLAlchemy sends a many-row INSERT as one multi-row statement (its
# "insertmanyvalues"), compiled once and cached; without it each row would be its own statement.
_INSERT_LINES = insert(lines_t).returning(lines_t.c.id, lines_t.c.line_no)
_INSERT_ALLOCATIONS = insert(Allocation.__table__).returning(Allocation.__table__.c.id)
_INSERT_PAYMENT = insert(Payment.__table__)


@dataclass
class _Draft:
    """An order planned and checked, ready to be written by either path."""

    plan: Plan
    order_row: dict[str, Any]
    line_rows: list[dict[str, Any]]
    payment_row: dict[str, Any] | None
    timeline: list[tuple[str, str, dict[str, Any] | None]]
    waiting: dict[str, int]  # sku -> units backordered
    reorder_points: dict[int, int | None]
    code_of: dict[int, str]  # warehouse id -> code


def create_order(
    db: Database, data: OrderCreate, principal: Principal, planner: Planner | None = None
) -> tuple[OrderOut, bool]:
    """Returns (order, created). A repeat of (channel, external_id) returns the first order to a
    caller who may read orders; one who may only create them learns that it exists, nothing more."""
    # Geocoded before the transaction: a cold ZIP lookup must not hold SQLite's write lock.
    destination = destination_of(data.shipping_address)
    order, created = _create_once(db, data, principal, planner, destination)
    if not created and "orders:read" not in principal.scopes:
        raise AlreadyExists(
            f"channel {data.channel!r} already has order {data.external_id!r} ({order.number})",
            order_id=order.id,
            number=order.number,
        )
    return order, created


def _create_once(
    db: Database, data: OrderCreate, principal: Principal, planner: Planner | None, destination: Geocode | NoMatch
) -> tuple[OrderOut, bool]:
    # PostgreSQL's first attempt takes the two-statement path (oms.orders.capture_pg); SQLite's
    # first attempt, and every second attempt under row locks, take the portable one.
    if not db.is_sqlite:
        done = _create_fast(db, data, principal, planner, destination)
        if done is not None:
            return done
    for lock in (False, True) if db.is_sqlite else (True,):
        try:
            return db.run(lambda s, lock=lock: _create(s, data, principal, planner, destination, lock))
        except StockMoved:
            continue
        except IntegrityError:
            if data.external_id is None:
                raise
            # Another request created the same channel order a moment ago: answer with it.
            with db.read() as session:
                channel_id = channel_for_order(session.connection(), data.channel).id
                existing_id = session.execute(
                    _EXISTING, {"channel_id": channel_id, "external_id": data.external_id}
                ).scalar()
                if existing_id is not None:
                    return load_order(session, existing_id), False
            raise
    raise InsufficientStock("stock kept changing while reserving; try again")


def _create_fast(
    db: Database, data: OrderCreate, principal: Principal, planner: Planner | None, destination: Geocode | NoMatch
) -> tuple[OrderOut, bool] | None:
    """The plain order on PostgreSQL in two statements, each its own transaction; None when the
    order must take the portable path instead: a repeat of its external id (answered from the
    stored order), a shortfall (decided under row locks), stock that moved under the plan, or a
    connection that turned out dead before anything was written (the portable path retries)."""
    skus = list(dict.fromkeys(line.sku for line in data.lines))
    try:
        with db.autocommit_connection() as conn:
            snap = capture_pg.read(conn, data.channel, data.external_id, skus)
            _check_currency(snap, data)
            if snap.existing_id is not None:
                return None
            requests = _requests(snap, data, skus)
            levels = {k: Level(*v) for k, v in snap.available.items()}
            try:
                draft = _draft(snap, data, principal, planner, destination, requests, levels, lock=False)
            except StockMoved:
                return None
            written = _write_fast(conn, draft, data)
    except psycopg.OperationalError:
        return None  # raised before the write was sent (see _write_fast): nothing was written
    if written is None:
        return None
    try:
        return _respond(draft, data, written.order_id, written.line_ids), True
    except Exception as exc:  # the order exists: answering must not create it again
        raise OutcomeUnknown(
            f"order {written.order_id} was created, but the answer could not be built; read it back"
        ) from exc


def _write_fast(conn: psycopg.Connection, draft: _Draft, data: OrderCreate) -> capture_pg.Written | None:
    """The write statement, in autocommit. None when it failed as a whole and nothing was written;
    OutcomeUnknown when the connection broke while it ran, since it may have committed."""
    try:
        return capture_pg.write(
            conn,
            draft.order_row,
            draft.line_rows,
            [(p.line_no, p.product_id, p.warehouse_id, p.quantity) for p in draft.plan.picks],
            draft.payment_row,
            [(t, m) for t, m, _ in draft.timeline],
            draft.reorder_points,
            data.channel,
            draft.order_row["created_at"],
        )
    except (StockMoved, psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure):
        # The statement failed as a whole, so nothing was written: decide again under row locks,
        # on the path that retries what PostgreSQL breaks off.
        return None
    except psycopg.errors.UniqueViolation:
        if data.external_id is None:
            raise
        return None  # the same channel order was created a moment ago: the portable path answers
    except psycopg.OperationalError as exc:
        if not (conn.broken or conn.closed):
            return None  # the statement was refused (cancelled, say) and the connection is fine
        raise OutcomeUnknown(_UNKNOWN) from exc
    except psycopg.Error:
        raise  # refused as a whole: nothing was written
    except Exception as exc:  # the statement may have run (its answer could not be read)
        raise OutcomeUnknown(_UNKNOWN) from exc


_UNKNOWN = (
    "the order was being written when the database connection was lost, so it may or may not exist:"
    " look for it (by external_id) before sending it again, or send orders with an Idempotency-Key"
)


def _read(conn: Connection, data: OrderCreate, skus: list[str]) -> Snapshot:
    """The portable read: the channel, a repeat of its external_id, the products and their stock."""
    channel = channel_for_order(conn, data.channel)
    existing_id = None
    if data.external_id is not None:
        existing_id = conn.execute(_EXISTING, {"channel_id": channel.id, "external_id": data.external_id}).scalar()
    products: dict[str, ProductRow] = {}
    available: dict[tuple[int, int], tuple[int, int]] = {}
    wids = [c.id for c in channel.candidates]
    for row in conn.execute(_PRODUCTS_AND_STOCK, {"skus": skus, "warehouses": wids or [-1]}):
        products[row.sku] = ProductRow(row.id, row.sku, row.name, row.allow_backorder, row.reorder_point, row.is_active)
        if row.warehouse_id is not None:
            available[(row.id, row.warehouse_id)] = (row.on_hand, row.reserved)
    return Snapshot(
        channel.id, channel.currency, channel.allow_stores, channel.candidates, existing_id, products, available
    )


def _create(
    session: Session,
    data: OrderCreate,
    principal: Principal,
    planner: Planner | None,
    destination: Geocode | NoMatch,
    lock: bool,
) -> tuple[OrderOut, bool]:
    """The portable path: any database, in one transaction of the session."""
    skus = list(dict.fromkeys(line.sku for line in data.lines))
    snap = _read(session.connection(), data, skus)
    _check_currency(snap, data)
    if snap.existing_id is not None:
        return load_order(session, snap.existing_id), False
    requests = _requests(snap, data, skus)
    levels = {k: Level(*v) for k, v in snap.available.items()}
    if lock:
        # Second attempt: plan from rows locked in key order, so nobody can overtake us. Missing
        # rows are created first so that they, too, are locked: a receipt racing with this order
        # then waits for it, and sees its backorder when it fills the queue.
        pids = sorted({r.product_id for r in requests})
        wids = sorted(c.id for c in snap.candidates)
        stock.ensure_level_rows(session, [(p, w) for p in pids for w in wids])
        levels = stock.read_levels(session, pids, wids, lock=True)
    draft = _draft(snap, data, principal, planner, destination, requests, levels, lock)
    order_id, line_ids = _write(session, draft, principal.actor, data.channel, lock)
    return _respond(draft, data, order_id, line_ids), True


def _check_currency(snap: Snapshot, data: OrderCreate) -> None:
    if snap.currency and snap.currency != data.currency:
        raise InvalidInput(
            f"channel {data.channel!r} takes orders in {snap.currency}, not {data.currency}",
            code="currency_mismatch",
        )


def _requests(snap: Snapshot, data: OrderCreate, skus: list[str]) -> list[LineRequest]:
    """The order's lines as the planner takes them, once every SKU is known and on sale."""
    products = snap.products
    unknown = [s for s in skus if s not in products]
    if unknown:
        raise InvalidInput(f"unknown SKU(s): {', '.join(unknown)}", code="unknown_sku", skus=unknown)
    inactive = [s for s in skus if not products[s].is_active]
    if inactive:
        raise InvalidInput(f"product(s) no longer sold: {', '.join(inactive)}", code="inactive_product", skus=inactive)
    return [LineRequest(i, products[line.sku].id, line.quantity) for i, line in enumerate(data.lines, 1)]


def _draft(
    snap: Snapshot,
    data: OrderCreate,
    principal: Principal,
    planner: Planner | None,
    destination: Geocode | NoMatch,
    requests: list[LineRequest],
    levels: dict[tuple[int, int], Level],
    lock: bool,
) -> _Draft:
    """Checks the amounts, plans the warehouses and builds every row the order writes. Raises
    StockMoved for a shortfall seen without locks, InsufficientStock for a real one."""
    products = snap.products
    subtotal, total = compute_total(
        [(line.quantity, line.unit_price) for line in data.lines],
        data.shipping_total,
        data.tax_total,
        data.discount_total,
        data.total,
    )
    paying = data.payment is not None and data.payment.status != "pending"
    authorized = paid = Decimal(0)
    if paying:
        authorized, paid = check_payment(data.payment.status, data.payment.amount, total, authorized, paid, "new")  # type: ignore[union-attr]
    payment_status = payment_status_for(total, authorized, paid)

    wids = [c.id for c in snap.candidates]
    if planner is None:
        planner = planner_for(snap.candidates, destination, snap.allow_stores)
    plan = planner(requests, wids, {k: v.available for k, v in levels.items()})
    if plan.short and not lock:
        # A shortfall read without locks may be stale (stock received a moment ago would not fill
        # a backorder that is not committed yet): decide it again under locks.
        raise StockMoved
    refused = [
        {
            "line_no": n,
            "sku": data.lines[n - 1].sku,
            "requested": data.lines[n - 1].quantity,
            "available": data.lines[n - 1].quantity - q,
        }
        for n, q in plan.short.items()
        if not products[data.lines[n - 1].sku].allow_backorder
    ]
    if refused:
        names = ", ".join(f"{s['sku']} (wanted {s['requested']}, {s['available']} available)" for s in refused)
        raise InsufficientStock(f"not enough stock for: {names}", lines=refused)

    backordered = sum(plan.short.values())
    status = derive_status(payment_status, backordered)
    now = utcnow()
    code_of = {c.id: c.code for c in snap.candidates}
    addr, cust = data.shipping_address, data.customer
    order_row = {
        "channel_id": snap.channel_id,
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
        "routing": {**plan.explanation, "warehouse_order": [code_of[w] for w in wids]},
        "held_from": None,
        "ship_by": data.ship_by,
        "deliver_by": data.deliver_by,
        "service_level": data.service_level,
        "created_by": principal.actor,
        "created_at": now,
        "updated_at": now,
    }
    line_rows = [
        {
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
    pay = data.payment if paying else None
    payment_row = (
        {"status": pay.status.value, "amount": pay.amount, "method": pay.method, "reference": pay.reference}
        if pay is not None
        else None
    )
    timeline: list[tuple[str, str, dict[str, Any] | None]] = [
        ("created", f"Order created from channel {data.channel}", None)
    ]
    if pay is not None:
        timeline.append(("payment", f"Payment {pay.status.value}: {pay.amount} {data.currency}", None))
    waiting = {data.lines[n - 1].sku: q for n, q in plan.short.items()}
    if waiting:
        message = "Waiting for stock: " + ", ".join(f"{q} x {s}" for s, q in waiting.items())
        timeline.append(("backordered", message, waiting))
    reorder_points = {row.id: row.reorder_point for row in products.values()}
    return _Draft(plan, order_row, line_rows, payment_row, timeline, waiting, reorder_points, code_of)


def _respond(draft: _Draft, data: OrderCreate, order_id: int, line_ids: dict[int, int]) -> OrderOut:
    """The response, built from what was written instead of read back."""
    allocations: dict[int, list[AllocationOut]] = {}
    for p in draft.plan.picks:
        allocations.setdefault(p.line_no, []).append(
            AllocationOut(warehouse=draft.code_of[p.warehouse_id], quantity=p.quantity)
        )
    lines_out = [
        LineOut(id=line_ids[row["line_no"]], allocations=allocations.get(row["line_no"], []), **row)
        for row in draft.line_rows
    ]
    # A plain namespace, not an ORM instance: the response needs the values, not instrumentation.
    return order_out(SimpleNamespace(id=order_id, **draft.order_row), data.channel, lines_out)  # type: ignore[arg-type]


def _write(session: Session, draft: _Draft, actor: str, channel: str, lock: bool) -> tuple[int, dict[int, int]]:
    """The portable write: the order, its lines, reservations through ``oms.inventory.stock``,
    allocations, payment, timeline and events. Returns (order id, {line_no: line id})."""
    order_row, plan, payment_row, waiting = draft.order_row, draft.plan, draft.payment_row, draft.waiting
    conn = session.connection()
    order_id = conn.execute(_INSERT_ORDER, order_row).scalar_one()
    line_ids = {n: i for i, n in conn.execute(_INSERT_LINES, [{**r, "order_id": order_id} for r in draft.line_rows])}
    reference = f"order {order_number(order_id)}"
    try:
        stock.apply(
            session,
            stock.reservations(plan.picks, actor, order_id, reference),
            reorder_points=draft.reorder_points,
        )
    except InsufficientStock:
        if lock:  # under row locks the plan cannot be overtaken: this is a real shortage
            raise
        raise StockMoved from None
    if plan.picks:
        conn.execute(
            _INSERT_ALLOCATIONS,
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
    if payment_row is not None:
        conn.execute(
            _INSERT_PAYMENT,
            {
                **payment_row,
                "order_id": order_id,
                "currency": order_row["currency"],
                "actor": actor,
                "created_at": order_row["created_at"],
            },
        )
    record(session, [(order_id, actor, t, m, d) for t, m, d in draft.timeline])
    events: list[tuple[str, dict[str, Any]]] = [
        ("order.created", {"order_id": order_id, "channel": channel, "status": order_row["status"]})
    ]
    if waiting:
        events.append(("order.backordered", {"order_id": order_id, "lines": waiting}))
    emit_many(session, events)
    return order_id, line_ids
