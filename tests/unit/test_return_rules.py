"""Return rules: the RMA lifecycle, the policy, eligibility, dispositions and the refund arithmetic."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from oms.errors import Conflict, InvalidInput, InvalidTransition
from oms.returns.rules import (
    DEFAULT_REASONS,
    TRANSITIONS,
    DeliveredLine,
    Disposition,
    Grade,
    OrderMoney,
    Policy,
    Reason,
    RefundLine,
    RequestedLine,
    ReturnStatus,
    check_eligibility,
    check_refund_amount,
    check_transition,
    compute_refund,
    default_disposition,
    payment_status_after_refund,
    refundable_left,
    rma_number,
)

R = ReturnStatus
D = Decimal
ALL_MOVES = [(current, target) for current, targets in TRANSITIONS.items() for target in sorted(targets)]
NOT_ALLOWED = [(current, target) for current in R for target in R if target not in TRANSITIONS[current]]
REASONS = {reason.code: reason for reason in DEFAULT_REASONS}
CHANGED_MIND, DAMAGED = REASONS["changed_mind"], REASONS["damaged"]
DELIVERED_AT = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)


# -- factories --------------------------------------------------------------------------------------


def delivered_line(line_id: int = 1, **kw: object) -> DeliveredLine:
    fields: dict[str, object] = {
        "order_line_id": line_id,
        "sku": f"SKU-{line_id}",
        "name": f"Item {line_id}",
        "quantity": 2,
        "unit_price": D("20.00"),
        "returnable": True,
        "delivered": 2,
        "already_returned": 0,
    }
    fields.update(kw)
    return DeliveredLine(**fields)  # type: ignore[arg-type]


def ask(line_id: int = 1, quantity: int = 1, reason: str = "changed_mind") -> RequestedLine:
    return RequestedLine(order_line_id=line_id, quantity=quantity, reason=reason)


def eligibility(requested, lines=None, policy=None, delivered_at=DELIVERED_AT, now=None):  # type: ignore[no-untyped-def]
    return check_eligibility(
        policy or Policy(),
        [delivered_line()] if lines is None else lines,
        requested,
        delivered_at,
        now or DELIVERED_AT + timedelta(days=3),
    )


def codes(refusals) -> list[tuple[int | None, str]]:  # type: ignore[no-untyped-def]
    return [(refusal.order_line_id, refusal.code) for refusal in refusals]


def order_money(**kw: object) -> OrderMoney:
    """Two lines, 2 x 20.00 and 1 x 60.00; 10.00 off; 8.00 shipping; 10% tax on 90.00; fully paid."""
    fields: dict[str, object] = {
        "currency": "USD",
        "lines_subtotal": D("100.00"),
        "discount_total": D("10.00"),
        "shipping_total": D("8.00"),
        "tax_total": D("9.00"),
        "paid": D("107.00"),
        "refunded": D("0.00"),
    }
    fields.update(kw)
    return OrderMoney(**fields)  # type: ignore[arg-type]


def returned(line_id: int = 1, quantity: int = 1, unit_price: str = "20.00", line_quantity: int = 2) -> RefundLine:
    return RefundLine(order_line_id=line_id, quantity=quantity, unit_price=D(unit_price), line_quantity=line_quantity)


def components(b) -> Decimal:  # type: ignore[no-untyped-def]
    return b.items + b.discount_share + b.tax_share + b.shipping + b.restocking_fee + b.return_shipping_fee


# -- the transition table -------------------------------------------------------------------------


def test_every_status_has_an_entry_in_the_transition_table():
    assert set(TRANSITIONS) == set(ReturnStatus)


def test_the_table_holds_exactly_the_agreed_edges():
    agreed = {
        R.REQUESTED: {R.APPROVED, R.REJECTED},
        R.APPROVED: {R.LABEL_SENT, R.RECEIVED},
        R.LABEL_SENT: {R.IN_TRANSIT, R.RECEIVED},
        R.IN_TRANSIT: {R.RECEIVED},
        R.RECEIVED: {R.INSPECTED},
        R.INSPECTED: {R.REFUNDED, R.EXCHANGED},
        R.REFUNDED: {R.CLOSED},
        R.EXCHANGED: {R.CLOSED},
        R.REJECTED: {R.CLOSED},
        R.CLOSED: set(),
    }
    assert agreed == TRANSITIONS


def test_closed_is_the_only_terminal_status_and_every_status_can_reach_it():
    assert {status for status, targets in TRANSITIONS.items() if not targets} == {R.CLOSED}
    for start in ReturnStatus:
        seen, frontier = {start}, [start]
        while frontier:
            for target in TRANSITIONS[frontier.pop()]:
                if target not in seen:
                    seen.add(target)
                    frontier.append(target)
        assert R.CLOSED in seen, f"{start} can never close"


def test_no_money_or_replacement_leaves_before_the_goods_are_inspected():
    assert {status for status, targets in TRANSITIONS.items() if targets & {R.REFUNDED, R.EXCHANGED}} == {R.INSPECTED}


@pytest.mark.parametrize(("current", "target"), ALL_MOVES)
def test_an_allowed_move_passes(current, target):
    check_transition(current.value, target, "move")


@pytest.mark.parametrize(("current", "target"), NOT_ALLOWED)
def test_a_move_outside_the_table_is_refused_naming_the_status_and_the_allowed_ones(current, target):
    with pytest.raises(InvalidTransition) as caught:
        check_transition(current.value, target, "move")
    assert caught.value.extra == {"current_status": current.value, "allowed": sorted(TRANSITIONS[current])}
    assert current.value in caught.value.detail


def test_the_refusal_reads_as_the_action_that_was_tried():
    with pytest.raises(InvalidTransition, match="cannot refund a return that is requested"):
        check_transition("requested", R.REFUNDED, "refund")


# -- inspection -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("grade", "disposition"),
    [
        (Grade.NEW, Disposition.RESTOCK),
        (Grade.LIKE_NEW, Disposition.RESTOCK),
        (Grade.USED, Disposition.QUARANTINE),
        (Grade.DAMAGED, Disposition.WRITE_OFF),
    ],
)
def test_the_grade_suggests_a_disposition(grade, disposition):
    assert default_disposition(grade) is disposition


def test_every_grade_has_a_disposition():
    assert all(default_disposition(grade) in Disposition for grade in Grade)


# -- the policy -----------------------------------------------------------------------------------


def test_the_default_policy_offers_the_usual_reasons_and_knows_whose_fault_they_are():
    policy = Policy()
    assert policy.reason("damaged") == Reason("damaged", "Arrived damaged", True)
    assert {r.code for r in DEFAULT_REASONS if r.shop_at_fault} == {"damaged", "wrong_item", "not_as_described"}
    assert {r.code for r in DEFAULT_REASONS if not r.shop_at_fault} == {"changed_mind", "too_small", "too_large"}


def test_an_unknown_reason_is_refused_listing_the_offered_ones():
    policy = Policy(reasons=(Reason("broken", "Broken", True), Reason("unwanted", "Unwanted", False)))
    with pytest.raises(InvalidInput) as caught:
        policy.reason("changed_mind")
    assert caught.value.code == "unknown_reason"
    assert "broken, unwanted" in caught.value.detail
    assert caught.value.extra == {"offered": ["broken", "unwanted"]}


@pytest.mark.parametrize(
    "kw",
    [
        {"window_days": -1},
        {"window_days": 3651},
        {"window_days": 2.5},
        {"restocking_fee_pct": D("100.01")},
        {"restocking_fee_pct": D("-1")},
        {"restocking_fee_pct": D("NaN")},
        {"return_shipping_fee": D("-0.01")},
        {"return_shipping_fee": 4.95},
        {"reasons": ()},
        {"reasons": (Reason("damaged", "A", True), Reason("damaged", "B", False))},
        {"reasons": (Reason("", "Nameless", False),)},
        {"return_shipping_paid_by": "carrier"},
        {"refund_shipping": "sometimes"},
        {"refund_method": "cash"},
    ],
)
def test_a_policy_with_values_out_of_range_is_refused(kw):
    with pytest.raises(InvalidInput) as caught:
        Policy(**kw)
    assert caught.value.code == "invalid_policy"


def test_a_policy_at_its_limits_is_accepted_and_whole_numbers_become_decimals():
    policy = Policy(window_days=3650, restocking_fee_pct=100, return_shipping_fee=0)
    assert policy.restocking_fee_pct == D(100) and isinstance(policy.restocking_fee_pct, Decimal)
    assert Policy(window_days=0).window_days == 0


# -- eligibility ----------------------------------------------------------------------------------


def test_a_delivered_returnable_item_inside_the_window_is_eligible():
    assert eligibility([ask()]) == []


def test_the_last_moment_of_the_window_is_still_inside_it():
    assert eligibility([ask()], now=DELIVERED_AT + timedelta(days=30)) == []


def test_a_moment_after_the_window_is_refused_naming_the_last_day():
    [refusal] = eligibility([ask()], now=DELIVERED_AT + timedelta(days=30, seconds=1))
    assert (refusal.order_line_id, refusal.code) == (None, "outside_window")
    assert "2026-05-31" in refusal.detail and "30 days" in refusal.detail


def test_a_zero_day_window_closes_at_delivery():
    assert eligibility([ask()], policy=Policy(window_days=0), now=DELIVERED_AT) == []
    refused = eligibility([ask()], policy=Policy(window_days=0), now=DELIVERED_AT + timedelta(minutes=1))
    assert codes(refused) == [(None, "outside_window")]


def test_an_order_not_delivered_cannot_be_returned():
    assert codes(eligibility([ask()], delivered_at=None)) == [(None, "not_delivered")]


def test_a_product_flagged_not_returnable_is_refused():
    refused = eligibility([ask()], lines=[delivered_line(returnable=False)])
    assert codes(refused) == [(1, "not_returnable")]
    assert "Item 1 (SKU-1)" in refused[0].detail


def test_a_sku_the_policy_excludes_is_refused():
    assert codes(eligibility([ask()], policy=Policy(non_returnable_skus=frozenset({"SKU-1"})))) == [
        (1, "not_returnable")
    ]


def test_more_units_than_were_delivered_are_refused_saying_how_many_may_be_returned():
    [refusal] = eligibility([ask(quantity=3)])
    assert (refusal.order_line_id, refusal.code) == (1, "too_many")
    assert "at most 2" in refusal.detail


def test_units_already_on_other_returns_count_against_the_delivered_ones():
    lines = [delivered_line(delivered=3, already_returned=2)]
    assert eligibility([ask(quantity=1)], lines=lines) == []
    [refusal] = eligibility([ask(quantity=2)], lines=lines)
    assert refusal.code == "too_many"
    assert "at most 1" in refusal.detail and "2 already on other returns" in refusal.detail


def test_a_line_whose_units_are_all_on_other_returns_has_nothing_left_to_return():
    [refusal] = eligibility([ask()], lines=[delivered_line(already_returned=2)])
    assert refusal.code == "too_many"
    assert "no more units" in refusal.detail


def test_only_delivered_units_may_be_returned_from_a_partly_delivered_line():
    lines = [delivered_line(quantity=3, delivered=1)]
    assert eligibility([ask(quantity=1)], lines=lines) == []
    assert codes(eligibility([ask(quantity=2)], lines=lines)) == [(1, "too_many")]


def test_a_line_not_on_the_order_is_refused():
    assert codes(eligibility([ask(line_id=99)])) == [(99, "unknown_line")]


def test_a_reason_the_policy_does_not_offer_is_refused():
    [refusal] = eligibility([ask(reason="bored")])
    assert (refusal.order_line_id, refusal.code) == (1, "unknown_reason")
    assert "changed_mind" in refusal.detail


def test_the_same_line_twice_is_refused():
    assert codes(eligibility([ask(quantity=1), ask(quantity=1)])) == [(1, "duplicate_line")]


@pytest.mark.parametrize("quantity", [0, -1])
def test_a_quantity_below_one_is_refused(quantity):
    assert codes(eligibility([ask(quantity=quantity)])) == [(1, "bad_quantity")]


def test_an_empty_request_is_refused():
    assert codes(eligibility([])) == [(None, "nothing_requested")]


def test_every_refusal_is_listed_not_only_the_first():
    lines = [delivered_line(1), delivered_line(2, returnable=False), delivered_line(3, already_returned=1)]
    refused = eligibility(
        [ask(1, reason="bored"), ask(2), ask(3, quantity=2), ask(4), ask(1, quantity=0)],
        lines=lines,
        now=DELIVERED_AT + timedelta(days=31),
    )
    assert codes(refused) == [
        (None, "outside_window"),
        (1, "unknown_reason"),
        (2, "not_returnable"),
        (3, "too_many"),
        (4, "unknown_line"),
        (1, "duplicate_line"),
        (1, "bad_quantity"),
    ]


# -- refunds: worked examples ---------------------------------------------------------------------
# The order of order_money(): lines 2 x 20.00 + 1 x 60.00 = 100.00, discount 10.00, shipping 8.00,
# tax 9.00, paid 107.00. Returning one 20.00 unit is a fifth of the order's value.


def test_a_change_of_mind_refunds_the_items_less_their_discount_share_plus_their_tax_share():
    b = compute_refund(Policy(), order_money(), [returned()], [CHANGED_MIND])
    assert (b.items, b.discount_share, b.tax_share, b.shipping) == (D("20.00"), D("-2.00"), D("1.80"), D("0.00"))
    assert (b.restocking_fee, b.return_shipping_fee) == (D("0.00"), D("0.00"))
    assert (b.total, b.capped) == (D("19.80"), False)


def test_the_shipping_share_is_refunded_when_the_shop_is_at_fault():
    b = compute_refund(Policy(), order_money(), [returned()], [DAMAGED])
    assert b.shipping == D("1.60")  # 8.00 x 20 / 100
    assert b.total == D("21.40")


def test_one_shop_fault_reason_among_several_makes_the_return_the_shops_fault():
    b = compute_refund(Policy(), order_money(), [returned()], [CHANGED_MIND, DAMAGED])
    assert b.shipping == D("1.60")


@pytest.mark.parametrize(
    ("refund_shipping", "reason", "shipping"),
    [
        ("always", CHANGED_MIND, D("1.60")),
        ("always", DAMAGED, D("1.60")),
        ("never", DAMAGED, D("0.00")),
        ("never", CHANGED_MIND, D("0.00")),
        ("shop_at_fault", CHANGED_MIND, D("0.00")),
    ],
)
def test_the_policy_decides_when_the_original_shipping_is_refunded(refund_shipping, reason, shipping):
    b = compute_refund(Policy(refund_shipping=refund_shipping), order_money(), [returned()], [reason])
    assert b.shipping == shipping


def test_a_restocking_fee_is_a_percent_of_the_items_net_value():
    b = compute_refund(Policy(restocking_fee_pct=D("15")), order_money(), [returned()], [CHANGED_MIND])
    assert b.restocking_fee == D("-2.70")  # 15% of (20.00 - 2.00)
    assert b.total == D("17.10")


def test_the_restocking_fee_is_waived_when_the_shop_is_at_fault():
    b = compute_refund(Policy(restocking_fee_pct=D("15")), order_money(), [returned()], [DAMAGED])
    assert b.restocking_fee == D("0.00")
    assert any("waived" in note for note in b.notes)


def test_a_customer_paid_return_label_is_taken_off_the_refund_unless_the_shop_is_at_fault():
    policy = Policy(return_shipping_paid_by="customer", return_shipping_fee=D("5.95"))
    assert compute_refund(policy, order_money(), [returned()], [CHANGED_MIND]).return_shipping_fee == D("-5.95")
    assert compute_refund(policy, order_money(), [returned()], [DAMAGED]).return_shipping_fee == D("0.00")


def test_no_label_fee_is_charged_when_the_shop_pays_for_returns():
    policy = Policy(return_shipping_paid_by="shop", return_shipping_fee=D("5.95"))
    assert compute_refund(policy, order_money(), [returned()], [CHANGED_MIND]).return_shipping_fee == D("0.00")


def test_the_refund_is_capped_at_what_is_left_of_the_payment():
    b = compute_refund(Policy(), order_money(refunded=D("100.00")), [returned()], [CHANGED_MIND])
    assert components(b) == D("19.80")
    assert (b.total, b.capped) == (D("7.00"), True)
    assert any(note.startswith("capped") for note in b.notes)


def test_fees_larger_than_the_items_refund_nothing_rather_than_charge_the_customer():
    policy = Policy(return_shipping_paid_by="customer", return_shipping_fee=D("25.00"))
    b = compute_refund(policy, order_money(), [returned()], [CHANGED_MIND])
    assert (b.total, b.capped) == (D("0.00"), True)


def test_yen_shares_round_to_whole_yen_half_up():
    # 1200 + 2 x 800 + 3 x 333 = 3799 yen; returning the 999 yen line is 999/3799 of the order.
    money = OrderMoney("JPY", D(3799), D(500), D(700), D(330), D(4329), D(0))
    b = compute_refund(Policy(), money, [returned(3, 3, "333", 3)], [DAMAGED])
    assert b.items == D("999")
    assert b.discount_share == D("-131")  # 131.48
    assert b.tax_share == D("87")  # 86.78
    assert b.shipping == D("184")  # 184.07
    assert b.total == D("1139")
    assert all(c.as_tuple().exponent == 0 for c in (b.items, b.discount_share, b.tax_share, b.shipping, b.total))


def test_returning_two_lines_of_a_three_line_order_shares_by_their_value():
    # Lines 1 x 19.99, 3 x 5.49, 2 x 34.50 = 105.46; returning one of line 1 and one of line 3 (54.49).
    money = order_money(
        lines_subtotal=D("105.46"),
        discount_total=D("10.00"),
        shipping_total=D("6.95"),
        tax_total=D("7.64"),
        paid=D("110.05"),
    )
    lines = [returned(1, 1, "19.99", 1), returned(3, 1, "34.50", 2)]
    b = compute_refund(Policy(), money, lines, [CHANGED_MIND, REASONS["too_small"]])
    assert b.items == D("54.49")
    assert b.discount_share == D("-5.17")  # 10.00 x 54.49 / 105.46 = 5.1669
    assert b.tax_share == D("3.95")  # 7.64 x 54.49 / 105.46 = 3.9475
    assert b.shipping == D("0.00")
    assert b.total == D("53.27")
    damaged = compute_refund(Policy(), money, lines, [DAMAGED])
    assert damaged.shipping == D("3.59")  # 6.95 x 54.49 / 105.46 = 3.5910
    assert damaged.total == D("56.86")


def test_shares_round_half_up_not_to_even():
    money = order_money(lines_subtotal=D("100.00"), discount_total=D("0"), tax_total=D("0.01"), paid=D("108.01"))
    b = compute_refund(Policy(), money, [returned(1, 1, "50.00", 2)], [CHANGED_MIND])
    assert b.tax_share == D("0.01")  # 0.005 rounds up


def test_the_notes_explain_each_component():
    policy = Policy(restocking_fee_pct=D("10"), return_shipping_paid_by="customer", return_shipping_fee=D("3.00"))
    notes = compute_refund(policy, order_money(), [returned()], [CHANGED_MIND]).notes
    assert [note.split(":")[0] for note in notes] == [
        "items",
        "discount share",
        "tax share",
        "shipping",
        "restocking fee",
        "return label",
        "refund",
    ]
    assert notes[0] == "items: 1 × 20.00 (line 1) = 20.00 USD"
    assert notes[-1] == "refund: 15.00 USD"  # 20.00 - 2.00 + 1.80 - 1.80 (10% of 18.00) - 3.00


def test_a_refund_needs_lines_within_what_was_ordered():
    with pytest.raises(InvalidInput) as caught:
        compute_refund(Policy(), order_money(), [], [CHANGED_MIND])
    assert caught.value.code == "nothing_requested"
    with pytest.raises(InvalidInput) as caught:
        compute_refund(Policy(), order_money(), [returned(quantity=3)], [CHANGED_MIND])
    assert caught.value.code == "bad_quantity"
    with pytest.raises(InvalidInput) as caught:
        compute_refund(Policy(), order_money(), [returned(quantity=2, unit_price="60.00")], [CHANGED_MIND])
    assert caught.value.code == "lines_exceed_order"


def test_an_order_of_free_items_refunds_nothing_and_divides_by_nothing():
    money = order_money(lines_subtotal=D("0"), discount_total=D("0"), tax_total=D("0"), paid=D("8.00"))
    b = compute_refund(Policy(), money, [returned(unit_price="0")], [DAMAGED])
    assert (b.items, b.shipping, b.total) == (D("0.00"), D("0.00"), D("0.00"))


# -- payment after refunds ------------------------------------------------------------------------


def test_what_is_left_to_refund_is_paid_less_refunded_and_never_negative():
    assert refundable_left(order_money(refunded=D("7.00"))) == D("100.00")
    assert refundable_left(order_money(paid=D("5.00"), refunded=D("7.00"))) == D("0")


def test_the_payment_status_after_a_refund():
    assert payment_status_after_refund(D("107.00"), D("107.00")) == "refunded"
    assert payment_status_after_refund(D("107.00"), D("19.80")) == "partially_refunded"


def test_refunding_more_than_was_paid_is_a_conflict():
    with pytest.raises(Conflict) as caught:
        payment_status_after_refund(D("107.00"), D("107.01"))
    assert caught.value.code == "refund_exceeds_payment"


def test_a_payment_status_after_refund_needs_a_refund():
    with pytest.raises(InvalidInput):
        payment_status_after_refund(D("107.00"), D("0"))


def test_a_refund_within_what_is_left_is_accepted():
    check_refund_amount(order_money(refunded=D("100.00")), D("7.00"))


def test_a_refund_beyond_what_is_left_is_a_conflict():
    with pytest.raises(Conflict) as caught:
        check_refund_amount(order_money(refunded=D("100.00")), D("7.01"))
    assert caught.value.code == "refund_exceeds_payment"
    assert caught.value.extra == {"refundable": "7.00"}


@pytest.mark.parametrize(
    ("currency", "amount"), [("USD", D("0")), ("USD", D("-1.00")), ("USD", D("1.005")), ("JPY", D("1.5"))]
)
def test_a_refund_that_is_not_positive_or_finer_than_the_currency_is_refused(currency, amount):
    with pytest.raises(InvalidInput) as caught:
        check_refund_amount(order_money(currency=currency), amount)
    assert caught.value.code == "invalid_amount"


def test_an_rma_number_is_zero_padded_to_six_digits():
    assert rma_number(42) == "RMA-000042"
    assert rma_number(1234567) == "RMA-1234567"


# -- properties -----------------------------------------------------------------------------------

EXPONENTS = {"USD": 2, "JPY": 0, "KWD": 3}


@st.composite
def orders(draw):  # type: ignore[no-untyped-def]
    """(money, [(line_id, unit_price, quantity)]): a random paid order in integer minor units."""
    currency = draw(st.sampled_from(sorted(EXPONENTS)))
    exp = EXPONENTS[currency]
    lines = [
        (line_id, draw(st.integers(0, 50_000)), draw(st.integers(1, 5)))
        for line_id in range(1, draw(st.integers(1, 5)) + 1)
    ]
    subtotal = sum(price * quantity for _, price, quantity in lines)
    discount = draw(st.integers(0, subtotal))
    shipping = draw(st.integers(0, 3_000))
    tax = draw(st.integers(0, subtotal // 3 + 500))
    paid = draw(st.integers(0, subtotal - discount + shipping + tax))
    refunded = draw(st.sampled_from([0, 0, 0, paid // 2]))

    def amount(minor: int) -> Decimal:
        return Decimal(minor).scaleb(-exp)

    money = OrderMoney(
        currency, amount(subtotal), amount(discount), amount(shipping), amount(tax), amount(paid), amount(refunded)
    )
    return money, [(line_id, amount(price), quantity) for line_id, price, quantity in lines]


policies = st.builds(
    Policy,
    return_shipping_paid_by=st.sampled_from(["customer", "shop"]),
    return_shipping_fee=st.integers(0, 2_000).map(lambda cents: Decimal(cents).scaleb(-2)),
    restocking_fee_pct=st.integers(0, 10_000).map(lambda hundredths: Decimal(hundredths).scaleb(-2)),
    refund_shipping=st.sampled_from(["never", "shop_at_fault", "always"]),
)


@given(orders(), st.data())
def test_returns_in_any_sequence_never_refund_more_than_was_paid(order, data):
    money, order_lines = order
    left = {line_id: quantity for line_id, _, quantity in order_lines}
    for _ in range(data.draw(st.integers(1, 6))):
        open_lines = [line for line in order_lines if left[line[0]]]
        if not open_lines:
            break
        taken = data.draw(st.lists(st.sampled_from(open_lines), min_size=1, max_size=len(open_lines), unique=True))
        lines = [
            RefundLine(line_id, data.draw(st.integers(1, left[line_id])), price, quantity)
            for line_id, price, quantity in taken
        ]
        reasons = data.draw(st.lists(st.sampled_from(DEFAULT_REASONS), min_size=1, max_size=3))
        b = compute_refund(data.draw(policies), money, lines, reasons)

        assert Decimal(0) <= b.total <= refundable_left(money)
        if not b.capped:
            assert components(b) == b.total
        for part in (b.items, b.discount_share, b.tax_share, b.shipping, b.restocking_fee, b.return_shipping_fee):
            assert part.as_tuple().exponent == -EXPONENTS[money.currency]
        assert b.discount_share <= 0 and b.restocking_fee <= 0 and b.return_shipping_fee <= 0
        assert b.tax_share >= 0 and b.shipping >= 0

        for line in lines:
            left[line.order_line_id] -= line.quantity
        money = replace(money, refunded=money.refunded + b.total)
        assert money.refunded <= money.paid
        if money.refunded > 0:
            assert payment_status_after_refund(money.paid, money.refunded) in {"refunded", "partially_refunded"}


@given(orders())
def test_returning_everything_at_the_shops_fault_refunds_exactly_what_was_paid_for_it(order):
    money, order_lines = order
    assume(money.lines_subtotal > 0)  # shares of a free order's tax and shipping are 0 (value 0 of 0)
    full = money.lines_subtotal - money.discount_total + money.shipping_total + money.tax_total
    money = replace(money, paid=full, refunded=Decimal(0))
    lines = [RefundLine(line_id, quantity, price, quantity) for line_id, price, quantity in order_lines]
    b = compute_refund(Policy(restocking_fee_pct=D("20")), money, lines, [DAMAGED])
    assert (b.total, b.capped) == (full, False)
