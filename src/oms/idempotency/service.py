"""Idempotency keys for POSTs that create things.

Same key and same body: the first response is replayed. Same key, different body (or another
endpoint): 422. The same key while the first request is still running: 409. A request that fails
releases its key, so the client can correct the request and retry with the same key.

The claim is committed before the work starts (so a concurrent retry can see it); the work's own
transaction does not hold it. If a process dies mid-request, the claim expires after
``lock_seconds`` and the next retry runs the request again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from oms.db import Database
from oms.db.base import utcnow
from oms.errors import Conflict, InvalidInput
from oms.idempotency.model import IdempotencyKey

Outcome = tuple[int, dict[str, Any]]  # (HTTP status, JSON body)


def _claim(db: Database, owner: str, key: str, endpoint: str, request_hash: str, lock_seconds: int) -> Outcome | None:
    """Returns a stored outcome to replay, or None when this request now owns the key."""

    def use_case(session: Session) -> Outcome | None:
        now = utcnow()
        row = session.scalar(select(IdempotencyKey).where(IdempotencyKey.owner == owner, IdempotencyKey.key == key))
        if row is None:
            session.add(
                IdempotencyKey(
                    owner=owner,
                    key=key,
                    endpoint=endpoint,
                    request_hash=request_hash,
                    state="running",
                    locked_until=now + timedelta(seconds=lock_seconds),
                )
            )
            session.flush()
            return None
        if row.endpoint != endpoint or row.request_hash != request_hash:
            raise InvalidInput(
                "this Idempotency-Key was already used with a different request; use a new key for a new request",
                code="idempotency_key_reused",
            )
        if row.state == "done":
            return row.response_status or 200, row.response_body or {}
        if row.locked_until > now:
            raise Conflict(
                "a request with this Idempotency-Key is still in progress; retry shortly",
                code="idempotency_in_progress",
            )
        row.locked_until = now + timedelta(seconds=lock_seconds)  # the first attempt died: take over
        return None

    try:
        return db.run(use_case)
    except IntegrityError:  # another request inserted the same key a moment ago
        raise Conflict(
            "a request with this Idempotency-Key is still in progress; retry shortly", code="idempotency_in_progress"
        ) from None


def run(
    db: Database,
    *,
    owner: str,
    key: str,
    endpoint: str,
    request_hash: str,
    work: Callable[[], Outcome],
    lock_seconds: int = 60,
) -> tuple[Outcome, bool]:
    """Returns (outcome, replayed)."""
    stored = _claim(db, owner, key, endpoint, request_hash, lock_seconds)
    if stored is not None:
        return stored, True
    try:
        status, body = work()
    except BaseException:
        with db.write() as session:
            session.execute(delete(IdempotencyKey).where(IdempotencyKey.owner == owner, IdempotencyKey.key == key))
        raise
    with db.write() as session:
        session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.owner == owner, IdempotencyKey.key == key)
            .values(state="done", response_status=status, response_body=body)
        )
    return (status, body), False
