from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from oms.schemas import Code, CurrencyCode, Input, Name, Output


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


class ChannelOut(Output):
    id: int
    code: str
    name: str
    kind: str
    currency: str | None
    is_active: bool
    warehouses: list[str]
    created_at: datetime
