"""Table rates: zones by distance band and by ZIP prefix, weight breaks, dimensional weight, each
surcharge, transit days, and rate shopping that meets the promise or falls back to the fastest."""

from __future__ import annotations

import math
from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from oms.shipping import carriers_demo as demo
from oms.shipping.rates import (
    DistanceZones,
    Location,
    Package,
    RateTable,
    Service,
    Surcharges,
    ZipPrefixZones,
    dim_weight_g,
    quote,
    shop,
)
from oms.shipping.rates import NotServiceable as NotServiceableError

KM_PER_DEGREE = math.pi * 6371.0088 / 180  # along a meridian, the haversine's own sphere

HOME = Location(lat=38.256783, lon=-85.754048, zip="40202")  # Louisville KY, Census ZCTA point


def north(km: float, zip: str | None = None) -> Location:
    """A point ``km`` due north of HOME: distances in these tests are exact, not looked up."""
    return Location(lat=HOME.lat + km / KM_PER_DEGREE, lon=HOME.lon, zip=zip)


def D(s: str) -> Decimal:
    return Decimal(s)


def service(**changes) -> Service:
    """Two zones (near up to 100 km, far up to 1000 km), breaks at 1 and 5 kg, no surcharges unless asked."""
    base = Service(
        carrier="test",
        code="std",
        name="Test Standard",
        level="standard",
        zones=DistanceZones(((100.0, "near"), (1000.0, "far"))),
        rates=RateTable(
            breaks_g=(1000, 5000),
            prices={"near": (D("5.00"), D("8.00")), "far": (D("7.00"), D("12.00"))},
            per_extra_kg={"near": D("1.10"), "far": D("1.50")},
        ),
        transit_days={"near": 1, "far": 3},
    )
    return replace(base, **changes)


def box(weight_g: int = 800, dims_mm: tuple[int, int, int] = (200, 150, 100), fragile: bool = False) -> Package:
    return Package(weight_g, dims_mm, fragile)


# --- zones -------------------------------------------------------------------------------------------


def test_picks_the_first_distance_band_that_reaches_the_destination():
    assert quote(service(), box(), HOME, north(50)).zone == "near"
    assert quote(service(), box(), HOME, north(500)).zone == "far"


def test_a_destination_exactly_on_a_band_edge_belongs_to_the_nearer_zone():
    assert quote(service(), box(), HOME, north(99.999)).zone == "near"
    assert quote(service(), box(), HOME, north(100.01)).zone == "far"


def test_refuses_a_destination_beyond_the_farthest_band():
    with pytest.raises(NotServiceableError, match="beyond the farthest zone"):
        quote(service(), box(), HOME, north(1200))


def test_distance_zones_need_coordinates_at_both_ends():
    with pytest.raises(NotServiceableError, match="latitude and longitude"):
        quote(service(), box(), HOME, Location(zip="40202"))


def test_zip_zones_use_the_longest_matching_destination_prefix():
    zones = ZipPrefixZones({"40": "wide", "402": "metro", "40299": "exact"})
    svc = service(
        zones=zones, transit_days={"wide": 2, "metro": 1, "exact": 1}, rates=_flat_rates("wide", "metro", "exact")
    )
    assert quote(svc, box(), HOME, Location(zip="40601")).zone == "wide"
    assert quote(svc, box(), HOME, Location(zip="40202-1234")).zone == "metro"
    assert quote(svc, box(), HOME, Location(zip="40299")).zone == "exact"


def test_zip_zones_refuse_a_destination_outside_the_area_and_a_pickup_outside_the_origins():
    svc = service(
        zones=ZipPrefixZones({"402": "metro"}, origins=frozenset({"40"})),
        rates=_flat_rates("metro"),
        transit_days={"metro": 1},
    )
    with pytest.raises(NotServiceableError, match="outside the delivery area"):
        quote(svc, box(), HOME, Location(zip="94103"))
    with pytest.raises(NotServiceableError, match="no pickup"):
        quote(svc, box(), Location(zip="94103"), Location(zip="40202"))
    with pytest.raises(NotServiceableError, match="need a US ZIP"):
        quote(svc, box(), HOME, Location(lat=38.0, lon=-85.0))


def _flat_rates(*zones: str) -> RateTable:
    return RateTable((1000, 5000), {z: (D("5.00"), D("8.00")) for z in zones}, {z: D("1.00") for z in zones})


def test_transit_days_come_from_the_zone():
    assert quote(service(), box(), HOME, north(50)).transit_days == 1
    assert quote(service(), box(), HOME, north(500)).transit_days == 3


# --- weight breaks -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("weight_g", "price"),
    [(1, "5.00"), (1000, "5.00"), (1001, "8.00"), (5000, "8.00"), (5001, "9.10"), (6000, "9.10"), (6001, "10.20")],
)
def test_bills_the_first_break_at_or_above_the_weight_then_each_started_extra_kg(weight_g, price):
    q = quote(service(), box(weight_g=weight_g), HOME, north(50))
    assert q.cost == D(price)


def test_extra_kg_past_the_last_break_use_the_zone_rate():
    q = quote(service(), box(weight_g=7500), HOME, north(500))  # 12.00 + 3 started kg x 1.50
    assert q.cost == D("16.50")


def test_rate_tables_refuse_breaks_out_of_order_and_rows_of_the_wrong_length():
    with pytest.raises(Exception, match="ascending"):
        RateTable((5000, 1000), {"z": (D(1), D(2))}, {"z": D(1)})
    with pytest.raises(Exception, match="one price per break"):
        RateTable((1000, 5000), {"z": (D(1),)}, {"z": D(1)})


def test_refuses_a_package_over_the_service_weight_or_length_limit():
    with pytest.raises(NotServiceableError, match="takes up to 5000 g"):
        quote(service(max_weight_g=5000), box(weight_g=5001), HOME, north(50))
    with pytest.raises(NotServiceableError, match="sides up to 500 mm"):
        quote(service(max_length_mm=500), box(dims_mm=(501, 10, 10)), HOME, north(50))


# --- dimensional weight --------------------------------------------------------------------------------


def test_dim_weight_is_volume_over_the_divisor_rounded_up_to_the_gram():
    assert dim_weight_g((400, 300, 250), 5000) == 6000  # 30,000 cm3 / 5000 = 6 kg
    assert dim_weight_g((101, 100, 100), 5000) == 202  # exactly 202 g: nothing to round
    assert dim_weight_g((100, 100, 100), 6000) == 167  # 166.67 g


def test_dim_weight_wins_for_a_light_bulky_box():
    q = quote(service(dim_divisor=5000), box(weight_g=900, dims_mm=(400, 300, 250)), HOME, north(50))
    assert (q.billable_weight_g, q.dim_weight_g, q.actual_weight_g) == (6000, 6000, 900)
    assert q.cost == D("9.10")  # billed as 6 kg, not 0.9 kg
    assert "dimensional" in q.breakdown[0].description


def test_actual_weight_wins_for_a_dense_box():
    q = quote(service(dim_divisor=5000), box(weight_g=4000, dims_mm=(200, 150, 100)), HOME, north(50))
    assert (q.billable_weight_g, q.dim_weight_g) == (4000, 600)
    assert "actual" in q.breakdown[0].description


def test_a_service_without_a_divisor_bills_actual_weight_only():
    q = quote(service(), box(weight_g=900, dims_mm=(400, 300, 250)), HOME, north(50))
    assert (q.billable_weight_g, q.dim_weight_g, q.cost) == (900, None, D("5.00"))


# --- surcharges ----------------------------------------------------------------------------------------

SURCHARGES = Surcharges(
    fragile=D("4.50"), residential=D("5.35"), oversize=D("32.00"), oversize_longest_mm=1000, oversize_girth_mm=2500
)


def charges(q) -> dict[str, Decimal]:
    return {c.code: c.amount for c in q.breakdown}


def test_fragile_handling_is_charged_only_for_fragile_packages():
    svc = service(surcharges=SURCHARGES)
    assert charges(quote(svc, box(fragile=True), HOME, north(50))) == {"base": D("5.00"), "fragile": D("4.50")}
    assert charges(quote(svc, box(), HOME, north(50))) == {"base": D("5.00")}


def test_residential_delivery_is_charged_only_to_homes():
    svc = service(surcharges=SURCHARGES)
    q = quote(svc, box(), HOME, north(50), residential=True)
    assert charges(q) == {"base": D("5.00"), "residential": D("5.35")}
    assert q.cost == D("10.35")


def test_oversize_by_longest_side():
    q = quote(service(surcharges=SURCHARGES), box(dims_mm=(100, 1001, 100)), HOME, north(50))
    assert charges(q)["oversize"] == D("32.00")
    assert "longest side 1001 mm" in q.breakdown[-1].description


def test_oversize_by_length_plus_girth():
    # 900 + 2 x (400 + 400) = 2500: at the limit, not over it; one more mm is over.
    assert "oversize" not in charges(
        quote(service(surcharges=SURCHARGES), box(dims_mm=(400, 900, 400)), HOME, north(50))
    )
    q = quote(service(surcharges=SURCHARGES), box(dims_mm=(401, 900, 400)), HOME, north(50))
    assert charges(q)["oversize"] == D("32.00")
    assert "length + girth 2502 mm" in q.breakdown[-1].description


def test_every_surcharge_at_once_adds_up_to_the_cost_in_cents():
    q = quote(service(surcharges=SURCHARGES), box(fragile=True, dims_mm=(1200, 100, 100)), HOME, north(50), True)
    assert set(charges(q)) == {"base", "fragile", "oversize", "residential"}
    assert q.cost == sum(charges(q).values()) == D("46.85")


def test_charges_are_rounded_to_cents_half_up():
    svc = service(surcharges=Surcharges(fragile=D("1.005")))
    assert charges(quote(svc, box(fragile=True), HOME, north(50)))["fragile"] == D("1.01")


@given(
    weight=st.integers(1, 40_000),
    dims=st.tuples(st.integers(10, 1500), st.integers(10, 1500), st.integers(10, 1500)),
    fragile=st.booleans(),
    residential=st.booleans(),
    km=st.floats(0, 1800),
)
def test_demo_quotes_are_cents_that_sum_their_breakdown_and_never_bill_under_actual_weight(
    weight, dims, fragile, residential, km
):
    pkg = Package(weight, dims, fragile)
    try:
        q = quote(demo.OMS_GROUND, pkg, HOME, north(km), residential)
    except NotServiceableError:
        return
    assert q.cost == sum(c.amount for c in q.breakdown)
    assert q.cost == q.cost.quantize(D("0.01")) and q.cost > 0
    assert q.billable_weight_g >= weight


# --- rate shopping -------------------------------------------------------------------------------------

ECONOMY = service(code="eco", name="Eco", level="economy", transit_days={"near": 3, "far": 6})
STANDARD = service()  # 1 / 3 days
EXPRESS = service(
    code="exp",
    name="Express",
    level="express",
    transit_days={"near": 1, "far": 1},
    rates=RateTable(
        (1000, 5000), {"near": (D("15.00"), D("20.00")), "far": (D("18.00"), D("25.00"))}, {"near": D(2), "far": D(3)}
    ),
)
ECONOMY = replace(
    ECONOMY,
    rates=RateTable(
        (1000, 5000), {"near": (D("4.00"), D("6.00")), "far": (D("5.00"), D("9.00"))}, {"near": D(1), "far": D(1)}
    ),
)
ALL = (EXPRESS, STANDARD, ECONOMY)
FAR = north(500)


def test_chooses_the_cheapest_service_that_meets_the_promise():
    choice = shop(ALL, [box()], HOME, FAR, promised_by_days=3)
    assert choice.chosen.service is STANDARD  # economy (6 days) is cheaper but late
    assert choice.rule == "cheapest_meeting_promise"
    assert "Test Standard is the cheapest of 2 service(s) delivering within 3 day(s)" in choice.reason


def test_a_generous_promise_lets_the_cheapest_service_win():
    assert shop(ALL, [box()], HOME, FAR, promised_by_days=7).chosen.service is ECONOMY


def test_falls_back_to_the_fastest_service_when_none_meets_the_promise():
    choice = shop((STANDARD, ECONOMY), [box()], HOME, FAR, promised_by_days=1)
    assert choice.chosen.service is STANDARD
    assert choice.rule == "fastest_missing_promise"
    assert choice.chosen.meets_promise is False
    assert "no service delivers within 1 day(s)" in choice.reason


def test_without_a_promise_takes_the_cheapest_at_the_default_level_or_else_the_cheapest():
    assert shop(ALL, [box()], HOME, FAR, None, default_level="express").chosen.service is EXPRESS
    assert shop(ALL, [box()], HOME, FAR, None, default_level="standard").rule == "cheapest_at_level"
    fallback = shop(ALL, [box()], HOME, FAR, None, default_level="overnight")
    assert (fallback.chosen.service, fallback.rule) == (ECONOMY, "cheapest")
    assert "no overnight service" in fallback.reason


def test_alternatives_are_the_other_services_cheapest_first():
    choice = shop(ALL, [box()], HOME, FAR, promised_by_days=1)
    assert choice.chosen.service is EXPRESS
    assert [o.service for o in choice.alternatives] == [ECONOMY, STANDARD]
    assert [o.cost for o in choice.alternatives] == [D("5.00"), D("7.00")]


def test_a_shipment_costs_the_sum_of_its_packages_and_takes_the_slowest_package_time():
    choice = shop((STANDARD,), [box(), box(weight_g=3000)], HOME, FAR, promised_by_days=None)
    assert choice.chosen.cost == D("19.00")  # 7.00 + 12.00
    assert len(choice.chosen.quotes) == 2 and choice.chosen.transit_days == 3


def test_skips_services_that_cannot_carry_a_package_and_says_why():
    heavy = replace(EXPRESS, max_weight_g=2000)
    choice = shop((heavy, STANDARD), [box(weight_g=3000)], HOME, FAR, promised_by_days=1)
    assert choice.chosen.service is STANDARD
    assert choice.unavailable == (("test/exp", "Express takes up to 2000 g, package is 3000 g"),)


def test_refuses_when_no_service_can_carry_the_shipment():
    with pytest.raises(NotServiceableError, match="no service"):
        shop((STANDARD,), [box()], HOME, north(2000), promised_by_days=3)


def test_refuses_to_compare_prices_in_different_currencies():
    with pytest.raises(Exception, match="different currencies"):
        shop((STANDARD, replace(EXPRESS, currency="EUR")), [box()], HOME, FAR, promised_by_days=3)


# --- the demo carriers ---------------------------------------------------------------------------------

LEXINGTON = Location(lat=38.0406, lon=-84.5037, zip="40507")  # ~115 km from Louisville
SAN_FRANCISCO = Location(lat=37.7749, lon=-122.4194, zip="94103")


def test_demo_tables_are_consistent_and_rise_with_zone_and_weight():
    for svc in demo.DEMO_SERVICES:
        rows = list(svc.rates.prices.values())
        assert all(list(row) == sorted(row) for row in rows), svc.name
        assert all(a <= b for r1, r2 in zip(rows, rows[1:], strict=False) for a, b in zip(r1, r2, strict=True)), (
            svc.name
        )
        assert set(svc.transit_days) == set(svc.rates.prices), svc.name


def test_demo_express_is_faster_and_dearer_than_ground_which_beats_economy_on_time():
    quotes = {s.code: quote(s, box(), HOME, SAN_FRANCISCO) for s in demo.OMS_PARCEL.services}
    assert quotes["economy"].cost < quotes["ground"].cost < quotes["express"].cost
    assert quotes["express"].transit_days < quotes["ground"].transit_days < quotes["economy"].transit_days
    assert quotes["ground"].zone == "8"


def test_demo_regional_carrier_wins_inside_its_area_and_is_unavailable_outside_it():
    near = shop(demo.DEMO_SERVICES, [box()], HOME, LEXINGTON, promised_by_days=2)
    assert near.chosen.service is demo.METRO_GROUND
    far = shop(demo.DEMO_SERVICES, [box()], HOME, SAN_FRANCISCO, promised_by_days=2)
    assert far.chosen.service is demo.OMS_EXPRESS
    assert "metro/ground" in dict(far.unavailable)
