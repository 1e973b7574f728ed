from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field

from oms.schemas import Code, CurrencyCode, Input, Name, Output, ServiceLevel

HandlingDays = Annotated[
    int, Field(ge=0, le=60, description="Business days an order may take to ship when it names no ship-by date.")
]


class ChannelKind(StrEnum):
    WEB = "web"
    MARKETPLACE = "marketplace"
    POS = "pos"
    API = "api"


class ChannelCreate(Input):
    code: Code
    name: Name
    kind: ChannelKind
    currency: CurrencyCode | None = Field(default=None, description="If set, orders must be in this currency.")
    warehouses: list[Code] | None = Field(
        default=None, max_length=500, description="Warehouse codes in preference order; default: every active one."
    )
    allow_stores: bool = Field(default=True, description="May routing ship this channel's orders from shops?")
    handling_days: HandlingDays = 1
    service_level: ServiceLevel = "standard"


class ChannelUpdate(Input):
    name: Name | None = None
    allow_stores: bool | None = None
    handling_days: HandlingDays | None = None
    service_level: ServiceLevel | None = None
    is_active: bool | None = None
    warehouses: list[Code] | None = Field(
        default=None, max_length=500, description="Replaces the list; [] means every active warehouse."
    )


class ChannelOut(Output):
    id: int
    code: str
    name: str
    kind: str
    currency: str | None
    is_active: bool
    allow_stores: bool
    handling_days: int
    service_level: str
    warehouses: list[str]
    created_at: datetime
