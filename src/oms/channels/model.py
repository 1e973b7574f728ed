from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, true
from sqlalchemy.orm import Mapped, mapped_column

from oms.db.base import Base, PkId, Timestamp, utcnow


class Channel(Base):
    """Where orders come from: a web store, a marketplace, a shop counter, the API."""

    __tablename__ = "channels"

    id: Mapped[int] = mapped_column(PkId, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    currency: Mapped[str | None] = mapped_column(String(3))
    # Whether routing may ship this channel's orders from shops (warehouses of kind "store").
    allow_stores: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Promises: an order ships within this many business days unless it says otherwise, and goes by
    # the cheapest service of this level when it names no delivery date.
    handling_days: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    service_level: Mapped[str] = mapped_column(String(16), default="standard", server_default="standard")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class ChannelWarehouse(Base):
    """The warehouses a channel may ship from, in preference order. No rows: every active one."""

    __tablename__ = "channel_warehouses"

    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
