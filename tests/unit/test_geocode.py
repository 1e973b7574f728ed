"""Offline geocoding: coordinates, then US ZIP centroid, then city, then country; a reason when none."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest

from oms.routing.geocode import Geocode, NoMatch, geocode, haversine_km, normalise_country, zip5

# shared/ sits beside the repository (on a developer's machine and in CI alike).
ZIPS_CSV = Path(__file__).resolve().parents[1] / "fixtures" / "zips.csv"  # provenance: tests/fixtures/SOURCES.md


def near(g: Geocode | NoMatch, lat: float, lon: float, km: float) -> bool:
    assert isinstance(g, Geocode), g
    return haversine_km(g.latitude, g.longitude, lat, lon) <= km


def test_brooklyn_zip_is_its_centroid():
    g = geocode("US", "11201")
    assert isinstance(g, Geocode)
    assert g.source == "zip"
    assert near(g, 40.69, -73.99, 2)
    assert "Brooklyn" in g.detail


@pytest.mark.parametrize("zip_code", ["11201-1234", "112011234", " 11201 ", "11201 1234"])
def test_zip_plus_four_and_spacing_use_the_five_digit_zip(zip_code):
    assert geocode("US", zip_code) == geocode("US", "11201")


def test_zip_that_lost_its_leading_zero_in_a_spreadsheet_is_padded():
    assert zip5("2108") == "02108"
    g = geocode("US", "2108")
    assert isinstance(g, Geocode) and "Boston" in g.detail


def test_zip_is_used_for_us_territories_too():
    g = geocode("PR", "00601")
    assert isinstance(g, Geocode) and g.source == "zip" and near(g, 18.18, -66.75, 5)


def test_zip_centroids_agree_with_the_census_gazetteer():
    # The copy in shared/ has longitude BEFORE latitude (INTPTLONG, INTPTLAT): read by name, not position.
    # Census internal points and USPS centroids differ by up to about the ZIP's own size.
    rows = list(csv.DictReader(ZIPS_CSV.open()))
    assert len(rows) > 40
    for r in rows:
        g = geocode("US", r["GEOID"])
        assert isinstance(g, Geocode) and g.source == "zip", r["GEOID"]
        tolerance = max(3.0, 1.5 * math.sqrt(float(r["ALAND"]) / 1e6))
        km = haversine_km(g.latitude, g.longitude, float(r["INTPTLAT"]), float(r["INTPTLONG"]))
        assert km <= tolerance, (r["GEOID"], km, tolerance)


def test_unknown_zip_falls_back_to_the_city_and_says_so():
    g = geocode("US", "00000", city="Brooklyn", region="NY")
    assert isinstance(g, Geocode)
    assert g.source == "city"
    assert near(g, 40.65, -73.95, 10)
    assert any("00000" in w for w in g.warnings)


def test_military_zip_has_no_coordinates_and_falls_through():
    g = geocode("US", "09000")
    assert isinstance(g, Geocode) and g.source == "country"
    assert any("no coordinates" in w for w in g.warnings)


def test_city_and_country_outside_the_us():
    g = geocode("CA", "M5V 3L9", city="Toronto", region="ON")
    assert isinstance(g, Geocode)
    assert g.source == "city"
    assert near(g, 43.70, -79.40, 10)
    assert any("US ZIP codes only" in w for w in g.warnings)  # the postcode was not silently ignored


def test_city_match_prefers_the_region_then_the_largest_namesake():
    assert near(geocode("US", city="Springfield", region="MA"), 42.10, -72.59, 10)
    assert near(geocode("US", city="Springfield", region="Illinois"), 39.80, -89.64, 10)
    assert near(geocode("US", city="Brooklyn", region="MD"), 39.23, -76.61, 10)
    # without a region the most populous: Brooklyn, New York
    assert near(geocode("US", city="Brooklyn"), 40.65, -73.95, 10)
    # London, Ontario, not London, England: the country decides first
    assert near(geocode("CA", city="London", region="ON"), 42.98, -81.23, 10)


def test_city_names_ignore_accents_case_and_abbreviations_and_know_exonyms():
    assert near(geocode("CA", city="montreal"), 45.51, -73.59, 10)
    assert near(geocode("US", city="Saint Louis", region="MO"), 38.63, -90.20, 10)
    assert near(geocode("US", city="St. Louis", region="MO"), 38.63, -90.20, 10)
    assert near(geocode("DE", city="München"), 48.14, 11.58, 10)


def test_country_alone_gives_its_population_centre():
    g = geocode("United States")
    assert isinstance(g, Geocode) and g.source == "country"
    # The census puts the 2020 mean centre of population near Hartville, Missouri (37.4, -92.4).
    assert near(g, 37.4, -92.4, 300)
    assert g.warnings  # a country-level point is flagged as rough


def test_explicit_coordinates_win_and_may_be_strings():
    g = geocode("US", "11201", latitude="40.7128", longitude="-74.0060")
    assert isinstance(g, Geocode) and g.source == "explicit"
    assert (g.latitude, g.longitude) == (40.7128, -74.006)
    assert g.warnings == ()  # 11201 is a few km from there: nothing to flag


def test_coordinates_far_from_the_zip_are_kept_but_flagged():
    # Shopify's sample order: ZIP 40202 (Louisville, KY) with latitude/longitude in Ottawa.
    g = geocode("US", "40202", latitude="45.41634", longitude="-75.6868")
    assert isinstance(g, Geocode) and g.source == "explicit"
    assert any("40202" in w and "km" in w for w in g.warnings)


@pytest.mark.parametrize(("lat", "lon"), [(0, 0), ("", ""), ("abc", "1"), (91, 0), (0, 181)])
def test_placeholder_or_bad_coordinates_are_ignored(lat, lon):
    g = geocode("US", "11201", latitude=lat, longitude=lon)
    assert isinstance(g, Geocode) and g.source == "zip"
    if lat != "":
        assert g.warnings  # and the plan shows why they were not used


def test_nothing_matched_gives_a_reason():
    for g in (geocode(None, "11201", "Brooklyn"), geocode("Atlantis", city="Poseidonia")):
        assert isinstance(g, NoMatch)
        assert "country" in g.reason
        assert g.tried
    g = geocode("AQ", city="McMurdo")  # a real country with no town in the data
    assert isinstance(g, NoMatch)
    assert any("McMurdo" in t for t in g.tried)
    json.dumps(g.to_dict())


def test_country_names_and_codes():
    assert normalise_country("USA") == "US"
    assert normalise_country("united states") == "US"
    assert normalise_country("DEU") == "DE"
    assert normalise_country("ca") == "CA"
    assert normalise_country("") is None
    assert normalise_country("Narnia") is None


def test_geocode_serialises_for_the_plan_explanation():
    g = geocode("US", "11201")
    assert isinstance(g, Geocode)
    d = json.loads(json.dumps(g.to_dict()))
    assert d["source"] == "zip" and d["latitude"] == pytest.approx(40.694)
