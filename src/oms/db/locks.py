"""Row locks, taken in one consistent order (primary key) everywhere so two transactions never
wait on each other in a circle. SQLite needs none: BEGIN IMMEDIATE already serialises writers."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session

M = TypeVar("M")


def lock_in_key_order(session: Session, stmt: Select, *order_by: object) -> Select:  # type: ignore[type-arg]
    """Return ``stmt`` ordered by the given key columns and, on PostgreSQL, ``FOR UPDATE``.

    PostgreSQL applies the lock as rows leave the sort, so rows are locked in key order."""
    stmt = stmt.order_by(*order_by)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return stmt


# lock_row's statements, built once per model and dialect: building a select and its cache key on
# every call cost more than running it (a scan locks three rows).
_LOCK_BY_ID: dict[tuple[type, bool], Select] = {}  # type: ignore[type-arg]


def lock_row(session: Session, model: type[M], row_id: int) -> M | None:
    """One row by primary key ``id``, locked (PostgreSQL) and refreshed with what the lock saw;
    None when there is no such row."""
    postgresql = session.get_bind().dialect.name == "postgresql"
    stmt = _LOCK_BY_ID.get((model, postgresql))
    if stmt is None:
        key = model.id  # type: ignore[attr-defined]
        stmt = select(model).where(key == bindparam("row_id")).order_by(key)
        if postgresql:
            stmt = stmt.with_for_update()
        stmt = _LOCK_BY_ID[(model, postgresql)] = stmt.execution_options(populate_existing=True)
    return session.scalar(stmt, {"row_id": row_id})


def sorted_keys(keys: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Stock rows are keyed (product_id, warehouse_id); every writer walks them in this order."""
    return sorted(set(keys))
