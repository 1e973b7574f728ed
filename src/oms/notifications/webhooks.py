"""Outbound webhooks, the pure part: which events a subscriber may choose, the body sent, and how
it is signed and verified. No database, no HTTP.

Signing (in the style of Standard Webhooks)
-------------------------------------------
Every POST carries three headers::

    Oms-Webhook-Id:         the delivery id (a uuid4; the same on every retry, so receivers dedupe)
    Oms-Webhook-Timestamp:  unix seconds when this attempt was signed
    Oms-Webhook-Signature:  v1,<base64 of HMAC-SHA256(secret, f"{id}.{timestamp}.{body}")>

The HMAC key is the whole secret string (``whsec_`` prefix included) as UTF-8. Signing the id and
timestamp with the body stops a captured request from being replayed later or under another id.
The signature header may list several space-separated signatures (while a secret is rotated);
one match is enough.

Retries
-------
A delivery that gets no 2xx answer (an error status, a timeout, a refused connection; redirects are
not followed) is retried by the outbox worker with its exponential backoff
(``oms.events.worker.backoff``): 2 s after the first attempt, then 4 s, 8 s, ... doubling, up to
``MAX_ATTEMPTS`` (12) attempts in all, about 68 minutes. Then the delivery is ``failed`` and can be
sent again with a redelivery.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import secrets
import socket
import time
from collections.abc import Collection, Iterable, Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from oms.errors import InvalidInput, Unauthenticated

ALL_EVENTS = "*"

# The public catalogue: what a subscriber may choose. Internal topics (email.send, webhook.deliver,
# feedback.due, ...) are not offered: their payloads are ours to change.
WEBHOOK_EVENTS: dict[str, str] = {
    "order.created": "An order was captured (payload: order_id, channel, status).",
    "order.backordered": "Some of an order's lines wait for stock (payload: order_id, lines).",
    "order.cancelled": "An order was cancelled (payload: order_id, reason, payment_status).",
    "order.held": "An order was put on hold (payload: order_id, reason).",
    "order.released": "A held order was released (payload: order_id, status).",
    "order.rerouted": "An order was routed again to other warehouses (payload: order_id, warehouses).",
    "order.shipped": (
        "A shipment of the order left with its carrier; status says whether the order is now shipped or "
        "partially_shipped (payload: order_id, status, shipment_id, carrier, tracking_number, tracking_url)."
    ),
    "order.delivered": "The carrier delivered the last of an order's shipments (payload: order_id, delivered_at).",
    "shipment.shipped": (
        "A shipment left the warehouse (payload: order_id, shipment_id, carrier, carrier_name, service_name, "
        "tracking_number, tracking_url, packages, shipped_at)."
    ),
    "shipment.tracking": (
        "A carrier tracking event moved a shipment (payload: order_id, shipment_id, tracking_event_id, "
        "tracking_number, tracking_url, code, at, location, description)."
    ),
    "stock.low": "Available stock fell to the reorder point (payload: product_id, warehouse_id, available, "
    "reorder_point).",
}

# The seconds between attempts, as ``oms.events.worker.backoff`` gives them (a test keeps this
# honest): after attempt n fails, attempt n+1 comes 2**n seconds later.
RETRY_DELAYS_S: tuple[int, ...] = tuple(2**n for n in range(1, 12))

HEADER_ID = "Oms-Webhook-Id"
HEADER_TIMESTAMP = "Oms-Webhook-Timestamp"
HEADER_SIGNATURE = "Oms-Webhook-Signature"
SIGNATURE_VERSION = "v1"
DEFAULT_TOLERANCE_S = 300


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class InvalidSignature(Unauthenticated):
    """A webhook request whose signature does not verify, or that is too old (or too far ahead)."""

    code = "invalid_signature"


# --- subscriptions --------------------------------------------------------------------------------


def check_url(url: str) -> str:
    """An absolute http(s) URL with a host, or InvalidInput."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError as exc:
        raise InvalidInput(f"{url!r} is not a URL: {exc}", code="invalid_url") from None
    if parts.scheme.lower() not in {"http", "https"} or not parts.hostname:
        raise InvalidInput(f"{url!r} is not an http(s) URL with a host", code="invalid_url")
    if any(c.isspace() for c in url):
        raise InvalidInput(f"{url!r} contains whitespace", code="invalid_url")
    return url


def private_address(url: str) -> str | None:
    """The internal address (loopback, private, link-local, reserved, multicast) the URL's host is or
    resolves to, if any. A host that does not resolve is not refused here: the delivery fails."""
    host = urlsplit(url).hostname or ""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return None
    for info in infos:
        ip = ipaddress.ip_address(info[4][0].split("%")[0])
        if not ip.is_global or ip.is_multicast:
            return str(ip)
    return None


def check_reachable(url: str, may_reach_private: bool) -> None:
    """Refuse (422) a subscriber URL inside our network unless the settings allow it."""
    found = None if may_reach_private else private_address(url)
    if found is not None:
        raise InvalidInput(
            f"{url!r} points to the internal address {found}; webhooks go to the public internet "
            "(OMS_WEBHOOK_ALLOW_PRIVATE=true allows internal receivers)",
            code="private_address",
        )


def check_events(events: Iterable[str]) -> list[str]:
    """The subscribed topics, deduplicated in their order; ``["*"]`` when all are asked for.
    InvalidInput names every unknown one."""
    chosen = list(dict.fromkeys(e.strip() for e in events))
    if not chosen:
        raise InvalidInput("choose at least one event (or '*' for all)", code="no_events")
    unknown = [e for e in chosen if e != ALL_EVENTS and e not in WEBHOOK_EVENTS]
    if unknown:
        raise InvalidInput(
            f"unknown event(s): {', '.join(unknown)}; GET /webhook-events lists the ones offered",
            code="unknown_event",
            unknown=unknown,
        )
    return [ALL_EVENTS] if ALL_EVENTS in chosen else chosen


def wants(events: Collection[str], topic: str) -> bool:
    """Does a subscription to ``events`` get ``topic``? Never for a topic that is not public."""
    if topic not in WEBHOOK_EVENTS:
        return False
    return ALL_EVENTS in events or topic in events


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


# --- what is sent ---------------------------------------------------------------------------------


def body_of(delivery_id: str, topic: str, created_at: datetime, payload: dict[str, Any]) -> str:
    """The JSON text signed and sent: written once per delivery and kept, so retries send the same
    bytes."""
    return json.dumps(
        {"id": delivery_id, "type": topic, "created_at": created_at.isoformat(), "data": payload},
        separators=(",", ":"),
        ensure_ascii=False,
    )


def _as_bytes(body: str | bytes) -> bytes:
    return body if isinstance(body, bytes) else body.encode()


def _digest(secret: str, delivery_id: str, timestamp: int, body: str | bytes) -> str:
    signed = f"{delivery_id}.{timestamp}.".encode() + _as_bytes(body)
    return base64.b64encode(hmac.new(secret.encode(), signed, hashlib.sha256).digest()).decode()


def sign(secret: str, delivery_id: str, timestamp: int, body: str | bytes) -> str:
    """The value of the ``Oms-Webhook-Signature`` header."""
    return f"{SIGNATURE_VERSION},{_digest(secret, delivery_id, timestamp, body)}"


def headers_for(secret: str, delivery_id: str, body: str | bytes, *, now: float | None = None) -> dict[str, str]:
    """Every header of one attempt, signed at ``now`` (unix seconds; default: the clock)."""
    timestamp = int(time.time() if now is None else now)
    return {
        "Content-Type": "application/json",
        "User-Agent": "oms-webhooks/1",
        HEADER_ID: delivery_id,
        HEADER_TIMESTAMP: str(timestamp),
        HEADER_SIGNATURE: sign(secret, delivery_id, timestamp, body),
    }


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: str | bytes,
    *,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> None:
    """For receivers: raise ``InvalidSignature`` unless ``body`` (the raw request body) was signed
    with ``secret`` within ``tolerance_s`` seconds of ``now``. Header names are matched without
    regard to case."""
    lower = {k.lower(): v for k, v in headers.items()}
    delivery_id = lower.get(HEADER_ID.lower())
    stamp = lower.get(HEADER_TIMESTAMP.lower())
    given = lower.get(HEADER_SIGNATURE.lower())
    if not delivery_id or not stamp or not given:
        raise InvalidSignature(f"missing {HEADER_ID}, {HEADER_TIMESTAMP} or {HEADER_SIGNATURE} header")
    try:
        timestamp = int(stamp)
    except ValueError:
        raise InvalidSignature(f"{HEADER_TIMESTAMP} is not a number of seconds") from None
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        raise InvalidSignature(f"the timestamp is more than {tolerance_s} s away from now: refusing a replay")
    expected = _digest(secret, delivery_id, timestamp, body).encode()
    for candidate in given.split():
        version, _, value = candidate.partition(",")
        # Constant time: the comparison must not tell an attacker how much of a guess was right.
        if version == SIGNATURE_VERSION and hmac.compare_digest(value.encode(), expected):
            return
    raise InvalidSignature("no signature matches the body and the secret")
