"""Pick task mechanics shared by the scan and short-pick use cases: finding and locking the task
to work on, counting units into the tote, recording a refused scan, and settling shipments and
lists whose tasks are all done."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from oms.db import Database
from oms.db.base import utcnow
from oms.db.locks import lock_row
from oms.errors import Conflict, NotFound
from oms.events.outbox import emit_many
from oms.inventory.model import Warehouse
from oms.inventory.stock import Movement, MovementKind
from oms.orders.model import Allocation, Order
from oms.orders.queries import order_number
from oms.orders.rules import OrderStatus
from oms.orders.timeline import record
from oms.picking.model import PickList, PickScan, PickTask
from oms.picking.rules import ListStatus, Step, TaskStatus
from oms.shipping.model import Shipment


def lock_task(session: Session, task_id: int) -> PickTask:
    task = lock_row(session, PickTask, task_id)
    if task is None:
        raise NotFound(f"no pick task {task_id}")
    return task


def lock_list(session: Session, list_id: int) -> PickList:
    """The list's row, locked after the order: two scans finishing a wave's last tasks at once
    then settle it one after the other, and the second sees the first's task done."""
    pick_list = lock_row(session, PickList, list_id)
    if pick_list is None:
        raise NotFound(f"no pick list {list_id}")
    return pick_list


def current_task(session: Session, pick_list: PickList, task_id: int | None) -> PickTask:
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


def _task_of_list(given: bool):  # type: ignore[no-untyped-def]
    """The list's status with the task a scan is for: the one named, or the open one first in the
    walk; one statement, built once per kind."""
    task = select(PickTask.id).where(PickTask.pick_list_id == PickList.id)
    if given:
        task = task.where(PickTask.id == bindparam("task_id"))
    else:
        task = task.where(PickTask.status == TaskStatus.OPEN).order_by(PickTask.seq).limit(1)
    return (
        select(PickList.status, PickTask.id, PickTask.order_id)
        .select_from(PickList)
        .outerjoin(PickTask, PickTask.id == task.correlate(PickList).scalar_subquery())
        .where(PickList.id == bindparam("list_id"))
    )


_NAMED_TASK, _NEXT_TASK = _task_of_list(True), _task_of_list(False)


def scan_target(session: Session, list_id: int, task_id: int | None, seen: dict[str, int]) -> tuple[int, int]:
    """(task id, order id) of the task a scan is for, read without locks, refusing as open_list and
    current_task do; ``seen`` learns the list and then the task as soon as each is known (a
    refusal is recorded against them)."""
    row = session.execute(
        _NAMED_TASK if task_id is not None else _NEXT_TASK, {"list_id": list_id, "task_id": task_id}
    ).first()
    if row is None:
        raise NotFound(f"no pick list {list_id}")
    seen["list"] = list_id
    status, found, order_id = row
    if status != ListStatus.OPEN:
        raise Conflict(f"pick list {list_id} is {status}", code="pick_list_done")
    if found is None:
        if task_id is not None:
            raise NotFound(f"pick list {list_id} has no task {task_id}")
        raise Conflict(f"pick list {list_id} has no open task", code="pick_list_done")
    seen["task"] = found
    return found, order_id


def open_list(session: Session, list_id: int) -> PickList:
    pick_list = session.get(PickList, list_id)
    if pick_list is None:
        raise NotFound(f"no pick list {list_id}")
    return pick_list


def check_task_open(task: PickTask, order: Order) -> None:
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


def take(session: Session, task: PickTask, warehouse_id: int, quantity: int, actor: str) -> list[Movement]:
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


def record_refusal(
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


def allocated_by_warehouse(session: Session, line_id: int) -> dict[int, int]:
    return dict(
        session.execute(
            select(Allocation.warehouse_id, Allocation.quantity).where(Allocation.order_line_id == line_id)
        ).all()
    )


def settle(session: Session, pick_list: PickList, shipment_ids: Iterable[int], actor: str) -> None:
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
