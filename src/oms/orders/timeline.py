"""Writing to an order's timeline (who did what, when)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from oms.db.base import utcnow
from oms.orders.model import OrderEvent

_INSERT = insert(OrderEvent.__table__).returning(OrderEvent.__table__.c.id)


def record(session: Session, entries: list[tuple[int, str, str, str, dict[str, Any] | None]]) -> None:
    """entries: (order_id, actor, type, message, data)."""
    if not entries:
        return
    now = utcnow()
    session.connection().execute(
        _INSERT,
        [
            # The message column holds 500 characters; the full detail stays in ``data``.
            {
                "order_id": o,
                "actor": a,
                "type": t,
                "message": m if len(m) <= 500 else m[:497] + "...",
                "data": d,
                "created_at": now,
            }
            for o, a, t, m, d in entries
        ],
    )
