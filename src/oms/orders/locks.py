"""Order row locks. Every change to an existing order locks its row first (PostgreSQL), so a
cancel and a backorder fill of the same order cannot interleave."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from oms.db.locks import lock_in_key_order, lock_row
from oms.errors import NotFound
from oms.orders.model import Order


def lock_order(session: Session, order_id: int) -> Order:
    order = lock_row(session, Order, order_id)
    if order is None:
        raise NotFound(f"no order with id {order_id}")
    return order


def lock_orders(session: Session, order_ids: Iterable[int]) -> dict[int, Order]:
    ids = sorted(set(order_ids))
    if not ids:
        return {}
    stmt = lock_in_key_order(session, select(Order).where(Order.id.in_(ids)), Order.id)
    # populate_existing: rows read before the lock are refreshed with what the lock saw.
    return {o.id: o for o in session.scalars(stmt.execution_options(populate_existing=True))}
