"""Table rates and rate shopping. Pure: carriers and services are data, a quote is arithmetic on that
data, and nothing here reads a database or calls a carrier.

A quote, in order:

1. Zone: by great-circle distance band between ship-from and ship-to (both need lat/lon; the service
   layer geocodes), or by the longest matching prefix of the destination ZIP (regional carriers).
2. Billable weight: max(actual, dimensional); dimensional grams = L x W x H in mm^3 / divisor, where
   the divisor is in cm^3 per kg (5000 means 5000 cm^3 bill as 1 kg; the mm^3 -> cm^3 and kg -> g
   factors of 1000 cancel). Rounded up to the gram.
3. Base price: the price of the first weight break at or above the billable weight, in the zone's
   column; past the last break, the last price plus per-extra-kg for each started kilogram.
4. Surcharges: fragile handling, oversize (longest side or length + girth over a limit, where
   girth = 2 x (width + height) of the two shorter sides), residential delivery.

Every charge is rounded to cents (half up) before it is added, so the breakdown sums to the cost.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from oms.errors import InvalidInput
from oms.routing.geocode import haversine_km, zip5

CENT = Decimal("0.01")


class NotServiceable(InvalidInput):
    """The service cannot carry this package on this lane (too heavy, too long, outside its area)."""

    code = "not_serviceable"


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


# --- what is shipped, from where to where ---------------------------------------------------------


@dataclass(frozen=True)
class Package:
    weight_g: int
    dims_mm: tuple[int, int, int]  # any order; the longest side is found here
    fragile: bool = False

    def __post_init__(self) -> None:
        if self.weight_g <= 0 or len(self.dims_mm) != 3 or min(self.dims_mm) <= 0:
            raise InvalidInput(f"package needs a positive weight and three positive sides, got {self}")

    @property
    def length_plus_girth_mm(self) -> int:
        short1, short2, longest = sorted(self.dims_mm)
        return longest + 2 * (short1 + short2)


@dataclass(frozen=True)
class Location:
    """A point (lat/lon) and/or a US ZIP; each zone scheme uses the part it needs."""

    lat: float | None = None
    lon: float | None = None
    zip: str | None = None

    @property
    def point(self) -> tuple[float, float] | None:
        return None if self.lat is None or self.lon is None else (self.lat, self.lon)


# --- configuration ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DistanceZones:
    """``bands``: (up to km, zone), ascending. Farther than the last band: not serviceable."""

    bands: tuple[tuple[float, str], ...]

    def zone(self, origin: Location, destination: Location) -> str:
        if origin.point is None or destination.point is None:
            raise NotServiceable("distance zones need the latitude and longitude of both ends")
        km = haversine_km(*origin.point, *destination.point)
        for limit_km, zone in self.bands:
            if km <= limit_km:
                return zone
        raise NotServiceable(f"{km:.0f} km is beyond the farthest zone ({self.bands[-1][0]:.0f} km)")


@dataclass(frozen=True)
class ZipPrefixZones:
    """``zones``: destination ZIP prefix -> zone, longest prefix wins. ``origins``: ZIP prefixes the
    carrier picks up from (empty: anywhere). A destination with no matching prefix is outside the area."""

    zones: Mapping[str, str]
    origins: frozenset[str] = frozenset()

    def zone(self, origin: Location, destination: Location) -> str:
        if self.origins and _longest_prefix(_zip(origin, "ship-from"), dict.fromkeys(self.origins, "")) is None:
            raise NotServiceable(f"no pickup from ZIP {origin.zip}")
        zone = _longest_prefix(_zip(destination, "ship-to"), self.zones)
        if zone is None:
            raise NotServiceable(f"ZIP {destination.zip} is outside the delivery area")
        return zone


def _zip(place: Location, role: str) -> str:
    z = zip5(place.zip) if place.zip else None
    if z is None:
        raise NotServiceable(f"ZIP zones need a US ZIP for the {role} address, got {place.zip!r}")
    return z


def _longest_prefix(value: str, table: Mapping[str, str]) -> str | None:
    for n in range(len(value), 0, -1):
        if value[:n] in table:
            return table[value[:n]]
    return None


@dataclass(frozen=True)
class RateTable:
    """``breaks_g`` ascending; ``prices[zone][i]`` is the price up to ``breaks_g[i]``."""

    breaks_g: tuple[int, ...]
    prices: Mapping[str, tuple[Decimal, ...]]
    per_extra_kg: Mapping[str, Decimal]

    def __post_init__(self) -> None:
        if list(self.breaks_g) != sorted(set(self.breaks_g)):
            raise InvalidInput("weight breaks must be strictly ascending")
        for zone, row in self.prices.items():
            if len(row) != len(self.breaks_g) or zone not in self.per_extra_kg:
                raise InvalidInput(f"zone {zone!r} needs one price per break and a per-extra-kg price")

    def price(self, zone: str, billable_g: int) -> tuple[Decimal, int]:
        """(base price, weight break it was billed at: the break, or the billable weight past the last)."""
        row = self.prices.get(zone)
        if row is None:
            raise NotServiceable(f"no rates for zone {zone!r}")
        for limit, price in zip(self.breaks_g, row, strict=True):
            if billable_g <= limit:
                return price, limit
        extra_kg = math.ceil((billable_g - self.breaks_g[-1]) / 1000)
        return row[-1] + extra_kg * self.per_extra_kg[zone], billable_g


@dataclass(frozen=True)
class Surcharges:
    fragile: Decimal = Decimal(0)
    residential: Decimal = Decimal(0)
    oversize: Decimal = Decimal(0)
    oversize_longest_mm: int | None = None  # a side longer than this is oversize
    oversize_girth_mm: int | None = None  # length + girth over this is oversize


@dataclass(frozen=True)
class Service:
    carrier: str  # carrier code, e.g. "oms"; also keys the tracking prefix
    code: str  # unique within the carrier, e.g. "ground"
    name: str  # what the customer and the label see, e.g. "OMS Ground"
    level: str  # service level a channel can default to: "economy", "standard", "express"
    zones: DistanceZones | ZipPrefixZones
    rates: RateTable
    transit_days: Mapping[str, int]  # business days, per zone
    surcharges: Surcharges = field(default_factory=Surcharges)
    dim_divisor: int | None = None  # cm^3 per kg; None: this service bills actual weight only
    max_weight_g: int | None = None
    max_length_mm: int | None = None
    currency: str = "USD"

    @property
    def key(self) -> str:
        return f"{self.carrier}/{self.code}"


@dataclass(frozen=True)
class Carrier:
    code: str
    name: str
    services: tuple[Service, ...]


# --- quoting ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Charge:
    code: str  # "base", "fragile", "oversize", "residential"
    description: str
    amount: Decimal


@dataclass(frozen=True)
class Quote:
    service: Service
    cost: Decimal
    billable_weight_g: int
    zone: str
    transit_days: int
    breakdown: tuple[Charge, ...]
    actual_weight_g: int = 0
    dim_weight_g: int | None = None


def dim_weight_g(dims_mm: tuple[int, int, int], divisor: int) -> int:
    """Dimensional weight in grams: mm^3 / (cm^3 per kg), rounded up to the gram."""
    length, width, height = dims_mm
    return -(-(length * width * height) // divisor)


def quote(
    service: Service, package: Package, origin: Location, destination: Location, residential: bool = False
) -> Quote:
    """The price and transit time of one package by one service; NotServiceable when it cannot go."""
    longest = max(package.dims_mm)
    if service.max_weight_g is not None and package.weight_g > service.max_weight_g:
        raise NotServiceable(f"{service.name} takes up to {service.max_weight_g} g, package is {package.weight_g} g")
    if service.max_length_mm is not None and longest > service.max_length_mm:
        raise NotServiceable(f"{service.name} takes sides up to {service.max_length_mm} mm, package has {longest} mm")
    zone = service.zones.zone(origin, destination)
    days = service.transit_days.get(zone)
    if days is None:
        raise NotServiceable(f"{service.name} has no transit time for zone {zone!r}")

    dim = dim_weight_g(package.dims_mm, service.dim_divisor) if service.dim_divisor else None
    billable = max(package.weight_g, dim or 0)
    base, billed_at = service.rates.price(zone, billable)
    basis = "dimensional" if dim is not None and dim > package.weight_g else "actual"
    charges = [Charge("base", f"zone {zone}, {billable} g billable ({basis}), break {billed_at} g", cents(base))]

    s = service.surcharges
    if package.fragile and s.fragile:
        charges.append(Charge("fragile", "fragile handling", cents(s.fragile)))
    oversize = _oversize_reason(package, s)
    if oversize and s.oversize:
        charges.append(Charge("oversize", oversize, cents(s.oversize)))
    if residential and s.residential:
        charges.append(Charge("residential", "residential delivery", cents(s.residential)))
    return Quote(
        service=service,
        cost=sum((c.amount for c in charges), Decimal("0.00")),
        billable_weight_g=billable,
        zone=zone,
        transit_days=days,
        breakdown=tuple(charges),
        actual_weight_g=package.weight_g,
        dim_weight_g=dim,
    )


def _oversize_reason(package: Package, s: Surcharges) -> str | None:
    longest = max(package.dims_mm)
    if s.oversize_longest_mm is not None and longest > s.oversize_longest_mm:
        return f"oversize: longest side {longest} mm > {s.oversize_longest_mm} mm"
    girth = package.length_plus_girth_mm
    if s.oversize_girth_mm is not None and girth > s.oversize_girth_mm:
        return f"oversize: length + girth {girth} mm > {s.oversize_girth_mm} mm"
    return None


# --- rate shopping ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Option:
    """One service for every package of the shipment: they travel together, so days is the slowest."""

    service: Service
    quotes: tuple[Quote, ...]
    cost: Decimal
    transit_days: int
    meets_promise: bool | None  # None when there was no promise to meet


@dataclass(frozen=True)
class Choice:
    chosen: Option
    alternatives: tuple[Option, ...]  # the other services that could carry it, cheapest first
    reason: str
    rule: str  # "cheapest_meeting_promise", "fastest_missing_promise", "cheapest_at_level", "cheapest"
    unavailable: tuple[tuple[str, str], ...] = ()  # (service key, why not)


def _by_price(o: Option) -> tuple[Decimal, int, str]:
    return (o.cost, o.transit_days, o.service.key)


def _by_speed(o: Option) -> tuple[int, Decimal, str]:
    return (o.transit_days, o.cost, o.service.key)


def shop(
    services: Iterable[Service],
    packages: Sequence[Package],
    origin: Location,
    destination: Location,
    promised_by_days: int | None,
    default_level: str | None = None,
    residential: bool = False,
) -> Choice:
    """The cheapest service whose transit days meet the promise; if none does, the fastest. Without a
    promise, the cheapest at the channel's default level (or the cheapest at all if none offers it)."""
    services = list(services)
    if not packages:
        raise InvalidInput("nothing to ship: no packages")
    if len({s.currency for s in services}) > 1:
        raise InvalidInput("services priced in different currencies cannot be compared")
    options: list[Option] = []
    unavailable: list[tuple[str, str]] = []
    for service in services:
        try:
            quotes = tuple(quote(service, p, origin, destination, residential) for p in packages)
        except NotServiceable as exc:
            unavailable.append((service.key, exc.detail))
            continue
        options.append(option(service, quotes, promised_by_days))
    return choose(options, promised_by_days, default_level, tuple(unavailable))


def option(service: Service, quotes: Sequence[Quote], promised_by_days: int | None) -> Option:
    """One service for every package: the costs add up, the slowest package sets the days."""
    days = max(q.transit_days for q in quotes)
    meets = None if promised_by_days is None else days <= promised_by_days
    return Option(service, tuple(quotes), sum((q.cost for q in quotes), Decimal("0.00")), days, meets)


def choose(
    options: Sequence[Option],
    promised_by_days: int | None,
    default_level: str | None = None,
    unavailable: tuple[tuple[str, str], ...] = (),
) -> Choice:
    """The rule of ``shop`` applied to priced options, wherever the prices came from (our tables or
    a live carrier's API)."""
    options = list(options)
    if not options:
        raise NotServiceable("no service can carry this shipment", unavailable=dict(unavailable))
    if len({o.service.currency for o in options}) > 1:
        raise InvalidInput("services priced in different currencies cannot be compared")
    if promised_by_days is not None:
        meeting = [o for o in options if o.meets_promise]
        if meeting:
            chosen = min(meeting, key=_by_price)
            rule = "cheapest_meeting_promise"
            reason = (
                f"{chosen.service.name} is the cheapest of {len(meeting)} service(s) delivering within "
                f"{promised_by_days} day(s): {chosen.cost} {chosen.service.currency}, {chosen.transit_days} day(s)"
            )
        else:
            chosen = min(options, key=_by_speed)
            rule = "fastest_missing_promise"
            reason = (
                f"no service delivers within {promised_by_days} day(s); {chosen.service.name} is the fastest "
                f"at {chosen.transit_days} day(s), {chosen.cost} {chosen.service.currency}"
            )
    else:
        at_level = [o for o in options if default_level is not None and o.service.level == default_level]
        if at_level:
            chosen = min(at_level, key=_by_price)
            rule = "cheapest_at_level"
            reason = (
                f"no promised date: {chosen.service.name} is the cheapest {default_level} service, "
                f"{chosen.cost} {chosen.service.currency}, {chosen.transit_days} day(s)"
            )
        else:
            chosen = min(options, key=_by_price)
            rule = "cheapest"
            why = f"no {default_level} service can carry it" if default_level else "no default service level"
            reason = f"no promised date and {why}: {chosen.service.name} is the cheapest at {chosen.cost}"
    alternatives = tuple(sorted((o for o in options if o is not chosen), key=_by_price))
    return Choice(chosen, alternatives, reason, rule, unavailable)
