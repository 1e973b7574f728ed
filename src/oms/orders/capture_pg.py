"""Order capture on PostgreSQL in two statements: one read and one write.

Why this exists beside the portable path in ``oms.orders.capture``: every order passes here, and
on PostgreSQL the cost of an order is mostly per statement (SQLAlchemy's execution layer, the
driver, a round trip and the server's per-statement work), not per row. The portable path needs
about a dozen statements; these two carry the same rows. ``bench/orders_http.py`` measures it.

Both run on a pooled psycopg connection in autocommit (``Database.autocommit_connection``), not
through SQLAlchemy: each statement is its own transaction, so an order costs two round trips
instead of four (no BEGIN, no COMMIT) and none of SQLAlchemy's per-statement bookkeeping. That is
safe because the read only plans (the write re-checks every stock row it reserves) and the write
is one statement, which PostgreSQL applies entirely or not at all.

- ``read`` fetches the channel with its eligible warehouses, an existing order with the same
  (channel, external_id), and the ordered products joined to their stock, as one row.
- ``write`` inserts the order, its lines, the reservations (stock rows locked in key order, then
  one conditional UPDATE), the ledger rows, the allocations, the payment, the timeline and the
  outbox events in one statement of data-modifying CTEs. If any stock row could not cover its
  reservation the statement fails as a whole (``oms_all_reserved``, migration 0009, raises
  SQLSTATE OMS01), nothing is written, and the caller plans again under row locks on the portable
  path, which is also the path for everything unusual (backorders, repeats).

The rules stay in Python (``oms.orders.rules``, ``oms.routing``): these statements only read and
write what the portable path reads and writes, and the tests run every order test through both
(SQLite takes the portable path, PostgreSQL this one).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson
import psycopg

from oms.errors import InvalidInput, NotFound
from oms.orders.queries import NUMBER_PREFIX
from oms.routing.scoring import Candidate


class StockMoved(Exception):
    """Stock changed between reading levels and reserving: plan again, this time under row locks."""


@dataclass(frozen=True)
class ProductRow:
    id: int
    sku: str
    name: str
    allow_backorder: bool
    reorder_point: int | None
    is_active: bool


@dataclass
class Snapshot:
    """What an order is planned from, read without locks."""

    channel_id: int
    currency: str | None
    allow_stores: bool
    candidates: list[Candidate]  # the eligible warehouses, in the channel's preference order
    existing_id: int | None
    products: dict[str, ProductRow]
    available: dict[tuple[int, int], tuple[int, int]]  # (product, warehouse) -> (on_hand, reserved)


# The channel's eligible warehouses follow oms.channels.service.resolve_candidates: the active
# warehouses on its list in its order, or every active warehouse when it lists none.
_READ = """
WITH ch AS (
    SELECT id, is_active, currency, allow_stores FROM channels WHERE code = %(channel)s
), listed AS (
    SELECT w.id, w.code, w.kind, w.latitude, w.longitude, w.is_active, cw.position
    FROM channel_warehouses cw JOIN warehouses w ON w.id = cw.warehouse_id
    WHERE cw.channel_id = (SELECT id FROM ch)
), wh AS (
    SELECT id, code, kind, latitude, longitude, position AS pos FROM listed WHERE is_active
    UNION ALL
    SELECT id, code, kind, latitude, longitude, id FROM warehouses
    WHERE is_active AND NOT EXISTS (SELECT 1 FROM listed)
)
SELECT ch.id, ch.is_active, ch.currency, ch.allow_stores,
    (SELECT json_agg(json_build_array(wh.id, wh.code, wh.kind, wh.latitude, wh.longitude) ORDER BY wh.pos)
     FROM wh)::text,
    (SELECT o.id FROM orders o WHERE o.channel_id = ch.id AND o.external_id = %(external_id)s),
    (SELECT json_agg(json_build_array(p.id, p.sku, p.name, p.allow_backorder, p.reorder_point,
                                      p.is_active, s.warehouse_id, s.on_hand, s.reserved))
     FROM products p
     LEFT JOIN stock_levels s ON s.product_id = p.id AND s.warehouse_id IN (SELECT id FROM wh)
     WHERE p.sku = ANY(%(skus)s::text[]))::text
FROM ch
"""

_READ_SQL = " ".join(_READ.split()).encode()


def read(conn: psycopg.Connection, channel: str, external_id: str | None, skus: list[str]) -> Snapshot:
    row = conn.execute(_READ_SQL, {"channel": channel, "external_id": external_id, "skus": skus}).fetchone()
    if row is None:
        raise NotFound(f"no channel with code {channel!r}")
    channel_id, is_active, currency, allow_stores, warehouses_json, existing_id, products_json = row
    if not is_active:
        raise InvalidInput(f"channel {channel!r} is switched off", code="channel_inactive")
    products: dict[str, ProductRow] = {}
    available: dict[tuple[int, int], tuple[int, int]] = {}
    for pid, sku, name, backorder, reorder, active, wid, on_hand, reserved in orjson.loads(products_json or "[]"):
        products[sku] = ProductRow(pid, sku, name, backorder, reorder, active)
        if wid is not None:
            available[(pid, wid)] = (on_hand, reserved)
    candidates = [
        Candidate(w, code, lat, lon, kind, rank)
        for rank, (w, code, kind, lat, lon) in enumerate(orjson.loads(warehouses_json or "[]"))
    ]
    return Snapshot(channel_id, currency, allow_stores, candidates, existing_id, products, available)


# One statement. Every CTE sees the same snapshot; they pass rows on only through RETURNING.
# ``k`` locks the stock rows in (product, warehouse) order, the order every writer follows, so
# two orders never deadlock; ``lv`` then reserves, re-checking availability on the newest row
# version (READ COMMITTED re-evaluates the WHERE after a wait), so a row that cannot cover its
# reservation is simply not updated: fewer rows in ``lv`` than asked for means "stock moved".
_WRITE = """
WITH d AS (
    SELECT j AS d, (j->>'now')::timestamptz AS t FROM (SELECT %(doc)s::json AS j) z
), o AS (
    INSERT INTO orders (channel_id, external_id, status, held_from, payment_status, currency,
        customer_email, customer_name, customer_phone, ship_name, ship_line1, ship_line2, ship_city,
        ship_region, ship_postal_code, ship_country, ship_latitude, ship_longitude, subtotal,
        shipping_total, tax_total, discount_total, total, authorized_amount, paid_amount, routing,
        ship_by, deliver_by, service_level, created_by, created_at, updated_at)
    SELECT r.channel_id, r.external_id, r.status, NULL, r.payment_status, r.currency,
        r.customer_email, r.customer_name, r.customer_phone, r.ship_name, r.ship_line1, r.ship_line2,
        r.ship_city, r.ship_region, r.ship_postal_code, r.ship_country, r.ship_latitude,
        r.ship_longitude, r.subtotal, r.shipping_total, r.tax_total, r.discount_total, r.total,
        r.authorized_amount, r.paid_amount, r.routing, r.ship_by, r.deliver_by, r.service_level,
        r.created_by, r.created_at, r.created_at
    FROM d, json_populate_record(NULL::orders, d.d->'order') AS r
    RETURNING id
), ref AS (
    SELECT o.id, (d.d->>'number_prefix')
        || CASE WHEN o.id < 1000000 THEN lpad(o.id::text, 6, '0') ELSE o.id::text END AS number
    FROM o, d
), ln AS (
    INSERT INTO order_lines (order_id, line_no, product_id, sku, name, quantity, unit_price,
        reserved, backordered)
    SELECT o.id, x.line_no, x.product_id, x.sku, x.name, x.quantity, x.unit_price, x.quantity, 0
    FROM o, d, json_to_recordset(d.d->'lines')
        AS x(line_no int, product_id bigint, sku text, name text, quantity int, unit_price numeric)
    RETURNING id, line_no
), k AS MATERIALIZED (
    SELECT s.product_id, s.warehouse_id, n.q
    FROM d, json_to_recordset(d.d->'reserve') AS n(p bigint, w bigint, q int)
    JOIN stock_levels s ON s.product_id = n.p AND s.warehouse_id = n.w
    ORDER BY s.product_id, s.warehouse_id
    FOR UPDATE OF s
), lv AS (
    UPDATE stock_levels s SET reserved = s.reserved + k.q
    FROM k
    WHERE s.product_id = k.product_id AND s.warehouse_id = k.warehouse_id
        AND s.on_hand - s.reserved >= k.q
    RETURNING s.product_id, s.warehouse_id, s.on_hand, s.reserved, k.q
), picks AS (
    SELECT x.* FROM d, json_to_recordset(d.d->'picks') AS x(line_no int, p bigint, w bigint, q int)
), mv AS (
    INSERT INTO stock_movements (created_at, product_id, warehouse_id, bin_id, kind, delta_on_hand,
        delta_reserved, reason, actor, reference, order_id)
    SELECT d.t, picks.p, picks.w, NULL, 'reservation', 0, picks.q, NULL,
        d.d->>'actor', 'order ' || ref.number, ref.id
    FROM d, ref, picks
), al AS (
    INSERT INTO allocations (order_id, order_line_id, product_id, warehouse_id, quantity)
    SELECT o.id, ln.id, picks.p, picks.w, picks.q
    FROM o, ln JOIN picks ON picks.line_no = ln.line_no
), pay AS (
    INSERT INTO payments (order_id, status, amount, currency, method, reference, actor, created_at)
    SELECT o.id, x.status, x.amount, d.d->'order'->>'currency', x.method, x.reference,
        d.d->>'actor', d.t
    FROM o, d, json_to_recordset(d.d->'payments')
        AS x(status text, amount numeric, method text, reference text)
), tl AS (
    INSERT INTO order_events (order_id, created_at, actor, type, message, data)
    SELECT o.id, d.t, d.d->>'actor', x.type, x.message, NULL
    FROM o, d, json_to_recordset(d.d->'timeline') AS x(n int, type text, message text)
    ORDER BY x.n
), ev AS (
    INSERT INTO outbox (topic, payload, created_at, available_at, attempts)
    SELECT 'order.created',
        json_build_object('order_id', o.id, 'channel', d.d->>'channel', 'status', d.d->'order'->>'status'),
        d.t, d.t, 0
    FROM o, d
    UNION ALL
    SELECT 'stock.low',
        json_build_object('product_id', lv.product_id, 'warehouse_id', lv.warehouse_id,
                          'available', lv.on_hand - lv.reserved, 'reorder_point', r.point),
        d.t, d.t, 0
    FROM d, lv JOIN json_to_recordset(d.d->'reorder_points') AS r(p bigint, point int) ON r.p = lv.product_id
    WHERE lv.on_hand - lv.reserved <= r.point AND r.point < lv.on_hand - lv.reserved + lv.q
)
SELECT o.id, oms_all_reserved((SELECT count(*) FROM lv), json_array_length(d.d->'reserve')),
    (SELECT json_agg(json_build_array(ln.line_no, ln.id)) FROM ln)::text
FROM o, d
"""
# stock.low (the last part of ``ev``) fires once, when available crosses down to or below the
# reorder point: the rule of oms.inventory.stock._emit_low_stock on the portable path.
# psycopg caches the parsing of statements up to 4 KB; this one is sent with its layout squeezed.
# Sent as bytes: psycopg would otherwise encode the text on every call.
_WRITE_SQL = " ".join(_WRITE.split()).encode()
STOCK_MOVED = "OMS01"  # the SQLSTATE oms_all_reserved raises


def _decimal(value: object) -> str:
    if isinstance(value, Decimal):
        return str(value)  # exact; PostgreSQL reads it back as numeric
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


@dataclass(frozen=True)
class Written:
    order_id: int
    line_ids: dict[int, int]  # line_no -> order_lines.id


def write(
    conn: psycopg.Connection,
    order_row: dict[str, Any],
    lines: list[dict[str, Any]],
    picks: list[tuple[int, int, int, int]],
    payment: dict[str, Any] | None,
    timeline: list[tuple[str, str]],
    reorder_points: dict[int, int | None],
    channel: str,
    now: datetime,
) -> Written:
    """``picks`` are (line_no, product_id, warehouse_id, quantity); ``timeline`` is (type, message).
    Raises StockMoved, having written nothing, when a stock row could not take its reservation."""
    net: dict[tuple[int, int], int] = {}
    for _, p, w, q in picks:
        net[(p, w)] = net.get((p, w), 0) + q
    doc = {
        "order": order_row,
        "now": now,
        "actor": order_row["created_by"],
        "channel": channel,
        "number_prefix": NUMBER_PREFIX,
        "lines": lines,
        "reserve": [{"p": p, "w": w, "q": q} for (p, w), q in net.items()],
        "picks": [{"line_no": n, "p": p, "w": w, "q": q} for n, p, w, q in picks],
        "payments": [payment] if payment else [],
        "timeline": [
            {"n": n, "type": t, "message": m if len(m) <= 500 else m[:497] + "..."} for n, (t, m) in enumerate(timeline)
        ],
        "reorder_points": [{"p": p, "point": rp} for p, rp in reorder_points.items() if rp is not None],
    }
    params = {"doc": orjson.dumps(doc, default=_decimal).decode()}
    try:
        row = conn.execute(_WRITE_SQL, params).fetchone()
    except psycopg.Error as exc:
        if exc.sqlstate == STOCK_MOVED:
            raise StockMoved from None
        raise
    assert row is not None  # the order row always comes back
    order_id, _, line_ids_json = row
    return Written(order_id, dict(orjson.loads(line_ids_json)))
