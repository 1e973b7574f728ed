"""Carrier tracking events: the signed webhook a carrier pushes its scans to, and what each scan does.

Order of work for one delivery of the webhook:

1. The signature is checked over the raw bytes, before any parsing (``verify_signature``): an
   unsigned or tampered body never reaches the JSON parser. The header is
   ``Oms-Carrier-Signature: sha256=<hex HMAC-SHA256 of the raw body with the carrier's secret>``.
2. Each event is applied in its own short transaction: recorded once per ``(carrier, id)`` (a
   replay is answered ``duplicate`` and changes nothing), put on the order's timeline, and, when it
   is newer than what we knew, it moves the shipment: delivered marks it delivered (and the order
   when every shipment is), trouble (delayed, exception, a failed attempt) opens a support task
   for operations and tells the customer.
3. The answer lists each event's result, so a carrier (or a person replaying a file) sees exactly
   what happened: applied, out_of_order, duplicate, unknown_tracking_number, not_shipped.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from oms.db import Database
from oms.db.base import utcnow
from oms.errors import Unauthenticated
from oms.events.outbox import emit_many
from oms.feedback.model import SupportTask
from oms.feedback.tasks import open_task
from oms.orders.model import Order
from oms.orders.queries import order_number
from oms.orders.rules import OrderStatus
from oms.orders.rules import check_transition as check_order_transition
from oms.orders.timeline import record
from oms.packing.rules import ShipmentStatus as S
from oms.packing.service import lock_shipment
from oms.shipping import tracking
from oms.shipping.model import Carrier, Shipment, TrackingEvent
from oms.shipping.rules import TROUBLE, applies
from oms.shipping.schemas import TrackingEventIn, TrackingResultOut

SIGNATURE_HEADER = "Oms-Carrier-Signature"


def tracking_url(public_url: str, tracking_number: str) -> str:
    """The customer's tracking page (oms.shipping.pages) for a number."""
    return f"{public_url.rstrip('/')}/track/{tracking_number}"


ACTOR = "carrier:{}"


def sign(secret: str, body: bytes) -> str:
    """The header value a carrier sends (and our tests and docs use to sign)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(db: Database, carrier_code: str, header: str | None, body: bytes) -> None:
    """Refuse (401) unless ``header`` is the carrier's signature of exactly these bytes."""
    with db.read() as session:
        row = session.execute(
            select(Carrier.webhook_secret, Carrier.is_active).where(Carrier.code == carrier_code)
        ).first()
    # One answer for an unknown, switched-off or unconfigured carrier: the endpoint does not tell a
    # stranger which carrier codes exist.
    if row is None or not row[0] or not row[1]:
        raise Unauthenticated(
            f"carrier {carrier_code!r} does not take tracking events (unknown, inactive, or no webhook secret)",
            code="webhook_not_configured",
        )
    secret = row[0]
    if not header:
        raise Unauthenticated(f"the {SIGNATURE_HEADER} header is missing", code="signature_missing")
    if not hmac.compare_digest(header.strip().encode(), sign(secret, body).encode()):
        raise Unauthenticated("the signature does not match the body", code="signature_invalid")


def record_events(
    db: Database, carrier_code: str, events: list[TrackingEventIn], public_url: str
) -> list[TrackingResultOut]:
    # Oldest first, so a batch that holds a whole journey ends in its latest state.
    ordered = sorted(events, key=lambda e: (e.occurred_at, e.id))
    results = {e.id: _one(db, carrier_code, e, public_url) for e in ordered}
    return [results[e.id] for e in events]


def _one(db: Database, carrier_code: str, event: TrackingEventIn, public_url: str) -> TrackingResultOut:
    number = tracking.normalise(event.tracking_number)
    with db.read() as session:
        shipment_id = session.scalar(
            select(Shipment.id).where(Shipment.tracking_number == number, Shipment.carrier == carrier_code)
        )
    if shipment_id is None:
        moved = _return_scan(db, carrier_code, number, event)
        if moved is not None:
            return TrackingResultOut(
                id=event.id,
                tracking_number=number,
                result="applied" if moved else "recorded",
                detail="a return label" if moved else "a return label: its status already reflects this",
            )
        return TrackingResultOut(
            id=event.id,
            tracking_number=number,
            result="unknown_tracking_number",
            detail=f"no {carrier_code} shipment has tracking number {number}",
        )
    return db.run(lambda session: _apply(session, carrier_code, shipment_id, number, event, public_url))


def _return_scan(db: Database, carrier: str, number: str, event: TrackingEventIn) -> bool | None:
    """A scan of a return label moves the return (oms.returns); None when no return has the number."""
    # Imported here: returns builds on shipping, so shipping reaches into returns only at run time.
    from oms.returns.model import Return
    from oms.returns.service import carrier_scan, lock_return

    with db.read() as session:
        return_id = session.scalar(select(Return.id).where(Return.tracking_number == number, Return.carrier == carrier))
    if return_id is None:
        return None

    def use_case(session: Session) -> bool:
        return carrier_scan(session, lock_return(session, return_id), event.code.value, ACTOR.format(carrier))

    return db.run(use_case)


def _insert_event(session: Session, row: dict[str, object]) -> int | None:
    """The event's id, or None when this (carrier, id) was already recorded (a replay)."""
    dialect = session.get_bind().dialect.name
    ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(TrackingEvent.__table__)
    stmt = ins.values(**row).on_conflict_do_nothing(index_elements=["carrier", "event_key"]).returning(TrackingEvent.id)
    return session.execute(stmt).scalar()


def _apply(
    session: Session, carrier: str, shipment_id: int, number: str, event: TrackingEventIn, public_url: str
) -> TrackingResultOut:
    shipment = lock_shipment(session, shipment_id, refuse_held=False)
    order = session.get(Order, shipment.order_id)
    assert order is not None
    at = event.occurred_at
    shipped = shipment.status in (S.SHIPPED, S.DELIVERED)
    if not shipped and event.code != "label_created":
        moves, why = False, f"shipment {shipment_id} is {shipment.status}: not yet confirmed as shipped"
    else:
        moves, why = applies(event.code, at, shipment.tracking_at, shipment.status == S.DELIVERED)
    event_id = _insert_event(
        session,
        {
            "carrier": carrier,
            "event_key": event.id,
            "shipment_id": shipment_id,
            "tracking_number": number,
            "code": event.code.value,
            "occurred_at": at,
            "location": event.location,
            "description": event.description,
            "applied": moves,
            "received_at": utcnow(),
        },
    )
    if event_id is None:
        return TrackingResultOut(id=event.id, tracking_number=number, result="duplicate", detail="already recorded")
    where = f" at {event.location}" if event.location else ""
    note = f" (not applied: {why})" if not moves else ""
    entries = [
        (
            order.id,
            ACTOR.format(carrier),
            "tracking",
            f"{number}: {event.code.value.replace('_', ' ')}{where}, {at:%Y-%m-%d %H:%M %Z}{note}",
            {"shipment_id": shipment_id, "code": event.code.value, "tracking_event_id": event_id},
        )
    ]
    if not moves:
        record(session, entries)
        return TrackingResultOut(
            id=event.id,
            tracking_number=number,
            result="not_shipped" if not shipped else "out_of_order",
            detail=why if shipped else f"{why}; it applies when the shipment is confirmed",
        )
    stored = session.get(TrackingEvent, event_id)
    assert stored is not None
    events = _move(session, shipment, order, stored, public_url, entries)
    record(session, entries)
    emit_many(session, events)
    return TrackingResultOut(id=event.id, tracking_number=number, result="applied")


def _move(
    session: Session, shipment: Shipment, order: Order, event: TrackingEvent, public_url: str, entries: list
) -> list[tuple[str, dict[str, object]]]:
    """What an applied event does: the shipment's tracking status, delivery, alerts, and the events
    that tell the customer and subscribers."""
    shipment.tracking_status = event.code
    shipment.tracking_at = event.occurred_at
    shipment.updated_at = utcnow()
    payload = {
        "order_id": order.id,
        "shipment_id": shipment.id,
        "tracking_event_id": event.id,
        "tracking_number": event.tracking_number,
        "tracking_url": tracking_url(public_url, event.tracking_number),
        "code": event.code,
        "at": event.occurred_at.isoformat(),
        "location": event.location,
        "description": event.description,
    }
    events: list[tuple[str, dict[str, object]]] = [("shipment.tracking", payload)]
    if event.code == "delivered":
        events += _delivered(session, shipment, order, event.occurred_at, entries, event.carrier)
    elif event.code in TROUBLE:
        _alert_operations(session, order, shipment, event)
    return events


def replay_early(
    session: Session, shipment: Shipment, order: Order, public_url: str
) -> list[tuple[str, dict[str, object]]]:
    """Scans the carrier sent before the shipment was confirmed (a driver scanning at the dock before
    the clerk clicks "ship") apply now, oldest first, by the same rules as when they arrive."""
    early = session.scalars(
        select(TrackingEvent)
        .where(TrackingEvent.shipment_id == shipment.id, TrackingEvent.applied.is_(False))
        .order_by(TrackingEvent.occurred_at, TrackingEvent.id)
    ).all()
    events: list[tuple[str, dict[str, object]]] = []
    entries: list = []
    for row in early:
        if row.code == "label_created":
            continue
        moves, _ = applies(row.code, row.occurred_at, shipment.tracking_at, shipment.status == S.DELIVERED)
        if moves:
            row.applied = True
            entries.append(
                (order.id, ACTOR.format(row.carrier), "tracking", f"{row.tracking_number}: earlier "
                 f"{row.code.replace('_', ' ')} scan applied on confirmation", {"tracking_event_id": row.id})
            )  # fmt: skip
            events += _move(session, shipment, order, row, public_url, entries)
    record(session, entries)
    return events


def _delivered(
    session: Session, shipment: Shipment, order: Order, at: datetime, entries: list, carrier: str
) -> list[tuple[str, dict[str, object]]]:
    shipment.status = S.DELIVERED.value
    shipment.delivered_at = at
    others = session.scalars(
        select(Shipment.status).where(Shipment.order_id == order.id, Shipment.id != shipment.id)
    ).all()
    if order.status != OrderStatus.SHIPPED or any(s not in (S.DELIVERED, S.CANCELLED) for s in others):
        return []
    check_order_transition(order.status, OrderStatus.DELIVERED, "deliver")
    order.status = OrderStatus.DELIVERED.value
    order.updated_at = utcnow()
    entries.append((order.id, ACTOR.format(carrier), "delivered", f"Order {order_number(order.id)} delivered", None))
    return [("order.delivered", {"order_id": order.id, "delivered_at": at.isoformat()})]


def _alert_operations(session: Session, order: Order, shipment: Shipment, event: TrackingEvent) -> None:
    """One open task per order for operations to follow up; a later problem adds to its detail."""
    what = event.code.replace("_", " ")
    detail = (
        f"{event.tracking_number}: {what}"
        + (f" at {event.location}" if event.location else "")
        + (f" ({event.description})" if event.description else "")
    )
    subject = f"Shipment {shipment.id} of order {order_number(order.id)}: {what}"
    task = session.scalar(
        select(SupportTask).where(
            SupportTask.kind == "delivery_issue", SupportTask.order_id == order.id, SupportTask.status == "open"
        )
    )
    if task is None:
        open_task(session, "delivery_issue", order.id, subject, detail)
    else:
        task.subject = subject[:200]
        task.detail = f"{task.detail}\n{detail}"
