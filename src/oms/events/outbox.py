"""Write domain events into the outbox, inside the caller's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from oms.db.base import utcnow
from oms.events.model import OutboxEvent

# RETURNING makes SQLAlchemy send many rows as one multi-row INSERT (see oms.orders.capture).
_INSERT = insert(OutboxEvent.__table__).returning(OutboxEvent.__table__.c.id)


def emit(session: Session, topic: str, payload: dict[str, Any], available_at: datetime | None = None) -> None:
    """One event. ``available_at`` delays it: the worker will not pick it up before then (a feedback
    request days after delivery is an event that waits)."""
    emit_many(session, [(topic, payload)], available_at)


def emit_many(session: Session, events: list[tuple[str, dict[str, Any]]], available_at: datetime | None = None) -> None:
    if not events:
        return
    now = utcnow()
    session.connection().execute(
        _INSERT,
        [
            {"topic": t, "payload": p, "created_at": now, "available_at": available_at or now, "attempts": 0}
            for t, p in events
        ],
    )
