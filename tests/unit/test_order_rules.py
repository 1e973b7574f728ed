"""The order lifecycle rules: the transition table, status and payment status, totals, payments."""

from __future__ import annotations

from decimal import Decimal

import pytest

from oms.errors import Conflict, InvalidInput, InvalidTransition
from oms.orders.rules import (
    OPEN_STATUSES,
    TRANSITIONS,
    OrderStatus,
    PaymentStatus,
    check_payment,
    check_transition,
    compute_total,
    derive_status,
    payment_status_for,
)

S = OrderStatus
D = Decimal
TERMINAL = {S.COMPLETED, S.CANCELLED}
ALL_MOVES = [(current, target) for current, targets in TRANSITIONS.items() for target in sorted(targets)]
NOT_ALLOWED = [(current, target) for current in S for target in S if target not in TRANSITIONS[current]]


# -- the transition table ----------------------------------------------------------------------


def test_every_status_has_an_entry_in_the_transition_table():
    assert set(TRANSITIONS) == set(OrderStatus)


def test_completed_and_cancelled_are_the_only_terminal_statuses_and_lead_nowhere():
    assert {status for status, targets in TRANSITIONS.items() if not targets} == TERMINAL


def test_no_status_moves_to_itself():
    assert all(status not in targets for status, targets in TRANSITIONS.items())


def test_every_status_can_reach_a_terminal_one():
    for start in OrderStatus:
        seen, frontier = {start}, [start]
        while frontier:
            for target in TRANSITIONS[frontier.pop()]:
                if target not in seen:
                    seen.add(target)
                    frontier.append(target)
        assert seen & TERMINAL, f"{start} can never finish"


def test_an_order_can_be_cancelled_until_it_starts_shipping():
    cancellable = {status for status, targets in TRANSITIONS.items() if S.CANCELLED in targets}
    assert cancellable == {S.PENDING_PAYMENT, S.CONFIRMED, S.BACKORDERED, S.IN_FULFILMENT, S.ON_HOLD}


def test_the_open_statuses_move_freely_between_each_other_as_payment_and_stock_change():
    assert {S.PENDING_PAYMENT, S.CONFIRMED, S.BACKORDERED} == OPEN_STATUSES
    assert {S.CONFIRMED, S.BACKORDERED} <= TRANSITIONS[S.PENDING_PAYMENT]
    assert S.CONFIRMED in TRANSITIONS[S.BACKORDERED]
    assert S.BACKORDERED in TRANSITIONS[S.CONFIRMED]


def test_a_held_order_can_be_released_to_any_status_it_can_be_held_from():
    held_from = {status for status, targets in TRANSITIONS.items() if S.ON_HOLD in targets}
    assert held_from <= TRANSITIONS[S.ON_HOLD]


@pytest.mark.parametrize(("current", "target"), ALL_MOVES)
def test_check_transition_allows_every_move_in_the_table(current, target):
    check_transition(current.value, target, "move")


@pytest.mark.parametrize(("current", "target"), NOT_ALLOWED)
def test_check_transition_refuses_every_move_not_in_the_table(current, target):
    with pytest.raises(InvalidTransition):
        check_transition(current.value, target, "move")


def test_a_refused_transition_names_the_action_the_current_status_and_what_is_allowed():
    with pytest.raises(InvalidTransition) as caught:
        check_transition("shipped", S.CANCELLED, "cancel")
    assert caught.value.detail == "cannot cancel an order that is shipped"
    assert caught.value.extra == {"current_status": "shipped", "allowed": ["delivered"]}
    assert caught.value.code == "invalid_transition"


def test_a_refused_transition_from_a_terminal_status_allows_nothing():
    with pytest.raises(InvalidTransition) as caught:
        check_transition("cancelled", S.CONFIRMED, "confirm")
    assert caught.value.extra == {"current_status": "cancelled", "allowed": []}


def test_the_allowed_statuses_of_a_refusal_are_sorted():
    with pytest.raises(InvalidTransition) as caught:
        check_transition("pending_payment", S.SHIPPED, "ship")
    assert caught.value.extra["allowed"] == ["backordered", "cancelled", "confirmed", "on_hold"]


# -- derive_status -----------------------------------------------------------------------------


@pytest.mark.parametrize("payment", ["pending", "voided", "refunded", "partially_refunded"])
@pytest.mark.parametrize("backordered", [0, 3])
def test_an_order_that_is_not_paid_or_authorised_waits_for_payment_whatever_its_stock(payment, backordered):
    assert derive_status(payment, backordered) == S.PENDING_PAYMENT


@pytest.mark.parametrize("payment", ["authorized", "paid"])
def test_a_paid_or_authorised_order_with_all_its_stock_is_confirmed(payment):
    assert derive_status(payment, 0) == S.CONFIRMED


@pytest.mark.parametrize("payment", ["authorized", "paid"])
def test_a_paid_or_authorised_order_waiting_for_stock_is_backordered(payment):
    assert derive_status(payment, 1) == S.BACKORDERED


def test_derive_status_only_ever_chooses_an_open_status():
    for payment in PaymentStatus:
        for backordered in (0, 1, 10):
            assert derive_status(payment, backordered) in OPEN_STATUSES


# -- payment_status_for ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "authorized", "paid", "expected"),
    [
        ("30.00", "0", "0", PaymentStatus.PENDING),
        ("30.00", "0", "29.99", PaymentStatus.PARTIALLY_PAID),
        ("30.00", "10.00", "10.00", PaymentStatus.PARTIALLY_PAID),
        ("30.00", "30.00", "0", PaymentStatus.AUTHORIZED),
        ("30.00", "20.00", "10.00", PaymentStatus.AUTHORIZED),
        ("30.00", "0", "30.00", PaymentStatus.PAID),
        ("30.00", "5.00", "30.00", PaymentStatus.PAID),
        ("0", "0", "0", PaymentStatus.PAID),
    ],
)
def test_payment_status_counts_captures_and_authorisations_towards_the_total(total, authorized, paid, expected):
    assert payment_status_for(D(total), D(authorized), D(paid)) == expected


# -- compute_total -----------------------------------------------------------------------------


def test_the_total_is_the_lines_plus_shipping_and_tax_less_the_discount():
    subtotal, total = compute_total([(2, D("9.99")), (1, D("5.00"))], D("4.95"), D("1.20"), D("2.00"), None)
    assert (subtotal, total) == (D("24.98"), D("29.13"))


def test_totals_are_exact_decimals():
    subtotal, total = compute_total([(3, D("0.10"))], D(0), D(0), D(0), None)
    assert subtotal == total == D("0.30")


def test_a_stated_total_that_adds_up_is_accepted():
    assert compute_total([(1, D("10.00"))], D("5.00"), D(0), D(0), D("15.00")) == (D("10.00"), D("15.00"))


def test_a_stated_total_that_does_not_add_up_is_refused_with_the_expected_total():
    with pytest.raises(InvalidInput) as caught:
        compute_total([(1, D("10.00"))], D("5.00"), D("1.00"), D(0), D("15.00"))
    assert caught.value.code == "totals_mismatch"
    assert caught.value.extra == {"expected_total": "16.00"}
    assert "lines 10.00 + shipping 5.00 + tax 1.00 - discount 0 = 16.00" in caught.value.detail


def test_a_discount_worth_more_than_the_order_is_refused():
    with pytest.raises(InvalidInput) as caught:
        compute_total([(1, D("10.00"))], D("2.00"), D(0), D("12.01"), None)
    assert caught.value.code == "totals_mismatch"


def test_a_discount_worth_exactly_the_order_makes_it_free():
    assert compute_total([(1, D("10.00"))], D("2.00"), D(0), D("12.00"), D(0)) == (D("10.00"), D(0))


# -- check_payment -----------------------------------------------------------------------------


def test_an_authorisation_adds_to_what_is_authorised():
    assert check_payment("authorized", D("10"), D("30"), D("5"), D("0"), "pending_payment") == (D("15"), D("0"))


def test_an_authorisation_up_to_the_total_counting_captures_is_accepted():
    assert check_payment("authorized", D("20"), D("30"), D("0"), D("10"), "pending_payment") == (D("20"), D("10"))


def test_an_authorisation_past_the_total_counting_captures_is_refused_as_overpayment():
    with pytest.raises(Conflict) as caught:
        check_payment("authorized", D("20.01"), D("30"), D("0"), D("10"), "pending_payment")
    assert caught.value.code == "overpayment"


def test_a_capture_draws_down_the_authorisation_first():
    assert check_payment("paid", D("10"), D("30"), D("30"), D("0"), "confirmed") == (D("20"), D("10"))


def test_a_capture_larger_than_the_authorisation_leaves_none_authorised():
    assert check_payment("paid", D("25"), D("30"), D("10"), D("0"), "pending_payment") == (D("0"), D("25"))


def test_a_capture_up_to_the_total_is_accepted():
    assert check_payment("paid", D("30"), D("30"), D("0"), D("0"), "new") == (D("0"), D("30"))


def test_a_capture_past_the_total_is_refused_as_overpayment():
    with pytest.raises(Conflict) as caught:
        check_payment("paid", D("0.01"), D("30"), D("0"), D("30"), "confirmed")
    assert caught.value.code == "overpayment"


@pytest.mark.parametrize("amount", [D("0"), D("-5")])
def test_a_payment_of_nothing_or_less_is_refused(amount):
    with pytest.raises(InvalidInput) as caught:
        check_payment("paid", amount, D("30"), D("0"), D("0"), "pending_payment")
    assert caught.value.code == "invalid_amount"


@pytest.mark.parametrize("status", ["authorized", "paid"])
def test_no_payment_is_taken_on_a_cancelled_order(status):
    with pytest.raises(InvalidTransition) as caught:
        check_payment(status, D("10"), D("30"), D("0"), D("0"), "cancelled")
    assert caught.value.extra == {"current_status": "cancelled", "allowed": []}


def test_a_cancelled_order_is_refused_before_the_amount_is_even_looked_at():
    with pytest.raises(InvalidTransition):
        check_payment("paid", D("0"), D("30"), D("0"), D("30"), "cancelled")
