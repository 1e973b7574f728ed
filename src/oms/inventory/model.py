from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from oms.db.base import Base, PkId, Timestamp, utcnow


class Warehouse(Base):
    __tablename__ = "warehouses"

    id: Mapped[int] = mapped_column(PkId, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))  # warehouse | store
    line1: Mapped[str] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(100))
    region: Mapped[str | None] = mapped_column(String(100))
    postal_code: Mapped[str] = mapped_column(String(20))
    country: Mapped[str] = mapped_column(String(2))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class Bin(Base):
    """A storage location; x/y in metres from the warehouse origin (used for pick paths)."""

    __tablename__ = "bins"
    __table_args__ = (UniqueConstraint("warehouse_id", "code"),)

    id: Mapped[int] = mapped_column(PkId, primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(32))
    x_m: Mapped[float] = mapped_column(Float)
    y_m: Mapped[float] = mapped_column(Float)
    aisle: Mapped[str | None] = mapped_column(String(16))
    level: Mapped[str | None] = mapped_column(String(16))


class StockLevel(Base):
    """Named quantities per (product, warehouse). Only ``oms.inventory.stock`` writes this table,
    always together with ledger rows, so the levels equal the ledger's sum. The CHECK is the last
    line of defence against oversell: the database itself refuses available < 0."""

    __tablename__ = "stock_levels"
    __table_args__ = (CheckConstraint("reserved >= 0 AND on_hand >= reserved", name="non_negative"),)

    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"), primary_key=True)
    on_hand: Mapped[int] = mapped_column(Integer, default=0)
    reserved: Mapped[int] = mapped_column(Integer, default=0)


class BinStock(Base):
    """Units of a product in one bin. Written by ``oms.inventory.stock`` with the ledger rows that
    carry the bin, so each bin equals the sum of its ledger rows; a warehouse's bins never hold
    more than its on_hand (the rest is not put away yet)."""

    __tablename__ = "bin_stock"
    __table_args__ = (
        CheckConstraint("quantity >= 0", name="non_negative"),
        Index("ix_bin_stock_warehouse_id_product_id", "warehouse_id", "product_id"),
    )

    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), primary_key=True)
    bin_id: Mapped[int] = mapped_column(ForeignKey("bins.id", ondelete="CASCADE"), primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    quantity: Mapped[int] = mapped_column(Integer, default=0)


class StockMovement(Base):
    """The append-only ledger. Each row moves on_hand and/or reserved by a signed amount."""

    __tablename__ = "stock_movements"
    __table_args__ = (
        Index("ix_stock_movements_product_warehouse", "product_id", "warehouse_id", "id"),
        Index("ix_stock_movements_order", "order_id"),
    )

    id: Mapped[int] = mapped_column(PkId, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    bin_id: Mapped[int | None] = mapped_column(ForeignKey("bins.id"))
    kind: Mapped[str] = mapped_column(String(24))
    delta_on_hand: Mapped[int] = mapped_column(Integer, default=0)
    delta_reserved: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str | None] = mapped_column(String(300))
    actor: Mapped[str] = mapped_column(String(320))
    reference: Mapped[str | None] = mapped_column(String(200))
    order_id: Mapped[int | None] = mapped_column(PkId)
