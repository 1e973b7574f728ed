"""Queuing a customer email: render it now, keep it, and hand it to the outbox, all inside the
caller's transaction. ``oms.notifications.email`` re-exports these; callers import them from there.

Rendering at queue time means the row shows exactly what the customer gets, even if the order or
a template changes before the worker sends it.
"""

from __future__ import annotations

from typing import Any

import pycountry
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from oms.db.base import utcnow
from oms.errors import NotFound
from oms.events.outbox import emit
from oms.money import to_currency
from oms.notifications.model import EmailMessage, EmailStatus
from oms.notifications.rendering import render
from oms.orders.model import Order, OrderLine
from oms.orders.queries import order_number

SEND_TOPIC = "email.send"

_SUBJECT_MAX = EmailMessage.__table__.c.subject.type.length  # type: ignore[attr-defined]


def queue_email(
    session: Session,
    *,
    kind: str,
    to: str,
    context: dict[str, Any],
    dedupe_key: str,
    order_id: int | None = None,
) -> int | None:
    """Render the ``kind`` email, keep it and emit ``email.send`` {email_id}. Returns the new
    email's id, or None when an email with ``dedupe_key`` exists already: one event, one email,
    however often its handler runs."""
    if session.scalar(select(EmailMessage.id).where(EmailMessage.dedupe_key == dedupe_key)) is not None:
        return None
    rendered = render(kind, context)
    table = EmailMessage.__table__
    insert = (postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert)(table)
    # A second worker handling the same event at the same moment (its lease ran out) loses here
    # quietly instead of failing on the unique key.
    stmt = insert.on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(table.c.id)
    email_id = session.scalar(
        stmt,
        {
            "kind": kind,
            "to_address": to.strip(),
            "subject": rendered.subject[:_SUBJECT_MAX],
            "text_body": rendered.text,
            "html_body": rendered.html,
            "order_id": order_id,
            "dedupe_key": dedupe_key,
            "status": EmailStatus.QUEUED,
            "attempts": 0,
            "message_id": None,  # chosen by the sender, which knows the From domain
            "created_at": utcnow(),
            "resent_count": 0,
        },
    )
    if email_id is None:
        return None
    emit(session, SEND_TOPIC, {"email_id": email_id})
    return int(email_id)


def order_context(session: Session, order_id: int) -> dict[str, Any]:
    """What the templates know about an order, as the ``order`` of an email's context. Amounts
    are ``Decimal`` in the order's currency (the ``money`` filter formats them). ``NotFound``
    when there is no such order."""
    order = session.get(Order, order_id)
    if order is None:
        raise NotFound(f"no order with id {order_id}", code="order_not_found")
    currency = order.currency
    lines = session.scalars(select(OrderLine).where(OrderLine.order_id == order_id).order_by(OrderLine.line_no))
    return {
        "id": order.id,
        "number": order_number(order.id),
        "status": order.status,
        "created_at": order.created_at,
        "customer_name": order.customer_name,
        "customer_email": order.customer_email,
        "shipping_address": address_lines(order),
        "lines": [
            {
                "sku": line.sku,
                "name": line.name,
                "quantity": line.quantity,
                "unit_price": to_currency(line.unit_price, currency),
                "total": to_currency(line.unit_price * line.quantity, currency),
            }
            for line in lines
        ],
        "currency": currency,
        "subtotal": to_currency(order.subtotal, currency),
        "shipping_total": to_currency(order.shipping_total, currency),
        "tax_total": to_currency(order.tax_total, currency),
        "discount_total": to_currency(order.discount_total, currency),
        "total": to_currency(order.total, currency),
    }


# Where the postal code goes on the city line: after "City, Region" in North America and
# Australia, on a line of its own in the UK, before the city in most of the rest of the world.
_REGION_THEN_CODE = frozenset({"US", "CA", "AU"})


def address_lines(order: Order) -> list[str]:
    """The shipping address as it is written on an envelope."""
    lines = [order.ship_name, order.ship_line1]
    if order.ship_line2:
        lines.append(order.ship_line2)
    country = order.ship_country.upper()
    if country in _REGION_THEN_CODE:
        region = f", {order.ship_region}" if order.ship_region else ""
        lines.append(f"{order.ship_city}{region} {order.ship_postal_code}")
    elif country == "GB":
        lines += [order.ship_city, order.ship_postal_code]
    else:
        lines.append(f"{order.ship_postal_code} {order.ship_city}")
        if order.ship_region:
            lines.append(order.ship_region)
    found = pycountry.countries.get(alpha_2=country)
    lines.append(getattr(found, "common_name", None) or (found.name if found else country))
    return lines
