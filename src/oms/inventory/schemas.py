from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from oms.schemas import Code, Country, Input, Name, Output, Quantity, Sku

Reason = Annotated[str, StringConstraints(min_length=1, max_length=300)]
Reference = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class WarehouseKind(StrEnum):
    WAREHOUSE = "warehouse"
    STORE = "store"


class WarehouseAddress(Input):
    line1: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    city: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    region: Annotated[str, StringConstraints(max_length=100)] | None = None
    postal_code: Annotated[str, StringConstraints(min_length=1, max_length=20)]
    country: Country


class WarehouseCreate(Input):
    code: Code
    name: Name
    kind: WarehouseKind = WarehouseKind.WAREHOUSE
    address: WarehouseAddress
    latitude: Annotated[float, Field(ge=-90, le=90)] | None = None
    longitude: Annotated[float, Field(ge=-180, le=180)] | None = None

    @model_validator(mode="after")
    def _both_or_neither(self) -> WarehouseCreate:
        if (self.latitude is None) != (self.longitude is None):
            raise ValueError("give both latitude and longitude, or neither")
        return self


class WarehouseUpdate(Input):
    name: Name | None = None
    is_active: bool | None = None


class WarehouseOut(Output):
    id: int
    code: str
    name: str
    kind: str
    address: dict[str, str | None]
    latitude: float | None
    longitude: float | None
    is_active: bool
    created_at: datetime


class BinCreate(Input):
    code: Code
    x_m: Annotated[float, Field(ge=0, le=100_000)]
    y_m: Annotated[float, Field(ge=0, le=100_000)]
    aisle: Annotated[str, StringConstraints(max_length=16)] | None = None
    level: Annotated[str, StringConstraints(max_length=16)] | None = None


class BinOut(Output):
    id: int
    code: str
    x_m: float
    y_m: float
    aisle: str | None
    level: str | None


class ReceiptLine(Input):
    sku: Sku
    quantity: Quantity
    bin: Code | None = None


class ReceiptCreate(Input):
    warehouse: Code
    reference: Reference | None = None
    lines: list[ReceiptLine] = Field(min_length=1, max_length=1000)


class AdjustmentCreate(Input):
    warehouse: Code
    sku: Sku
    bin: Code | None = None
    delta: Annotated[int, Field(ge=-1_000_000, le=1_000_000)]
    reason: Reason

    @model_validator(mode="after")
    def _non_zero(self) -> AdjustmentCreate:
        if self.delta == 0:
            raise ValueError("delta must not be zero")
        return self


class TransferLine(Input):
    sku: Sku
    quantity: Quantity


class TransferCreate(Input):
    from_warehouse: Code
    to_warehouse: Code
    reference: Reference | None = None
    lines: list[TransferLine] = Field(min_length=1, max_length=1000)

    @model_validator(mode="after")
    def _different(self) -> TransferCreate:
        if self.from_warehouse == self.to_warehouse:
            raise ValueError("from_warehouse and to_warehouse must differ")
        return self


class WarehouseStock(Output):
    warehouse: str
    on_hand: int
    reserved: int
    available: int


class StockOut(Output):
    sku: str
    on_hand: int
    reserved: int
    available: int
    warehouses: list[WarehouseStock]


class MovementOut(Output):
    id: int
    created_at: datetime
    sku: str
    warehouse: str
    bin: str | None
    kind: str
    delta_on_hand: int
    delta_reserved: int
    reason: str | None
    actor: str
    reference: str | None
    order_id: int | None


class BackorderFill(Output):
    order_id: int
    order_line_id: int
    sku: str
    quantity: int
    still_backordered: int


class StockChangeOut(Output):
    """What a receipt, adjustment or transfer did: the new levels and any backorders it filled."""

    kind: str
    reference: str | None
    levels: list[StockOut]
    backorders_filled: list[BackorderFill]
