"""Domain events that tell the customer something, turned into emails. Each handler queues at most
one email per event (its dedupe key names the event), in a transaction of its own; the outbox then
delivers the ``email.send`` it emits.

The payloads are a contract with the code that emits them:

- ``order.created`` {order_id, channel, status} -> ``order_confirmation``
- ``shipment.shipped`` {order_id, shipment_id, carrier, carrier_name, service_name, tracking_number,
  tracking_url, packages, shipped_at} -> ``shipped``
- ``shipment.tracking`` {order_id, shipment_id, tracking_event_id, tracking_number, tracking_url,
  code, at, location, description} -> by ``code``, see ``TRACKING_KINDS``; other codes send nothing
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any

from oms.db import Database
from oms.errors import NotFound
from oms.events.worker import Registry
from oms.notifications.messages import order_context, queue_email

log = logging.getLogger("oms.email")

# Tracking codes the customer hears about. Label created, picked up and in transit are left out:
# the shipped email already said it is on its way, and a scan a day would be noise.
TRACKING_KINDS: dict[str, str] = {
    "out_for_delivery": "out_for_delivery",
    "delivered": "delivered",
    "delayed": "delivery_problem",
    "delivery_attempted": "delivery_problem",
    "exception": "delivery_problem",
}


def _queue(db: Database, kind: str, order_id: int, dedupe_key: str, extra: dict[str, Any]) -> int | None:
    with db.write() as session:
        try:
            order = order_context(session, order_id)
        except NotFound:  # nothing to tell anyone about, now or on a retry
            log.warning("no %s email: order %s does not exist", kind, order_id)
            return None
        return queue_email(
            session,
            kind=kind,
            to=order["customer_email"],
            context={"order": order, **extra},
            dedupe_key=dedupe_key,
            order_id=order_id,
        )


def on_order_created(db: Database, payload: dict[str, Any]) -> int | None:
    order_id = int(payload["order_id"])
    return _queue(db, "order_confirmation", order_id, f"order_confirmation:{order_id}", {})


def _package_count(packages: Any) -> int:
    # A list of packages or their number: the email only says how many boxes to expect.
    if isinstance(packages, list | tuple):
        return len(packages)
    return int(packages or 1)


def on_shipment_shipped(db: Database, payload: dict[str, Any]) -> int | None:
    shipment = {
        "id": payload["shipment_id"],
        "carrier": payload.get("carrier"),
        "carrier_name": payload.get("carrier_name") or payload.get("carrier") or "the carrier",
        "service_name": payload.get("service_name") or "",
        "tracking_number": payload.get("tracking_number"),
        "tracking_url": payload.get("tracking_url"),
        "packages": _package_count(payload.get("packages")),
        "shipped_at": payload.get("shipped_at"),
    }
    return _queue(db, "shipped", int(payload["order_id"]), f"shipped:{payload['shipment_id']}", {"shipment": shipment})


def on_shipment_tracking(
    db: Database, payload: dict[str, Any], return_link: Callable[[int], str] | None = None
) -> int | None:
    kind = TRACKING_KINDS.get(payload.get("code", ""))
    if kind is None:
        return None
    tracking = {
        key: payload.get(key)
        for key in ("shipment_id", "tracking_number", "tracking_url", "code", "at", "location", "description")
    }
    extra: dict[str, Any] = {"tracking": tracking}
    if kind == "delivered" and return_link is not None:  # the delivered email opens the return form too
        extra["return_link"] = return_link(int(payload["order_id"]))
    return _queue(db, kind, int(payload["order_id"]), f"tracking:{payload['tracking_event_id']}", extra)


HANDLERS: dict[str, tuple[str, Callable[[Database, dict[str, Any]], int | None]]] = {
    "order.created": ("email.order_confirmation", on_order_created),
    "shipment.shipped": ("email.shipped", on_shipment_shipped),
    "shipment.tracking": ("email.tracking", on_shipment_tracking),
}


def register(registry: Registry, db: Database, return_link: Callable[[int], str] | None = None) -> None:
    """``return_link(order_id)``: the signed link to the order's return form, for the delivered email."""
    for topic, (name, handle) in HANDLERS.items():
        if handle is on_shipment_tracking and return_link is not None:
            handle = partial(on_shipment_tracking, return_link=return_link)
        registry.subscribe(topic, name, _bind(db, handle))


def _bind(db: Database, handle: Callable[[Database, dict[str, Any]], int | None]):  # type: ignore[no-untyped-def]
    def handler(event_id: int, topic: str, payload: dict[str, Any]) -> None:
        handle(db, payload)

    return handler
