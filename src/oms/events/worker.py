"""The outbox worker: claims pending events, runs every handler subscribed to the topic, and marks
the event processed. Delivery is at-least-once: a handler that succeeded is recorded in
``outbox_deliveries`` and skipped if the event is retried because another handler failed; a
handler must still tolerate seeing an event twice (a crash between its side effect and the
record). Several workers may run at once: on PostgreSQL claims use ``FOR UPDATE SKIP LOCKED``; on
SQLite ``BEGIN IMMEDIATE`` serialises the claim.

No lock is held while a handler runs: an event is claimed by pushing its ``available_at`` into
the future (a lease), then handled outside any transaction.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from oms.config import Settings
from oms.db import Database
from oms.db.base import utcnow
from oms.events.model import OutboxDelivery, OutboxEvent

log = logging.getLogger("oms.worker")

Handler = Callable[[int, str, dict[str, Any]], None]
"""A handler gets (event_id, topic, payload). Raise to have the event retried later."""

MAX_ATTEMPTS = 12


@dataclass
class Registry:
    handlers: dict[str, list[tuple[str, Handler]]] = field(default_factory=dict)

    def subscribe(self, topic: str, name: str, handler: Handler) -> None:
        """``topic`` may be ``*`` for every event. ``name`` identifies the handler in the ledger."""
        self.handlers.setdefault(topic, []).append((name, handler))

    def for_topic(self, topic: str) -> list[tuple[str, Handler]]:
        return self.handlers.get(topic, []) + self.handlers.get("*", [])


def _log_event(event_id: int, topic: str, payload: dict[str, Any]) -> None:
    log.debug("event %s %s %s", event_id, topic, payload)


def default_registry(db: Database | None = None, settings: Settings | None = None) -> Registry:
    """Handlers that ship with oms: customer emails, outbound webhooks and feedback requests (they
    need the database and the settings; without them, only the log handler)."""
    registry = Registry()
    registry.subscribe("*", "log", _log_event)
    if db is not None and settings is not None:
        # Imported here: the events package sits below every context, which must not import it back.
        from oms.feedback.service import register as feedback
        from oms.notifications.email import register as email
        from oms.notifications.webhook_service import register as webhooks
        from oms.shipping.labelling import void_cancelled

        for register in (email, webhooks, feedback):
            register(registry, db, settings)
        registry.subscribe(
            "shipment.labels_to_void",
            "shipping.void_labels",
            lambda _e, _t, p: void_cancelled(db, int(p["shipment_id"])),
        )
    return registry


def start_in_thread(db: Database, settings: Settings) -> Worker:
    """The worker inside ``oms serve`` (OMS_EMBEDDED_WORKER): one daemon thread, stopped with
    ``worker.stopping.set()``."""
    worker = Worker(db, default_registry(db, settings))
    threading.Thread(target=worker.run_forever, name="oms-outbox-worker", daemon=True).start()
    return worker


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(2**attempts, 3600))


class Worker:
    def __init__(self, db: Database, registry: Registry, *, batch: int = 20, lease_s: int = 120) -> None:
        self.db = db
        self.registry = registry
        self.batch = batch
        self.lease = timedelta(seconds=lease_s)
        self.leased_until: datetime | None = None
        self.stopping = threading.Event()

    def claim(self) -> list[tuple[int, str, dict[str, Any], int]]:
        with self.db.write() as session:
            now = utcnow()
            stmt = (
                select(OutboxEvent.id, OutboxEvent.topic, OutboxEvent.payload, OutboxEvent.attempts)
                .where(OutboxEvent.processed_at.is_(None), OutboxEvent.available_at <= now)
                .order_by(OutboxEvent.id)
                .limit(self.batch)
            )
            if self.db.dialect == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True)
            rows = [tuple(r) for r in session.execute(stmt)]
            self.leased_until = now + self.lease
            if rows:
                session.execute(
                    update(OutboxEvent)
                    .where(OutboxEvent.id.in_([r[0] for r in rows]))
                    .values(available_at=self.leased_until)
                )
            return rows  # type: ignore[return-value]

    def handle(
        self, event_id: int, topic: str, payload: dict[str, Any], attempts: int, leased_until: datetime | None = None
    ) -> bool:
        # The batch was leased when it was claimed; events wait their turn behind slow handlers
        # (SMTP, webhooks), so each renews its lease as it starts. If the lease ran out and another
        # worker claimed the event meanwhile (its available_at is no longer ours), it is theirs.
        with self.db.write() as session:
            renew = update(OutboxEvent).where(OutboxEvent.id == event_id, OutboxEvent.processed_at.is_(None))
            if leased_until is not None:
                renew = renew.where(OutboxEvent.available_at == leased_until)
            if session.execute(renew.values(available_at=utcnow() + self.lease)).rowcount == 0:
                log.info("event %s was taken over by another worker; skipping it", event_id)
                return True
        with self.db.read() as session:
            done = set(session.scalars(select(OutboxDelivery.handler).where(OutboxDelivery.event_id == event_id)))
        errors: list[str] = []
        for name, handler in self.registry.for_topic(topic):
            if name in done:
                continue
            try:
                handler(event_id, topic, payload)
            except Exception as exc:  # a failing handler must not stop the others
                log.warning("handler %s failed on event %s: %s", name, event_id, exc)
                errors.append(f"{name}: {exc}")
                continue
            try:
                with self.db.write() as session:
                    session.execute(insert(OutboxDelivery).values(event_id=event_id, handler=name))
            except IntegrityError:  # a worker whose lease ran out did it too: once recorded is enough
                pass
        with self.db.write() as session:
            now = utcnow()
            if errors and attempts + 1 < MAX_ATTEMPTS:
                values: dict[str, Any] = {
                    "attempts": attempts + 1,
                    "available_at": now + backoff(attempts + 1),
                    "last_error": "; ".join(errors)[:2000],
                }
            else:  # done, or given up after MAX_ATTEMPTS (the error stays on the row)
                values = {"attempts": attempts + 1, "processed_at": now}
                if errors:
                    values["last_error"] = "gave up: " + "; ".join(errors)[:2000]
            session.execute(update(OutboxEvent).where(OutboxEvent.id == event_id).values(**values))
        return not errors

    def drain_once(self) -> int:
        """Handle one batch; returns how many events were claimed."""
        claimed = self.claim()
        leased_until = self.leased_until
        for event_id, topic, payload, attempts in claimed:
            self.handle(event_id, topic, payload, attempts, leased_until)
        return len(claimed)

    def drain(self) -> int:
        total = 0
        while n := self.drain_once():
            total += n
        return total

    def run_forever(self, idle_sleep_s: float = 0.5) -> None:
        log.info("worker started")
        failures = 0
        while not self.stopping.is_set():
            try:
                busy = self.drain_once()
                failures = 0
            except Exception:  # the database restarting must not end the worker: wait, try again
                failures += 1
                log.exception("worker could not drain the outbox (attempt %s); retrying", failures)
                self.stopping.wait(min(2**failures, 60))
                continue
            if not busy:
                self.stopping.wait(idle_sleep_s)
        log.info("worker stopped")
