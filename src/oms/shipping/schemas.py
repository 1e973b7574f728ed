"""Shipping API shapes, split by direction."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import Field, SecretStr, StringConstraints

from oms.schemas import Code, Input, Instant, Name, Output
from oms.shipping.adapters import TrackingCode
from oms.shipping.carrier_config import ServiceConfigs

Reason = Annotated[str, StringConstraints(min_length=1, max_length=300)]

# --- carriers ------------------------------------------------------------------------------------


class CarrierPut(Input):
    name: Name
    adapter: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")] = Field(
        default="table_rate", description='"table_rate" (prices from these services) or an installed live adapter'
    )
    services: ServiceConfigs
    tracking_prefix: Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9]{1,3}$")] | None = Field(
        default=None, description="2-4 letters/digits that start this carrier's tracking numbers (table_rate)"
    )
    webhook_secret: Annotated[SecretStr, Field(min_length=16, max_length=200)] | None = Field(
        default=None, description="Signs the tracking events the carrier pushes; write-only (omit to keep)"
    )
    is_active: bool = True


class CarrierOut(Output):
    code: str
    name: str
    adapter: str
    tracking_prefix: str | None
    is_active: bool
    has_webhook_secret: bool
    services: list[dict[str, Any]]
    updated_at: datetime


# --- rates and labels ----------------------------------------------------------------------------


class ChargeOut(Output):
    code: str
    description: str
    amount: Decimal


class PackageQuoteOut(Output):
    package: int
    cost: Decimal
    zone: str
    billable_weight_g: int
    actual_weight_g: int
    dim_weight_g: int | None
    breakdown: list[ChargeOut]


class RateOptionOut(Output):
    carrier: str
    service: str
    service_name: str
    level: str
    cost: Decimal
    currency: str
    transit_days: int
    estimated_delivery: date
    meets_promise: bool | None
    packages: list[PackageQuoteOut]


class RateChoiceOut(Output):
    shipment_id: int
    chosen: RateOptionOut
    alternatives: list[RateOptionOut]
    unavailable: dict[str, str]
    rule: str
    reason: str
    promised_by_days: int | None
    service_level: str | None
    shopped_at: datetime


class LabelCreate(Input):
    carrier: Code | None = Field(default=None, description="Override the rate-shop choice (with service)")
    service: Code | None = None


class VoidCreate(Input):
    reason: Reason | None = None


class LabelOut(Output):
    package_no: int
    tracking_number: str
    carrier: str
    service: str
    cost: Decimal
    currency: str
    status: str


class ShippingOut(Output):
    """A shipment as shipping sees it."""

    id: int
    order_id: int
    order_number: str
    warehouse: str
    status: str
    carrier: str | None
    service: str | None
    service_name: str | None
    tracking_number: str | None
    tracking_url: str | None
    shipping_cost: Decimal | None
    currency: str | None
    transit_days: int | None
    estimated_delivery: date | None
    labelled_at: datetime | None
    shipped_at: datetime | None
    shipped_by: str | None
    tracking_status: str | None
    delivered_at: datetime | None
    manifest_id: int | None
    labels: list[LabelOut]
    rate_choice: dict[str, Any] | None


# --- tracking ------------------------------------------------------------------------------------


class TrackingEventIn(Input):
    id: Annotated[str, StringConstraints(min_length=1, max_length=100)] = Field(
        description="The carrier's id for this event: a replay of it is recognised and ignored"
    )
    tracking_number: Annotated[str, StringConstraints(min_length=4, max_length=40)]
    code: TrackingCode
    occurred_at: Instant
    location: Annotated[str, StringConstraints(max_length=200)] | None = None
    description: Annotated[str, StringConstraints(max_length=500)] | None = None


class TrackingWebhookIn(Input):
    events: list[TrackingEventIn] = Field(min_length=1, max_length=500)


class TrackingResultOut(Output):
    id: str
    tracking_number: str
    result: str  # applied | out_of_order | duplicate | unknown_tracking_number | not_shipped
    detail: str | None = None


class TrackingWebhookOut(Output):
    received: int
    results: list[TrackingResultOut]


class TrackingEventOut(Output):
    id: int
    code: str
    occurred_at: datetime
    location: str | None
    description: str | None
    applied: bool
    received_at: datetime


# --- manifests and promises ----------------------------------------------------------------------


class ManifestCreate(Input):
    carrier: Code
    warehouse: Code
    day: date | None = Field(default=None, description="The collection day; default: today (UTC)")


class ManifestOut(Output):
    id: int
    carrier: str
    warehouse: str
    day: date
    shipments: int
    packages: int
    tracking_numbers: list[str]
    created_by: str
    created_at: datetime


class PromiseFlagOut(Output):
    kind: str
    reason: str


class LateOrderOut(Output):
    order_id: int
    number: str
    channel: str
    status: str
    ship_by: datetime
    deliver_by: datetime | None
    estimated_delivery: date | None
    tracking_status: str | None
    flags: list[PromiseFlagOut]


class ShipCreate(Input):
    """Confirming a shipment takes no fields; the body may be empty."""
