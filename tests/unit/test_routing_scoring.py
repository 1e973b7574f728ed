"""plan_by_cost: fewest shipments first, then the lowest cost (great-circle km by default); stores
only when the channel allows them; lines split only when needed; the rest short; explained."""

from __future__ import annotations

import json
import random
from collections import defaultdict

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oms.routing.geocode import Geocode, NoMatch
from oms.routing.rules import LineRequest, Pick, Plan
from oms.routing.scoring import (
    Candidate,
    CostModel,
    exhaustive_plan,
    make_planner,
    plan_by_cost,
    plan_cost,
)

MUG, TEE, CAP = 1, 2, 3
NJ = Candidate(10, "NJ1", 40.7357, -74.1724)  # Newark
IL = Candidate(20, "IL1", 41.8853, -87.6221)  # Chicago
CA = Candidate(30, "CA1", 34.0522, -118.2437)  # Los Angeles
PA = Candidate(40, "PA1", 39.9587, -75.1991)  # Philadelphia
STORE = Candidate(50, "BK-STORE", 40.6940, -73.9903, kind="store")  # in Brooklyn itself
BROOKLYN = Geocode(40.694, -73.9903, "zip", "ZIP 11201 (Brooklyn, NY)")
ALL = [NJ, IL, CA, PA]


def wh(plan: Plan) -> set[int]:
    return {p.warehouse_id for p in plan.picks}


def check_valid(plan: Plan, lines, candidates, available, allow_stores=False) -> None:
    """Invariants of every plan: picks within stock, only allowed candidates, every unit accounted."""
    allowed = {c.id for c in candidates if allow_stores or c.kind != "store"}
    taken: dict[tuple[int, int], int] = defaultdict(int)
    for p in plan.picks:
        assert p.warehouse_id in allowed
        assert p.quantity > 0
        taken[(p.product_id, p.warehouse_id)] += p.quantity
    for key, q in taken.items():
        assert q <= available.get(key, 0), key
    for ln in lines:
        line = ln if isinstance(ln, LineRequest) else LineRequest(*ln)
        if line.quantity > 0:
            assert plan.reserved_for(line.line_no) + plan.short.get(line.line_no, 0) == line.quantity
    json.dumps(plan.explanation)  # stored as JSON with the order


# --- the rules ----------------------------------------------------------------------------------


def test_brooklyn_order_goes_to_new_jersey():
    lines = [LineRequest(1, MUG, 2), LineRequest(2, TEE, 1)]
    stock = {(MUG, w.id): 10 for w in ALL} | {(TEE, w.id): 10 for w in ALL}
    plan = plan_by_cost(lines, [IL, CA, NJ], stock, BROOKLYN)
    assert plan.picks == [Pick(1, MUG, NJ.id, 2), Pick(2, TEE, NJ.id, 1)]
    assert plan.short == {}


def test_one_warehouse_holding_everything_beats_a_nearer_split():
    # NJ and PA together are far nearer than Chicago, but that is two parcels: one from IL wins.
    lines = [LineRequest(1, MUG, 1), LineRequest(2, TEE, 1)]
    stock = {(MUG, NJ.id): 5, (TEE, PA.id): 5, (MUG, IL.id): 5, (TEE, IL.id): 5}
    plan = plan_by_cost(lines, ALL, stock, BROOKLYN)
    assert wh(plan) == {IL.id}
    assert plan.explanation["chosen"]["split_lines"] == []
    assert "single shipment from IL1" in plan.explanation["why"]
    assert "nearer NJ1" in plan.explanation["why"]  # and it says what the nearer one lacked


def test_the_closest_warehouse_that_holds_everything_wins():
    stock = {(MUG, w.id): 5 for w in ALL}
    plan = plan_by_cost([LineRequest(1, MUG, 3)], [CA, IL, PA, NJ], stock, BROOKLYN)
    assert plan.picks == [Pick(1, MUG, NJ.id, 3)]
    assert plan.explanation["runner_up"]["codes"] == ["PA1"]
    # ...and from Los Angeles the answer flips
    plan = plan_by_cost([LineRequest(1, MUG, 3)], [CA, IL, PA, NJ], stock, (34.0, -118.0))
    assert plan.picks == [Pick(1, MUG, CA.id, 3)]


def test_stores_ship_only_when_the_channel_allows_them():
    stock = {(MUG, STORE.id): 5, (MUG, NJ.id): 5}
    plan = plan_by_cost([LineRequest(1, MUG, 1)], [NJ, STORE], stock, BROOKLYN)
    assert wh(plan) == {NJ.id}
    assert plan.explanation["excluded"][0]["warehouse_id"] == STORE.id
    assert "store" in plan.explanation["excluded"][0]["reason"]
    assert STORE.id not in [c["warehouse_id"] for c in plan.explanation["candidates"]]
    plan = plan_by_cost([LineRequest(1, MUG, 1)], [NJ, STORE], stock, BROOKLYN, allow_stores=True)
    assert wh(plan) == {STORE.id}


def test_only_candidates_passed_in_are_considered():
    # An inactive or ineligible warehouse is not passed: its stock does not count, even if nearest.
    stock = {(MUG, NJ.id): 5, (MUG, IL.id): 5}
    plan = plan_by_cost([LineRequest(1, MUG, 1)], [IL, CA], stock, BROOKLYN)
    assert wh(plan) == {IL.id}
    assert {c["warehouse_id"] for c in plan.explanation["candidates"]} == {IL.id, CA.id}


def test_a_line_is_split_only_when_no_warehouse_holds_it_whole():
    stock = {(MUG, NJ.id): 3, (MUG, PA.id): 2, (MUG, IL.id): 4}
    plan = plan_by_cost([LineRequest(1, MUG, 5)], ALL, stock, BROOKLYN)
    # Two shipments are needed; NJ + PA is the cheapest pair, nearest first.
    assert plan.picks == [Pick(1, MUG, NJ.id, 3), Pick(1, MUG, PA.id, 2)]
    assert plan.explanation["chosen"]["split_lines"] == [1]
    assert "no single warehouse holds the whole order" in plan.explanation["why"]


def test_in_a_split_order_each_line_stays_whole_when_it_can():
    # Two parcels are unavoidable (TEE is only in PA, CAP only in NJ); MUG's 5 units fit whole in NJ.
    lines = [LineRequest(1, MUG, 3), LineRequest(2, MUG, 5), LineRequest(3, TEE, 1), LineRequest(4, CAP, 1)]
    stock = {(MUG, NJ.id): 5, (MUG, PA.id): 3, (TEE, PA.id): 1, (CAP, NJ.id): 1}
    plan = plan_by_cost(lines, ALL, stock, BROOKLYN)
    assert wh(plan) == {NJ.id, PA.id}
    assert plan.explanation["chosen"]["split_lines"] == []
    assert sorted((p.line_no, p.warehouse_id, p.quantity) for p in plan.picks) == [
        (1, PA.id, 3),
        (2, NJ.id, 5),
        (3, PA.id, 1),
        (4, NJ.id, 1),
    ]


def test_lines_nobody_can_fill_are_short_and_the_rest_is_still_planned():
    stock = {(MUG, NJ.id): 5, (TEE, NJ.id): 1}
    lines = [LineRequest(1, MUG, 2), LineRequest(2, CAP, 4), LineRequest(3, TEE, 3)]
    plan = plan_by_cost(lines, ALL, stock, BROOKLYN)
    check_valid(plan, lines, ALL, stock)
    assert plan.picks == [Pick(1, MUG, NJ.id, 2), Pick(3, TEE, NJ.id, 1)]
    assert plan.short == {2: 4, 3: 2}
    assert plan.explanation["short"] == [{"line_no": 2, "quantity": 4}, {"line_no": 3, "quantity": 2}]
    assert "short" in plan.explanation["why"]


def test_lines_of_one_product_share_its_stock_earlier_lines_first():
    stock = {(MUG, NJ.id): 4}
    lines = [LineRequest(1, MUG, 3), LineRequest(2, MUG, 3)]
    plan = plan_by_cost(lines, ALL, stock, BROOKLYN)
    assert plan.reserved_for(1) == 3 and plan.reserved_for(2) == 1
    assert plan.short == {2: 2}


def test_nothing_in_stock_anywhere():
    plan = plan_by_cost([LineRequest(1, MUG, 2)], ALL, {}, BROOKLYN)
    assert plan.picks == [] and plan.short == {1: 2}
    assert plan.explanation["chosen"] is None
    assert "every line is short" in plan.explanation["why"]


def test_without_a_destination_the_channel_order_decides_and_the_plan_says_why():
    stock = {(MUG, w.id): 5 for w in ALL}
    ranked = [
        Candidate(NJ.id, "NJ1", NJ.latitude, NJ.longitude, preference_rank=2),
        Candidate(CA.id, "CA1", CA.latitude, CA.longitude, preference_rank=0),
        Candidate(IL.id, "IL1", IL.latitude, IL.longitude, preference_rank=1),
    ]
    no_match = NoMatch("nothing in the address matched the offline data", ("no city named 'Xyz' in US",))
    for destination in (None, no_match):
        plan = plan_by_cost([LineRequest(1, MUG, 1)], ranked, stock, destination)
        assert wh(plan) == {CA.id}
        e = plan.explanation
        assert e["strategy"] == "channel_preference_fallback"
        assert e["destination"] is None
        assert "channel" in e["fallback_reason"]
        assert all(c["distance_km"] is None for c in e["candidates"])
    assert "nothing in the address matched" in e["fallback_reason"]
    # Fewest shipments still comes first: a single parcel from rank 2 beats a split from ranks 0 and 1.
    stock = {(MUG, CA.id): 1, (MUG, IL.id): 1, (MUG, NJ.id): 2}
    plan = plan_by_cost([LineRequest(1, MUG, 2)], ranked, stock, None)
    assert plan.picks == [Pick(1, MUG, NJ.id, 2)]


def test_explanation_says_what_was_considered_and_why_the_winner_won():
    lines = [LineRequest(1, MUG, 2), LineRequest(2, TEE, 1)]
    stock = {(MUG, NJ.id): 1, (MUG, IL.id): 5, (TEE, IL.id): 5, (MUG, CA.id): 5, (TEE, CA.id): 5}
    plan = plan_by_cost(lines, ALL, stock, BROOKLYN)
    e = json.loads(json.dumps(plan.explanation))
    assert e["strategy"] == "fewest_shipments_then_distance"
    assert e["optimal"] is True
    assert e["destination"]["source"] == "zip" and "11201" in e["destination"]["detail"]
    by_code = {c["code"]: c for c in e["candidates"]}
    assert set(by_code) == {"NJ1", "IL1", "CA1", "PA1"}
    assert by_code["NJ1"]["distance_km"] == pytest.approx(16, abs=3)
    assert by_code["IL1"]["distance_km"] == pytest.approx(1145, abs=15)
    assert by_code["NJ1"]["can_cover_lines"] == []  # 1 mug of 2
    assert by_code["IL1"]["can_cover_lines"] == [1, 2] and by_code["IL1"]["covers_whole_order"]
    assert by_code["PA1"]["can_cover_lines"] == []
    assert by_code["IL1"]["score"] < by_code["CA1"]["score"]
    assert e["chosen"]["codes"] == ["IL1"] and e["chosen"]["shipments"] == 1
    assert e["chosen"]["score"] == pytest.approx(by_code["IL1"]["score"])
    assert e["chosen"]["legs"][0]["units"] == 3
    assert e["why"].startswith("single shipment from IL1 (1,14")
    assert "beats CA1 (3,9" in e["why"]
    assert "formula" in e["cost_model"]


def test_score_is_the_documented_formula():
    model = CostModel(per_shipment=500, per_km=2, per_unit_km=0.5)
    stock = {(MUG, NJ.id): 1, (MUG, PA.id): 2}
    plan = plan_by_cost([LineRequest(1, MUG, 3)], ALL, stock, BROOKLYN, cost_model=model)
    legs = plan.explanation["chosen"]["legs"]
    expected = sum(500 + 2 * leg["distance_km"] + 0.5 * leg["units"] * leg["distance_km"] for leg in legs)
    assert plan.explanation["chosen"]["score"] == pytest.approx(expected, abs=1)
    assert plan_cost(plan.picks, ALL, BROOKLYN, model)[1] == pytest.approx(
        plan.explanation["chosen"]["score"], abs=0.01
    )


def test_a_carrier_rate_can_replace_distance():
    # A made-up rate card under which Chicago is cheaper than Newark: the hook decides, not the km.
    def rate_card(c: Candidate, km: float | None, units: int) -> float:
        return {"NJ1": 9.0, "IL1": 4.0}.get(c.code, 20.0) + 0.5 * units

    stock = {(MUG, NJ.id): 5, (MUG, IL.id): 5}
    plan = plan_by_cost([LineRequest(1, MUG, 2)], ALL, stock, BROOKLYN, cost_model=CostModel(rate=rate_card))
    assert wh(plan) == {IL.id}
    assert plan.explanation["cost_model"]["rate"] == "rate_card"
    assert plan.explanation["chosen"]["score"] == pytest.approx(1000 + 4.0 + 1.0)


def test_a_warehouse_without_coordinates_is_a_last_resort():
    nowhere = Candidate(60, "OLD", None, None)
    stock = {(MUG, nowhere.id): 5, (MUG, CA.id): 5}
    plan = plan_by_cost([LineRequest(1, MUG, 1)], [nowhere, CA], stock, BROOKLYN)
    assert wh(plan) == {CA.id}
    plan = plan_by_cost([LineRequest(1, MUG, 1)], [nowhere, CA], {(MUG, nowhere.id): 5}, BROOKLYN)
    assert wh(plan) == {nowhere.id}
    assert "unknown distance" in plan.explanation["why"]


def test_adapter_has_the_planner_shape_of_rules():
    planner = make_planner(ALL + [STORE], BROOKLYN)
    stock = {(MUG, w.id): 5 for w in ALL}
    # eligible ids in the channel's order; IL is ineligible here, so PA (nearer than CA) ships
    plan = planner([LineRequest(1, MUG, 1)], [CA.id, PA.id], stock)
    assert wh(plan) == {PA.id}
    ranks = {c["code"]: c["preference_rank"] for c in plan.explanation["candidates"]}
    assert ranks == {"CA1": 0, "PA1": 1}
    # without a destination, the adapter follows the eligible order
    plan = make_planner(ALL, None)([LineRequest(1, MUG, 1)], [CA.id, PA.id], stock)
    assert wh(plan) == {CA.id}


def test_accepts_plain_tuples_and_ignores_empty_lines():
    cands = [(NJ.id, "NJ1", NJ.latitude, NJ.longitude, "warehouse", 0), (50, "BK", 40.69, -73.99, "store", 1)]
    stock = {(MUG, NJ.id): 5, (MUG, 50): 5}
    plan = plan_by_cost([(1, MUG, 2), (2, TEE, 0)], cands, stock, (40.69, -73.99))
    assert plan.picks == [Pick(1, MUG, NJ.id, 2)] and plan.short == {}
    assert plan.explanation["destination"]["source"] == "given"
    assert plan_cost(plan.picks, cands, (40.69, -73.99))[0] == 1


def test_long_candidate_lists_use_exact_search_for_three_shipments():
    # 20 warehouses; the order needs three: each product is in two places, none shares a warehouse.
    # exact_limit=0 makes the planner search as it does for long lists (pairs, then branch and bound).
    rng = random.Random(3)
    cands = [Candidate(i, f"W{i}", rng.uniform(30, 45), rng.uniform(-120, -75)) for i in range(1, 21)]
    stock = {(p, w): 5 for p, w in [(MUG, 3), (MUG, 7), (TEE, 5), (TEE, 9), (CAP, 11), (CAP, 2)]}
    lines = [LineRequest(1, MUG, 2), LineRequest(2, TEE, 2), LineRequest(3, CAP, 2)]
    plan = plan_by_cost(lines, cands, stock, BROOKLYN, exact_limit=0)
    best = exhaustive_plan(lines, cands, stock, BROOKLYN)
    assert best is not None
    assert plan.explanation["method"] == "branch_and_bound" and plan.explanation["optimal"] is True
    assert plan_cost(plan.picks, cands, BROOKLYN) == pytest.approx(plan_cost(best.picks, cands, BROOKLYN))
    assert "cheapest set of that size" in plan.explanation["why"]
    assert plan_by_cost(lines, cands, stock, BROOKLYN).explanation["method"] == "exact_subsets"  # 6 stocked


def sparse_order(seed: int, warehouses: int = 20):
    rng = random.Random(seed)
    cands = [Candidate(i, f"W{i}", rng.uniform(25, 48), rng.uniform(-123, -70)) for i in range(1, warehouses + 1)]
    products = rng.sample(range(1, 100), 8)
    lines = [LineRequest(i + 1, p, rng.randint(1, 5)) for i, p in enumerate(products)]
    stock = {(p, c.id): rng.randint(1, 10) for c in cands for p in products if rng.random() < 0.3}
    return lines, cands, stock, (rng.uniform(25, 48), rng.uniform(-123, -70))


def test_a_search_cut_short_by_its_budget_still_plans_and_says_it_is_not_proven():
    cut_short = 0
    for seed in range(10):
        lines, cands, stock, dest = sparse_order(seed)
        plan = plan_by_cost(lines, cands, stock, dest, exact_limit=0, budget=0)
        check_valid(plan, lines, cands, stock)
        assert plan.short == {}
        best = plan_by_cost(lines, cands, stock, dest, exact_limit=0)
        assert best.explanation["optimal"] is True
        if not plan.explanation["optimal"]:
            cut_short += 1
            assert "within the search budget" in plan.explanation["why"]
        assert plan_cost(plan.picks, cands, dest) >= plan_cost(best.picks, cands, dest)
    assert cut_short > 0


# --- against the exhaustive optimum -------------------------------------------------------------


@st.composite
def instances(draw, max_warehouses=7):
    n = draw(st.integers(1, max_warehouses))
    products = draw(st.integers(1, 4))
    cands = [
        Candidate(
            id=i + 1,
            code=f"W{i + 1}",
            latitude=draw(st.one_of(st.none(), st.floats(25, 49))) if i == 0 else draw(st.floats(25, 49)),
            longitude=draw(st.floats(-124, -67)),
            kind=draw(st.sampled_from(["warehouse", "warehouse", "store"])),
            preference_rank=draw(st.integers(0, 5)),
        )
        for i in range(n)
    ]
    lines = [
        LineRequest(i + 1, draw(st.integers(1, products)), draw(st.integers(1, 6)))
        for i in range(draw(st.integers(1, 5)))
    ]
    available = {
        (p, c.id): draw(st.integers(0, 8)) for c in cands for p in range(1, products + 1) if draw(st.booleans())
    }
    destination = draw(st.one_of(st.none(), st.tuples(st.floats(25, 49), st.floats(-124, -67))))
    model = draw(
        st.sampled_from([CostModel(), CostModel(per_unit_km=0.2), CostModel(per_shipment=0), CostModel(per_km=0.01)])
    )
    return lines, cands, available, destination, model, draw(st.booleans())


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_same_cost_as_exhaustive_search_on_every_small_instance(instance):
    lines, cands, available, destination, model, stores = instance
    best = exhaustive_plan(lines, cands, available, destination, allow_stores=stores, cost_model=model)
    assert best is not None
    want = plan_cost(best.picks, cands, destination, model)
    # both the default search and the one used for long candidate lists (no subset enumeration)
    for exact_limit in (12, 0):
        plan = plan_by_cost(
            lines, cands, available, destination, allow_stores=stores, cost_model=model, exact_limit=exact_limit
        )
        check_valid(plan, lines, cands, available, allow_stores=stores)
        shipments, cost = plan_cost(plan.picks, cands, destination, model)
        assert shipments == want[0]
        assert cost == pytest.approx(want[1], rel=1e-9, abs=1e-6)
        assert plan.short == best.short
        assert plan.explanation["optimal"] is True
        assert plan.explanation["chosen"] is None or plan.explanation["chosen"]["score"] == pytest.approx(
            cost, abs=0.01
        )


def test_same_cost_as_exhaustive_search_with_sixteen_warehouses():
    """Larger orders, where the pair search and branch and bound do the work: gap 0 on every one."""
    methods = set()
    for seed in range(40):
        lines, cands, stock, dest = sparse_order(seed, warehouses=16)
        best = exhaustive_plan(lines, cands, stock, dest)
        assert best is not None
        plan = plan_by_cost(lines, cands, stock, dest)
        check_valid(plan, lines, cands, stock)
        methods.add(plan.explanation["method"])
        (s1, c1), (s2, c2) = plan_cost(plan.picks, cands, dest), plan_cost(best.picks, cands, dest)
        assert s1 == s2
        assert c1 == pytest.approx(c2, rel=1e-12)
    assert {"pairs", "branch_and_bound"} <= methods
