"""Carriers as configured data: the JSON a retailer sends to ``PUT /carriers/{code}`` and the
database keeps, and its translation to and from the dataclasses of oms.shipping.rates. Pure.

Every mistake is refused here, with a message that names the field, so a configuration that
validates always builds a carrier that can quote; the checks in rates.py are a last line, not the
retailer's feedback. Errors are pydantic ValidationErrors (422 with the field's path when they
arrive as a request body). Decimals travel as JSON strings (``model_dump(mode="json")``), so a
stored price reads back exactly as it was written.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from oms.errors import InvalidInput
from oms.money import currency_exponent
from oms.schemas import Code, CurrencyCode, Input, Name, ServiceLevel
from oms.shipping import rates


def _zone_name(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_\-]{0,15}", value):
        raise ValueError(f"zone {value!r} must be 1 to 16 letters, digits, '-' or '_' (for example '2' or 'A')")
    return value


def _zip_prefix(value: str) -> str:
    if not re.fullmatch(r"[0-9]{1,5}", value):
        raise ValueError(f"ZIP prefix {value!r} must be 1 to 5 digits, written as a string ('021', not 21)")
    return value


Zone = Annotated[str, AfterValidator(_zone_name)]
ZipPrefix = Annotated[str, AfterValidator(_zip_prefix)]
# Places are checked against the service's currency once the currency is known (ServiceConfig).
Money = Annotated[Decimal, Field(ge=0, max_digits=12, allow_inf_nan=False)]
Grams = Annotated[int, Field(gt=0, le=1_000_000)]  # a tonne: past that it is freight, not parcels
Millimetres = Annotated[int, Field(gt=0, le=100_000)]
# Business days; 0 is a same-day courier.
TransitDays = Annotated[int, Field(ge=0, le=90)]
# No two places on Earth are farther apart than half its circumference (~20,015 km).
Kilometres = Annotated[float, Field(gt=0, le=20_100, allow_inf_nan=False)]

_MAX_ZONES = 1_000


# --- zone schemes --------------------------------------------------------------------------------


class DistanceBand(Input):
    up_to_km: Kilometres
    zone: Zone


class DistanceZonesConfig(Input):
    """Zone by great-circle distance: the first band whose ``up_to_km`` reaches the destination."""

    kind: Literal["distance"]
    bands: list[DistanceBand] = Field(min_length=1, max_length=100)

    @field_validator("bands")
    @classmethod
    def _ascending_and_distinct(cls, bands: list[DistanceBand]) -> list[DistanceBand]:
        for before, band in zip(bands, bands[1:], strict=False):
            if band.up_to_km <= before.up_to_km:
                raise ValueError(
                    f"bands must go from near to far: {band.up_to_km:g} km (zone {band.zone!r}) comes after "
                    f"{before.up_to_km:g} km (zone {before.zone!r})"
                )
        seen: set[str] = set()
        for band in bands:
            if band.zone in seen:
                raise ValueError(f"zone {band.zone!r} is given to more than one band; each band needs its own zone")
            seen.add(band.zone)
        return bands

    def reachable(self) -> list[str]:
        return [band.zone for band in self.bands]


class ZipPrefixZonesConfig(Input):
    """Zone by the longest matching prefix of the destination ZIP; ``origins``: the ZIP prefixes the
    carrier picks up from (empty: anywhere)."""

    kind: Literal["zip_prefix"]
    zones: dict[ZipPrefix, Zone] = Field(min_length=1, max_length=100_000)
    origins: list[ZipPrefix] = Field(default_factory=list, max_length=100_000)

    @field_validator("origins")
    @classmethod
    def _distinct_origins(cls, origins: list[str]) -> list[str]:
        repeated = sorted({o for o in origins if origins.count(o) > 1})
        if repeated:
            raise ValueError(f"origin ZIP prefix(es) listed more than once: {', '.join(repeated)}")
        return origins

    def reachable(self) -> list[str]:
        return list(dict.fromkeys(self.zones.values()))


ZonesConfig = Annotated[DistanceZonesConfig | ZipPrefixZonesConfig, Field(discriminator="kind")]


# --- prices --------------------------------------------------------------------------------------


class RatesConfig(Input):
    """``prices[zone][i]`` is the price up to ``breaks_g[i]``; past the last break, the last price plus
    ``per_extra_kg[zone]`` for each started kilogram."""

    breaks_g: list[Grams] = Field(min_length=1, max_length=100)
    prices: dict[Zone, list[Money]] = Field(min_length=1, max_length=_MAX_ZONES)
    per_extra_kg: dict[Zone, Money] = Field(max_length=_MAX_ZONES)

    @field_validator("breaks_g")
    @classmethod
    def _ascending(cls, breaks: list[int]) -> list[int]:
        for before, limit in zip(breaks, breaks[1:], strict=False):
            if limit <= before:
                raise ValueError(f"weight breaks must rise with no repeats: {limit} g comes after {before} g")
        return breaks

    @model_validator(mode="after")
    def _one_price_per_break(self) -> RatesConfig:
        n = len(self.breaks_g)
        for zone, row in self.prices.items():
            if len(row) != n:
                raise ValueError(f"zone {zone!r} has {len(row)} price(s) for {n} weight break(s); give one per break")
            for i in range(1, n):
                # Rate charts never charge less for a heavier parcel; a falling price is a typo.
                if row[i] < row[i - 1]:
                    raise ValueError(
                        f"zone {zone!r}: the price up to {self.breaks_g[i]} g ({row[i]}) is lower than "
                        f"the price up to {self.breaks_g[i - 1]} g ({row[i - 1]})"
                    )
        missing = [z for z in self.prices if z not in self.per_extra_kg]
        if missing:
            raise ValueError(f"per_extra_kg needs a price for zone(s) {_names(missing)}, as prices has")
        extra = [z for z in self.per_extra_kg if z not in self.prices]
        if extra:
            raise ValueError(f"per_extra_kg has zone(s) {_names(extra)} that prices does not")
        return self


class SurchargesConfig(Input):
    fragile: Money
    residential: Money
    oversize: Money
    oversize_longest_mm: Millimetres | None = None  # a side longer than this is oversize
    oversize_girth_mm: Millimetres | None = None  # length + 2 x (width + height) over this is oversize

    @model_validator(mode="after")
    def _oversize_has_a_threshold(self) -> SurchargesConfig:
        if self.oversize and self.oversize_longest_mm is None and self.oversize_girth_mm is None:
            raise ValueError(
                f"an oversize surcharge of {self.oversize} is never charged without "
                "oversize_longest_mm or oversize_girth_mm"
            )
        return self


# --- service and carrier -------------------------------------------------------------------------


def _dim_divisor(value: int) -> int:
    if value < 1000:
        # 139 and 166 are the US divisors in cubic inches per pound; ours is metric.
        raise ValueError(
            f"dim_divisor is in cm^3 per kg (5000 and 6000 are usual); {value} looks like cubic inches per "
            f"pound, which is about {round(value * 16.387064 / 0.45359237)} cm^3 per kg"
        )
    return value


class ServiceConfig(Input):
    code: Code
    name: Name
    level: ServiceLevel  # economy, standard, express, ...: what a channel or an order asks for
    currency: CurrencyCode
    zones: ZonesConfig
    rates: RatesConfig
    transit_days: dict[Zone, TransitDays] = Field(min_length=1, max_length=_MAX_ZONES)
    surcharges: SurchargesConfig
    dim_divisor: Annotated[int, Field(gt=0, le=100_000), AfterValidator(_dim_divisor)] | None = None
    max_weight_g: Grams | None = None
    max_length_mm: Millimetres | None = None

    @field_validator("currency")
    @classmethod
    def _real_currency(cls, currency: str) -> str:
        try:
            exponent = currency_exponent(currency)
        except InvalidInput as exc:
            raise ValueError(exc.detail) from None
        if exponent > 2:
            # rates.quote rounds every charge to cents; finer prices would be quoted wrong.
            raise ValueError(f"{currency} has {exponent} decimal places; table rates are kept to cents")
        return currency

    @model_validator(mode="after")
    def _zones_priced_and_timed(self) -> ServiceConfig:
        reachable = self.zones.reachable()
        for what, table in (("rates.prices", self.rates.prices), ("transit_days", self.transit_days)):
            missing = [z for z in reachable if z not in table]
            if missing:
                raise ValueError(f"zone(s) {_names(missing)} can be reached but have no {what}")
            unreachable = [z for z in table if z not in reachable]
            if unreachable:
                raise ValueError(f"{what} has zone(s) {_names(unreachable)} that no {_scheme(self.zones)} leads to")
        return self

    @model_validator(mode="after")
    def _money_fits_currency(self) -> ServiceConfig:
        places = currency_exponent(self.currency)
        amounts: list[tuple[str, Decimal]] = [
            (f"rates.prices[{zone!r}][{i}]", price)
            for zone, row in self.rates.prices.items()
            for i, price in enumerate(row)
        ]
        amounts += [(f"rates.per_extra_kg[{zone!r}]", price) for zone, price in self.rates.per_extra_kg.items()]
        s = self.surcharges
        amounts += [("surcharges.fragile", s.fragile), ("surcharges.residential", s.residential)]
        amounts += [("surcharges.oversize", s.oversize)]
        quantum = Decimal(1).scaleb(-places)
        for where, amount in amounts:
            if amount != amount.quantize(quantum):
                raise ValueError(f"{where} {amount} has more decimal places than {self.currency} allows ({places})")
        return self


def _distinct_codes(services: list[ServiceConfig]) -> list[ServiceConfig]:
    codes = [s.code for s in services]
    repeated = sorted({c for c in codes if codes.count(c) > 1})
    if repeated:
        raise ValueError(f"service code(s) used more than once: {', '.join(repeated)}")
    return services


# A carrier's services; request bodies that carry them (the PUT's) use this, not a bare list.
ServiceConfigs = Annotated[list[ServiceConfig], Field(min_length=1, max_length=50), AfterValidator(_distinct_codes)]


class CarrierConfig(Input):
    code: Code
    name: Name
    services: ServiceConfigs


def _names(zones: list[str]) -> str:
    return ", ".join(repr(z) for z in zones)


def _scheme(zones: DistanceZonesConfig | ZipPrefixZonesConfig) -> str:
    return "distance band" if isinstance(zones, DistanceZonesConfig) else "ZIP prefix"


# --- to and from the rating dataclasses ----------------------------------------------------------


def to_carrier(config: CarrierConfig) -> rates.Carrier:
    """The carrier rates.quote and rates.shop work with."""
    return rates.Carrier(
        code=config.code, name=config.name, services=tuple(_service(config.code, s) for s in config.services)
    )


def _service(carrier: str, s: ServiceConfig) -> rates.Service:
    zones: rates.DistanceZones | rates.ZipPrefixZones
    if isinstance(s.zones, DistanceZonesConfig):
        zones = rates.DistanceZones(tuple((band.up_to_km, band.zone) for band in s.zones.bands))
    else:
        zones = rates.ZipPrefixZones(zones=dict(s.zones.zones), origins=frozenset(s.zones.origins))
    sc = s.surcharges
    return rates.Service(
        carrier=carrier,
        code=s.code,
        name=s.name,
        level=s.level,
        zones=zones,
        rates=rates.RateTable(
            breaks_g=tuple(s.rates.breaks_g),
            prices={zone: tuple(row) for zone, row in s.rates.prices.items()},
            per_extra_kg=dict(s.rates.per_extra_kg),
        ),
        transit_days=dict(s.transit_days),
        surcharges=rates.Surcharges(
            fragile=sc.fragile,
            residential=sc.residential,
            oversize=sc.oversize,
            oversize_longest_mm=sc.oversize_longest_mm,
            oversize_girth_mm=sc.oversize_girth_mm,
        ),
        dim_divisor=s.dim_divisor,
        max_weight_g=s.max_weight_g,
        max_length_mm=s.max_length_mm,
        currency=s.currency,
    )


def from_carrier(carrier: rates.Carrier) -> CarrierConfig:
    """The configuration of a carrier built in code (the demo's), validated like a retailer's."""
    wrong = [s.key for s in carrier.services if s.carrier != carrier.code]
    if wrong:
        raise InvalidInput(f"carrier {carrier.code!r} holds services of another carrier: {', '.join(wrong)}")
    return CarrierConfig.model_validate(
        {"code": carrier.code, "name": carrier.name, "services": [_service_dict(s) for s in carrier.services]}
    )


def _service_dict(s: rates.Service) -> dict[str, Any]:
    zones: dict[str, Any]
    if isinstance(s.zones, rates.DistanceZones):
        zones = {"kind": "distance", "bands": [{"up_to_km": km, "zone": zone} for km, zone in s.zones.bands]}
    else:
        # A frozenset has no order; sorted, the same carrier always stores the same JSON.
        zones = {"kind": "zip_prefix", "zones": dict(s.zones.zones), "origins": sorted(s.zones.origins)}
    sc = s.surcharges
    return {
        "code": s.code,
        "name": s.name,
        "level": s.level,
        "currency": s.currency,
        "zones": zones,
        "rates": {
            "breaks_g": list(s.rates.breaks_g),
            "prices": {zone: list(row) for zone, row in s.rates.prices.items()},
            "per_extra_kg": dict(s.rates.per_extra_kg),
        },
        "transit_days": dict(s.transit_days),
        "surcharges": {
            "fragile": sc.fragile,
            "residential": sc.residential,
            "oversize": sc.oversize,
            "oversize_longest_mm": sc.oversize_longest_mm,
            "oversize_girth_mm": sc.oversize_girth_mm,
        },
        "dim_divisor": s.dim_divisor,
        "max_weight_g": s.max_weight_g,
        "max_length_mm": s.max_length_mm,
    }
