"""Carriers as configured data: every demo carrier survives the trip to JSON and back and quotes the
same afterwards; every mistake a retailer could make is refused with a message naming it."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import ValidationError

from oms.shipping.carrier_config import CarrierConfig, from_carrier, to_carrier
from oms.shipping.carriers_demo import DEMO_CARRIERS, METRO_REGIONAL, OMS_PARCEL
from oms.shipping.rates import Location, NotServiceable, Package, Service, quote
from oms.web.errors import install


def stored(carrier) -> dict[str, Any]:
    """What the database keeps: the JSON text of the configuration, read back."""
    return json.loads(json.dumps(from_carrier(carrier).model_dump(mode="json")))


def round_trip(carrier):
    return to_carrier(CarrierConfig.model_validate(stored(carrier)))


# --- round trip ----------------------------------------------------------------------------------


@pytest.mark.parametrize("carrier", DEMO_CARRIERS, ids=lambda c: c.code)
def test_every_demo_carrier_comes_back_from_json_exactly(carrier):
    back = round_trip(carrier)
    assert back == carrier
    for mine, theirs in zip(back.services, carrier.services, strict=True):
        # equal Decimals can still print differently ("7.1" vs "7.10"); these must not
        for zone, row in theirs.rates.prices.items():
            assert [str(p) for p in mine.rates.prices[zone]] == [str(p) for p in row]
        assert str(mine.surcharges.fragile) == str(theirs.surcharges.fragile)


def test_decimals_are_stored_as_strings():
    service = stored(OMS_PARCEL)["services"][0]
    assert service["rates"]["prices"]["2"][0] == "6.79"
    assert service["rates"]["per_extra_kg"]["8"] == "1.28"
    assert service["surcharges"]["oversize"] == "32.00"
    assert service["zones"] == {"kind": "distance", "bands": service["zones"]["bands"]}
    assert service["zones"]["bands"][0] == {"up_to_km": 150.0, "zone": "2"}


def test_zip_origins_are_stored_sorted_so_the_same_carrier_gives_the_same_json():
    zones = stored(METRO_REGIONAL)["services"][0]["zones"]
    assert zones["kind"] == "zip_prefix"
    assert zones["origins"] == ["400", "401", "402", "471"]
    assert json.dumps(stored(METRO_REGIONAL)) == json.dumps(stored(round_trip(METRO_REGIONAL)))


HOME = Location(lat=38.2568, lon=-85.7540, zip="40202")  # Louisville KY
PLACES = (
    HOME,
    Location(lat=38.2770, lon=-85.7372, zip="47130"),  # Jeffersonville IN (metro zone A)
    Location(lat=38.0406, lon=-84.5037, zip="40507"),  # Lexington KY
    Location(lat=39.1031, lon=-84.5120, zip="45202"),  # Cincinnati OH
    Location(lat=41.8781, lon=-87.6298, zip="60601"),  # Chicago IL
    Location(lat=40.7506, lon=-73.9972, zip="10001"),  # New York NY
    Location(lat=33.9731, lon=-118.2479, zip="90001"),  # Los Angeles CA
    Location(lat=61.2181, lon=-149.9003, zip="99501"),  # Anchorage AK
    Location(lat=21.3069, lon=-157.8583, zip="96813"),  # Honolulu HI
    Location(zip="40202"),  # no point: distance zones cannot place it
)
PACKAGES = tuple(
    Package(weight, dims, fragile)
    for weight in (1, 499, 500, 501, 2500, 9999, 30000, 30001, 45500, 70000)
    for dims in ((200, 150, 100), (600, 500, 400), (1250, 300, 200), (1100, 600, 500), (2800, 100, 100))
    for fragile in (False, True)
)


def outcome(service: Service, package: Package, origin: Location, destination: Location, residential: bool):
    """The quote without its service (compared separately), or why it could not be made."""
    try:
        q = quote(service, package, origin, destination, residential)
    except NotServiceable as exc:
        return ("not serviceable", exc.detail)
    return (q.cost, q.breakdown, q.zone, q.transit_days, q.billable_weight_g, q.dim_weight_g)


@pytest.mark.parametrize("carrier", DEMO_CARRIERS, ids=lambda c: c.code)
def test_a_round_tripped_carrier_quotes_exactly_as_the_original(carrier):
    back = round_trip(carrier)
    compared = quoted = 0
    for mine, theirs in zip(back.services, carrier.services, strict=True):
        assert mine == theirs
        for origin in (HOME, PLACES[4]):
            for destination in PLACES:
                for package in PACKAGES:
                    for residential in (False, True):
                        got = outcome(mine, package, origin, destination, residential)
                        assert got == outcome(theirs, package, origin, destination, residential)
                        compared += 1
                        quoted += got[0] != "not serviceable"
    assert compared > 1000 and quoted > 100  # the grid reaches real prices, not only refusals


# --- validation ----------------------------------------------------------------------------------


def oms() -> dict[str, Any]:
    return copy.deepcopy(OMS_STORED)


def metro() -> dict[str, Any]:
    return copy.deepcopy(METRO_STORED)


OMS_STORED = stored(OMS_PARCEL)
METRO_STORED = stored(METRO_REGIONAL)


def edit(base: Callable[[], dict[str, Any]], change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    data = base()
    change(data)
    return data


def svc(data: dict[str, Any], i: int = 0) -> dict[str, Any]:
    return data["services"][i]


def refused(data: dict[str, Any]) -> tuple[str, str]:
    with pytest.raises(ValidationError) as err:
        CarrierConfig.model_validate(data)
    first = err.value.errors()[0]
    return ".".join(str(p) for p in first["loc"]), first["msg"]


def test_the_demo_configurations_are_valid():
    assert CarrierConfig.model_validate(oms()).code == "oms"
    assert CarrierConfig.model_validate(metro()).code == "metro"


@pytest.mark.parametrize(
    ("base", "change", "where", "message"),
    [
        # unknown fields anywhere
        (oms, lambda d: d.update(tracking_prefix="OMS"), "tracking_prefix", "Extra inputs are not permitted"),
        (oms, lambda d: svc(d).update(price="1.00"), "services.0.price", "Extra inputs are not permitted"),
        (
            oms,
            lambda d: svc(d)["surcharges"].update(fuel="2.00"),
            "services.0.surcharges.fuel",
            "Extra inputs are not permitted",
        ),
        (
            oms,
            lambda d: svc(d)["zones"]["bands"][0].update(from_km=0),
            "services.0.zones.distance.bands.0.from_km",
            "Extra inputs are not permitted",
        ),
        # the carrier and its services
        (oms, lambda d: d.update(services=[]), "services", "at least 1 item"),
        (
            oms,
            lambda d: svc(d, 1).update(code="economy"),
            "services",
            "service code(s) used more than once: economy",
        ),
        (oms, lambda d: svc(d).update(code="eco nomy"), "services.0.code", "should match pattern"),
        (oms, lambda d: svc(d).update(level="Next Day!"), "services.0.level", "should match pattern"),
        (oms, lambda d: svc(d).update(currency="ZZZ"), "services.0.currency", "'ZZZ' is not an ISO 4217"),
        (oms, lambda d: svc(d).update(currency="KWD"), "services.0.currency", "table rates are kept to cents"),
        (oms, lambda d: svc(d).update(max_weight_g=0), "services.0.max_weight_g", "greater than 0"),
        (oms, lambda d: svc(d).update(max_length_mm=-5), "services.0.max_length_mm", "greater than 0"),
        (oms, lambda d: svc(d).update(dim_divisor=139), "services.0.dim_divisor", "looks like cubic inches per"),
        (oms, lambda d: svc(d).update(dim_divisor=0), "services.0.dim_divisor", "greater than 0"),
        # zone schemes
        (
            oms,
            lambda d: svc(d)["zones"].update(kind="country"),
            "services.0.zones",
            "does not match any of the expected tags: 'distance', 'zip_prefix'",
        ),
        (
            oms,
            lambda d: svc(d)["zones"]["bands"].reverse(),
            "services.0.zones.distance.bands",
            "bands must go from near to far: 1800 km (zone '7') comes after 5000 km (zone '8')",
        ),
        (
            oms,
            lambda d: svc(d)["zones"]["bands"][1].update(up_to_km=150),
            "services.0.zones.distance.bands",
            "150 km (zone '3') comes after 150 km (zone '2')",
        ),
        (
            oms,
            lambda d: svc(d)["zones"]["bands"][0].update(up_to_km=0),
            "services.0.zones.distance.bands.0.up_to_km",
            "greater than 0",
        ),
        (
            oms,
            lambda d: svc(d)["zones"]["bands"][1].update(zone="2"),
            "services.0.zones.distance.bands",
            "zone '2' is given to more than one band",
        ),
        (
            oms,
            lambda d: svc(d)["zones"]["bands"][0].update(zone="zone two"),
            "services.0.zones.distance.bands.0.zone",
            "zone 'zone two' must be 1 to 16 letters, digits",
        ),
        (
            metro,
            lambda d: svc(d)["zones"]["zones"].update({"4020A": "A"}),
            "services.0.zones.zip_prefix.zones.4020A.[key]",
            "ZIP prefix '4020A' must be 1 to 5 digits",
        ),
        (
            metro,
            lambda d: svc(d)["zones"]["zones"].update({"402021": "A"}),
            "services.0.zones.zip_prefix.zones.402021.[key]",
            "must be 1 to 5 digits",
        ),
        (
            metro,
            lambda d: svc(d)["zones"].update(origins=["400", 401]),
            "services.0.zones.zip_prefix.origins.1",
            "Input should be a valid string",
        ),
        (
            metro,
            lambda d: svc(d)["zones"].update(origins=["400", "402", "400"]),
            "services.0.zones.zip_prefix.origins",
            "origin ZIP prefix(es) listed more than once: 400",
        ),
        (metro, lambda d: svc(d)["zones"].update(zones={}), "services.0.zones.zip_prefix.zones", "at least 1 item"),
        # every reachable zone priced and timed, and nothing else
        (
            oms,
            lambda d: svc(d)["zones"]["bands"].append({"up_to_km": 8500, "zone": "9"}),
            "services.0",
            "zone(s) '9' can be reached but have no rates.prices",
        ),
        (
            metro,
            lambda d: svc(d)["transit_days"].pop("B"),
            "services.0",
            "zone(s) 'B' can be reached but have no transit_days",
        ),
        (
            metro,
            lambda d: svc(d)["transit_days"].update(C=3),
            "services.0",
            "transit_days has zone(s) 'C' that no ZIP prefix leads to",
        ),
        (
            oms,
            lambda d: (
                svc(d)["rates"]["prices"].update({"9": ["1.00"] * 8}),
                svc(d)["rates"]["per_extra_kg"].update({"9": "1.00"}),
            ),
            "services.0",
            "rates.prices has zone(s) '9' that no distance band leads to",
        ),
        (
            metro,
            lambda d: svc(d)["transit_days"].update(A=-1),
            "services.0.transit_days.A",
            "greater than or equal to 0",
        ),
        # weight breaks and prices
        (
            oms,
            lambda d: svc(d)["rates"]["breaks_g"].__setitem__(1, 400),
            "services.0.rates.breaks_g",
            "weight breaks must rise with no repeats: 400 g comes after 500 g",
        ),
        (
            oms,
            lambda d: svc(d)["rates"]["breaks_g"].__setitem__(1, 500),
            "services.0.rates.breaks_g",
            "500 g comes after 500 g",
        ),
        (oms, lambda d: svc(d)["rates"].update(breaks_g=[]), "services.0.rates.breaks_g", "at least 1 item"),
        (
            oms,
            lambda d: svc(d)["rates"]["prices"]["4"].pop(),
            "services.0.rates",
            "zone '4' has 7 price(s) for 8 weight break(s); give one per break",
        ),
        (
            oms,
            lambda d: svc(d)["rates"]["prices"]["4"].__setitem__(2, "7.00"),
            "services.0.rates",
            "zone '4': the price up to 2000 g (7.00) is lower than the price up to 1000 g (8.10)",
        ),
        (
            oms,
            lambda d: svc(d)["rates"]["prices"]["2"].__setitem__(0, "-1.00"),
            "services.0.rates.prices.2.0",
            "greater than or equal to 0",
        ),
        (
            oms,
            lambda d: svc(d)["rates"]["prices"]["2"].__setitem__(0, "six"),
            "services.0.rates.prices.2.0",
            "Input should be a valid decimal",
        ),
        (
            oms,
            lambda d: svc(d)["rates"]["prices"]["2"].__setitem__(0, "NaN"),
            "services.0.rates.prices.2.0",
            "finite number",
        ),
        (
            oms,
            lambda d: svc(d)["rates"]["prices"]["2"].__setitem__(0, "6.795"),
            "services.0",
            "rates.prices['2'][0] 6.795 has more decimal places than USD allows (2)",
        ),
        (
            oms,
            lambda d: svc(d).update(currency="JPY"),
            "services.0",
            "rates.prices['2'][0] 6.79 has more decimal places than JPY allows (0)",
        ),
        (
            oms,
            lambda d: svc(d)["rates"]["per_extra_kg"].pop("5"),
            "services.0.rates",
            "per_extra_kg needs a price for zone(s) '5', as prices has",
        ),
        (
            oms,
            lambda d: svc(d)["rates"]["per_extra_kg"].update({"9": "1.00"}),
            "services.0.rates",
            "per_extra_kg has zone(s) '9' that prices does not",
        ),
        (
            oms,
            lambda d: svc(d)["rates"]["per_extra_kg"].update({"2": "0.565"}),
            "services.0",
            "rates.per_extra_kg['2'] 0.565 has more decimal places than USD allows (2)",
        ),
        # surcharges
        (
            oms,
            lambda d: svc(d)["surcharges"].update(fragile="-4.50"),
            "services.0.surcharges.fragile",
            "greater than or equal to 0",
        ),
        (
            oms,
            lambda d: svc(d)["surcharges"].update(residential="5.355"),
            "services.0",
            "surcharges.residential 5.355 has more decimal places than USD allows (2)",
        ),
        (
            oms,
            lambda d: svc(d)["surcharges"].pop("residential"),
            "services.0.surcharges.residential",
            "Field required",
        ),
        (
            oms,
            lambda d: svc(d)["surcharges"].update(oversize_longest_mm=None, oversize_girth_mm=None),
            "services.0.surcharges",
            "an oversize surcharge of 32.00 is never charged without oversize_longest_mm or oversize_girth_mm",
        ),
        (
            oms,
            lambda d: svc(d)["surcharges"].update(oversize_girth_mm=0),
            "services.0.surcharges.oversize_girth_mm",
            "greater than 0",
        ),
    ],
)
def test_mistakes_are_refused_with_a_message_that_names_them(base, change, where, message):
    got_where, got_message = refused(edit(base, change))
    assert got_where == where
    assert message in got_message


def test_an_oversize_threshold_without_a_surcharge_is_allowed():
    data = edit(oms, lambda d: svc(d)["surcharges"].update(oversize="0.00"))
    assert CarrierConfig.model_validate(data).services[0].surcharges.oversize == 0


def test_a_zip_carrier_without_origins_picks_up_anywhere():
    data = edit(metro, lambda d: svc(d)["zones"].pop("origins"))
    carrier = to_carrier(CarrierConfig.model_validate(data))
    far_origin = Location(zip="10001")
    got = quote(carrier.services[0], Package(1000, (200, 150, 100)), far_origin, Location(zip="40507"))
    assert got.zone == "B"


def test_money_given_as_json_numbers_is_accepted_and_kept():
    data = edit(metro, lambda d: svc(d)["rates"]["per_extra_kg"].update(A=0.7))
    assert CarrierConfig.model_validate(data).services[0].rates.per_extra_kg["A"] == Decimal("0.7")


def test_a_bad_configuration_arrives_as_a_422_naming_the_field():
    app = FastAPI()
    install(app)

    @app.put("/carriers/{code}")
    def put(code: str, body: CarrierConfig) -> dict[str, str]:
        return {"code": body.code}

    client = TestClient(app)
    assert client.put("/carriers/metro", json=metro()).status_code == 200
    bad = edit(metro, lambda d: svc(d)["rates"]["breaks_g"].reverse())
    response = client.put("/carriers/metro", json=bad)
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "validation_error"
    assert body["detail"].startswith("services.0.rates.breaks_g: ")
    assert "weight breaks must rise" in body["detail"]
