"""Order lifecycle rules: statuses, the transition table, totals and payment status. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from enum import StrEnum

from oms.errors import Conflict, InvalidInput, InvalidTransition


class OrderStatus(StrEnum):
    PENDING_PAYMENT = "pending_payment"
    CONFIRMED = "confirmed"
    BACKORDERED = "backordered"  # paid for, some lines wait for stock
    IN_FULFILMENT = "in_fulfilment"
    PARTIALLY_SHIPPED = "partially_shipped"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    COMPLETED = "completed"
    ON_HOLD = "on_hold"
    CANCELLED = "cancelled"


class PaymentStatus(StrEnum):
    PENDING = "pending"
    PARTIALLY_PAID = "partially_paid"
    AUTHORIZED = "authorized"
    PAID = "paid"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    VOIDED = "voided"


S = OrderStatus

# The lifecycle as data: from each status, the statuses it may move to. docs/order-lifecycle.md
# draws this table; a test keeps the two in step.
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.PENDING_PAYMENT: frozenset({S.CONFIRMED, S.BACKORDERED, S.ON_HOLD, S.CANCELLED}),
    S.CONFIRMED: frozenset({S.BACKORDERED, S.IN_FULFILMENT, S.ON_HOLD, S.CANCELLED}),
    # A short pick backorders an order whose picked units still ship: partially shipped.
    S.BACKORDERED: frozenset({S.CONFIRMED, S.PARTIALLY_SHIPPED, S.ON_HOLD, S.CANCELLED}),
    S.IN_FULFILMENT: frozenset({S.BACKORDERED, S.PARTIALLY_SHIPPED, S.SHIPPED, S.ON_HOLD, S.CANCELLED}),
    S.PARTIALLY_SHIPPED: frozenset({S.SHIPPED, S.ON_HOLD}),
    S.SHIPPED: frozenset({S.DELIVERED}),
    S.DELIVERED: frozenset({S.COMPLETED}),
    S.ON_HOLD: frozenset(
        {S.PENDING_PAYMENT, S.CONFIRMED, S.BACKORDERED, S.IN_FULFILMENT, S.PARTIALLY_SHIPPED, S.CANCELLED}
    ),
    S.COMPLETED: frozenset(),
    S.CANCELLED: frozenset(),
}

# Statuses that derive_status may choose between while an order waits to be fulfilled.
OPEN_STATUSES = frozenset({S.PENDING_PAYMENT, S.CONFIRMED, S.BACKORDERED})


def check_transition(current: str, target: OrderStatus, action: str) -> None:
    allowed = TRANSITIONS[OrderStatus(current)]
    if target not in allowed:
        raise InvalidTransition(
            f"cannot {action} an order that is {current}",
            current_status=current,
            allowed=sorted(s.value for s in allowed),
        )


def derive_status(payment_status: str, backordered_units: int) -> OrderStatus:
    """The status of an order that is waiting to be fulfilled, from its payment and stock."""
    if payment_status not in (PaymentStatus.AUTHORIZED, PaymentStatus.PAID):
        return S.PENDING_PAYMENT
    return S.BACKORDERED if backordered_units > 0 else S.CONFIRMED


def payment_status_for(total: Decimal, authorized: Decimal, paid: Decimal) -> PaymentStatus:
    if paid >= total:
        return PaymentStatus.PAID
    if authorized + paid >= total:
        return PaymentStatus.AUTHORIZED
    return PaymentStatus.PARTIALLY_PAID if paid > 0 else PaymentStatus.PENDING


MAX_AMOUNT = Decimal(10) ** 14  # money columns hold 14 digits before the point


def compute_total(
    line_amounts: Iterable[tuple[int, Decimal]],
    shipping: Decimal,
    tax: Decimal,
    discount: Decimal,
    stated_total: Decimal | None,
) -> tuple[Decimal, Decimal]:
    """(subtotal, total). A stated total must equal lines + shipping + tax - discount."""
    subtotal = sum((q * price for q, price in line_amounts), Decimal(0))
    total = subtotal + shipping + tax - discount
    if max(subtotal, total, shipping, tax, discount) >= MAX_AMOUNT:
        raise InvalidInput(f"amounts must stay below {MAX_AMOUNT}", code="amount_too_large")
    if total < 0:
        raise InvalidInput(
            f"the discount {discount} is more than the order is worth ({subtotal + shipping + tax})",
            code="totals_mismatch",
        )
    if stated_total is not None and stated_total != total:
        raise InvalidInput(
            f"total {stated_total} does not equal lines {subtotal} + shipping {shipping} + tax {tax}"
            f" - discount {discount} = {total}",
            code="totals_mismatch",
            expected_total=str(total),
        )
    return subtotal, total


def check_payment(
    status: str,
    amount: Decimal,
    total: Decimal,
    authorized: Decimal,
    paid: Decimal,
    order_status: str,
) -> tuple[Decimal, Decimal]:
    """New (authorized, paid) after recording a payment; refuses what the order cannot take."""
    if order_status == S.CANCELLED:
        raise InvalidTransition("cannot record a payment on a cancelled order", current_status=order_status, allowed=[])
    if amount <= 0:
        raise InvalidInput("a payment amount must be more than zero", code="invalid_amount")
    if status == PaymentStatus.AUTHORIZED:
        if authorized + paid + amount > total:
            raise Conflict(
                f"authorising {amount} would take authorisations and captures to"
                f" {authorized + paid + amount}, more than the order total {total}",
                code="overpayment",
            )
        return authorized + amount, paid
    if paid + amount > total:
        raise Conflict(
            f"capturing {amount} would take payments to {paid + amount}, more than the order total {total}",
            code="overpayment",
        )
    # A capture draws down what was authorised first.
    return max(authorized - amount, Decimal(0)), paid + amount
