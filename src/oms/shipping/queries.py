"""Reading what shipping knows: a shipment with its labels, the label files, packing slips and
invoices, tracking events, and the orders that are late or at risk of being late."""

from __future__ import annotations

import io
from collections import defaultdict
from datetime import datetime

from pypdf import PdfWriter
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from oms.channels.model import Channel
from oms.db import Database
from oms.db.base import utcnow
from oms.errors import Conflict, InvalidInput, NotFound
from oms.inventory.model import Warehouse
from oms.orders.model import Order, OrderLine
from oms.orders.queries import order_number
from oms.orders.rules import OrderStatus
from oms.picking.model import PickTask
from oms.schemas import Page, decode_position, encode_position
from oms.shipping import documents, promises
from oms.shipping.model import Shipment, ShippingLabel, TrackingEvent
from oms.shipping.schemas import LabelOut, LateOrderOut, PromiseFlagOut, ShippingOut, TrackingEventOut
from oms.shipping.service import address_lines, order_address_lines
from oms.shipping.tracking_events import tracking_url


def _shipment(session: Session, shipment_id: int) -> Shipment:
    shipment = session.get(Shipment, shipment_id)
    if shipment is None:
        raise NotFound(f"no shipment {shipment_id}", code="shipment_not_found")
    return shipment


def shipping_out(session: Session, shipment: Shipment, public_url: str) -> ShippingOut:
    labels = session.scalars(
        select(ShippingLabel).where(ShippingLabel.shipment_id == shipment.id).order_by(ShippingLabel.id)
    ).all()
    warehouse = session.scalar(select(Warehouse.code).where(Warehouse.id == shipment.warehouse_id))
    return ShippingOut(
        id=shipment.id,
        order_id=shipment.order_id,
        order_number=order_number(shipment.order_id),
        warehouse=warehouse or "",
        status=shipment.status,
        carrier=shipment.carrier,
        service=shipment.service,
        service_name=shipment.service_name,
        tracking_number=shipment.tracking_number,
        tracking_url=tracking_url(public_url, shipment.tracking_number) if shipment.tracking_number else None,
        shipping_cost=shipment.shipping_cost,
        currency=shipment.cost_currency,
        transit_days=shipment.transit_days,
        estimated_delivery=shipment.estimated_delivery,
        labelled_at=shipment.labelled_at,
        shipped_at=shipment.shipped_at,
        shipped_by=shipment.shipped_by,
        tracking_status=shipment.tracking_status,
        delivered_at=shipment.delivered_at,
        manifest_id=shipment.manifest_id,
        labels=[
            LabelOut(
                package_no=lb.package_no,
                tracking_number=lb.tracking_number,
                carrier=lb.carrier,
                service=lb.service,
                cost=lb.cost,
                currency=lb.currency,
                status=lb.status,
            )
            for lb in labels
        ],
        rate_choice=shipment.rate_choice,
    )


def read_shipping(db: Database, shipment_id: int, public_url: str) -> ShippingOut:
    with db.read() as session:
        return shipping_out(session, _shipment(session, shipment_id), public_url)


def tracking_history(db: Database, shipment_id: int) -> list[TrackingEventOut]:
    with db.read() as session:
        _shipment(session, shipment_id)
        rows = session.scalars(
            select(TrackingEvent)
            .where(TrackingEvent.shipment_id == shipment_id)
            .order_by(TrackingEvent.occurred_at, TrackingEvent.id)
        )
        return [TrackingEventOut.model_validate(r, from_attributes=True) for r in rows]


# --- label files ---------------------------------------------------------------------------------


def _bought(session: Session, shipment_id: int) -> list[ShippingLabel]:
    _shipment(session, shipment_id)
    labels = session.scalars(
        select(ShippingLabel)
        .where(ShippingLabel.shipment_id == shipment_id, ShippingLabel.status == "bought")
        .order_by(ShippingLabel.package_no)
    ).all()
    if not labels:
        raise Conflict(f"shipment {shipment_id} has no label (POST /shipments/{shipment_id}/labels)", code="no_label")
    return list(labels)


def label_pdf(db: Database, shipment_id: int) -> tuple[bytes, str]:
    """Every package's label, one 4x6 page each, as one PDF (what a label printer queue takes)."""
    with db.read() as session:
        labels = _bought(session, shipment_id)
    if len(labels) == 1:
        return labels[0].label_pdf, labels[0].tracking_number
    writer = PdfWriter()
    for label in labels:
        writer.append(io.BytesIO(label.label_pdf))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue(), labels[0].tracking_number


def label_zpl(db: Database, shipment_id: int) -> tuple[str, str]:
    """Every package's ZPL format, one after the other (a printer prints each ^XA...^XZ in turn)."""
    with db.read() as session:
        labels = _bought(session, shipment_id)
    return "\n".join(label.label_zpl.strip() for label in labels) + "\n", labels[0].tracking_number


# --- documents -----------------------------------------------------------------------------------


def _document(
    session: Session,
    shipment: Shipment,
    seller: str,
    order: Order,
    lines: list[documents.DocumentLine],
    **extra: object,
) -> documents.DocumentData:
    """The seller is the company (OMS_COMPANY_NAME) at the address the parcel leaves from."""
    warehouse = session.get(Warehouse, shipment.warehouse_id)
    assert warehouse is not None
    warehouse_lines = address_lines(
        warehouse.line1, None, warehouse.city, warehouse.region, warehouse.postal_code, warehouse.country
    )
    to_lines = order_address_lines(order)
    return documents.DocumentData(
        order_number=order_number(order.id),
        order_date=order.created_at.date(),
        currency=order.currency,
        seller_name=seller,
        seller_lines=warehouse_lines,
        bill_to_name=order.customer_name or order.ship_name,
        bill_to_lines=[order.customer_email, *to_lines],
        ship_to_name=order.ship_name,
        ship_to_lines=to_lines,
        lines=lines,
        shipping_total=order.shipping_total,
        tax_total=order.tax_total,
        discount_total=order.discount_total,
        total=order.total,
        paid_amount=order.paid_amount,
        **extra,  # type: ignore[arg-type]
    )


def packing_slip(db: Database, shipment_id: int, seller: str) -> tuple[bytes, str]:
    """What is in this shipment's boxes (the units picked for it), with the order's prices."""
    with db.read() as session:
        shipment = _shipment(session, shipment_id)
        order = session.get(Order, shipment.order_id)
        assert order is not None
        picked = dict(
            session.execute(
                select(PickTask.product_id, func.sum(PickTask.picked))
                .where(PickTask.shipment_id == shipment_id, PickTask.status != "cancelled", PickTask.picked > 0)
                .group_by(PickTask.product_id)
            ).all()
        )
        if not picked:
            raise Conflict(f"shipment {shipment_id} holds nothing picked yet", code="nothing_picked")
        order_lines = session.scalars(
            select(OrderLine).where(OrderLine.order_id == order.id).order_by(OrderLine.line_no)
        )
        lines = []
        for ln in order_lines:
            units = min(int(picked.get(ln.product_id, 0)), ln.quantity)
            if units:
                lines.append(documents.DocumentLine(ln.sku, ln.name, units, ln.unit_price))
                picked[ln.product_id] -= units
        others = session.scalar(
            select(func.count()).where(Shipment.order_id == order.id, Shipment.status != "cancelled")
        )
        label = f"Shipment {shipment_id}" + (f" (one of {others})" if others and others > 1 else "")
        data = _document(session, shipment, seller, order, lines, package_label=label)
    return documents.packing_slip_pdf(data), data.order_number


def invoice(db: Database, shipment_id: int, seller: str) -> tuple[bytes, str]:
    """The order's invoice (every line, the totals checked), printed with its shipment."""
    with db.read() as session:
        shipment = _shipment(session, shipment_id)
        order = session.get(Order, shipment.order_id)
        assert order is not None
        lines = [
            documents.DocumentLine(ln.sku, ln.name, ln.quantity, ln.unit_price)
            for ln in session.scalars(
                select(OrderLine).where(OrderLine.order_id == order.id).order_by(OrderLine.line_no)
            )
        ]
        number = order_number(order.id)
        data = _document(
            session,
            shipment,
            seller,
            order,
            lines,
            invoice_number=f"INV-{number}",
            invoice_date=(shipment.shipped_at or utcnow()).date(),
        )
    return documents.invoice_pdf(data), number


# --- promises ------------------------------------------------------------------------------------

_OPEN = (
    OrderStatus.PENDING_PAYMENT,
    OrderStatus.CONFIRMED,
    OrderStatus.BACKORDERED,
    OrderStatus.IN_FULFILMENT,
    OrderStatus.PARTIALLY_SHIPPED,
    OrderStatus.SHIPPED,
    OrderStatus.ON_HOLD,
)
SCAN_LIMIT = 20_000  # open orders examined per request; the oldest come first


def late_orders_page(
    db: Database, kind: str | None, channel: str | None, limit: int, cursor: str | None
) -> Page[LateOrderOut]:
    """One page of late_orders; the cursor is the (ship-by, order id) of the last order handed out,
    so a page never repeats or skips an order that stays late between two calls."""
    after = decode_position(cursor, (str, int))
    found = late_orders(db, kind, channel)
    if after is not None:
        try:
            key = (datetime.fromisoformat(str(after[0])), int(after[1]))
            if key[0].tzinfo is None:  # every ship-by is in UTC; a naive one was not handed out
                raise ValueError
        except ValueError:
            raise InvalidInput("the cursor is not one this API handed out", code="invalid_cursor") from None
        found = [o for o in found if (o.ship_by, o.order_id) > key]
    items = found[:limit]
    more = len(found) > limit
    next_cursor = encode_position(items[-1].ship_by.isoformat(), items[-1].order_id) if more else None
    return Page[LateOrderOut](items=items, next_cursor=next_cursor)


def late_orders(db: Database, kind: str | None, channel: str | None, now: datetime | None = None) -> list[LateOrderOut]:
    """Open orders whose promise is broken or at risk, the most overdue first."""
    now = now or utcnow()
    with db.read() as session:
        stmt = (
            select(Order, Channel.code, Channel.handling_days)
            .join(Channel, Channel.id == Order.channel_id)
            .where(Order.status.in_([s.value for s in _OPEN]))
            .order_by(Order.id)
            .limit(SCAN_LIMIT)
        )
        if channel:
            stmt = stmt.where(Channel.code == channel)
        rows = session.execute(stmt).all()
        shipments: dict[int, list[Shipment]] = defaultdict(list)
        ids = [o.id for o, _, _ in rows]
        for chunk in range(0, len(ids), 1000):
            for s in session.scalars(
                select(Shipment)
                .where(Shipment.order_id.in_(ids[chunk : chunk + 1000]), Shipment.status != "cancelled")
                .order_by(Shipment.id)
            ):
                shipments[s.order_id].append(s)
    out: list[LateOrderOut] = []
    for order, code, handling_days in rows:
        own = shipments.get(order.id, [])
        all_shipped = order.status == OrderStatus.SHIPPED
        latest = own[-1] if own else None
        facts = promises.PromiseFacts(
            ship_by=promises.ship_by(order.created_at, handling_days, order.ship_by),
            deliver_by=order.deliver_by,
            labelled=bool(own) and all(s.labelled_at for s in own),
            shipped_at=max((s.shipped_at for s in own if s.shipped_at), default=None) if all_shipped else None,
            delivered_at=None,
            estimate=max((s.estimated_delivery for s in own if s.estimated_delivery), default=None),
            tracking_status=latest.tracking_status if latest else None,
        )
        found = [f for f in promises.flags(facts, now) if kind is None or f.kind == kind]
        if found:
            out.append(
                LateOrderOut(
                    order_id=order.id,
                    number=order_number(order.id),
                    channel=code,
                    status=order.status,
                    ship_by=facts.ship_by,
                    deliver_by=order.deliver_by,
                    estimated_delivery=facts.estimate,
                    tracking_status=facts.tracking_status,
                    flags=[PromiseFlagOut(kind=f.kind, reason=f.reason) for f in found],
                )
            )
    out.sort(key=lambda o: (o.ship_by, o.order_id))
    return out
