"""Packing requests and responses: the box catalogue, a shipment's packages, scans and closing."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints, model_validator

from oms.schemas import Code, Input, Name, Output

Millimetres = Annotated[int, Field(gt=0, le=10_000)]
Grams = Annotated[int, Field(gt=0, le=1_000_000)]
BoxCost = Annotated[Decimal, Field(gt=0, max_digits=16, decimal_places=4, allow_inf_nan=False)]
ScanValue = Annotated[str, StringConstraints(min_length=1, max_length=64)]


def cents(value: Decimal) -> Decimal:
    """The same amount reads the same whether it came from the request or the database: at least
    two decimal places, no trailing zeros beyond them ("1.00", "0.125")."""
    rounded = value.quantize(Decimal("0.01"))
    return rounded if rounded == value else value.normalize()


CostOut = Annotated[Decimal, AfterValidator(cents)]


class BoxCreate(Input):
    code: Code
    name: Name
    inner_length_mm: Millimetres
    inner_width_mm: Millimetres
    inner_height_mm: Millimetres
    max_weight_g: Grams = Field(description="Gross: contents, the box itself and packaging.")
    tare_weight_g: Grams = Field(description="The empty box.")
    cost: BoxCost

    @model_validator(mode="after")
    def _tare_below_limit(self) -> BoxCreate:
        if self.tare_weight_g >= self.max_weight_g:
            raise ValueError("tare_weight_g must be below max_weight_g")
        return self


class BoxUpdate(Input):
    """Every field optional. Dimensions and weights of a box that an open package uses cannot change."""

    name: Name | None = None
    inner_length_mm: Millimetres | None = None
    inner_width_mm: Millimetres | None = None
    inner_height_mm: Millimetres | None = None
    max_weight_g: Grams | None = None
    tare_weight_g: Grams | None = None
    cost: BoxCost | None = None
    is_active: bool | None = None


class BoxOut(Output):
    id: int
    code: str
    name: str
    inner_length_mm: int
    inner_width_mm: int
    inner_height_mm: int
    max_weight_g: int
    tare_weight_g: int
    cost: CostOut
    is_active: bool
    created_at: datetime


class PackageBoxOut(Output):
    code: str
    name: str
    inner_length_mm: int
    inner_width_mm: int
    inner_height_mm: int


class PackageItemOut(Output):
    sku: str
    expected: int
    scanned: int


class PlacementOut(Output):
    """Where one unit goes: the corner nearest the box's inner origin and its (padded) size, in mm."""

    item: str
    sku: str
    x: int
    y: int
    z: int
    dx: int
    dy: int
    dz: int


class PackageOut(Output):
    id: int
    number: int
    of: int
    label: str = Field(description='"1 of 2": what goes on the package.')
    status: str = Field(description="open | closed")
    box: PackageBoxOut
    fragile: bool
    marks: list[str] = Field(description='["FRAGILE"] for a package holding a fragile item.')
    instructions: list[str]
    fill_rate: float = Field(description="Item volume / inner volume of the box.")
    expected_weight_g: int = Field(description="Items + box + packaging.")
    measured_weight_g: int | None
    weight_warning: str | None
    items: list[PackageItemOut]
    missing: dict[str, int] = Field(description="SKU -> units still to scan in.")
    placements: list[PlacementOut]
    closed_by: str | None
    closed_at: datetime | None


class ShipmentOut(Output):
    id: int
    status: str
    order_id: int
    order_number: str
    warehouse: str
    created_at: datetime
    updated_at: datetime
    packages: list[PackageOut]


class PackPlanOut(Output):
    cost: CostOut = Field(description="Sum of the boxes' costs.")
    fill_rate: float
    weight_g: int
    lower_bound_boxes: int = Field(description="No packing can use fewer boxes (volume bound).")
    explanation: list[str] = Field(description="Why these boxes: each cheaper one tried and why it was refused.")


class PackedShipmentOut(ShipmentOut):
    plan: PackPlanOut


class ScanCreate(Input):
    item: ScanValue = Field(description="The item's barcode (GTIN) or SKU.")


class ScanOut(Output):
    accepted: bool
    sku: str
    package: PackageOut
    complete: bool = Field(description="Every unit of the package is scanned in: it can be closed.")


class CloseCreate(Input):
    measured_weight_g: Annotated[int, Field(ge=0, le=10_000_000)] | None = None


class CloseOut(Output):
    package: PackageOut
    weight_ok: bool
    warnings: list[str]
    shipment_status: str
