"""Shipments and what shipping hangs on them: carriers (configured data), labels, tracking events
and end-of-day manifests. Picking creates a shipment, packing fills its packages, shipping buys its
labels, confirms it and follows it to the door."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from oms.db.base import Base, Money, PkId, Timestamp, utcnow


class Carrier(Base):
    """A carrier oms can buy labels from. ``adapter`` names the code that talks to it: "table_rate"
    prices from ``config`` (oms.shipping.carrier_config) and issues our own tracking numbers; any
    other name is a live adapter registered in oms.shipping.adapters.ADAPTERS."""

    __tablename__ = "carriers"

    id: Mapped[int] = mapped_column(PkId, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    adapter: Mapped[str] = mapped_column(String(32))
    config: Mapped[dict] = mapped_column(JSON)
    tracking_prefix: Mapped[str | None] = mapped_column(String(4), unique=True)
    # Shared with the carrier: it signs the tracking events it pushes to us with this.
    webhook_secret: Mapped[str | None] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class Shipment(Base):
    __tablename__ = "shipments"
    __table_args__ = (
        Index("ix_shipments_warehouse_id_status", "warehouse_id", "status"),
        Index("ix_shipments_carrier_manifest", "carrier", "warehouse_id", "manifest_id"),
    )

    id: Mapped[int] = mapped_column(PkId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    # picking -> ready_to_pack -> packing -> packed -> labelled -> shipped -> delivered; cancelled
    status: Mapped[str] = mapped_column(String(24))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    # Rate shopping: the chosen service with the alternatives and why (oms.shipping.service).
    rate_choice: Mapped[dict | None] = mapped_column(JSON)
    carrier: Mapped[str | None] = mapped_column(String(32))
    service: Mapped[str | None] = mapped_column(String(32))
    service_name: Mapped[str | None] = mapped_column(String(200))
    tracking_number: Mapped[str | None] = mapped_column(String(40), unique=True)
    shipping_cost: Mapped[Decimal | None] = mapped_column(Money)
    cost_currency: Mapped[str | None] = mapped_column(String(3))
    transit_days: Mapped[int | None] = mapped_column(Integer)
    labelled_at: Mapped[datetime | None] = mapped_column(Timestamp)
    shipped_at: Mapped[datetime | None] = mapped_column(Timestamp)
    shipped_by: Mapped[str | None] = mapped_column(String(320))
    estimated_delivery: Mapped[date | None] = mapped_column(Date)
    tracking_status: Mapped[str | None] = mapped_column(String(24))  # the latest carrier event code
    tracking_at: Mapped[datetime | None] = mapped_column(Timestamp)  # when that event happened
    delivered_at: Mapped[datetime | None] = mapped_column(Timestamp)
    manifest_id: Mapped[int | None] = mapped_column(ForeignKey("manifests.id"))


class LabelSerial(Base):
    """One row per label purchase: its id is the serial in the tracking number (a sequence that works
    the same on SQLite and PostgreSQL, never reused)."""

    __tablename__ = "label_serials"

    id: Mapped[int] = mapped_column(PkId, primary_key=True)
    carrier: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class ShippingLabel(Base):
    """One package's label as the carrier sold it: the PDF and ZPL are kept as bought."""

    __tablename__ = "shipping_labels"

    id: Mapped[int] = mapped_column(PkId, primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id", ondelete="CASCADE"), index=True)
    package_id: Mapped[int] = mapped_column(ForeignKey("packages.id", ondelete="CASCADE"))
    package_no: Mapped[int] = mapped_column(Integer)
    carrier: Mapped[str] = mapped_column(String(32))
    service: Mapped[str] = mapped_column(String(32))
    tracking_number: Mapped[str] = mapped_column(String(40), index=True)
    cost: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    label_pdf: Mapped[bytes] = mapped_column(LargeBinary)
    label_zpl: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # bought | voided
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    voided_at: Mapped[datetime | None] = mapped_column(Timestamp)


class TrackingEvent(Base):
    """A carrier's scan, as it arrived at the signed webhook. ``(carrier, event_key)`` is unique: a
    replayed delivery of the same event is recognised and changes nothing."""

    __tablename__ = "tracking_events"
    __table_args__ = (UniqueConstraint("carrier", "event_key"),)

    id: Mapped[int] = mapped_column(PkId, primary_key=True)
    carrier: Mapped[str] = mapped_column(String(32))
    event_key: Mapped[str] = mapped_column(String(100))
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id", ondelete="CASCADE"), index=True)
    tracking_number: Mapped[str] = mapped_column(String(40))
    code: Mapped[str] = mapped_column(String(24))
    occurred_at: Mapped[datetime] = mapped_column(Timestamp)
    location: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(String(500))
    applied: Mapped[bool] = mapped_column(Boolean)  # False: older than what we knew (out of order)
    received_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class Manifest(Base):
    """The end-of-day sheet for one carrier at one warehouse: the shipments handed over that day."""

    __tablename__ = "manifests"

    id: Mapped[int] = mapped_column(PkId, primary_key=True)
    carrier: Mapped[str] = mapped_column(String(32))
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    day: Mapped[date] = mapped_column(Date)
    shipments: Mapped[int] = mapped_column(Integer)
    packages: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
