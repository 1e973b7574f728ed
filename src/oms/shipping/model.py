"""Shipments: what leaves one warehouse for one order. Picking creates them, packing fills their
packages; carriers, labels and tracking hang on them (issue 4)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from oms.db.base import Base, PkId, Timestamp, utcnow


class Shipment(Base):
    __tablename__ = "shipments"
    __table_args__ = (Index("ix_shipments_warehouse_id_status", "warehouse_id", "status"),)

    id: Mapped[int] = mapped_column(PkId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    # picking -> ready_to_pack -> packing -> packed -> shipped (issue 4); cancelled when the order is
    status: Mapped[str] = mapped_column(String(24))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
