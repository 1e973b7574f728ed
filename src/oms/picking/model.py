"""Pick lists (one order, or a wave of orders picked in one walk), their tasks in walking order,
and every scan a picker makes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, CheckConstraint, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from oms.db.base import Base, PkId, Timestamp, utcnow


class PickList(Base):
    __tablename__ = "pick_lists"
    __table_args__ = (Index("ix_pick_lists_warehouse_id_status", "warehouse_id", "status"),)

    id: Mapped[int] = mapped_column(PkId, primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    kind: Mapped[str] = mapped_column(String(16))  # order | wave
    status: Mapped[str] = mapped_column(String(16))  # open | done | cancelled
    path_length_m: Mapped[float] = mapped_column(Float)
    s_shape_length_m: Mapped[float] = mapped_column(Float)
    route: Mapped[list | None] = mapped_column(JSON)  # corner points of the walk, for a screen
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(Timestamp)


class PickTask(Base):
    """Pick ``quantity`` of a product from a bin into the order's tote. ``bin_id`` is empty for
    stock not yet put away in a bin (picked at the depot, where receipts land)."""

    __tablename__ = "pick_tasks"
    __table_args__ = (
        CheckConstraint("picked >= 0 AND short >= 0 AND picked + short <= quantity", name="within_quantity"),
        Index("ix_pick_tasks_allocation_id_status", "allocation_id", "status"),
    )

    id: Mapped[int] = mapped_column(PkId, primary_key=True)
    pick_list_id: Mapped[int] = mapped_column(ForeignKey("pick_lists.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)  # position in the walk
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id", ondelete="CASCADE"), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    # Kept when the order is cancelled (the allocation goes, the task and its scans stay, cancelled).
    allocation_id: Mapped[int | None] = mapped_column(ForeignKey("allocations.id", ondelete="SET NULL"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    bin_id: Mapped[int | None] = mapped_column(ForeignKey("bins.id"))
    tote: Mapped[str] = mapped_column(String(16))
    quantity: Mapped[int] = mapped_column(Integer)
    picked: Mapped[int] = mapped_column(Integer, default=0)
    short: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16))  # open | picked | short | cancelled


class PickScan(Base):
    """Every scan, accepted or refused: the audit trail of the floor."""

    __tablename__ = "pick_scans"

    id: Mapped[int] = mapped_column(PkId, primary_key=True)
    pick_list_id: Mapped[int] = mapped_column(ForeignKey("pick_lists.id", ondelete="CASCADE"), index=True)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("pick_tasks.id", ondelete="CASCADE"))
    step: Mapped[str] = mapped_column(String(16))  # bin | item | quantity | short
    value: Mapped[str] = mapped_column(String(64))
    accepted: Mapped[bool] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(String(48))
    actor: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
