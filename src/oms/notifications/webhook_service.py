"""Outbound webhooks: managing subscriptions, fanning events out into deliveries, and sending them.

Two outbox handlers do the work. ``webhooks.fanout`` sees every event; for a public topic it writes
one delivery row per active subscription that wants it and queues a ``webhook.deliver`` event for
each, all in one transaction. ``webhooks.deliver`` makes one signed POST per run, with no
transaction open while it waits on the receiver, logs the attempt, and raises on anything but a
2xx so the outbox retries with its backoff.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections import defaultdict
from typing import Any

import httpx
from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from oms.auth.service import Principal
from oms.config import Settings
from oms.db import Database
from oms.db.base import utcnow
from oms.errors import Conflict, InvalidInput, NotFound
from oms.events.model import OutboxEvent
from oms.events.outbox import emit, emit_many
from oms.events.worker import MAX_ATTEMPTS, Registry
from oms.notifications import webhooks
from oms.notifications.webhook_model import WebhookAttempt, WebhookDelivery, WebhookSubscription
from oms.notifications.webhook_schemas import (
    AttemptOut,
    DeliveryOut,
    WebhookCreate,
    WebhookCreatedOut,
    WebhookOut,
    WebhookUpdate,
)
from oms.notifications.webhooks import DeliveryStatus
from oms.schemas import Page, keyset, page_of

log = logging.getLogger("oms.webhooks")

DELIVER_TOPIC = "webhook.deliver"
# What of a receiver's answer is kept in the log: enough to see why it refused, never a flood.
_RESPONSE_SNIPPET = 500


class DeliveryFailed(Exception):
    """An attempt got no 2xx answer. Raised inside the worker only, so the outbox retries the event;
    it never reaches HTTP."""


# --- subscriptions --------------------------------------------------------------------------------


def _get(session: Session, subscription_id: int) -> WebhookSubscription:
    sub = session.get(WebhookSubscription, subscription_id)
    if sub is None:
        raise NotFound(f"no webhook subscription {subscription_id}", code="webhook_not_found")
    return sub


def create_subscription(
    db: Database, data: WebhookCreate, principal: Principal, may_reach_private: bool = True
) -> WebhookCreatedOut:
    url = webhooks.check_url(data.url)
    webhooks.check_reachable(url, may_reach_private)
    events = webhooks.check_events(data.events)

    def use_case(session: Session) -> WebhookCreatedOut:
        sub = WebhookSubscription(
            url=url,
            events=events,
            secret=data.secret or webhooks.new_secret(),
            description=data.description,
            is_active=True,
            created_by=principal.actor,
            created_at=utcnow(),
        )
        session.add(sub)
        session.flush()
        return WebhookCreatedOut.model_validate(sub)

    return db.run(use_case)


def list_subscriptions(db: Database, active: bool | None, limit: int, cursor: str | None) -> Page[WebhookOut]:
    stmt = select(WebhookSubscription)
    if active is not None:
        stmt = stmt.where(WebhookSubscription.is_active.is_(active))
    with db.read() as session:
        rows = session.scalars(keyset(stmt, WebhookSubscription.id, cursor, limit))
        return page_of([WebhookOut.model_validate(s) for s in rows], limit)


def get_subscription(db: Database, subscription_id: int) -> WebhookOut:
    with db.read() as session:
        return WebhookOut.model_validate(_get(session, subscription_id))


def update_subscription(
    db: Database, subscription_id: int, data: WebhookUpdate, may_reach_private: bool = True
) -> WebhookOut:
    changes = data.model_dump(exclude_unset=True)
    for key in ("url", "events", "is_active"):
        if key in changes and changes[key] is None:
            raise InvalidInput(f"{key} cannot be null", code="validation_error")
    if "url" in changes:
        changes["url"] = webhooks.check_url(changes["url"])
        webhooks.check_reachable(changes["url"], may_reach_private)
    if "events" in changes:
        changes["events"] = webhooks.check_events(changes["events"])

    def use_case(session: Session) -> WebhookOut:
        sub = _get(session, subscription_id)
        for key, value in changes.items():
            setattr(sub, key, value)
        session.flush()
        return WebhookOut.model_validate(sub)

    return db.run(use_case)


def delete_subscription(db: Database, subscription_id: int) -> None:
    """Deletes its delivery log too; deliveries still queued find nothing to send."""

    def use_case(session: Session) -> None:
        _get(session, subscription_id)
        session.execute(delete(WebhookSubscription).where(WebhookSubscription.id == subscription_id))

    db.run(use_case)


# --- the delivery log -----------------------------------------------------------------------------


def _delivery_out(delivery: WebhookDelivery, attempts: list[WebhookAttempt]) -> DeliveryOut:
    return DeliveryOut(
        id=delivery.id,
        delivery_id=delivery.delivery_id,
        subscription_id=delivery.subscription_id,
        event_id=delivery.event_id,
        topic=delivery.topic,
        status=delivery.status,
        attempts=delivery.attempts,
        last_status_code=delivery.last_status_code,
        last_error=delivery.last_error,
        created_at=delivery.created_at,
        last_attempt_at=delivery.last_attempt_at,
        delivered_at=delivery.delivered_at,
        body=json.loads(delivery.body),
        attempt_log=[AttemptOut.model_validate(a) for a in attempts],
    )


def _attempts_of(session: Session, delivery_ids: list[int]) -> dict[int, list[WebhookAttempt]]:
    """The attempts of a page of deliveries, read at once (no query per delivery)."""
    by_delivery: dict[int, list[WebhookAttempt]] = defaultdict(list)
    if delivery_ids:
        stmt = (
            select(WebhookAttempt)
            .where(WebhookAttempt.webhook_delivery_id.in_(delivery_ids))
            .order_by(WebhookAttempt.id)
        )
        for attempt in session.scalars(stmt):
            by_delivery[attempt.webhook_delivery_id].append(attempt)
    return by_delivery


def list_deliveries(
    db: Database, subscription_id: int, status: DeliveryStatus | None, limit: int, cursor: str | None
) -> Page[DeliveryOut]:
    """Newest first, each with its attempts."""
    stmt = select(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription_id)
    if status is not None:
        stmt = stmt.where(WebhookDelivery.status == status.value)
    with db.read() as session:
        _get(session, subscription_id)
        deliveries = list(session.scalars(keyset(stmt, WebhookDelivery.id, cursor, limit, newest_first=True)))
        attempts = _attempts_of(session, [d.id for d in deliveries])
        return page_of([_delivery_out(d, attempts[d.id]) for d in deliveries], limit)


def redeliver(db: Database, delivery_id: str, subscription_id: int | None = None) -> DeliveryOut:
    """Queue a finished delivery (failed, or succeeded and wanted again) to be sent once more, with
    the same id and body. A pending one is already queued: sending it twice at once would only
    double its attempts."""

    def use_case(session: Session) -> DeliveryOut:
        delivery = session.scalar(select(WebhookDelivery).where(WebhookDelivery.delivery_id == delivery_id))
        if delivery is None or (subscription_id is not None and delivery.subscription_id != subscription_id):
            raise NotFound(f"no webhook delivery {delivery_id}", code="delivery_not_found")
        sub = _get(session, delivery.subscription_id)
        if not sub.is_active:
            raise Conflict(
                f"webhook subscription {sub.id} is inactive: activate it before redelivering",
                code="webhook_inactive",
            )
        if delivery.status == DeliveryStatus.PENDING:
            raise Conflict(
                f"delivery {delivery_id} is pending: it is already queued to be sent", code="delivery_pending"
            )
        delivery.status = DeliveryStatus.PENDING.value
        emit(session, DELIVER_TOPIC, {"delivery_id": delivery.id})
        session.flush()
        return _delivery_out(delivery, _attempts_of(session, [delivery.id])[delivery.id])

    return db.run(use_case)


# --- the outbox handlers --------------------------------------------------------------------------


def fan_out(db: Database, event_id: int, topic: str, payload: dict[str, Any]) -> None:
    """One delivery per active subscription that wants this event, each queued for sending."""
    if topic not in webhooks.WEBHOOK_EVENTS:  # internal topics, webhook.deliver included
        return

    with db.read() as session:
        subs = session.execute(
            select(WebhookSubscription.id, WebhookSubscription.events)
            .where(WebhookSubscription.is_active.is_(True))
            .order_by(WebhookSubscription.id)
        ).all()
        wanting = [sub_id for sub_id, events in subs if webhooks.wants(events, topic)]
        if not wanting:  # the common case: read only, no write transaction for nothing
            return
        # The body says when the event happened, not when it was fanned out.
        created_at = session.scalar(select(OutboxEvent.created_at).where(OutboxEvent.id == event_id)) or utcnow()

    def use_case(session: Session) -> None:
        now = utcnow()
        rows = []
        for sub_id in wanting:
            delivery_id = str(uuid.uuid4())
            rows.append(
                {
                    "delivery_id": delivery_id,
                    "subscription_id": sub_id,
                    "event_id": event_id,
                    "topic": topic,
                    "body": webhooks.body_of(delivery_id, topic, created_at, payload),
                    "status": DeliveryStatus.PENDING.value,
                    "attempts": 0,
                    "created_at": now,
                }
            )
        table = WebhookDelivery.__table__
        insert = (postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert)(table)
        # A fan-out run again for the same event (at-least-once) inserts nothing and queues nothing;
        # a subscription deleted meanwhile fails the foreign key, and the retry no longer sees it.
        stmt = insert.on_conflict_do_nothing(index_elements=["subscription_id", "event_id"]).returning(table.c.id)
        new_ids = [row_id for (row_id,) in session.execute(stmt, rows)]
        emit_many(session, [(DELIVER_TOPIC, {"delivery_id": row_id}) for row_id in sorted(new_ids)])

    db.run(use_case)


def _load_for_sending(
    db: Database, delivery_pk: int, event_id: int
) -> tuple[WebhookDelivery, WebhookSubscription | None, int] | None:
    with db.read() as session:
        delivery = session.get(WebhookDelivery, delivery_pk)
        if delivery is None:  # its subscription was deleted
            return None
        sub = session.get(WebhookSubscription, delivery.subscription_id)
        # How many times the outbox has tried this event before: the last try marks the delivery failed.
        tried = session.scalar(select(OutboxEvent.attempts).where(OutboxEvent.id == event_id)) or 0
        return delivery, sub, tried


def http_client(settings: Settings) -> httpx.Client:
    """The client deliveries are sent with: built once per worker (an SSL context costs tens of
    milliseconds), redirects not followed (a 3xx is a failure: the subscriber fixes the URL)."""
    return httpx.Client(timeout=settings.webhook_timeout_s, follow_redirects=False)


def _post(client: httpx.Client, url: str, body: str, headers: dict[str, str]) -> tuple[int | None, str | None]:
    """One POST: (status code, None) on a 2xx, (status code or None, error) otherwise. Only the start
    of the answer is read."""
    try:
        with client.stream("POST", url, content=body.encode(), headers=headers) as response:
            snippet = b""
            for chunk in response.iter_bytes():
                snippet += chunk
                if len(snippet) >= _RESPONSE_SNIPPET:
                    break
            if 200 <= response.status_code < 300:
                return response.status_code, None
            text = snippet[:_RESPONSE_SNIPPET].decode(errors="replace").strip()
            return response.status_code, f"HTTP {response.status_code}" + (f": {text}" if text else "")
    except httpx.TimeoutException:
        return None, f"timed out after {client.timeout.read:g} s"
    # Refused connections, TLS failures, a URL httpx cannot use: each is this attempt's error.
    except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
        return None, f"{type(exc).__name__}: {exc}"[:_RESPONSE_SNIPPET]


def deliver(
    db: Database, client: httpx.Client, event_id: int, payload: dict[str, Any], may_reach_private: bool = True
) -> None:
    """Send one delivery once. Raises ``DeliveryFailed`` on anything but a 2xx answer."""
    delivery_pk = int(payload["delivery_id"])
    loaded = _load_for_sending(db, delivery_pk, event_id)
    if loaded is None:
        return
    delivery, sub, tried = loaded
    if delivery.status != DeliveryStatus.PENDING:  # already sent (a repeated or stale event)
        return
    if sub is None or not sub.is_active:
        _drop(db, delivery_pk)
        return

    headers = webhooks.headers_for(sub.secret, delivery.delivery_id, delivery.body)
    started = time.monotonic()
    # Checked again at each send: a name that resolved outside may resolve inside now.
    internal = None if may_reach_private else webhooks.private_address(sub.url)
    if internal is not None:
        status_code, error = None, f"not sent: {sub.url} resolves to the internal address {internal}"
    else:
        status_code, error = _post(client, sub.url, delivery.body, headers)
    duration_ms = int((time.monotonic() - started) * 1000)
    succeeded = error is None
    final = tried + 1 >= MAX_ATTEMPTS

    def record(session: Session) -> None:
        row = session.get(WebhookDelivery, delivery_pk, with_for_update=db.dialect == "postgresql")
        if row is None:  # deleted while we waited on the receiver
            return
        now = utcnow()
        session.add(
            WebhookAttempt(
                webhook_delivery_id=row.id,
                attempted_at=now,
                status_code=status_code,
                error=error,
                duration_ms=duration_ms,
            )
        )
        row.attempts += 1
        row.last_attempt_at = now
        row.last_status_code = status_code
        row.last_error = error
        if succeeded:
            row.status = DeliveryStatus.SUCCEEDED.value
            row.delivered_at = now
        elif final:
            row.status = DeliveryStatus.FAILED.value

    db.run(record)
    if not succeeded:
        log.info("webhook delivery %s to %s failed: %s", delivery.delivery_id, sub.url, error)
        raise DeliveryFailed(f"delivery {delivery.delivery_id}: {error}")


def _drop(db: Database, delivery_pk: int) -> None:
    """A delivery whose subscription was deactivated is not sent; failed, it can be redelivered
    once the subscription is active again."""

    def use_case(session: Session) -> None:
        row = session.get(WebhookDelivery, delivery_pk)
        if row is not None and row.status == DeliveryStatus.PENDING:
            row.status = DeliveryStatus.FAILED.value
            row.last_error = "not sent: the subscription is inactive"

    db.run(use_case)


def register(registry: Registry, db: Database, settings: Settings) -> None:
    """Subscribe the two webhook handlers to the outbox worker."""
    client = http_client(settings)
    registry.subscribe("*", "webhooks.fanout", lambda event_id, topic, payload: fan_out(db, event_id, topic, payload))
    registry.subscribe(
        DELIVER_TOPIC,
        "webhooks.deliver",
        lambda event_id, topic, payload: deliver(db, client, event_id, payload, settings.webhooks_may_reach_private()),
    )
