"""Reading pick lists: one list with its tasks (what the handheld shows), and the paged list of
pick lists."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from oms.catalog.model import Product
from oms.db import Database
from oms.errors import NotFound
from oms.inventory.model import Bin, Warehouse
from oms.inventory.warehouses import get_warehouse
from oms.orders.queries import order_number
from oms.picking import rules
from oms.picking.model import PickList, PickScan, PickTask
from oms.picking.rules import ListStatus, Step, TaskStatus
from oms.picking.schemas import PickListOrderOut, PickListOut, PickListSummary, PickTaskOut
from oms.schemas import Page, keyset, page_of
from oms.shipping.model import Shipment

# What a screen shows of a task beyond its own row: where the bin is and what the product is.
TASK_INFO = (
    select(Bin.code, Bin.x_m, Bin.y_m, Bin.aisle, Product.sku, Product.name, Product.barcode)
    .select_from(PickTask)
    .outerjoin(Bin, Bin.id == PickTask.bin_id)
    .join(Product, Product.id == PickTask.product_id)
)


def task_out(t: PickTask, info: Any, steps: Sequence[str]) -> PickTaskOut:
    """``info``: a row with the columns of TASK_INFO; ``steps``: the task's accepted scans."""
    remaining = t.quantity - t.picked - t.short
    is_open = t.status == TaskStatus.OPEN
    return PickTaskOut(
        id=t.id, seq=t.seq, order_id=t.order_id, order_number=order_number(t.order_id),
        shipment_id=t.shipment_id, tote=t.tote, bin=info.code, x_m=info.x_m, y_m=info.y_m, aisle=info.aisle,
        sku=info.sku, product_name=info.name, barcode=info.barcode, quantity=t.quantity, picked=t.picked,
        short=t.short, remaining=remaining, status=t.status,
        next_step=rules.expected_step(t.bin_id is not None, steps, remaining) if is_open else None,
    )  # fmt: skip


def load_list(session: Session, list_id: int) -> PickListOut:
    stmt = select(PickList, Warehouse.code).join(Warehouse, Warehouse.id == PickList.warehouse_id)
    row = session.execute(stmt.where(PickList.id == list_id)).first()
    if row is None:
        raise NotFound(f"no pick list {list_id}")
    pick_list, code = row
    tasks = session.execute(
        select(PickTask, *TASK_INFO.selected_columns)
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
        out_tasks.append(task_out(t, row, scans[t.id]))
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
        return load_list(session, list_id)


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
