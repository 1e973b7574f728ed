"""Returns API shapes, split by direction."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, model_validator

from oms.returns.rules import Disposition, Grade
from oms.schemas import Amount, Code, Email, Input, Output, Quantity, Sku
from oms.web.params import MAX_ID

ReasonCode = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=r"^[a-z][a-z0-9_]*$")]
Text = Annotated[str, StringConstraints(min_length=1, max_length=1000)]


# --- policy --------------------------------------------------------------------------------------


class ReasonIn(Input):
    code: ReasonCode
    label: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    shop_at_fault: bool = False


class PolicyPut(Input):
    """A channel's return policy (or the default, without ``channel``); every field has the default's value
    when left out."""

    channel: Code | None = Field(default=None, description="The channel this policy is for; none: the default")
    window_days: int = Field(default=30, ge=0, le=3650, description="Days from delivery a return may be asked for")
    non_returnable_skus: list[Sku] = Field(default_factory=list, max_length=1000)
    reasons: list[ReasonIn] | None = Field(default=None, max_length=50, description="Default: the standard reasons")
    return_shipping_paid_by: Literal["customer", "shop"] = "shop"
    return_shipping_fee: Amount = Decimal(0)
    restocking_fee_pct: Annotated[Decimal, Field(ge=0, le=100, decimal_places=2)] = Decimal(0)
    refund_shipping: Literal["never", "shop_at_fault", "always"] = "shop_at_fault"
    refund_method: Literal["original_payment", "store_credit"] = "original_payment"
    exchange_allowed: bool = True


class PolicyOut(Output):
    channel: str | None
    window_days: int
    non_returnable_skus: list[str]
    reasons: list[dict[str, Any]]
    return_shipping_paid_by: str
    return_shipping_fee: Decimal
    restocking_fee_pct: Decimal
    refund_shipping: str
    refund_method: str
    exchange_allowed: bool
    updated_at: datetime | None


# --- asking for a return -------------------------------------------------------------------------


class ReturnLineIn(Input):
    sku: Sku
    quantity: Quantity
    reason: ReasonCode


class ReturnCreate(Input):
    """Staff send ``order_id``; a customer without a login sends ``order_number`` and ``email``."""

    order_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    order_number: Annotated[str, StringConstraints(min_length=1, max_length=32)] | None = None
    email: Email | None = None
    lines: list[ReturnLineIn] = Field(min_length=1, max_length=100)
    comment: Text | None = None

    @model_validator(mode="after")
    def _one_way_to_name_the_order(self) -> ReturnCreate:
        if (self.order_id is None) == (self.order_number is None):
            raise ValueError("give order_id (staff) or order_number with email (customers)")
        if self.order_number is not None and self.email is None:
            raise ValueError("order_number needs the email the order was placed with")
        return self


class ApproveIn(Input):
    warehouse: Code | None = Field(default=None, description="Where it comes back to; default: where it shipped from")
    label: bool = Field(default=True, description="Buy a return label (false: the customer brings it to a shop)")


class RejectIn(Input):
    reason: Annotated[str, StringConstraints(min_length=1, max_length=300)]


class ReceivedItem(Input):
    item: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(description="SKU or barcode")
    quantity: Quantity = 1


class ReceiveIn(Input):
    warehouse: Code
    rma: Annotated[str, StringConstraints(min_length=1, max_length=32)] = Field(description="The RMA scanned")
    items: list[ReceivedItem] = Field(default_factory=list, max_length=500)


class InspectedUnit(Input):
    sku: Sku
    grade: Grade
    disposition: Disposition | None = Field(default=None, description="Default: from the grade")
    bin: Code | None = Field(default=None, description="Sellable bin for a restocked unit")
    note: Annotated[str, StringConstraints(max_length=300)] | None = None


class InspectIn(Input):
    units: list[InspectedUnit] = Field(min_length=1, max_length=500)


class ExchangeLine(Input):
    sku: Sku
    quantity: Quantity


class ExchangeIn(Input):
    lines: list[ExchangeLine] = Field(min_length=1, max_length=100)


# --- what comes back -----------------------------------------------------------------------------


class ReturnLineOut(Output):
    sku: str
    name: str
    quantity: int
    reason: str
    received: int
    restocked: int
    quarantined: int
    written_off: int


class ReturnOut(Output):
    id: int
    rma: str
    order_id: int
    order_number: str
    status: str
    customer_email: str
    requested_by: str
    comment: str | None
    warehouse: str | None
    carrier: str | None
    tracking_number: str | None
    label_url: str | None
    resolution: str | None
    currency: str
    refund_total: Decimal | None
    exchange_order_id: int | None
    note: str | None
    lines: list[ReturnLineOut]
    created_at: datetime
    updated_at: datetime


class RefundOut(Output):
    id: int
    order_id: int
    return_id: int | None
    amount: Decimal
    currency: str
    method: str
    breakdown: dict[str, Any]
    payment_status: str
    created_at: datetime


class ReportRow(Output):
    key: str
    returned_units: int
    sold_units: int | None = None
    return_rate: float | None = None


class ReturnsReport(Output):
    by_product: list[ReportRow]
    by_reason: list[ReportRow]
    returns: int
    refunded: int
    average_days_to_refund: float | None
