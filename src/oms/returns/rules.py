"""Return and refund rules: the RMA lifecycle, the return policy as data, eligibility, dispositions and
the refund arithmetic. Pure: no framework, no database; callers pass in what they loaded.

The refund (``compute_refund``), for returned lines worth ``items`` out of an order whose lines are
worth ``subtotal``; ``r = items / subtotal`` (0 when the subtotal is 0):

    items            = sum(unit_price * quantity)
    discount_share   = -(order discount * r)
    tax_share        = order tax * r
    shipping         = order shipping * r     when policy.refund_shipping is "always", or is
                                              "shop_at_fault" and some reason is the shop's fault; else 0
    restocking_fee   = -(restocking_fee_pct / 100 * (items + discount_share))    0 when the shop is at fault
    return_shipping_fee = -policy.return_shipping_fee    when the customer pays for returns and the shop
                                                          is not at fault; else 0
    total            = the sum of the above, kept within [0, paid - refunded]

Tax is shared "pro rata to value less discount share": the discount itself is shared pro rata to
value, so the net values stand in the same proportion as the gross ones and the ratio is ``r`` (which
also stays defined when the discount is the whole subtotal). Each component is rounded to the
currency's minor unit (ROUND_HALF_UP) before the sum, so the breakdown shown adds up to the total.
Several partial returns of one order may, by that rounding, refund a minor unit more or less in
total than one return of everything; the cap at ``paid - refunded`` keeps the sum within what was paid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Literal

from oms.errors import Conflict, InvalidInput, InvalidTransition
from oms.money import check_amount, currency_exponent
from oms.orders.rules import PaymentStatus


class ReturnStatus(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    LABEL_SENT = "label_sent"
    IN_TRANSIT = "in_transit"
    RECEIVED = "received"
    INSPECTED = "inspected"
    REFUNDED = "refunded"
    EXCHANGED = "exchanged"
    CLOSED = "closed"


_R = ReturnStatus

# The RMA lifecycle as data: from each status, the statuses it may move to.
TRANSITIONS: dict[ReturnStatus, frozenset[ReturnStatus]] = {
    # Customer service decides on the request.
    _R.REQUESTED: frozenset({_R.APPROVED, _R.REJECTED}),
    # Approved: the shop sends a return label, or the customer drops the parcel off / staff take it
    # back at the counter, which skips the label and the carrier.
    _R.APPROVED: frozenset({_R.LABEL_SENT, _R.RECEIVED}),
    # Label sent: the carrier scans the parcel, or it arrives (or is handed in) without a scan.
    _R.LABEL_SENT: frozenset({_R.IN_TRANSIT, _R.RECEIVED}),
    # In transit: the only way on is arrival at the warehouse.
    _R.IN_TRANSIT: frozenset({_R.RECEIVED}),
    # Received goods are graded before any money or replacement leaves.
    _R.RECEIVED: frozenset({_R.INSPECTED}),
    # Inspected: the customer gets money back or a replacement.
    _R.INSPECTED: frozenset({_R.REFUNDED, _R.EXCHANGED}),
    # Refunded, exchanged or rejected: nothing left to do but close the case.
    _R.REFUNDED: frozenset({_R.CLOSED}),
    _R.EXCHANGED: frozenset({_R.CLOSED}),
    _R.REJECTED: frozenset({_R.CLOSED}),
    _R.CLOSED: frozenset(),
}


def check_transition(current: str, target: ReturnStatus, action: str) -> None:
    allowed = TRANSITIONS[ReturnStatus(current)]
    if target not in allowed:
        raise InvalidTransition(
            f"cannot {action} a return that is {current}",
            current_status=current,
            allowed=sorted(s.value for s in allowed),
        )


# -- inspection -----------------------------------------------------------------------------------


class Disposition(StrEnum):
    RESTOCK = "restock"
    QUARANTINE = "quarantine"  # kept apart until someone decides: refurbish, sell as used, or scrap
    WRITE_OFF = "write_off"


class Grade(StrEnum):
    NEW = "new"
    LIKE_NEW = "like_new"
    USED = "used"
    DAMAGED = "damaged"


_DISPOSITIONS = {
    Grade.NEW: Disposition.RESTOCK,
    Grade.LIKE_NEW: Disposition.RESTOCK,
    Grade.USED: Disposition.QUARANTINE,
    Grade.DAMAGED: Disposition.WRITE_OFF,
}


def default_disposition(grade: Grade) -> Disposition:
    """What inspection suggests for a grade; the inspector may choose otherwise."""
    return _DISPOSITIONS[Grade(grade)]


# -- policy ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reason:
    code: str
    label: str
    shop_at_fault: bool  # waives fees and refunds the shipping, per the policy


DEFAULT_REASONS: tuple[Reason, ...] = (
    Reason("damaged", "Arrived damaged", True),
    Reason("wrong_item", "Wrong item sent", True),
    Reason("not_as_described", "Not as described", True),
    Reason("changed_mind", "Changed my mind", False),
    Reason("too_small", "Too small", False),
    Reason("too_large", "Too large", False),
)

_PAID_BY = ("customer", "shop")
_REFUND_SHIPPING = ("never", "shop_at_fault", "always")
_REFUND_METHODS = ("original_payment", "store_credit")


def _policy_error(detail: str) -> InvalidInput:
    return InvalidInput(detail, code="invalid_policy")


@dataclass(frozen=True)
class Policy:
    window_days: int = 30  # counted from delivery
    non_returnable_skus: frozenset[str] = frozenset()
    reasons: tuple[Reason, ...] = DEFAULT_REASONS
    return_shipping_paid_by: Literal["customer", "shop"] = "shop"
    # What the customer pays for the return label when they pay for returns, taken off the refund
    # unless the reason is the shop's fault.
    return_shipping_fee: Decimal = Decimal("0")
    # Percent (0-100) of the returned items' net value, waived when the reason is the shop's fault.
    restocking_fee_pct: Decimal = Decimal("0")
    # Refund the returned items' share of the original outbound shipping.
    refund_shipping: Literal["never", "shop_at_fault", "always"] = "shop_at_fault"
    refund_method: Literal["original_payment", "store_credit"] = "original_payment"
    exchange_allowed: bool = True

    def __post_init__(self) -> None:
        # A policy is data an owner edits (and may load from JSON), so its values are checked here,
        # once, rather than at every use.
        if isinstance(self.window_days, bool) or not isinstance(self.window_days, int):
            raise _policy_error(f"window_days must be a whole number of days, not {self.window_days!r}")
        if not 0 <= self.window_days <= 3650:
            raise _policy_error(f"window_days must be 0 to 3650, not {self.window_days}")
        for name in ("return_shipping_fee", "restocking_fee_pct"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | Decimal):
                raise _policy_error(f"{name} must be a Decimal, not {value!r}")  # floats lose cents
            value = Decimal(value)
            if not value.is_finite() or value < 0:
                raise _policy_error(f"{name} must be zero or more, not {value}")
            object.__setattr__(self, name, value)
        if self.restocking_fee_pct > 100:
            raise _policy_error(f"restocking_fee_pct must be 0 to 100, not {self.restocking_fee_pct}")
        object.__setattr__(self, "non_returnable_skus", frozenset(self.non_returnable_skus))
        object.__setattr__(self, "reasons", tuple(self.reasons))
        if not self.reasons:
            raise _policy_error("a policy needs at least one return reason")
        codes = [reason.code for reason in self.reasons]
        if any(not code for code in codes):
            raise _policy_error("every return reason needs a code")
        if len(set(codes)) != len(codes):
            repeated = sorted({code for code in codes if codes.count(code) > 1})
            raise _policy_error(f"return reason codes must be unique; repeated: {', '.join(repeated)}")
        for name, allowed in (
            ("return_shipping_paid_by", _PAID_BY),
            ("refund_shipping", _REFUND_SHIPPING),
            ("refund_method", _REFUND_METHODS),
        ):
            if getattr(self, name) not in allowed:
                raise _policy_error(f"{name} must be one of {', '.join(allowed)}, not {getattr(self, name)!r}")

    def reason(self, code: str) -> Reason:
        for reason in self.reasons:
            if reason.code == code:
                return reason
        raise InvalidInput(
            f"{code!r} is not a return reason this shop offers; choose one of {', '.join(self.reason_codes)}",
            code="unknown_reason",
            offered=list(self.reason_codes),
        )

    @property
    def reason_codes(self) -> tuple[str, ...]:
        return tuple(reason.code for reason in self.reasons)


# -- eligibility ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveredLine:
    """What the customer may return from, per order line."""

    order_line_id: int
    sku: str
    name: str
    quantity: int
    unit_price: Decimal
    returnable: bool  # the product's own flag
    delivered: int  # units shipped and delivered
    already_returned: int  # units on this order's other returns that were not rejected


@dataclass(frozen=True)
class RequestedLine:
    order_line_id: int
    quantity: int
    reason: str


@dataclass(frozen=True)
class Refusal:
    order_line_id: int | None  # None: the whole request is refused
    code: str
    detail: str


def check_eligibility(
    policy: Policy,
    lines: Sequence[DeliveredLine],
    requested: Sequence[RequestedLine],
    delivered_at: datetime | None,
    now: datetime,
) -> list[Refusal]:
    """Every reason the request cannot be accepted, so the customer can fix them all at once;
    an empty list means eligible."""
    refusals: list[Refusal] = []
    if not requested:
        refusals.append(Refusal(None, "nothing_requested", "choose at least one item to return"))
    if delivered_at is None:
        refusals.append(Refusal(None, "not_delivered", "the order has not been delivered yet"))
    else:
        last = delivered_at + timedelta(days=policy.window_days)
        if now > last:
            refusals.append(
                Refusal(
                    None,
                    "outside_window",
                    f"returns are accepted for {policy.window_days} days after delivery"
                    f" ({delivered_at.date().isoformat()}); the last day was {last.date().isoformat()}",
                )
            )

    by_id = {line.order_line_id: line for line in lines}
    seen: set[int] = set()
    for req in requested:
        line_id = req.order_line_id
        duplicate = line_id in seen
        seen.add(line_id)
        if duplicate:
            refusals.append(
                Refusal(line_id, "duplicate_line", f"order line {line_id} is listed more than once; list it once")
            )
        if req.quantity < 1:
            refusals.append(Refusal(line_id, "bad_quantity", f"quantity must be at least 1, not {req.quantity}"))
        if req.reason not in policy.reason_codes:
            refusals.append(
                Refusal(
                    line_id,
                    "unknown_reason",
                    f"{req.reason!r} is not a return reason; choose one of {', '.join(policy.reason_codes)}",
                )
            )
        if duplicate:
            continue  # the line itself was judged at its first mention
        line = by_id.get(line_id)
        if line is None:
            refusals.append(Refusal(line_id, "unknown_line", f"order line {line_id} is not on this order"))
            continue
        if not line.returnable or line.sku in policy.non_returnable_skus:
            refusals.append(Refusal(line_id, "not_returnable", f"{line.name} ({line.sku}) cannot be returned"))
            continue  # how many could be returned means nothing for an item that cannot be
        left = max(line.delivered - line.already_returned, 0)
        if req.quantity >= 1 and req.quantity > left:
            refusals.append(Refusal(line_id, "too_many", _too_many_detail(line, req.quantity, left)))
    return refusals


def _too_many_detail(line: DeliveredLine, asked: int, left: int) -> str:
    if left == 0:
        return f"no more units of {line.name} ({line.sku}) can be returned: {_units_story(line)}"
    return f"{asked} units of {line.name} ({line.sku}) asked for, at most {left} may still be returned: " + (
        _units_story(line)
    )


def _units_story(line: DeliveredLine) -> str:
    story = f"{line.delivered} delivered"
    if line.already_returned:
        story += f", {line.already_returned} already on other returns"
    return story


# -- refunds --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderMoney:
    """The order's money, to share its discount, tax and shipping over the returned lines."""

    currency: str
    lines_subtotal: Decimal
    discount_total: Decimal
    shipping_total: Decimal
    tax_total: Decimal
    paid: Decimal
    refunded: Decimal


@dataclass(frozen=True)
class RefundLine:
    order_line_id: int
    quantity: int  # units returned
    unit_price: Decimal
    line_quantity: int  # units ordered on the line


@dataclass(frozen=True)
class RefundBreakdown:
    items: Decimal
    discount_share: Decimal  # <= 0
    tax_share: Decimal
    shipping: Decimal
    restocking_fee: Decimal  # <= 0
    return_shipping_fee: Decimal  # <= 0
    total: Decimal
    capped: bool  # the total is not the sum of the components: held to paid - refunded, or to 0
    notes: tuple[str, ...]


def _quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-currency_exponent(currency))


def _round(value: Decimal, quantum: Decimal) -> Decimal:
    return value.quantize(quantum, rounding=ROUND_HALF_UP)


def refundable_left(money: OrderMoney) -> Decimal:
    return max(money.paid - money.refunded, Decimal(0))


def compute_refund(
    policy: Policy, money: OrderMoney, lines: Sequence[RefundLine], reasons: Sequence[Reason]
) -> RefundBreakdown:
    """The refund for returned lines, component by component; formulas in the module docstring."""
    q = _quantum(money.currency)
    cur = money.currency
    if not lines:
        raise InvalidInput("a refund needs at least one returned line", code="nothing_requested")
    for line in lines:
        if not 1 <= line.quantity <= line.line_quantity:
            raise InvalidInput(
                f"order line {line.order_line_id}: {line.quantity} units returned of {line.line_quantity} ordered",
                code="bad_quantity",
            )
        if line.unit_price < 0:
            raise InvalidInput(f"order line {line.order_line_id} has a negative price", code="invalid_amount")
    shop_at_fault = any(reason.shop_at_fault for reason in reasons)
    why = "the shop's fault" if shop_at_fault else "not the shop's fault"

    value = sum((line.unit_price * line.quantity for line in lines), Decimal(0))
    if value > money.lines_subtotal:
        raise InvalidInput(
            f"the returned items ({value}) are worth more than the order's lines ({money.lines_subtotal})",
            code="lines_exceed_order",
        )
    items = _round(value, q)
    ratio = value / money.lines_subtotal if money.lines_subtotal > 0 else Decimal(0)
    notes = [
        "items: "
        + " + ".join(f"{line.quantity} × {_round(line.unit_price, q)} (line {line.order_line_id})" for line in lines)
        + f" = {items} {cur}"
    ]

    discount_share = -_round(money.discount_total * ratio, q)
    if money.discount_total:
        notes.append(
            f"discount share: {-discount_share} {cur} of the order discount {_round(money.discount_total, q)},"
            f" pro rata to value ({_round(value, q)} of {_round(money.lines_subtotal, q)})"
        )
    tax_share = _round(money.tax_total * ratio, q)
    if money.tax_total:
        notes.append(f"tax share: {tax_share} {cur} of the order tax {_round(money.tax_total, q)}, pro rata to value")

    refund_shipping = policy.refund_shipping == "always" or (
        policy.refund_shipping == "shop_at_fault" and shop_at_fault
    )
    shipping = _round(money.shipping_total * ratio, q) if refund_shipping else Decimal(0).quantize(q)
    if money.shipping_total:
        if refund_shipping:
            notes.append(
                f"shipping: {shipping} {cur} of the original {_round(money.shipping_total, q)}, pro rata to value"
            )
        elif policy.refund_shipping == "never":
            notes.append("shipping: not refunded (the policy never refunds the original shipping)")
        else:
            notes.append(f"shipping: not refunded (the reason is {why})")

    restocking_fee = Decimal(0).quantize(q)
    if policy.restocking_fee_pct:
        if shop_at_fault:
            notes.append("restocking fee: waived (the reason is the shop's fault)")
        else:
            restocking_fee = -_round(policy.restocking_fee_pct / 100 * (items + discount_share), q)
            notes.append(
                f"restocking fee: {-restocking_fee} {cur}, {policy.restocking_fee_pct}% of {items + discount_share}"
            )

    return_fee = Decimal(0).quantize(q)
    if policy.return_shipping_paid_by == "customer" and policy.return_shipping_fee:
        if shop_at_fault:
            notes.append("return label: free (the reason is the shop's fault)")
        else:
            return_fee = -_round(policy.return_shipping_fee, q)
            notes.append(f"return label: {-return_fee} {cur}, paid by the customer")

    summed = items + discount_share + tax_share + shipping + restocking_fee + return_fee
    # Round the ceiling down: a refund must never pass what is left, even by a fraction of a cent.
    left = refundable_left(money).quantize(q, rounding=ROUND_FLOOR)
    total = min(max(summed, Decimal(0)), left).quantize(q)
    capped = total != summed
    if summed > left:
        notes.append(
            f"capped: {summed} {cur} computed, but only {left} is left to refund of {_round(money.paid, q)} paid"
        )
    elif summed < 0:
        notes.append(f"nothing to refund: the fees take more than the items are worth ({summed} {cur})")
    notes.append(f"refund: {total} {cur}")
    return RefundBreakdown(
        items=items,
        discount_share=discount_share,
        tax_share=tax_share,
        shipping=shipping,
        restocking_fee=restocking_fee,
        return_shipping_fee=return_fee,
        total=total,
        capped=capped,
        notes=tuple(notes),
    )


def payment_status_after_refund(paid: Decimal, refunded: Decimal) -> str:
    """The order's payment status once ``refunded`` (all refunds so far) has gone back."""
    if refunded > paid:
        raise Conflict(
            f"refunds of {refunded} would be more than the {paid} paid",
            code="refund_exceeds_payment",
        )
    if refunded <= 0:
        raise InvalidInput(
            f"after a refund the refunded amount is more than zero, not {refunded}", code="invalid_amount"
        )
    return PaymentStatus.REFUNDED if refunded == paid else PaymentStatus.PARTIALLY_REFUNDED


def check_refund_amount(money: OrderMoney, amount: Decimal) -> None:
    """A refund the staff type in by hand: positive, in the currency's units, within what is left."""
    if amount <= 0:
        raise InvalidInput(f"a refund must be more than zero, not {amount}", code="invalid_amount")
    check_amount(amount, money.currency, "refund")
    left = refundable_left(money)
    if amount > left:
        raise Conflict(
            f"a refund of {amount} is more than the {left} {money.currency} left to refund"
            f" ({money.paid} paid, {money.refunded} refunded)",
            code="refund_exceeds_payment",
            refundable=str(left),
        )


def rma_number(return_id: int) -> str:
    return f"RMA-{return_id:06d}"
