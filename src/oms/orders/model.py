from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from oms.db.base import Base, Money, PkId, Timestamp, utcnow


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("channel_id", "external_id"),
        Index("ix_orders_status_id", "status", "id"),
        Index("ix_orders_customer_email", "customer_email"),
    )

    id: Mapped[int] = mapped_column(PkId, primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"))
    external_id: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(24))
    held_from: Mapped[str | None] = mapped_column(String(24))
    payment_status: Mapped[str] = mapped_column(String(24))
    currency: Mapped[str] = mapped_column(String(3))
    customer_email: Mapped[str] = mapped_column(String(320))
    customer_name: Mapped[str | None] = mapped_column(String(200))
    customer_phone: Mapped[str | None] = mapped_column(String(40))
    ship_name: Mapped[str] = mapped_column(String(200))
    ship_line1: Mapped[str] = mapped_column(String(200))
    ship_line2: Mapped[str | None] = mapped_column(String(200))
    ship_city: Mapped[str] = mapped_column(String(100))
    ship_region: Mapped[str | None] = mapped_column(String(100))
    ship_postal_code: Mapped[str] = mapped_column(String(20))
    ship_country: Mapped[str] = mapped_column(String(2))
    ship_latitude: Mapped[float | None] = mapped_column(Float)
    ship_longitude: Mapped[float | None] = mapped_column(Float)
    subtotal: Mapped[Decimal] = mapped_column(Money)
    shipping_total: Mapped[Decimal] = mapped_column(Money)
    tax_total: Mapped[Decimal] = mapped_column(Money)
    discount_total: Mapped[Decimal] = mapped_column(Money)
    total: Mapped[Decimal] = mapped_column(Money)
    authorized_amount: Mapped[Decimal] = mapped_column(Money)
    paid_amount: Mapped[Decimal] = mapped_column(Money)
    refunded_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal(0), server_default="0")
    routing: Mapped[dict | None] = mapped_column(JSON)  # how the warehouses were chosen
    # The promise made to the customer (oms.shipping.promises): ship by / deliver by, and the
    # service level bought at checkout. None: the channel's handling days and default level apply.
    ship_by: Mapped[datetime | None] = mapped_column(Timestamp)
    deliver_by: Mapped[datetime | None] = mapped_column(Timestamp)
    service_level: Mapped[str | None] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class OrderLine(Base):
    __tablename__ = "order_lines"
    __table_args__ = (
        # The backorder queue: open claims per product, first come first served (by line id).
        Index(
            "ix_order_lines_backorder_queue",
            "product_id",
            "id",
            postgresql_where=text("backordered > 0"),
            sqlite_where=text("backordered > 0"),
        ),
    )

    id: Mapped[int] = mapped_column(PkId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    line_no: Mapped[int] = mapped_column(Integer)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    sku: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(300))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(Money)
    reserved: Mapped[int] = mapped_column(Integer, default=0)
    backordered: Mapped[int] = mapped_column(Integer, default=0)
    shipped: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Allocation(Base):
    """Stock reserved for one order line in one warehouse (the warehouse choice, recorded)."""

    __tablename__ = "allocations"
    __table_args__ = (UniqueConstraint("order_line_id", "warehouse_id"),)

    id: Mapped[int] = mapped_column(PkId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    picked: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # units in a tote


class Payment(Base):
    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(PkId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(24))  # authorized | paid
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    method: Mapped[str | None] = mapped_column(String(64))
    reference: Mapped[str | None] = mapped_column(String(200))
    actor: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class OrderEvent(Base):
    """The order's timeline: who did what, when."""

    __tablename__ = "order_events"

    id: Mapped[int] = mapped_column(PkId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    actor: Mapped[str] = mapped_column(String(320))
    type: Mapped[str] = mapped_column(String(48))
    message: Mapped[str] = mapped_column(String(500))
    data: Mapped[dict | None] = mapped_column(JSON)
