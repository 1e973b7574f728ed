"""The box catalogue, and the packages of a shipment with what goes in each."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, Boolean, CheckConstraint, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from oms.db.base import Base, Money, PkId, Timestamp, utcnow


class Box(Base):
    __tablename__ = "boxes"

    id: Mapped[int] = mapped_column(PkId, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    inner_length_mm: Mapped[int] = mapped_column(Integer)
    inner_width_mm: Mapped[int] = mapped_column(Integer)
    inner_height_mm: Mapped[int] = mapped_column(Integer)
    max_weight_g: Mapped[int] = mapped_column(Integer)
    tare_weight_g: Mapped[int] = mapped_column(Integer)
    cost: Mapped[Decimal] = mapped_column(Money)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class Package(Base):
    """Package ``number`` of a shipment's packages, in the box chosen for it."""

    __tablename__ = "packages"
    __table_args__ = (UniqueConstraint("shipment_id", "number"),)

    id: Mapped[int] = mapped_column(PkId, primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    box_id: Mapped[int] = mapped_column(ForeignKey("boxes.id"))
    status: Mapped[str] = mapped_column(String(16))  # open | closed
    fragile: Mapped[bool] = mapped_column(Boolean, default=False)
    instructions: Mapped[list] = mapped_column(JSON)
    placements: Mapped[list] = mapped_column(JSON)
    fill_rate: Mapped[float] = mapped_column(Float)
    expected_weight_g: Mapped[int] = mapped_column(Integer)
    measured_weight_g: Mapped[int | None] = mapped_column(Integer)
    weight_warning: Mapped[str | None] = mapped_column(String(300))
    closed_by: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(Timestamp)


class PackageItem(Base):
    __tablename__ = "package_items"
    __table_args__ = (
        UniqueConstraint("package_id", "product_id"),
        CheckConstraint("scanned >= 0 AND scanned <= expected", name="within_expected"),
    )

    id: Mapped[int] = mapped_column(PkId, primary_key=True)
    package_id: Mapped[int] = mapped_column(ForeignKey("packages.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    sku: Mapped[str] = mapped_column(String(64))
    expected: Mapped[int] = mapped_column(Integer)
    scanned: Mapped[int] = mapped_column(Integer, default=0)


class PackScan(Base):
    __tablename__ = "pack_scans"

    id: Mapped[int] = mapped_column(PkId, primary_key=True)
    package_id: Mapped[int] = mapped_column(ForeignKey("packages.id", ondelete="CASCADE"), index=True)
    value: Mapped[str] = mapped_column(String(64))
    accepted: Mapped[bool] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(String(48))
    actor: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
