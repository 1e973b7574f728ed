"""Carrier adapters: the built-in table-rate carrier behind the CarrierAdapter interface prices with
rates.quote, numbers with the built-in tracking format, prints labels a real decoder reads back, and
keeps no state; the registry finds adapters by carrier code."""

from __future__ import annotations

import math
from datetime import datetime
from decimal import Decimal

import pypdfium2 as pdfium
import pytest
import zxingcpp

from oms.errors import InvalidInput, NotFound
from oms.shipping import carriers_demo as demo
from oms.shipping.adapters import (
    ADAPTERS,
    CarrierAdapter,
    ShipmentRequest,
    TableRateCarrier,
    TrackingCode,
    TrackingEvent,
    adapter_for,
    api_service,
)
from oms.shipping.labels import barcode_module_pt
from oms.shipping.rates import Location, NotServiceable, Package, quote
from oms.shipping.tracking import is_valid_tracking_number, make_tracking_number, parse_builtin

KM_PER_DEGREE = math.pi * 6371.0088 / 180
HOME = Location(lat=38.256783, lon=-85.754048, zip="40202")  # Louisville KY


def north(km: float, zip: str | None = None) -> Location:
    return Location(lat=HOME.lat + km / KM_PER_DEGREE, lon=HOME.lon, zip=zip)


def request(**changes) -> ShipmentRequest:
    fields = dict(
        origin=HOME,
        destination=north(250, zip="40601"),
        ship_from_name="Acme Warehouse Louisville",
        ship_from_lines=("12 Dock Road", "Louisville KY 40202"),
        ship_to_name="Jane Receiver",
        ship_to_lines=("100 Main Street", "Frankfort KY 40601"),
        packages=(Package(2350, (300, 200, 150)), Package(800, (200, 150, 100))),
        order_number="SO-10042",
        residential=True,
    )
    return ShipmentRequest(**{**fields, **changes})


def scanned(pdf: bytes, tracking_number: str) -> list[str]:
    scale = max(2.0, 2.5 / barcode_module_pt(tracking_number))
    image = pdfium.PdfDocument(pdf)[0].render(scale=scale, grayscale=True).to_pil().convert("L")
    return [r.text for r in zxingcpp.read_barcodes(image)]


PARCEL = TableRateCarrier(demo.OMS_PARCEL)
METRO = TableRateCarrier(demo.METRO_REGIONAL)


# --- the interface ------------------------------------------------------------------------------


def test_every_registered_adapter_satisfies_the_carrier_adapter_protocol():
    assert set(ADAPTERS) == {"oms", "metro"}
    for code in ADAPTERS:
        adapter = adapter_for(code)
        assert isinstance(adapter, CarrierAdapter)
        assert adapter.code == code


def test_an_object_missing_a_method_is_not_a_carrier_adapter():
    class RatesOnly:
        code = "x"

        def rates(self, request):
            return []

    assert not isinstance(RatesOnly(), CarrierAdapter)


def test_an_unknown_carrier_code_is_not_found():
    with pytest.raises(NotFound) as exc:
        adapter_for("ups")
    assert exc.value.code == "unknown_carrier"


def test_a_registry_passed_in_replaces_the_built_in_one():
    assert adapter_for("metro", {"metro": lambda: METRO}) is METRO
    with pytest.raises(NotFound):
        adapter_for("oms", {})


# --- rates ------------------------------------------------------------------------------------------


def test_the_table_rate_carrier_quotes_exactly_what_rates_quote_gives_for_each_service_and_package():
    req = request()
    expected = [
        quote(s, p, req.origin, req.destination, residential=True)
        for s in demo.OMS_PARCEL.services
        for p in req.packages
    ]
    assert PARCEL.rates(req) == expected
    assert [q.service.code for q in PARCEL.rates(req)] == [
        "economy",
        "economy",
        "ground",
        "ground",
        "express",
        "express",
    ]


def test_a_service_that_cannot_carry_every_package_is_left_out_of_the_rates():
    heavy = request(packages=(Package(1000, (200, 200, 200)), Package(40000, (500, 400, 400))))
    assert {q.service.code for q in PARCEL.rates(heavy)} == {"ground", "express"}  # economy stops at 30 kg


def test_no_service_able_to_carry_the_shipment_is_not_serviceable_with_each_reason():
    far = request(destination=north(250, zip="10001"))  # New York: outside Metro's ZIP area
    with pytest.raises(NotServiceable) as exc:
        METRO.rates(far)
    assert "metro/ground" in exc.value.extra["unavailable"]


def test_a_fragile_shipment_is_quoted_with_the_fragile_surcharge_on_every_package():
    quotes = PARCEL.rates(request(fragile=True))
    assert all("fragile" in {c.code for c in q.breakdown} for q in quotes)
    assert not any("fragile" in {c.code for c in q.breakdown} for q in PARCEL.rates(request()))


# --- labels -----------------------------------------------------------------------------------------


def test_buying_a_label_gives_one_valid_tracking_number_for_every_package_of_the_shipment():
    purchases = PARCEL.buy_label(request(), "ground", serial=42)
    assert [p.package_no for p in purchases] == [1, 2]
    assert {p.tracking_number for p in purchases} == {make_tracking_number("oms", 42)}
    assert all(is_valid_tracking_number(p.tracking_number) for p in purchases)
    assert parse_builtin(purchases[0].tracking_number) == ("oms", 42)
    assert {(p.carrier, p.service, p.currency) for p in purchases} == {("oms", "ground", "USD")}


def test_each_package_costs_what_its_quote_says():
    req = request()
    purchases = PARCEL.buy_label(req, "express", serial=7)
    expected = [quote(demo.OMS_EXPRESS, p, req.origin, req.destination, residential=True).cost for p in req.packages]
    assert [p.cost for p in purchases] == expected
    assert all(isinstance(p.cost, Decimal) for p in purchases)


def test_the_pdf_label_is_a_pdf_whose_barcode_a_real_decoder_reads_as_the_tracking_number():
    (purchase,) = METRO.buy_label(request(packages=(Package(1200, (250, 200, 100)),)), "ground", serial=9)
    assert purchase.label_pdf.startswith(b"%PDF")
    assert scanned(purchase.label_pdf, purchase.tracking_number) == [purchase.tracking_number]


def test_the_zpl_label_is_one_format_with_a_code128_field_carrying_the_tracking_number():
    for purchase in PARCEL.buy_label(request(), "ground", serial=1234):
        zpl = purchase.label_zpl
        assert zpl.startswith("^XA") and zpl.rstrip().endswith("^XZ")
        assert f"^BCN,200,N,N,N,N^FD{purchase.tracking_number}^FS" in zpl
        assert f"Package {purchase.package_no} of 2" in zpl


def test_a_fragile_package_is_marked_fragile_on_its_label_only():
    packages = (Package(900, (200, 200, 200), fragile=True), Package(900, (200, 200, 200)))
    first, second = PARCEL.buy_label(request(packages=packages), "ground", serial=5)
    assert "FRAGILE" in first.label_zpl and "FRAGILE" not in second.label_zpl


def test_two_purchases_with_different_serials_get_different_numbers():
    a = PARCEL.buy_label(request(), "ground", serial=1)[0].tracking_number
    b = PARCEL.buy_label(request(), "ground", serial=2)[0].tracking_number
    assert a != b
    assert METRO.buy_label(request(), "ground", serial=1)[0].tracking_number not in {a, b}


def test_buying_the_same_label_twice_gives_the_same_bytes_because_nothing_is_remembered():
    assert PARCEL.buy_label(request(), "ground", serial=3) == PARCEL.buy_label(request(), "ground", serial=3)


def test_an_unknown_service_is_refused_naming_the_ones_offered():
    with pytest.raises(InvalidInput) as exc:
        PARCEL.buy_label(request(), "overnight", serial=1)
    assert exc.value.code == "unknown_service"
    assert "economy, ground, express" in exc.value.detail


def test_a_service_that_cannot_carry_a_package_sells_no_label():
    heavy = request(packages=(Package(40000, (500, 400, 400)),))
    with pytest.raises(NotServiceable):
        PARCEL.buy_label(heavy, "economy", serial=1)


def test_a_serial_outside_the_format_is_refused():
    with pytest.raises(InvalidInput):
        PARCEL.buy_label(request(), "ground", serial=-1)


# --- void and tracking ----------------------------------------------------------------------------


def test_voiding_the_carriers_own_number_succeeds_and_says_the_database_records_it():
    result = PARCEL.void_label(make_tracking_number("oms", 42))
    assert result.voided
    assert "record" in result.reason


def test_voiding_another_carriers_number_is_refused_with_the_reason():
    result = PARCEL.void_label(make_tracking_number("metro", 42))
    assert not result.voided
    assert "metro" in result.reason


@pytest.mark.parametrize("number", ["OMS00000000421", "1Z999AA10123456784", "garbage"])
def test_voiding_a_number_that_is_not_this_carriers_valid_format_is_refused(number):
    result = PARCEL.void_label(number)
    assert not result.voided
    assert number in result.reason


def test_table_rate_tracking_is_empty_because_its_events_arrive_through_the_webhook():
    assert PARCEL.tracking(make_tracking_number("oms", 42)) == []


def test_tracking_another_carriers_number_is_refused():
    with pytest.raises(InvalidInput):
        PARCEL.tracking(make_tracking_number("metro", 42))


# --- payloads -------------------------------------------------------------------------------------


def test_a_shipment_without_packages_is_refused():
    with pytest.raises(InvalidInput):
        request(packages=())


def test_a_tracking_event_needs_a_known_code_and_a_timezone():
    event = TrackingEvent("delivered", datetime.fromisoformat("2025-03-04T10:15:00-05:00"), "FRANKFORT, KY")
    assert event.code is TrackingCode.DELIVERED
    with pytest.raises(ValueError):
        TrackingEvent("lost", datetime.fromisoformat("2025-03-04T10:15:00-05:00"))
    with pytest.raises(InvalidInput):
        TrackingEvent("delivered", datetime(2025, 3, 4, 10, 15))


def test_the_tracking_codes_are_the_eight_the_webhook_accepts():
    assert [c.value for c in TrackingCode] == [
        "label_created",
        "picked_up",
        "in_transit",
        "out_for_delivery",
        "delivery_attempted",
        "delayed",
        "exception",
        "delivered",
    ]


def test_an_api_service_cannot_be_priced_from_tables_it_does_not_have():
    service = api_service("ups", "ground", "UPS Ground", "standard")
    with pytest.raises(NotServiceable):
        quote(service, Package(500, (100, 100, 100)), HOME, north(100, zip="40601"))
