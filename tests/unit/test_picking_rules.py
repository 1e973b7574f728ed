"""Picking rules: bins chosen, waves selected, scans verified. Pure, no database."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from oms.errors import Conflict, InvalidInput
from oms.picking.layout import Layout
from oms.picking.pickpath import optimal_tour
from oms.picking.rules import (
    BinOffer,
    Step,
    WaveCandidate,
    check_bin,
    check_item,
    check_order_of_scans,
    check_quantity,
    check_short,
    choose_bins,
    expected_step,
    item_matches,
    select_wave,
    tote_code,
)

# --- bins --------------------------------------------------------------------------------------


def test_one_bin_that_holds_everything_is_enough_and_the_closest_such_bin_wins() -> None:
    offers = [BinOffer(1, 10, 30.0), BinOffer(2, 5, 4.0), BinOffer(3, 5, 2.0), BinOffer(4, 2, 0.5)]
    assert choose_bins(5, offers) == [(3, 5)]


def test_the_fullest_bins_are_taken_first_so_the_fewest_bins_are_visited() -> None:
    offers = [BinOffer(1, 3, 1.0), BinOffer(2, 3, 2.0), BinOffer(3, 6, 50.0), BinOffer(4, 2, 0.0)]
    assert choose_bins(9, offers) == [(3, 6), (1, 3)]


def test_units_no_bin_holds_are_picked_at_the_depot() -> None:
    assert choose_bins(7, [BinOffer(1, 2, 1.0), BinOffer(2, 0, 0.0)]) == [(1, 2), (None, 5)]
    assert choose_bins(3, []) == [(None, 3)]
    assert choose_bins(0, [BinOffer(1, 2, 1.0)]) == []


@given(
    st.lists(st.tuples(st.integers(0, 20), st.floats(0, 100)), max_size=8),
    st.integers(1, 60),
)
def test_bins_chosen_cover_the_quantity_with_as_few_bins_as_any_choice(rows, quantity) -> None:  # type: ignore[no-untyped-def]
    offers = [BinOffer(i, free, d) for i, (free, d) in enumerate(rows)]
    chosen = choose_bins(quantity, offers)
    assert sum(q for _, q in chosen) == quantity
    binned = [(b, q) for b, q in chosen if b is not None]
    free = {o.bin_id: o.free for o in offers}
    assert all(0 < q <= free[b] for b, q in binned)
    assert len({b for b, _ in binned}) == len(binned)
    covers = [
        k
        for k in range(len(offers) + 1)
        for combo in itertools.combinations(offers, k)
        if sum(o.free for o in combo) >= quantity
    ]
    if covers:
        assert len(binned) == min(covers)
        assert all(b is not None for b, _ in chosen)


# --- waves -------------------------------------------------------------------------------------

LAYOUT = Layout(aisles_x=(0.0, 5.0, 10.0), front_y=0.0, back_y=20.0)
DEPOT = "depot"


def _distance(a, b) -> float:  # type: ignore[no-untyped-def]
    if a == b:
        return 0.0
    if DEPOT in (a, b):
        return LAYOUT.depot_distance(b if a == DEPOT else a)
    return LAYOUT.distance(a, b)


def _walk(places) -> float:  # type: ignore[no-untyped-def]
    stops = [p for p in places if p != DEPOT]
    return optimal_tour(LAYOUT, stops).length_m if stops else 0.0


def test_the_oldest_order_seeds_the_wave_then_the_nearest_join() -> None:
    candidates = [
        WaveCandidate(1, 1, ((2, 18.0),)),  # the oldest, at the far end of the last aisle
        WaveCandidate(2, 1, ((0, 1.0),)),  # a metre from the depot
        WaveCandidate(3, 1, ((2, 16.0),)),  # next to the seed
    ]
    assert select_wave(candidates, _distance, DEPOT, max_orders=2) == [1, 2]  # the depot is in every walk
    assert select_wave(candidates, _distance, DEPOT, max_orders=3) == [1, 2, 3]
    assert select_wave(candidates, _distance, DEPOT, max_orders=1) == [1]


def test_priced_by_the_walk_a_bin_on_an_aisle_already_walked_costs_nothing() -> None:
    candidates = [
        WaveCandidate(1, 1, ((0, 18.0),)),  # seed: up aisle 0 and back
        WaveCandidate(2, 1, ((1, 19.0),)),  # 8 m from the seed by the back, but a new aisle to walk
        WaveCandidate(3, 1, ((0, 9.0),)),  # 9 m from the seed, on the way
    ]
    assert select_wave(candidates, _distance, DEPOT, max_orders=2) == [1, 2]
    assert select_wave(candidates, _distance, DEPOT, max_orders=2, walk=_walk) == [1, 3]


def test_a_wave_keeps_to_max_units_but_always_takes_the_oldest() -> None:
    candidates = [WaveCandidate(1, 8, (DEPOT,)), WaveCandidate(2, 5, (DEPOT,)), WaveCandidate(3, 2, (DEPOT,))]
    assert select_wave(candidates, _distance, DEPOT, max_orders=10, max_units=10) == [1, 3]
    assert select_wave(candidates, _distance, DEPOT, max_orders=10, max_units=5) == [1]
    assert select_wave([], _distance, DEPOT, max_orders=10) == []


def test_ties_go_to_the_older_order() -> None:
    candidates = [WaveCandidate(n, 1, ((1, 10.0),)) for n in (5, 6, 7)]
    assert select_wave(candidates, _distance, DEPOT, max_orders=2, walk=_walk) == [5, 6]


def test_totes_are_numbered_from_t01() -> None:
    assert [tote_code(n) for n in (1, 2, 10, 100)] == ["T01", "T02", "T10", "T100"]


# --- scans -------------------------------------------------------------------------------------


def test_a_task_expects_the_bin_then_the_item_then_a_quantity() -> None:
    assert expected_step(True, [], 3) == Step.BIN
    assert expected_step(True, ["bin"], 3) == Step.ITEM
    assert expected_step(True, ["bin", "item"], 3) == Step.QUANTITY
    assert expected_step(True, ["bin", "item", "quantity"], 1) == Step.ITEM  # the bin stays verified
    assert expected_step(True, ["bin", "item", "quantity"], 0) is None
    assert expected_step(False, [], 2) == Step.ITEM  # at the depot: no bin


def test_scans_out_of_order_are_refused_with_the_step_expected() -> None:
    with pytest.raises(Conflict) as err:
        check_order_of_scans(Step.ITEM, Step.BIN)
    assert err.value.code == "scan_bin_first"
    with pytest.raises(Conflict) as err:
        check_order_of_scans(Step.QUANTITY, Step.BIN)
    assert err.value.code == "scan_bin_first"
    with pytest.raises(Conflict) as err:
        check_order_of_scans(Step.QUANTITY, Step.ITEM)
    assert err.value.code == "scan_item_first"
    for step, expected in [(Step.BIN, Step.QUANTITY), (Step.ITEM, Step.QUANTITY), (Step.BIN, Step.ITEM)]:
        check_order_of_scans(step, expected)  # a re-scan is welcome


def test_a_wrong_bin_names_the_bin_expected() -> None:
    check_bin(" a-01 ", "A-01")
    with pytest.raises(InvalidInput) as err:
        check_bin("B-07", "A-01")
    assert err.value.code == "wrong_bin" and err.value.extra["expected_bin"] == "A-01" and "A-01" in err.value.detail
    with pytest.raises(InvalidInput):
        check_bin("A-01", None)


def test_an_item_is_known_by_its_gtin_or_its_sku() -> None:
    assert item_matches("4006381333931", "PEN-1", "4006381333931")
    assert item_matches("04006381333931", "PEN-1", "4006381333931")  # GTIN-14 of the same item
    assert item_matches("pen-1", "PEN-1", None)
    assert not item_matches("4006381333948", "PEN-1", "4006381333931")
    with pytest.raises(InvalidInput) as err:
        check_item("MUG", "PEN-1", "4006381333931")
    assert err.value.code == "wrong_item"
    assert err.value.extra == {"expected_sku": "PEN-1", "expected_barcode": "4006381333931"}


def test_more_than_remains_is_refused_saying_how_many_remain() -> None:
    check_quantity(3, 3)
    with pytest.raises(InvalidInput) as err:
        check_quantity(4, 3)
    assert err.value.code == "too_many" and err.value.extra["remaining"] == 3 and "3" in err.value.detail


def test_a_short_pick_must_find_fewer_than_needed() -> None:
    assert check_short(0, 4) == 4
    assert check_short(3, 4) == 1
    for found in (4, 5):
        with pytest.raises(InvalidInput) as err:
            check_short(found, 4)
        assert err.value.code == "not_short"
    with pytest.raises(InvalidInput):
        check_short(-1, 4)
