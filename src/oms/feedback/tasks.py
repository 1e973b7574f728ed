"""The support task list: things a person in customer service should look at. Low feedback scores
open tasks here; other parts (returns, ...) open their own kinds with ``open_task``."""

from __future__ import annotations

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from oms.auth.service import Principal
from oms.db import Database
from oms.db.base import utcnow
from oms.db.locks import lock_row
from oms.errors import NotFound
from oms.events.outbox import emit
from oms.feedback import rules
from oms.feedback.model import SupportTask
from oms.feedback.rules import TaskStatus
from oms.feedback.schemas import SupportTaskOut
from oms.orders.queries import order_number
from oms.schemas import Page, keyset, page_of


def open_task(session: Session, kind: str, order_id: int | None, subject: str, detail: str) -> SupportTask:
    """Put a task on the support list (in the caller's transaction). Other contexts use this too."""
    task = SupportTask(
        kind=kind,
        order_id=order_id,
        subject=subject[:200],
        detail=detail,
        status=TaskStatus.OPEN.value,
        created_at=utcnow(),
    )
    session.add(task)
    session.flush()
    emit(session, "support_task.opened", {"task_id": task.id, "kind": kind, "order_id": order_id})
    return task


def has_open_task(session: Session, order_id: int, kind: str) -> bool:
    return bool(
        session.scalar(
            select(
                exists().where(
                    SupportTask.order_id == order_id,
                    SupportTask.kind == kind,
                    SupportTask.status == TaskStatus.OPEN.value,
                )
            )
        )
    )


def _task_out(task: SupportTask) -> SupportTaskOut:
    return SupportTaskOut(
        id=task.id,
        kind=task.kind,
        order_id=task.order_id,
        order_number=order_number(task.order_id) if task.order_id else None,
        subject=task.subject,
        detail=task.detail,
        status=task.status,
        created_at=task.created_at,
        closed_at=task.closed_at,
        closed_by=task.closed_by,
    )


def list_tasks(
    db: Database, status: TaskStatus | None, kind: str | None, limit: int, cursor: str | None
) -> Page[SupportTaskOut]:
    """Oldest first: the support list is worked in the order tasks arrived."""
    stmt = select(SupportTask)
    if status is not None:
        stmt = stmt.where(SupportTask.status == status.value)
    if kind is not None:
        stmt = stmt.where(SupportTask.kind == kind)
    with db.read() as session:
        return page_of([_task_out(t) for t in session.scalars(keyset(stmt, SupportTask.id, cursor, limit))], limit)


def close_task(db: Database, task_id: int, principal: Principal) -> SupportTaskOut:
    def use_case(session: Session) -> SupportTaskOut:
        task = lock_row(session, SupportTask, task_id)
        if task is None:
            raise NotFound(f"no support task {task_id}", code="task_not_found")
        rules.check_task_transition(task.id, task.status, TaskStatus.CLOSED)
        task.status = TaskStatus.CLOSED.value
        task.closed_at = utcnow()
        task.closed_by = principal.actor
        session.flush()
        return _task_out(task)

    return db.run(use_case)
