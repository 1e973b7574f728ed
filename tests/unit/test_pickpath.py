"""Pick paths: the Ratliff-Rosenthal tour is the shortest walk (checked by hand on small cases and
against Held-Karp on random ones), S-shape is never shorter, and a layout derives from bins."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oms.picking.layout import BinPosition, Layout, LayoutError, Location
from oms.picking.pickpath import Tour, held_karp, optimal_tour, s_shape, tour_length

# Ten aisles 3 m apart (x = 0 .. 27), 30 m long (y = 0 front .. 30 back), depot at (0, 0).
WAREHOUSE = Layout.regular(10, 3.0, 30.0)
ONE_AISLE = Layout(aisles_x=(0.0,), front_y=0.0, back_y=30.0)
TWO_AISLES = Layout(aisles_x=(0.0, 3.0), front_y=0.0, back_y=30.0)


def route_length(tour: Tour) -> float:
    return sum(abs(x2 - x1) + abs(y2 - y1) for (x1, y1), (x2, y2) in zip(tour.route, tour.route[1:], strict=False))


def walks_the_network(layout: Layout, tour: Tour) -> bool:
    """Every leg of the route runs along one aisle or along a cross aisle, and it closes at the depot."""
    cross = (layout.front_y, layout.back_y)
    legs = zip(tour.route, tour.route[1:], strict=False)
    on_network = all((x1 == x2 and x1 in layout.aisles_x) or (y1 == y2 and y1 in cross) for (x1, y1), (x2, y2) in legs)
    return on_network and tour.route[0] == tour.route[-1] == layout.depot


# --- hand-computed tours ----------------------------------------------------------------------


def test_an_empty_pick_list_is_a_walk_of_zero_metres():
    tour = optimal_tour(WAREHOUSE, [])
    assert tour.length_m == 0.0
    assert tour.order == ()
    assert s_shape(WAREHOUSE, []).length_m == 0.0
    assert held_karp(WAREHOUSE, []).length_m == 0.0


def test_one_pick_in_the_depot_aisle_is_out_and_back():
    assert optimal_tour(ONE_AISLE, [(0, 10.0)]).length_m == pytest.approx(20.0)


def test_picks_in_one_aisle_are_visited_in_walking_order_up_to_the_farthest():
    tour = optimal_tour(ONE_AISLE, [(0, 20.0), (0, 5.0), (0, 12.0)])
    assert tour.length_m == pytest.approx(40.0)
    assert tour.order == (1, 2, 0)


def test_two_picks_near_the_front_of_two_aisles_are_two_returns():
    # up aisle 0 to 5 m and back, 3 m across, up aisle 1 to 5 m and back, 3 m home
    assert optimal_tour(TWO_AISLES, [(0, 5.0), (1, 5.0)]).length_m == pytest.approx(26.0)


def test_two_picks_near_the_back_of_two_aisles_are_one_loop_through_both():
    # up aisle 0, across the back, down aisle 1, across the front: 30 + 3 + 30 + 3
    assert optimal_tour(TWO_AISLES, [(0, 28.0), (1, 28.0)]).length_m == pytest.approx(66.0)


def test_picks_only_near_the_front_never_use_the_back_cross_aisle():
    picks = [(a, 1.0) for a in range(10)]
    tour = optimal_tour(WAREHOUSE, picks)
    assert tour.length_m == pytest.approx(2 * 27 + 10 * 2)
    assert max(y for _, y in tour.route) == 1.0
    assert tour.order == tuple(range(10))


def test_a_depot_between_aisles_walks_to_both_ends_of_the_front():
    layout = Layout.regular(10, 3.0, 30.0, depot_x=13.5)
    tour = optimal_tour(layout, [(0, 1.0), (9, 1.0)])
    assert tour.length_m == pytest.approx(2 * 13.5 + 2 * 13.5 + 2 + 2)
    assert tour.route[0] == tour.route[-1] == (13.5, 0.0)


def test_a_depot_beyond_the_last_aisle_adds_the_walk_to_it_twice():
    layout = Layout(aisles_x=(0.0, 3.0), front_y=0.0, back_y=30.0, depot_x=10.0)
    assert optimal_tour(layout, [(0, 5.0)]).length_m == pytest.approx(2 * 10 + 10)


def test_a_depot_at_the_back_measures_picks_from_the_back():
    layout = Layout(aisles_x=(0.0, 3.0), front_y=0.0, back_y=30.0, depot_at_back=True)
    assert layout.depot == (0.0, 30.0)
    assert optimal_tour(layout, [(0, 25.0)]).length_m == pytest.approx(10.0)
    assert optimal_tour(layout, [(1, 25.0)]).length_m == pytest.approx(3 + 10 + 3)


def test_picks_on_the_cross_aisles_are_reached_without_entering_an_aisle():
    layout = Layout(aisles_x=(0.0, 3.0, 6.0), front_y=0.0, back_y=30.0)
    assert optimal_tour(layout, [(2, 0.0)]).length_m == pytest.approx(12.0)
    assert optimal_tour(layout, [(0, 30.0)]).length_m == pytest.approx(60.0)
    assert optimal_tour(layout, [(0, 30.0), (1, 30.0)]).length_m == pytest.approx(66.0)


def test_a_pick_at_the_depot_costs_nothing():
    tour = optimal_tour(WAREHOUSE, [(0, 0.0), (0, 0.0)])
    assert tour.length_m == 0.0
    assert tour.order == (0, 1)


def test_picks_at_the_same_spot_are_listed_together_in_the_order_given():
    picks = [(3, 10.0), (0, 4.0), (3, 10.0), (6, 22.0)]
    tour = optimal_tour(WAREHOUSE, picks)
    assert tour.length_m == pytest.approx(optimal_tour(WAREHOUSE, [(3, 10.0), (0, 4.0), (6, 22.0)]).length_m)
    first = tour.order.index(0)
    assert tour.order[first : first + 2] == (0, 2)


def test_the_walking_order_by_shortest_walks_is_as_long_as_the_tour():
    picks = [(1, 3.0), (7, 29.0), (4, 15.5), (9, 2.0), (0, 27.0), (4, 1.0)]
    tour = optimal_tour(WAREHOUSE, picks)
    assert sorted(tour.order) == list(range(len(picks)))
    assert tour_length(WAREHOUSE, picks, tour.order) == pytest.approx(tour.length_m)
    assert route_length(tour) == pytest.approx(tour.length_m)
    assert walks_the_network(WAREHOUSE, tour)


def test_s_shape_traverses_every_aisle_with_picks_and_returns_in_the_last_when_their_count_is_odd():
    # even: up aisle 0, across, down aisle 1, home (the optimum is 26: two short returns)
    assert s_shape(TWO_AISLES, [(0, 5.0), (1, 5.0)]).length_m == pytest.approx(66.0)
    # odd: up aisle 0, 3 across, down aisle 1, 3 across, into aisle 2 to 5 m and back, 6 home
    layout = Layout(aisles_x=(0.0, 3.0, 6.0), front_y=0.0, back_y=30.0)
    assert s_shape(layout, [(0, 5.0), (2, 5.0), (1, 12.0)]).length_m == pytest.approx(30 + 3 + 30 + 3 + 10 + 6)


def test_s_shape_sweeps_away_from_a_depot_at_the_left_and_lists_picks_as_it_passes_them():
    picks = [(2, 5.0), (1, 20.0), (0, 10.0), (1, 4.0)]
    tour = s_shape(WAREHOUSE, picks)
    # up aisle 0 (30), 3 across, down aisle 1 (30), 3 across, into aisle 2 to 5 m and back (10), 6 home;
    # the other way round would end with a 20 m return in aisle 0 and be longer
    assert tour.length_m == pytest.approx(30 + 3 + 30 + 3 + 10 + 6)
    assert tour.order == (2, 1, 3, 0)
    assert walks_the_network(WAREHOUSE, tour)


def test_held_karp_refuses_long_lists():
    with pytest.raises(ValueError, match="at most 12"):
        held_karp(WAREHOUSE, [(a % 10, float(a)) for a in range(13)])


def test_a_pick_off_the_layout_is_refused():
    with pytest.raises(LayoutError, match="no aisle 10"):
        optimal_tour(WAREHOUSE, [(10, 5.0)])
    with pytest.raises(LayoutError, match="outside the cross aisles"):
        s_shape(WAREHOUSE, [(0, 31.0)])


# --- random instances -------------------------------------------------------------------------


@st.composite
def instances(draw: st.DrawFn, max_picks: int = 8) -> tuple[Layout, list[tuple[int, float]]]:
    """Small warehouses of any shape, the depot anywhere on a cross aisle, picks anywhere
    including on the cross aisles, at the depot and at one spot twice."""
    positions = draw(st.lists(st.integers(0, 60), min_size=1, max_size=6, unique=True))
    xs = sorted(p / 2 for p in positions)
    front = draw(st.sampled_from([0.0, 1.5]))
    length = draw(st.sampled_from([4.0, 10.0, 30.0]))
    depot_x = draw(st.one_of(st.none(), st.sampled_from(xs), st.floats(-5, 35, allow_nan=False)))
    layout = Layout(xs, front, front + length, depot_x=depot_x, depot_at_back=draw(st.booleans()))
    y = st.one_of(
        st.sampled_from([front, front + length]),
        st.floats(front, front + length, allow_nan=False),
        st.integers(0, int(length)).map(lambda v: front + v),
    )
    picks = draw(st.lists(st.tuples(st.integers(0, len(xs) - 1), y), max_size=max_picks))
    if picks and draw(st.booleans()):
        picks.append(draw(st.sampled_from(picks)))
    return layout, picks


@settings(max_examples=300, deadline=None)
@given(instances())
def test_ratliff_rosenthal_is_as_short_as_held_karp(instance):
    layout, picks = instance
    rr, exact = optimal_tour(layout, picks), held_karp(layout, picks)
    assert rr.length_m == pytest.approx(exact.length_m, abs=1e-6)
    assert tour_length(layout, picks, exact.order) == pytest.approx(exact.length_m, abs=1e-6)
    assert route_length(exact) == pytest.approx(exact.length_m, abs=1e-6)
    assert walks_the_network(layout, exact)


@settings(max_examples=200, deadline=None)
@given(instances(max_picks=20))
def test_the_tour_visits_every_pick_once_along_the_aisles(instance):
    layout, picks = instance
    tour = optimal_tour(layout, picks)
    assert sorted(tour.order) == list(range(len(picks)))
    assert tour_length(layout, picks, tour.order) == pytest.approx(tour.length_m, abs=1e-6)
    assert route_length(tour) == pytest.approx(tour.length_m, abs=1e-6)
    assert walks_the_network(layout, tour)


@settings(max_examples=200, deadline=None)
@given(instances(max_picks=20))
def test_s_shape_is_never_shorter_than_the_optimal_tour(instance):
    layout, picks = instance
    tour = s_shape(layout, picks)
    assert tour.length_m >= optimal_tour(layout, picks).length_m - 1e-6
    assert sorted(tour.order) == list(range(len(picks)))
    assert route_length(tour) == pytest.approx(tour.length_m, abs=1e-6)
    assert walks_the_network(layout, tour)


# --- layouts ----------------------------------------------------------------------------------


def test_a_layout_derives_from_labelled_bins():
    bins = [
        BinPosition("A-01", 1.0, 2.0, "A"),
        BinPosition("A-02", 1.0, 20.0, "A"),
        ("B-01", 4.2, 5.0, "B"),
        ("B-02", 3.8, 18.0, "B"),
    ]
    layout = Layout.from_bins(bins)
    assert layout.aisles_x == (1.0, 4.0)
    assert layout.aisle_labels == ("A", "B")
    assert (layout.front_y, layout.back_y) == (1.0, 21.0)
    assert layout.depot == (1.0, 1.0)
    assert layout.locate_bins(bins) == {
        "A-01": Location(0, 2.0),
        "A-02": Location(0, 20.0),
        "B-01": Location(1, 5.0),
        "B-02": Location(1, 18.0),
    }


def test_unlabelled_bins_are_grouped_into_aisles_by_x_within_half_a_metre():
    bins = [("a", 0.0, 3.0, None), ("b", 0.3, 9.0, None), ("c", 0.6, 12.0, None), ("d", 3.0, 6.0, None)]
    layout = Layout.from_bins(bins, margin_m=2.0)
    assert layout.aisles_x == pytest.approx((0.3, 3.0))
    assert (layout.front_y, layout.back_y) == (1.0, 14.0)
    assert layout.locate(0.6, 12.0) == Location(0, 12.0)


def test_unlabelled_bins_join_a_labelled_aisle_at_their_x():
    layout = Layout.from_bins([("a", 6.0, 3.0, "C"), ("b", 6.2, 9.0, None), ("c", 0.0, 5.0, None)])
    assert layout.aisles_x == (0.0, 6.0)
    assert layout.aisle_labels == (None, "C")


def test_a_declared_depot_is_kept_when_deriving_a_layout():
    layout = Layout.from_bins([("a", 0.0, 3.0, "A"), ("b", 3.0, 3.0, "B")], depot_x=1.5, depot_at_back=True)
    assert layout.depot == (1.5, 4.0)


def test_two_labelled_aisles_at_the_same_x_are_refused():
    with pytest.raises(LayoutError, match="closer than"):
        Layout.from_bins([("a", 0.0, 3.0, "A"), ("b", 0.2, 3.0, "B")])


def test_a_declared_layout_is_checked():
    with pytest.raises(LayoutError, match="strictly increasing"):
        Layout(aisles_x=[3.0, 0.0], front_y=0.0, back_y=10.0)
    with pytest.raises(LayoutError, match="below the back"):
        Layout(aisles_x=[0.0], front_y=10.0, back_y=10.0)
    with pytest.raises(LayoutError, match="at least one aisle"):
        Layout(aisles_x=[], front_y=0.0, back_y=10.0)
    assert Layout(aisles_x=[0, 3], front_y=0, back_y=10) == Layout(aisles_x=(0.0, 3.0), front_y=0, back_y=10)


def test_distances_follow_the_aisles_and_the_nearer_cross_aisle():
    assert WAREHOUSE.distance((2, 5.0), (2, 20.0)) == 15.0
    assert WAREHOUSE.distance((0, 5.0), (3, 8.0)) == 9 + 5 + 8  # via the front
    assert WAREHOUSE.distance((0, 25.0), (3, 28.0)) == 9 + 5 + 2  # via the back
    assert WAREHOUSE.depot_distance((4, 7.0)) == 12 + 7
