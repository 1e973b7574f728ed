"""plan_by_preference: each line whole from the first listed warehouse that can, split only when
none can alone, lines of one product sharing what is left, and the rest reported short."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from oms.routing.rules import LineRequest, Pick, plan_by_preference

MUG, TEE = 1, 2
NJ, IL, CA = 10, 20, 30


def test_prefers_the_first_warehouse_that_holds_the_whole_line():
    plan = plan_by_preference([LineRequest(1, MUG, 3)], [NJ, IL, CA], {(MUG, NJ): 5, (MUG, IL): 5, (MUG, CA): 5})
    assert plan.picks == [Pick(1, MUG, NJ, 3)]
    assert plan.short == {}


def test_skips_warehouses_that_hold_only_part_of_the_line_when_a_later_one_holds_all_of_it():
    plan = plan_by_preference([LineRequest(1, MUG, 3)], [NJ, IL, CA], {(MUG, NJ): 2, (MUG, IL): 1, (MUG, CA): 3})
    assert plan.picks == [Pick(1, MUG, CA, 3)]
    assert plan.short == {}


def test_follows_the_channel_order_of_warehouses_not_their_ids():
    plan = plan_by_preference([LineRequest(1, MUG, 2)], [CA, NJ], {(MUG, NJ): 5, (MUG, CA): 5})
    assert plan.picks == [Pick(1, MUG, CA, 2)]


def test_splits_a_line_in_warehouse_order_only_when_no_warehouse_holds_it_alone():
    plan = plan_by_preference([LineRequest(1, MUG, 5)], [NJ, IL, CA], {(MUG, NJ): 2, (MUG, IL): 1, (MUG, CA): 3})
    assert plan.picks == [Pick(1, MUG, NJ, 2), Pick(1, MUG, IL, 1), Pick(1, MUG, CA, 2)]
    assert plan.short == {}
    assert plan.reserved_for(1) == 5


def test_stops_splitting_as_soon_as_the_line_is_covered():
    plan = plan_by_preference([LineRequest(1, MUG, 4)], [NJ, IL, CA], {(MUG, NJ): 2, (MUG, IL): 2, (MUG, CA): 3})
    assert plan.picks == [Pick(1, MUG, NJ, 2), Pick(1, MUG, IL, 2)]


def test_lines_of_the_same_product_share_the_remaining_stock():
    plan = plan_by_preference([LineRequest(1, MUG, 3), LineRequest(2, MUG, 3)], [NJ, IL], {(MUG, NJ): 4, (MUG, IL): 3})
    # Line 1 takes 3 of NJ's 4; line 2 then finds only 1 there and goes whole to IL.
    assert plan.picks == [Pick(1, MUG, NJ, 3), Pick(2, MUG, IL, 3)]
    assert plan.short == {}


def test_a_later_line_of_the_same_product_is_short_by_what_earlier_lines_took():
    plan = plan_by_preference([LineRequest(1, MUG, 3), LineRequest(2, MUG, 3)], [NJ, IL], {(MUG, NJ): 2, (MUG, IL): 2})
    assert plan.picks == [Pick(1, MUG, NJ, 2), Pick(1, MUG, IL, 1), Pick(2, MUG, IL, 1)]
    assert plan.short == {2: 2}


def test_lines_of_different_products_do_not_draw_on_each_others_stock():
    plan = plan_by_preference([LineRequest(1, MUG, 2), LineRequest(2, TEE, 2)], [NJ, IL], {(MUG, NJ): 2, (TEE, IL): 2})
    assert plan.picks == [Pick(1, MUG, NJ, 2), Pick(2, TEE, IL, 2)]
    assert plan.short == {}


def test_reports_what_is_left_short_after_taking_everything_it_can():
    plan = plan_by_preference([LineRequest(1, MUG, 5)], [NJ, IL], {(MUG, NJ): 1, (MUG, IL): 2})
    assert plan.picks == [Pick(1, MUG, NJ, 1), Pick(1, MUG, IL, 2)]
    assert plan.short == {1: 2}
    assert plan.reserved_for(1) == 3


def test_a_line_with_no_stock_anywhere_is_short_by_its_whole_quantity_and_gets_no_picks():
    plan = plan_by_preference([LineRequest(1, MUG, 4), LineRequest(2, TEE, 1)], [NJ, IL], {(TEE, NJ): 1})
    assert plan.picks == [Pick(2, TEE, NJ, 1)]
    assert plan.short == {1: 4}
    assert plan.reserved_for(1) == 0


def test_never_uses_stock_in_a_warehouse_the_channel_does_not_list():
    plan = plan_by_preference([LineRequest(1, MUG, 2)], [NJ], {(MUG, NJ): 1, (MUG, CA): 50})
    assert plan.picks == [Pick(1, MUG, NJ, 1)]
    assert plan.short == {1: 1}


def test_treats_negative_availability_as_none():
    plan = plan_by_preference([LineRequest(1, MUG, 2)], [NJ, IL], {(MUG, NJ): -3, (MUG, IL): 2})
    assert plan.picks == [Pick(1, MUG, IL, 2)]


def test_leaves_the_availability_it_was_given_untouched():
    available = {(MUG, NJ): 3, (MUG, IL): 3}
    plan_by_preference([LineRequest(1, MUG, 5)], [NJ, IL], available)
    assert available == {(MUG, NJ): 3, (MUG, IL): 3}


def test_with_no_warehouses_every_line_is_short():
    plan = plan_by_preference([LineRequest(1, MUG, 2), LineRequest(2, TEE, 1)], [], {(MUG, NJ): 9})
    assert plan.picks == []
    assert plan.short == {1: 2, 2: 1}


def test_explains_the_strategy_the_warehouse_order_and_each_split():
    plan = plan_by_preference(
        [LineRequest(1, MUG, 1), LineRequest(2, TEE, 3)], [NJ, IL], {(MUG, NJ): 1, (TEE, NJ): 1, (TEE, IL): 1}
    )
    assert plan.explanation["strategy"] == "channel_preference"
    assert plan.explanation["warehouse_order"] == [NJ, IL]
    # Only the split line needs explaining, and it says how much is short.
    assert plan.explanation["notes"] == ["line 2: no single warehouse holds 3; split, 1 short"]


@given(
    quantities=st.lists(st.tuples(st.sampled_from([MUG, TEE]), st.integers(1, 6)), min_size=1, max_size=5),
    stock=st.dictionaries(
        st.tuples(st.sampled_from([MUG, TEE]), st.sampled_from([NJ, IL, CA])), st.integers(-2, 6), max_size=6
    ),
    order=st.permutations([NJ, IL, CA]).flatmap(lambda ws: st.integers(0, 3).map(lambda n: ws[:n])),
)
def test_every_plan_covers_each_line_exactly_from_listed_stock_without_overdrawing_it(quantities, stock, order):
    lines = [LineRequest(n, p, q) for n, (p, q) in enumerate(quantities, 1)]
    plan = plan_by_preference(lines, order, stock)

    for line in lines:
        assert plan.reserved_for(line.line_no) + plan.short.get(line.line_no, 0) == line.quantity
    taken: dict[tuple[int, int], int] = {}
    for pick in plan.picks:
        assert pick.warehouse_id in order
        assert pick.quantity > 0
        taken[(pick.product_id, pick.warehouse_id)] = taken.get((pick.product_id, pick.warehouse_id), 0) + pick.quantity
    for key, quantity in taken.items():
        assert quantity <= max(stock.get(key, 0), 0)
    # A shortage means every listed warehouse was emptied of that product.
    for line_no in plan.short:
        product = lines[line_no - 1].product_id
        assert all(taken.get((product, w), 0) == max(stock.get((product, w), 0), 0) for w in order)
