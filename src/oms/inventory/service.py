"""Stock use cases: receive, adjust, transfer, and reading levels and the ledger."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from oms.auth.service import Principal
from oms.catalog.model import Product
from oms.db import Database
from oms.errors import InsufficientStock, InvalidInput, NotFound
from oms.events.outbox import emit_many
from oms.inventory import stock
from oms.inventory.model import Bin, StockLevel, StockMovement, Warehouse
from oms.inventory.schemas import (
    AdjustmentCreate,
    BackorderFill,
    MovementOut,
    ReceiptCreate,
    StockChangeOut,
    StockOut,
    TransferCreate,
    WarehouseStock,
)
from oms.inventory.stock import Movement, MovementKind
from oms.inventory.warehouses import warehouse_for_input
from oms.orders.backorders import fill_backorders, lock_waiting_orders
from oms.schemas import Page, keyset, page_of


def _products_by_sku(session: Session, skus: list[str]) -> dict[str, Product]:
    found = {p.sku: p for p in session.scalars(select(Product).where(Product.sku.in_(set(skus))))}
    unknown = sorted(set(skus) - found.keys())
    if unknown:
        raise InvalidInput(f"unknown SKU(s): {', '.join(unknown)}", code="unknown_sku", skus=unknown)
    return found


def _bins_by_code(session: Session, warehouse: Warehouse, codes: list[str | None]) -> dict[str, int]:
    wanted = {c for c in codes if c}
    if not wanted:
        return {}
    found = dict(
        session.execute(select(Bin.code, Bin.id).where(Bin.warehouse_id == warehouse.id, Bin.code.in_(wanted))).all()
    )
    unknown = sorted(wanted - found.keys())
    if unknown:
        raise InvalidInput(f"warehouse {warehouse.code} has no bin(s): {', '.join(unknown)}", code="unknown_bin")
    return found


def _change(
    session: Session, kind: str, reference: str | None, product_ids: set[int], actor: str, *, added: bool = True
) -> StockChangeOut:
    """After a stock change: fill waiting backorders if stock was added, then report the levels."""
    filled = fill_backorders(session, product_ids, actor) if added else []
    return StockChangeOut(
        kind=kind,
        reference=reference,
        levels=_stocks(session, product_ids),
        backorders_filled=[BackorderFill(**f) for f in filled],
    )


def receive(db: Database, data: ReceiptCreate, principal: Principal) -> StockChangeOut:
    def use_case(session: Session) -> StockChangeOut:
        w = warehouse_for_input(session, data.warehouse)
        products = _products_by_sku(session, [line.sku for line in data.lines])
        bins = _bins_by_code(session, w, [line.bin for line in data.lines])
        lock_waiting_orders(session, [p.id for p in products.values()])  # orders before stock rows
        stock.apply(
            session,
            [
                Movement(
                    products[line.sku].id,
                    w.id,
                    MovementKind.RECEIPT,
                    principal.actor,
                    delta_on_hand=line.quantity,
                    reference=data.reference,
                    bin_id=bins.get(line.bin or ""),
                    reason="received",
                )
                for line in data.lines
            ],
        )
        emit_many(
            session,
            [
                (
                    "stock.received",
                    {
                        "warehouse_id": w.id,
                        "reference": data.reference,
                        "lines": [{"sku": ln.sku, "quantity": ln.quantity} for ln in data.lines],
                    },
                )
            ],
        )
        return _change(session, "receipt", data.reference, {p.id for p in products.values()}, principal.actor)

    return db.run(use_case)


def adjust(db: Database, data: AdjustmentCreate, principal: Principal) -> StockChangeOut:
    def use_case(session: Session) -> StockChangeOut:
        w = warehouse_for_input(session, data.warehouse)
        product = _products_by_sku(session, [data.sku])[data.sku]
        bins = _bins_by_code(session, w, [data.bin])
        if data.delta > 0:
            lock_waiting_orders(session, [product.id])  # orders before stock rows
        try:
            stock.apply(
                session,
                [
                    Movement(
                        product.id,
                        w.id,
                        MovementKind.ADJUSTMENT,
                        principal.actor,
                        delta_on_hand=data.delta,
                        reason=data.reason,
                        bin_id=bins.get(data.bin or ""),
                    )
                ],
            )
        except InsufficientStock:
            level = stock.read_levels(session, [product.id], [w.id]).get((product.id, w.id), stock.Level(0, 0))
            raise InsufficientStock(
                f"cannot take {-data.delta} of {data.sku} out of {w.code}: {level.on_hand} on hand, "
                f"{level.reserved} reserved for orders, {level.available} available; cancel or re-route orders first",
                sku=data.sku,
                warehouse=w.code,
                on_hand=level.on_hand,
                reserved=level.reserved,
            ) from None
        emit_many(
            session,
            [
                (
                    "stock.adjusted",
                    {"warehouse_id": w.id, "product_id": product.id, "delta": data.delta, "reason": data.reason},
                )
            ],
        )
        return _change(session, "adjustment", data.reason, {product.id}, principal.actor, added=data.delta > 0)

    return db.run(use_case)


def transfer(db: Database, data: TransferCreate, principal: Principal) -> StockChangeOut:
    def use_case(session: Session) -> StockChangeOut:
        src = warehouse_for_input(session, data.from_warehouse)
        dst = warehouse_for_input(session, data.to_warehouse)
        products = _products_by_sku(session, [line.sku for line in data.lines])
        ref = data.reference or f"transfer {src.code} -> {dst.code}"
        movements = []
        for line in data.lines:
            pid = products[line.sku].id
            movements.append(
                Movement(
                    pid,
                    src.id,
                    MovementKind.TRANSFER_OUT,
                    principal.actor,
                    delta_on_hand=-line.quantity,
                    reference=ref,
                    reason=f"to {dst.code}",
                )
            )
            movements.append(
                Movement(
                    pid,
                    dst.id,
                    MovementKind.TRANSFER_IN,
                    principal.actor,
                    delta_on_hand=line.quantity,
                    reference=ref,
                    reason=f"from {src.code}",
                )
            )
        lock_waiting_orders(session, [p.id for p in products.values()])  # orders before stock rows
        try:
            stock.apply(session, movements)
        except InsufficientStock as exc:
            sku = next(s for s, p in products.items() if p.id == exc.extra.get("product_id"))
            raise InsufficientStock(
                f"{src.code} has not enough available {sku} to transfer (reserved stock stays for its orders)",
                sku=sku,
                warehouse=src.code,
            ) from None
        emit_many(
            session,
            [
                (
                    "stock.transferred",
                    {
                        "from_warehouse_id": src.id,
                        "to_warehouse_id": dst.id,
                        "reference": ref,
                        "lines": [{"sku": ln.sku, "quantity": ln.quantity} for ln in data.lines],
                    },
                )
            ],
        )
        return _change(session, "transfer", ref, {p.id for p in products.values()}, principal.actor)

    return db.run(use_case)


def _stocks(session: Session, product_ids: set[int]) -> list[StockOut]:
    """Levels of several products, in total and per warehouse, in one query (ordered by SKU)."""
    if not product_ids:
        return []
    rows = session.execute(
        select(Product.id, Product.sku, Warehouse.code, StockLevel.on_hand, StockLevel.reserved)
        .select_from(Product)
        .outerjoin(StockLevel, StockLevel.product_id == Product.id)
        .outerjoin(Warehouse, Warehouse.id == StockLevel.warehouse_id)
        .where(Product.id.in_(product_ids))
        .order_by(Product.sku, Warehouse.code)
    ).all()
    per_product: dict[str, list[WarehouseStock]] = {}
    for _, sku, code, on_hand, reserved in rows:
        levels = per_product.setdefault(sku, [])
        if code is not None:
            levels.append(
                WarehouseStock(warehouse=code, on_hand=on_hand, reserved=reserved, available=on_hand - reserved)
            )
    return [
        StockOut(
            sku=sku,
            on_hand=sum(w.on_hand for w in per),
            reserved=sum(w.reserved for w in per),
            available=sum(w.available for w in per),
            warehouses=per,
        )
        for sku, per in per_product.items()
    ]


def stock_for_sku(db: Database, sku: str) -> StockOut:
    with db.read() as session:
        pid = session.scalar(select(Product.id).where(Product.sku == sku))
        if pid is None:
            raise NotFound(f"no product with SKU {sku!r}")
        return _stocks(session, {pid})[0]


def list_movements(
    db: Database, sku: str | None, warehouse: str | None, order_id: int | None, limit: int, cursor: str | None
) -> Page[MovementOut]:
    """The ledger, newest first."""
    m = StockMovement
    stmt = keyset(
        select(m, Product.sku, Warehouse.code, Bin.code)
        .join(Product, Product.id == m.product_id)
        .join(Warehouse, Warehouse.id == m.warehouse_id)
        .outerjoin(Bin, Bin.id == m.bin_id),
        m.id,
        cursor,
        limit,
        newest_first=True,
    )
    if sku:
        stmt = stmt.where(Product.sku == sku)
    if warehouse:
        stmt = stmt.where(Warehouse.code == warehouse)
    if order_id is not None:
        stmt = stmt.where(m.order_id == order_id)
    with db.read() as session:
        rows = [
            MovementOut(
                id=mv.id,
                created_at=mv.created_at,
                sku=s,
                warehouse=wc,
                bin=bc,
                kind=mv.kind,
                delta_on_hand=mv.delta_on_hand,
                delta_reserved=mv.delta_reserved,
                reason=mv.reason,
                actor=mv.actor,
                reference=mv.reference,
                order_id=mv.order_id,
            )
            for mv, s, wc, bc in session.execute(stmt)
        ]
    return page_of(rows, limit)
