"""Carrier adapters: one interface for every carrier oms ships with, whether its prices come from
our own tables or from a live API. The service layer talks to ``CarrierAdapter`` only, so adding a
carrier means writing one class and registering it (docs/carriers.md), not touching the services.

Units in every payload: grams, millimetres, ``Decimal`` money with an ISO 4217 currency code,
timezone-aware datetimes. Errors are oms.errors classes (``NotServiceable``, ``InvalidInput``,
``NotFound``); an adapter maps its carrier's error payloads to them.

``TableRateCarrier`` is the real adapter of the built-in carriers (carriers_demo): prices from
``rates.quote``, numbers from ``tracking.make_tracking_number``, labels from ``labels``. It keeps no
state: the database is the record of what was bought and voided.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from functools import partial
from typing import Protocol, runtime_checkable

from oms.errors import InvalidInput, NotFound
from oms.shipping import labels, rates, tracking
from oms.shipping.carriers_demo import DEMO_CARRIERS

# --- payloads ----------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ShipmentRequest:
    """One shipment: packages that leave one warehouse together for one address.

    ``origin``/``destination`` are what rating needs (lat/lon and/or ZIP); the names and address lines
    are what the label prints, in order. ``fragile`` marks the whole shipment: every package is then
    quoted (fragile surcharge) and labelled as fragile; a single ``Package.fragile`` does that for one.
    ``promised_by_days`` is the promise in business days, for carriers whose API filters services by
    delivery date; adapters still return every service they offer and leave the choice to ``rates.shop``.
    """

    origin: rates.Location
    destination: rates.Location
    ship_from_name: str
    ship_from_lines: Sequence[str]
    ship_to_name: str
    ship_to_lines: Sequence[str]
    packages: Sequence[rates.Package]
    order_number: str
    residential: bool = False
    promised_by_days: int | None = None
    fragile: bool = False

    def __post_init__(self) -> None:
        packages = tuple(self.packages)
        if not packages:
            raise InvalidInput("nothing to ship: no packages")
        if self.fragile:
            packages = tuple(replace(p, fragile=True) for p in packages)
        object.__setattr__(self, "packages", packages)
        object.__setattr__(self, "ship_from_lines", tuple(self.ship_from_lines))
        object.__setattr__(self, "ship_to_lines", tuple(self.ship_to_lines))
        if not self.order_number.strip() or not self.ship_to_name.strip():
            raise InvalidInput("a shipment needs an order number and a recipient")
        if self.promised_by_days is not None and self.promised_by_days < 0:
            raise InvalidInput(f"promised_by_days must not be negative, got {self.promised_by_days}")


@dataclass(frozen=True, kw_only=True)
class LabelPurchase:
    """One package's label. ``buy_label`` returns one per package, in package order."""

    carrier: str  # carrier code, e.g. "oms"
    service: str  # service code within the carrier, e.g. "ground"
    tracking_number: str  # upper-case letters and digits, as the barcode carries it
    package_no: int  # 1..n, as printed "Package n of m"
    cost: Decimal  # what the carrier charges for this package, rounded to cents
    currency: str  # ISO 4217, e.g. "USD"
    label_pdf: bytes  # one 4x6 inch page
    label_zpl: str  # one ZPL II format, ^XA ... ^XZ, for 203 dpi printers


@dataclass(frozen=True)
class VoidResult:
    voided: bool
    reason: str  # why not, or what voiding meant for this carrier


class TrackingCode(StrEnum):
    LABEL_CREATED = "label_created"
    PICKED_UP = "picked_up"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERY_ATTEMPTED = "delivery_attempted"
    DELAYED = "delayed"
    EXCEPTION = "exception"
    DELIVERED = "delivered"


@dataclass(frozen=True)
class TrackingEvent:
    """One scan or status from the carrier, mapped onto our eight codes."""

    code: TrackingCode
    at: datetime  # timezone-aware: carriers report local times, the timeline sorts in UTC
    location: str | None = None  # as the carrier words it, e.g. "LOUISVILLE, KY, US"
    description: str = ""  # the carrier's own text, kept for the timeline

    def __post_init__(self) -> None:
        object.__setattr__(self, "code", TrackingCode(self.code))
        if self.at.tzinfo is None or self.at.utcoffset() is None:
            raise InvalidInput(f"tracking event time {self.at} has no timezone")


# --- the interface -----------------------------------------------------------------------------


@runtime_checkable
class CarrierAdapter(Protocol):
    """What oms needs from a carrier. Methods may call the network; never call them while holding a
    database lock or inside the transaction that records the result (ARCHITECTURE: no lock held across
    a call to the outside world)."""

    @property
    def code(self) -> str:
        """The carrier code: the key in ``ADAPTERS`` and in ``tracking.CARRIER_PREFIXES``."""
        ...

    def rates(self, request: ShipmentRequest) -> list[rates.Quote]:
        """One Quote per package per service, grouped by service in package order. A service that
        cannot carry every package is left out; ``NotServiceable`` when no service can carry it."""
        ...

    def buy_label(self, request: ShipmentRequest, service_code: str, serial: int) -> list[LabelPurchase]:
        """Buy the labels of every package by ``service_code``. ``serial`` comes from a database
        sequence, one per call; carriers that number their own labels may ignore it."""
        ...

    def void_label(self, tracking_number: str) -> VoidResult:
        """Cancel a label that has not been used, so it is not billed."""
        ...

    def tracking(self, tracking_number: str) -> list[TrackingEvent]:
        """The events the carrier reports for a number, oldest first (empty when it pushes them)."""
        ...


# --- the built-in table-rate carrier -----------------------------------------------------------


class TableRateCarrier:
    """A carrier whose prices are our own tables (``rates.Carrier``) and whose numbers we issue.

    Multi-package shipments travel under one tracking number (made from the one ``serial``): each
    package gets its own label, "Package n of m", carrying that number. Voiding is a local decision
    and tracking events arrive at the signed webhook, so the adapter holds no state at all.
    """

    def __init__(self, carrier: rates.Carrier, prefixes: Mapping[str, str] = tracking.CARRIER_PREFIXES) -> None:
        if carrier.code not in prefixes:
            raise InvalidInput(f"carrier {carrier.code!r} has no tracking prefix", code="unknown_carrier")
        strays = [s.key for s in carrier.services if s.carrier != carrier.code]
        if strays:
            raise InvalidInput(f"services {strays} do not belong to carrier {carrier.code!r}")
        self.carrier = carrier
        self.prefixes = prefixes

    @property
    def code(self) -> str:
        return self.carrier.code

    def rates(self, request: ShipmentRequest) -> list[rates.Quote]:
        found: list[rates.Quote] = []
        unavailable: dict[str, str] = {}
        for service in self.carrier.services:
            try:
                found.extend(self._quotes(service, request))
            except rates.NotServiceable as exc:
                unavailable[service.key] = exc.detail
        if not found:
            raise rates.NotServiceable(
                f"no {self.carrier.name} service can carry this shipment", unavailable=unavailable
            )
        return found

    def buy_label(self, request: ShipmentRequest, service_code: str, serial: int) -> list[LabelPurchase]:
        service = self._service(service_code)
        quotes = self._quotes(service, request)
        number = tracking.make_tracking_number(self.carrier.code, serial, self.prefixes)
        count = len(request.packages)
        purchases = []
        for no, (package, quote) in enumerate(zip(request.packages, quotes, strict=True), start=1):
            data = labels.LabelData(
                ship_from_name=request.ship_from_name,
                ship_from_lines=request.ship_from_lines,
                ship_to_name=request.ship_to_name,
                ship_to_lines=request.ship_to_lines,
                carrier_name=self.carrier.name,
                service_name=service.name,
                weight_g=package.weight_g,
                package_no=no,
                package_count=count,
                order_number=request.order_number,
                tracking_number=number,
                fragile=package.fragile,
            )
            purchases.append(
                LabelPurchase(
                    carrier=self.carrier.code,
                    service=service.code,
                    tracking_number=number,
                    package_no=no,
                    cost=quote.cost,
                    currency=service.currency,
                    label_pdf=labels.label_pdf(data),
                    label_zpl=labels.label_zpl(data),
                )
            )
        return purchases

    def void_label(self, tracking_number: str) -> VoidResult:
        parsed = tracking.parse_builtin(tracking_number, self.prefixes)
        if parsed is None:
            return VoidResult(False, f"{tracking_number!r} is not a valid {self.carrier.name} tracking number")
        if parsed[0] != self.carrier.code:
            return VoidResult(False, f"{tracking_number!r} belongs to carrier {parsed[0]!r}, not {self.code!r}")
        # Nothing is billed until the package is handed over, so there is no one to tell: the caller
        # records the void in the database, which is also what refuses a second void or a shipped label.
        return VoidResult(True, "table-rate label voided locally; the shipment's record holds the void")

    def tracking(self, tracking_number: str) -> list[TrackingEvent]:
        self._own(tracking_number)
        # Events for our own numbers arrive at the signed tracking webhook and live on the timeline;
        # there is no carrier server to poll, and inventing events here would contradict it.
        return []

    def _service(self, service_code: str) -> rates.Service:
        for service in self.carrier.services:
            if service.code == service_code:
                return service
        offered = ", ".join(s.code for s in self.carrier.services)
        raise InvalidInput(
            f"{self.carrier.name} has no service {service_code!r} (offers: {offered})", code="unknown_service"
        )

    def _quotes(self, service: rates.Service, request: ShipmentRequest) -> list[rates.Quote]:
        return [
            rates.quote(service, p, request.origin, request.destination, request.residential) for p in request.packages
        ]

    def _own(self, tracking_number: str) -> None:
        parsed = tracking.parse_builtin(tracking_number, self.prefixes)
        if parsed is None or parsed[0] != self.carrier.code:
            raise InvalidInput(
                f"{tracking_number!r} is not a {self.carrier.name} tracking number", code="invalid_tracking_number"
            )


# --- for adapters of live carriers ----------------------------------------------------------------


def api_service(carrier: str, code: str, name: str, level: str, currency: str = "USD") -> rates.Service:
    """A ``rates.Service`` for a carrier whose prices come from its API: identity only, empty tables.
    ``Quote.service`` needs one; ``rates.quote`` on it raises NotServiceable instead of pricing from
    made-up tables."""
    return rates.Service(
        carrier=carrier,
        code=code,
        name=name,
        level=level,
        zones=rates.ZipPrefixZones({}),
        rates=rates.RateTable((), {}, {}),
        transit_days={},
        currency=currency,
    )


# --- the registry ----------------------------------------------------------------------------------

# Carrier code -> factory. Factories, not instances: a live adapter's factory builds its HTTP client
# and reads its credentials when called (create_app), never at import.
ADAPTERS: dict[str, Callable[[], CarrierAdapter]] = {c.code: partial(TableRateCarrier, c) for c in DEMO_CARRIERS}


def adapter_for(carrier_code: str, registry: Mapping[str, Callable[[], CarrierAdapter]] = ADAPTERS) -> CarrierAdapter:
    factory = registry.get(carrier_code)
    if factory is None:
        raise NotFound(f"no carrier adapter for {carrier_code!r}", code="unknown_carrier", carrier=carrier_code)
    return factory()


__all__ = [
    "ADAPTERS",
    "CarrierAdapter",
    "LabelPurchase",
    "ShipmentRequest",
    "TableRateCarrier",
    "TrackingCode",
    "TrackingEvent",
    "VoidResult",
    "adapter_for",
    "api_service",
]
