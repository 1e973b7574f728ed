"""Shipping use cases: rate shopping, buying and voiding labels, and confirming a shipment.

Carriers are the outside world. Every call to an adapter happens outside any transaction and
without a lock (ARCHITECTURE: never hold a lock across a call to the outside world): the use case
reads what it needs, calls the carrier, then writes the outcome in a short transaction that checks
the shipment has not moved meanwhile. A label bought for a shipment that moved on is voided again.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from oms.auth.service import Principal
from oms.channels.model import Channel
from oms.db import Database
from oms.db.base import utcnow
from oms.errors import Conflict, NotFound
from oms.inventory.model import Warehouse
from oms.orders.model import Order
from oms.orders.queries import order_number
from oms.orders.timeline import record
from oms.packing.model import Box, Package
from oms.packing.rules import ShipmentStatus as S
from oms.packing.service import lock_shipment
from oms.routing.geocode import Geocode
from oms.routing.service import order_destination
from oms.shipping import promises, rates
from oms.shipping.adapters import CarrierAdapter, ShipmentRequest
from oms.shipping.carriers import active_carriers, adapter_of
from oms.shipping.model import Carrier, Shipment
from oms.shipping.rules import check_transition
from oms.shipping.schemas import RateChoiceOut

log = logging.getLogger("oms.shipping")

# Boxes are catalogued by their inside; carriers measure the outside. Single-wall corrugated board
# is about 4 mm thick, so each outer side is 8 mm longer than the inner one.
BOARD_MM = 4


def address_lines(line1: str, line2: str | None, city: str, region: str | None, postal: str, country: str) -> list[str]:
    place = " ".join(p for p in (f"{city},", region or "", postal) if p)
    return [x for x in (line1, line2, place, country) if x]


def order_address_lines(order: Order) -> list[str]:
    return address_lines(
        order.ship_line1,
        order.ship_line2,
        order.ship_city,
        order.ship_region,
        order.ship_postal_code,
        order.ship_country,
    )


# --- what a carrier is asked -----------------------------------------------------------------------


@dataclass(frozen=True)
class Facts:
    """A shipment read for the carrier: the request plus what rate shopping needs to know."""

    shipment_id: int
    order_id: int
    status: str
    request: ShipmentRequest
    promised_by_days: int | None
    service_level: str | None
    ship_day: date
    rate_choice: dict[str, Any] | None
    carrier: str | None
    tracking_number: str | None


def read_facts(session: Session, shipment_id: int, today: date) -> Facts:
    shipment = session.get(Shipment, shipment_id)
    if shipment is None:
        raise NotFound(f"no shipment {shipment_id}", code="shipment_not_found")
    order = session.get(Order, shipment.order_id)
    warehouse = session.get(Warehouse, shipment.warehouse_id)
    channel = session.get(Channel, order.channel_id) if order else None
    assert order is not None and warehouse is not None and channel is not None
    rows = session.execute(
        select(Package, Box)
        .join(Box, Box.id == Package.box_id)
        .where(Package.shipment_id == shipment_id)
        .order_by(Package.number)
    ).all()
    # Only a packed shipment has packages to price: the transition table says what is missing.
    check_transition(shipment_id, shipment.status, S.LABELLED, "rate-shop or label")
    packages = [
        rates.Package(
            weight_g=p.measured_weight_g or p.expected_weight_g,
            dims_mm=(
                b.inner_length_mm + 2 * BOARD_MM,
                b.inner_width_mm + 2 * BOARD_MM,
                b.inner_height_mm + 2 * BOARD_MM,
            ),
            fragile=p.fragile,
        )
        for p, b in rows
    ]
    to = order_destination(order)
    us = order.ship_country == "US"
    destination = rates.Location(
        to.latitude if isinstance(to, Geocode) else None,
        to.longitude if isinstance(to, Geocode) else None,
        order.ship_postal_code if us else None,
    )
    origin = rates.Location(
        warehouse.latitude, warehouse.longitude, warehouse.postal_code if warehouse.country == "US" else None
    )
    ship_day = promises.next_business_day(today)
    promised = None
    if order.deliver_by is not None:
        # A promise already out of reach still asks for the fastest service: 0 days left.
        promised = max(0, promises.business_days_until(ship_day, order.deliver_by.astimezone(UTC).date()))
    request = ShipmentRequest(
        origin=origin,
        destination=destination,
        ship_from_name=warehouse.name,
        ship_from_lines=address_lines(
            warehouse.line1, None, warehouse.city, warehouse.region, warehouse.postal_code, warehouse.country
        ),
        ship_to_name=order.ship_name,
        ship_to_lines=order_address_lines(order),
        packages=packages,
        order_number=order_number(order.id),
        # Consumer orders go to homes; carriers charge residential delivery for them.
        residential=True,
        promised_by_days=promised,
    )
    return Facts(
        shipment_id=shipment.id,
        order_id=order.id,
        status=shipment.status,
        request=request,
        promised_by_days=promised,
        service_level=None if promised is not None else (order.service_level or channel.service_level),
        ship_day=ship_day,
        rate_choice=shipment.rate_choice,
        carrier=shipment.carrier,
        tracking_number=shipment.tracking_number,
    )


# --- rate shopping -------------------------------------------------------------------------------


def option_json(o: rates.Option, ship_day: date) -> dict[str, Any]:
    return {
        "carrier": o.service.carrier,
        "service": o.service.code,
        "service_name": o.service.name,
        "level": o.service.level,
        "cost": str(o.cost),
        "currency": o.service.currency,
        "transit_days": o.transit_days,
        "estimated_delivery": promises.estimated_delivery(ship_day, o.transit_days).isoformat(),
        "meets_promise": o.meets_promise,
        "packages": [
            {
                "package": i,
                "cost": str(q.cost),
                "zone": q.zone,
                "billable_weight_g": q.billable_weight_g,
                "actual_weight_g": q.actual_weight_g,
                "dim_weight_g": q.dim_weight_g,
                "breakdown": [
                    {"code": c.code, "description": c.description, "amount": str(c.amount)} for c in q.breakdown
                ],
            }
            for i, q in enumerate(o.quotes, start=1)
        ],
    }


def quote_all(adapters: list[CarrierAdapter], facts: Facts) -> rates.Choice:
    """Every active carrier's services for this shipment, and the choice among them."""
    return choose_service(adapters, facts.request, facts.promised_by_days, facts.service_level)


def choose_service(
    adapters: list[CarrierAdapter], request: ShipmentRequest, promised_by_days: int | None, level: str | None
) -> rates.Choice:
    options: list[rates.Option] = []
    unavailable: list[tuple[str, str]] = []
    for adapter in adapters:
        try:
            quotes = adapter.rates(request)
        except rates.NotServiceable as exc:
            unavailable.extend(
                (adapter.code + "/" + k.split("/")[-1], v) for k, v in exc.extra.get("unavailable", {}).items()
            )
            if not exc.extra.get("unavailable"):
                unavailable.append((adapter.code, exc.detail))
            continue
        by_service: dict[str, list[rates.Quote]] = defaultdict(list)
        for q in quotes:
            by_service[q.service.key].append(q)
        for group in by_service.values():
            options.append(rates.option(group[0].service, group, promised_by_days))
    return rates.choose(options, promised_by_days, level, tuple(unavailable))


def choice_json(choice: rates.Choice, facts: Facts, now: datetime) -> dict[str, Any]:
    return {
        "chosen": option_json(choice.chosen, facts.ship_day),
        "alternatives": [option_json(o, facts.ship_day) for o in choice.alternatives],
        "unavailable": dict(choice.unavailable),
        "rule": choice.rule,
        "reason": choice.reason,
        "promised_by_days": facts.promised_by_days,
        "service_level": facts.service_level,
        "shopped_at": now.isoformat(),
    }


def choice_out(shipment_id: int, choice: dict[str, Any]) -> RateChoiceOut:
    return RateChoiceOut.model_validate({"shipment_id": shipment_id, **choice})


def carriers_with_adapters(db: Database) -> list[tuple[Carrier, CarrierAdapter]]:
    with db.read() as session:
        rows = active_carriers(session)
        for row in rows:
            session.expunge(row)
    if not rows:
        raise Conflict("no active carrier is configured (PUT /carriers/{code})", code="no_carriers")
    return [(row, adapter_of(row)) for row in rows]


def shop_rates(db: Database, shipment_id: int, principal: Principal, today: date | None = None) -> RateChoiceOut:
    """Price the shipment with every active carrier and store the choice with its alternatives."""
    today = today or utcnow().date()
    with db.read() as session:
        facts = read_facts(session, shipment_id, today)
    check_transition(shipment_id, facts.status, S.LABELLED, "rate-shop")
    choice = quote_all([a for _, a in carriers_with_adapters(db)], facts)
    now = utcnow()
    stored = choice_json(choice, facts, now)

    def use_case(session: Session) -> RateChoiceOut:
        shipment = lock_shipment(session, shipment_id)
        check_transition(shipment_id, shipment.status, S.LABELLED, "rate-shop")
        shipment.rate_choice = stored
        shipment.updated_at = now
        chosen = stored["chosen"]
        record(
            session,
            [
                (
                    shipment.order_id,
                    principal.actor,
                    "rates_shopped",
                    f"Shipment {shipment_id}: {chosen['service_name']} chosen, {chosen['cost']} "
                    f"{chosen['currency']}, {chosen['transit_days']} day(s), "
                    f"{len(choice.alternatives)} alternative(s)",
                    {"shipment_id": shipment_id, "rule": choice.rule},
                )
            ],
        )
        return choice_out(shipment_id, stored)

    return db.run(use_case)
