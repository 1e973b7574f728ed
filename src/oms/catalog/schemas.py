from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, Field, model_validator

from oms.catalog.rules import normalise_gtin
from oms.money import check_amount, to_currency
from oms.schemas import Amount, CurrencyCode, Input, Name, Output, Sku

Gtin = Annotated[str, Field(max_length=20), AfterValidator(normalise_gtin)]
Millimetres = Annotated[int, Field(gt=0, le=10_000)]
Grams = Annotated[int, Field(ge=0, le=1_000_000)]


class ProductCreate(Input):
    sku: Sku
    name: Name
    barcode: Gtin | None = None
    price: Amount
    currency: CurrencyCode = "USD"
    weight_g: Grams
    length_mm: Millimetres
    width_mm: Millimetres
    height_mm: Millimetres
    fragile: bool = False
    returnable: bool = True
    allow_backorder: bool = False
    reorder_point: Annotated[int, Field(ge=0, le=1_000_000_000)] | None = None

    @model_validator(mode="after")
    def _price_fits_currency(self) -> ProductCreate:
        self.price = check_amount(self.price, self.currency, "price")
        return self


class ProductUpdate(Input):
    """Every field optional; ``price`` and ``currency`` also need the prices:write scope."""

    name: Name | None = None
    barcode: Gtin | None = None
    price: Amount | None = None
    currency: CurrencyCode | None = None
    weight_g: Grams | None = None
    length_mm: Millimetres | None = None
    width_mm: Millimetres | None = None
    height_mm: Millimetres | None = None
    fragile: bool | None = None
    returnable: bool | None = None
    allow_backorder: bool | None = None
    reorder_point: Annotated[int, Field(ge=0, le=1_000_000_000)] | None = None
    is_active: bool | None = None


class ProductOut(Output):
    id: int
    sku: str
    name: str
    barcode: str | None
    price: Decimal
    currency: str
    weight_g: int
    length_mm: int
    width_mm: int
    height_mm: int
    fragile: bool
    returnable: bool
    allow_backorder: bool
    reorder_point: int | None
    is_active: bool
    created_at: datetime
    updated_at: datetime

    @model_validator(mode="after")
    def _in_currency_units(self) -> ProductOut:
        self.price = to_currency(self.price, self.currency)
        return self
