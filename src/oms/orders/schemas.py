from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from oms.money import check_amount, to_currency
from oms.schemas import Amount, Code, Country, CurrencyCode, Email, Input, Instant, Output, Quantity, ServiceLevel, Sku

Text = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class Customer(Input):
    email: Email
    name: Text | None = None
    phone: Annotated[str, StringConstraints(max_length=40)] | None = None


class Address(Input):
    name: Text
    line1: Text
    line2: Text | None = None
    city: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    region: Annotated[str, StringConstraints(max_length=100)] | None = None
    postal_code: Annotated[str, StringConstraints(min_length=1, max_length=20)]
    country: Country
    latitude: Annotated[float, Field(ge=-90, le=90)] | None = None
    longitude: Annotated[float, Field(ge=-180, le=180)] | None = None


class LineIn(Input):
    sku: Sku
    quantity: Quantity
    unit_price: Amount


class PaymentIntent(StrEnum):
    PENDING = "pending"
    AUTHORIZED = "authorized"
    PAID = "paid"


class PaymentIn(Input):
    status: PaymentIntent
    amount: Amount
    method: Annotated[str, StringConstraints(max_length=64)] | None = None
    reference: Annotated[str, StringConstraints(max_length=200)] | None = None


class OrderCreate(Input):
    channel: Code
    external_id: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = None
    customer: Customer
    shipping_address: Address
    lines: list[LineIn] = Field(min_length=1, max_length=500)
    currency: CurrencyCode
    shipping_total: Amount = Decimal(0)
    tax_total: Amount = Decimal(0)
    discount_total: Amount = Decimal(0)
    total: Amount | None = None
    payment: PaymentIn | None = None
    ship_by: Instant | None = Field(
        default=None, description="Promised dispatch; default: the channel's handling days."
    )
    deliver_by: Instant | None = Field(default=None, description="Promised delivery: rate shopping meets it.")
    service_level: ServiceLevel | None = Field(
        default=None,
        description="Service level bought at checkout (economy, standard, express); default: the channel's.",
    )

    @model_validator(mode="after")
    def _amounts_fit_currency(self) -> OrderCreate:
        c = self.currency
        for i, line in enumerate(self.lines):
            line.unit_price = check_amount(line.unit_price, c, f"lines[{i}].unit_price")
        self.shipping_total = check_amount(self.shipping_total, c, "shipping_total")
        self.tax_total = check_amount(self.tax_total, c, "tax_total")
        self.discount_total = check_amount(self.discount_total, c, "discount_total")
        if self.total is not None:
            self.total = check_amount(self.total, c, "total")
        if self.payment is not None:
            self.payment.amount = check_amount(self.payment.amount, c, "payment.amount")
        return self


class PaymentCreate(Input):
    status: Annotated[str, StringConstraints(pattern="^(authorized|paid)$")]
    amount: Amount
    method: Annotated[str, StringConstraints(max_length=64)] | None = None
    reference: Annotated[str, StringConstraints(max_length=200)] | None = None


class Reason(Input):
    reason: Annotated[str, StringConstraints(max_length=300)] | None = None


class AllocationOut(Output):
    warehouse: str
    quantity: int


class LineOut(Output):
    id: int
    line_no: int
    sku: str
    name: str
    quantity: int
    unit_price: Decimal
    reserved: int
    backordered: int
    shipped: int = 0
    allocations: list[AllocationOut]


class CustomerOut(Output):
    email: str
    name: str | None
    phone: str | None


class AddressOut(Output):
    name: str
    line1: str
    line2: str | None
    city: str
    region: str | None
    postal_code: str
    country: str
    latitude: float | None
    longitude: float | None


class PaymentOut(Output):
    id: int
    status: str
    amount: Decimal
    currency: str
    method: str | None
    reference: str | None
    created_at: datetime

    @model_validator(mode="after")
    def _in_currency_units(self) -> PaymentOut:
        self.amount = to_currency(self.amount, self.currency)
        return self


class OrderHead(Output):
    """What every view of an order shows."""

    id: int
    number: str
    channel: str
    external_id: str | None
    status: str
    payment_status: str
    currency: str
    total: Decimal
    created_at: datetime

    @model_validator(mode="after")
    def _total_in_currency_units(self) -> OrderHead:
        self.total = to_currency(self.total, self.currency)
        return self


class OrderSummary(OrderHead):
    customer_email: str
    customer_name: str | None


class OrderOut(OrderHead):
    customer: CustomerOut
    shipping_address: AddressOut
    subtotal: Decimal
    shipping_total: Decimal
    tax_total: Decimal
    discount_total: Decimal
    authorized_amount: Decimal
    paid_amount: Decimal
    lines: list[LineOut]
    warehouses: list[str]
    routing: dict[str, Any] | None = None
    ship_by: datetime | None = None
    deliver_by: datetime | None = None
    service_level: str | None = None
    updated_at: datetime

    @model_validator(mode="after")
    def _amounts_in_currency_units(self) -> OrderOut:
        c = self.currency
        for name in ("subtotal", "shipping_total", "tax_total", "discount_total", "authorized_amount", "paid_amount"):
            setattr(self, name, to_currency(getattr(self, name), c))
        for line in self.lines:
            line.unit_price = to_currency(line.unit_price, c)
        return self


class OrderEventOut(Output):
    id: int
    created_at: datetime
    actor: str
    type: str
    message: str
    data: dict[str, Any] | None


class RerouteRequest(Input):
    exclude: Annotated[list[Code], Field(max_length=50)] = Field(
        default_factory=list, description="Warehouse codes not to ship from this time (closed, late, ...)"
    )
    reason: Annotated[str, Field(min_length=1, max_length=300)] | None = None


class RoutingOut(Output):
    """How an order's warehouses were chosen (oms.routing): stored when it was routed."""

    model_config = ConfigDict(extra="allow")  # the planner may record more than is listed here

    order_id: int
    number: str
    strategy: str | None = None
    method: str | None = Field(default=None, description="single | exhaustive | pairs | branch_and_bound | ...")
    optimal: bool | None = None
    destination: dict[str, Any] | None = Field(default=None, description="The geocoded address and its source.")
    fallback_reason: str | None = Field(default=None, description="Why distance could not be used, if so.")
    cost_model: dict[str, Any] | None = None
    candidates: list[dict[str, Any]] = Field(
        default_factory=list, description="Every warehouse considered: distance_km, can_cover_lines, score."
    )
    chosen: dict[str, Any] | None = None
    runner_up: dict[str, Any] | None = None
    short: dict[str, Any] | list[Any] | None = None
    why: str | None = Field(default=None, description="Why the winner won, in one sentence.")
    warehouse_order: list[str] = Field(default_factory=list, description="The channel's list when it was routed.")
    rerouted: dict[str, Any] | None = Field(default=None, description="When, by whom, why, excluding what.")
