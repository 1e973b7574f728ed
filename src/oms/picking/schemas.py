"""Picking requests and responses."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from oms.schemas import Code, Input, Instant, Output

ScanValue = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class WaveCreate(Input):
    max_orders: Annotated[int, Field(ge=1, le=100)] = 10
    max_units: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    cutoff: Instant | None = Field(None, description="Only orders created before this moment (with a time zone).")

    @model_validator(mode="after")
    def _cutoff_in_utc(self) -> WaveCreate:
        if self.cutoff is not None:
            try:
                self.cutoff = self.cutoff.astimezone(UTC)
            except OverflowError:
                raise ValueError("cutoff is out of range") from None
        return self


class ScanCreate(Input):
    """One scan: the bin, the item (GTIN barcode or SKU) or a quantity confirmed, exactly one."""

    task_id: Annotated[int, Field(ge=1, le=2**63 - 1)] | None = Field(
        None, description="The task scanned for; by default the open task first in the walk."
    )
    bin: Code | None = None
    item: ScanValue | None = None
    quantity: Annotated[int, Field(ge=1, le=1_000_000)] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> ScanCreate:
        given = [n for n in ("bin", "item", "quantity") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError("send exactly one of bin, item or quantity per scan")
        return self


class ShortCreate(Input):
    found: Annotated[int, Field(ge=0, le=1_000_000)] = Field(
        description="Units actually found in the bin for this task (fewer than it still needs)."
    )


class PickTaskOut(Output):
    id: int
    seq: int
    order_id: int
    order_number: str
    shipment_id: int
    tote: str
    bin: str | None
    x_m: float | None
    y_m: float | None
    aisle: str | None
    sku: str
    product_name: str
    barcode: str | None
    quantity: int
    picked: int
    short: int
    remaining: int
    status: str
    next_step: str | None = Field(description="bin | item | quantity, or null when the task is done")


class PickListOrderOut(Output):
    order_id: int
    order_number: str
    tote: str
    shipment_id: int
    shipment_status: str


class PickListOut(Output):
    id: int
    kind: str
    status: str
    warehouse: str
    path_length_m: float
    s_shape_length_m: float
    route: list[tuple[float, float]]
    created_by: str
    created_at: datetime
    completed_at: datetime | None
    current_task_id: int | None
    orders: list[PickListOrderOut]
    tasks: list[PickTaskOut]


class PickListSummary(Output):
    id: int
    kind: str
    status: str
    warehouse: str
    orders: int
    tasks: int
    units: int
    picked: int
    path_length_m: float
    s_shape_length_m: float
    created_at: datetime
    completed_at: datetime | None


class OrderPickListsOut(Output):
    order_id: int
    order_number: str
    order_status: str
    pick_lists: list[PickListOut]


class ScanOut(Output):
    scan_id: int
    step: str
    value: str
    accepted: bool
    task: PickTaskOut
    next_task_id: int | None = Field(description="The open task first in the walk, after this scan")
    pick_list_status: str
    shipment_status: str


class ShortOut(Output):
    task: PickTaskOut
    missing: int
    rerouted: list[dict[str, int | str]] = Field(description="Missing units reserved again: warehouse and quantity")
    backordered: int = Field(description="Missing units still waiting for stock")
    new_pick_lists: list[int]
    order_status: str
    pick_list_status: str
    shipment_status: str
