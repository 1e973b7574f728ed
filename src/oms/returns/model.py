"""Returns: the policy per channel, the return (RMA) with its lines, each unit's inspection, and the
refunds paid back against an order."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from oms.db.base import Base, Money, PkId, Timestamp, utcnow


class ReturnPolicy(Base):
    """One row per channel that has its own policy, and one with no channel: the default."""

    __tablename__ = "return_policies"
    __table_args__ = (UniqueConstraint("channel_id"),)

    id: Mapped[int] = mapped_column(PkId, primary_key=True)
    channel_id: Mapped[int | None] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    config: Mapped[dict] = mapped_column(JSON)  # oms.returns.schemas.PolicyIn, as stored
    updated_by: Mapped[str] = mapped_column(String(320))
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class Return(Base):
    __tablename__ = "returns"
    __table_args__ = (Index("ix_returns_status_id", "status", "id"),)

    id: Mapped[int] = mapped_column(PkId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    customer_email: Mapped[str] = mapped_column(String(320))
    requested_by: Mapped[str] = mapped_column(String(320))
    comment: Mapped[str | None] = mapped_column(Text)
    warehouse_id: Mapped[int | None] = mapped_column(ForeignKey("warehouses.id"))  # where it comes back to
    carrier: Mapped[str | None] = mapped_column(String(32))
    tracking_number: Mapped[str | None] = mapped_column(String(40), unique=True)
    label_pdf: Mapped[bytes | None] = mapped_column(LargeBinary)
    label_zpl: Mapped[str | None] = mapped_column(Text)
    label_cost: Mapped[Decimal | None] = mapped_column(Money)
    resolution: Mapped[str | None] = mapped_column(String(16))  # refund | exchange
    refund_total: Mapped[Decimal | None] = mapped_column(Money)
    exchange_order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    note: Mapped[str | None] = mapped_column(String(500))  # why it was rejected, what differed on receipt
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    approved_at: Mapped[datetime | None] = mapped_column(Timestamp)
    received_at: Mapped[datetime | None] = mapped_column(Timestamp)
    resolved_at: Mapped[datetime | None] = mapped_column(Timestamp)  # refunded or exchanged


class ReturnLine(Base):
    __tablename__ = "return_lines"
    __table_args__ = (UniqueConstraint("return_id", "order_line_id"),)

    id: Mapped[int] = mapped_column(PkId, primary_key=True)
    return_id: Mapped[int] = mapped_column(ForeignKey("returns.id", ondelete="CASCADE"), index=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    sku: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[int] = mapped_column(Integer)  # asked for
    reason: Mapped[str] = mapped_column(String(32))
    received: Mapped[int] = mapped_column(Integer, default=0)
    restocked: Mapped[int] = mapped_column(Integer, default=0)
    quarantined: Mapped[int] = mapped_column(Integer, default=0)
    written_off: Mapped[int] = mapped_column(Integer, default=0)


class ReturnInspection(Base):
    """One unit looked at: its condition and what became of it."""

    __tablename__ = "return_inspections"

    id: Mapped[int] = mapped_column(PkId, primary_key=True)
    return_line_id: Mapped[int] = mapped_column(ForeignKey("return_lines.id", ondelete="CASCADE"), index=True)
    grade: Mapped[str] = mapped_column(String(16))
    disposition: Mapped[str] = mapped_column(String(16))
    bin_id: Mapped[int | None] = mapped_column(ForeignKey("bins.id"))
    note: Mapped[str | None] = mapped_column(String(300))
    actor: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class Refund(Base):
    __tablename__ = "refunds"

    id: Mapped[int] = mapped_column(PkId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    return_id: Mapped[int | None] = mapped_column(ForeignKey("returns.id", ondelete="SET NULL"), index=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    method: Mapped[str] = mapped_column(String(24))  # original_payment | store_credit
    breakdown: Mapped[dict] = mapped_column(JSON)
    actor: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
