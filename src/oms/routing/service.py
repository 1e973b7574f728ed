"""Routing's entry points for the rest of oms: where an order goes (its shipping address, geocoded
offline) and the planner that routes it. The decision itself is pure (oms.routing.scoring)."""

from __future__ import annotations

from typing import Any, Protocol

from oms.routing.geocode import Geocode, NoMatch, geocode
from oms.routing.rules import Planner
from oms.routing.scoring import Candidate, make_planner


class AddressLike(Protocol):
    country: str
    postal_code: str
    city: str
    region: str | None
    latitude: float | None
    longitude: float | None


def destination_of(address: AddressLike) -> Geocode | NoMatch:
    return geocode(
        address.country, address.postal_code, address.city, address.region, address.latitude, address.longitude
    )


def order_destination(order: Any) -> Geocode | NoMatch:
    """The geocode of a stored order's shipping address (oms.orders.model.Order)."""
    return geocode(
        order.ship_country,
        order.ship_postal_code,
        order.ship_city,
        order.ship_region,
        order.ship_latitude,
        order.ship_longitude,
    )


def planner_for(candidates: list[Candidate], destination: Geocode | NoMatch, allow_stores: bool) -> Planner:
    return make_planner(candidates, destination, allow_stores=allow_stores)
