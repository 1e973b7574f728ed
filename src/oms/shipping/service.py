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

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from oms.auth.service import Principal
from oms.channels.model import Channel
from oms.db import Database
from oms.db.base import utcnow
from oms.errors import Conflict, InvalidInput, NotFound
from oms.events.outbox import emit_many
from oms.inventory.model import Warehouse
from oms.inventory.stock import Movement, MovementKind, apply
from oms.orders.model import Allocation, Order, OrderLine
from oms.orders.queries import order_number
from oms.orders.rules import OrderStatus
from oms.orders.rules import check_transition as check_order_transition
from oms.orders.timeline import record
from oms.packing.model import Box, Package
from oms.packing.rules import ShipmentStatus as S
from oms.packing.service import lock_shipment
from oms.picking.model import PickTask
from oms.routing.geocode import Geocode
from oms.routing.service import order_destination
from oms.shipping import promises, rates
from oms.shipping.adapters import CarrierAdapter, LabelPurchase, ShipmentRequest
from oms.shipping.carriers import active_carriers, adapter_of, get_carrier
from oms.shipping.model import Carrier, LabelSerial, Shipment, ShippingLabel
from oms.shipping.rules import check_transition
from oms.shipping.schemas import LabelCreate, RateChoiceOut
from oms.shipping.tracking_events import replay_early, tracking_url

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
class _Facts:
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


def _facts(session: Session, shipment_id: int, today: date) -> _Facts:
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
    if not rows:
        raise Conflict(
            f"shipment {shipment_id} is {shipment.status}: it has no packages to ship yet",
            code=f"shipment_{shipment.status}",
            shipment_status=shipment.status,
        )
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
    return _Facts(
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


def _option_json(o: rates.Option, ship_day: date) -> dict[str, Any]:
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


def _quote_all(adapters: list[CarrierAdapter], facts: _Facts) -> rates.Choice:
    """Every active carrier's services for this shipment, and the choice among them."""
    return _choose(adapters, facts.request, facts.promised_by_days, facts.service_level)


def _choose(
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


def _choice_json(choice: rates.Choice, facts: _Facts, now: datetime) -> dict[str, Any]:
    return {
        "chosen": _option_json(choice.chosen, facts.ship_day),
        "alternatives": [_option_json(o, facts.ship_day) for o in choice.alternatives],
        "unavailable": dict(choice.unavailable),
        "rule": choice.rule,
        "reason": choice.reason,
        "promised_by_days": facts.promised_by_days,
        "service_level": facts.service_level,
        "shopped_at": now.isoformat(),
    }


def choice_out(shipment_id: int, choice: dict[str, Any]) -> RateChoiceOut:
    return RateChoiceOut.model_validate({"shipment_id": shipment_id, **choice})


def _carriers(db: Database) -> list[tuple[Carrier, CarrierAdapter]]:
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
        facts = _facts(session, shipment_id, today)
    check_transition(shipment_id, facts.status, S.LABELLED, "rate-shop")
    choice = _quote_all([a for _, a in _carriers(db)], facts)
    now = utcnow()
    stored = _choice_json(choice, facts, now)

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


# --- labels --------------------------------------------------------------------------------------


def _serial(db: Database, carrier: str) -> int:
    """A new serial for a tracking number, from its own short transaction (never reused)."""
    with db.write() as session:
        return int(
            session.execute(
                insert(LabelSerial).values(carrier=carrier, created_at=utcnow()).returning(LabelSerial.id)
            ).scalar_one()
        )


def buy_labels(
    db: Database, shipment_id: int, data: LabelCreate, principal: Principal, today: date | None = None
) -> tuple[dict[str, Any], int]:
    """Buy every package's label, by the rate-shop choice or the service asked for."""
    if (data.carrier is None) != (data.service is None):
        raise InvalidInput(
            "give both carrier and service, or neither (the rate-shop choice)", code="carrier_and_service"
        )
    today = today or utcnow().date()
    with db.read() as session:
        facts = _facts(session, shipment_id, today)
    check_transition(shipment_id, facts.status, S.LABELLED, "buy labels for")
    carriers = _carriers(db)
    choice = facts.rate_choice
    if choice is None or data.carrier is not None:
        choice = _choice_json(_quote_all([a for _, a in carriers], facts), facts, utcnow())
    carrier_code, service_code = data.carrier, data.service
    if carrier_code is None:
        carrier_code, service_code = choice["chosen"]["carrier"], choice["chosen"]["service"]
    assert service_code is not None
    offered = [
        o
        for o in (choice["chosen"], *choice["alternatives"])
        if (o["carrier"], o["service"]) == (carrier_code, service_code)
    ]
    if not offered:
        raise InvalidInput(
            f"{carrier_code}/{service_code} cannot carry this shipment (see POST /shipments/{shipment_id}/rates)",
            code="service_not_available",
        )
    adapter = dict((row.code, a) for row, a in carriers).get(carrier_code)
    if adapter is None:
        raise NotFound(f"no active carrier {carrier_code!r}", code="unknown_carrier")
    purchases = adapter.buy_label(facts.request, service_code, _serial(db, carrier_code))
    option = offered[0]

    def use_case(session: Session) -> dict[str, Any]:
        shipment = lock_shipment(session, shipment_id)
        check_transition(shipment_id, shipment.status, S.LABELLED, "buy labels for")
        return _store_labels(session, shipment, purchases, option, choice, principal, today)

    try:
        return db.run(use_case), 201
    except Exception:
        _void_quietly(adapter, purchases)
        raise


def _store_labels(
    session: Session,
    shipment: Shipment,
    purchases: list[LabelPurchase],
    option: dict[str, Any],
    choice: dict[str, Any],
    principal: Principal,
    today: date,
) -> dict[str, Any]:
    now = utcnow()
    packages = dict(session.execute(select(Package.number, Package.id).where(Package.shipment_id == shipment.id)).all())
    if sorted(packages) != [p.package_no for p in purchases]:
        raise Conflict(
            f"shipment {shipment.id}'s packages changed while its labels were bought", code="packages_changed"
        )
    session.execute(
        insert(ShippingLabel),
        [
            {
                "shipment_id": shipment.id,
                "package_id": packages[p.package_no],
                "package_no": p.package_no,
                "carrier": p.carrier,
                "service": p.service,
                "tracking_number": p.tracking_number,
                "cost": p.cost,
                "currency": p.currency,
                "label_pdf": p.label_pdf,
                "label_zpl": p.label_zpl,
                "status": "bought",
                "created_by": principal.actor,
                "created_at": now,
            }
            for p in purchases
        ],
    )
    number = purchases[0].tracking_number
    shipment.status = S.LABELLED.value
    shipment.rate_choice = choice
    shipment.carrier = purchases[0].carrier
    shipment.service = purchases[0].service
    shipment.service_name = option["service_name"]
    shipment.tracking_number = number
    shipment.shipping_cost = sum((p.cost for p in purchases), start=purchases[0].cost * 0)
    shipment.cost_currency = purchases[0].currency
    shipment.transit_days = option["transit_days"]
    shipment.estimated_delivery = promises.estimated_delivery(promises.next_business_day(today), option["transit_days"])
    shipment.labelled_at = now
    shipment.updated_at = now
    record(
        session,
        [
            (
                shipment.order_id,
                principal.actor,
                "label_created",
                f"Shipment {shipment.id}: {len(purchases)} label(s) {option['service_name']}, tracking {number}, "
                f"{shipment.shipping_cost} {shipment.cost_currency}",
                {"shipment_id": shipment.id, "tracking_number": number},
            )
        ],
    )
    emit_many(
        session,
        [
            (
                "shipment.label_created",
                {
                    "order_id": shipment.order_id,
                    "shipment_id": shipment.id,
                    "carrier": shipment.carrier,
                    "service": shipment.service,
                    "tracking_number": number,
                },
            )
        ],
    )
    session.flush()
    return {"shipment_id": shipment.id}


def _void_quietly(adapter: CarrierAdapter, purchases: list[LabelPurchase]) -> None:
    for number in sorted({p.tracking_number for p in purchases}):
        try:
            adapter.void_label(number)
        except Exception as exc:  # the original error is the one the caller must see
            log.warning("could not void label %s after a failed purchase: %s", number, exc)


def void_labels(db: Database, shipment_id: int, reason: str | None, principal: Principal) -> dict[str, Any]:
    """Void the labels of a shipment that has not shipped; it is packed again, ready for new ones.

    The shipment is taken off the shipping desk (back to packed) before the carrier is asked, so it
    cannot ship on a label that is being voided; if the carrier refuses, it is labelled again."""

    def take_back(session: Session) -> tuple[str, Carrier]:
        shipment = lock_shipment(session, shipment_id)
        check_transition(shipment_id, shipment.status, S.PACKED, "void the labels of")
        assert shipment.tracking_number is not None
        shipment.status = S.PACKED.value
        row = get_carrier(session, shipment.carrier or "")
        session.flush()
        session.expunge(row)
        return shipment.tracking_number, row

    number, row = db.run(take_back)
    try:
        result = adapter_of(row).void_label(number)
        refused = None if result.voided else result.reason
    except Exception as exc:  # the carrier could not be asked: the label stands
        refused = f"{type(exc).__name__}: {exc}"

    def put_back(session: Session) -> None:
        shipment = lock_shipment(session, shipment_id, refuse_held=False)
        if shipment.status == S.PACKED and shipment.tracking_number == number:
            shipment.status = S.LABELLED.value

    if refused is not None:
        db.run(put_back)
        raise Conflict(f"{row.name} did not void {number}: {refused}", code="void_refused")

    def use_case(session: Session) -> dict[str, Any]:
        shipment = lock_shipment(session, shipment_id, refuse_held=False)
        if shipment.tracking_number != number:
            raise Conflict(f"shipment {shipment_id}'s labels changed meanwhile", code="labels_changed")
        now = utcnow()
        for label in session.scalars(
            select(ShippingLabel).where(ShippingLabel.shipment_id == shipment_id, ShippingLabel.status == "bought")
        ):
            label.status = "voided"
            label.voided_at = now
        for name in ("carrier", "service", "service_name", "tracking_number", "shipping_cost", "cost_currency"):
            setattr(shipment, name, None)
        shipment.transit_days = shipment.estimated_delivery = shipment.labelled_at = None
        shipment.updated_at = now
        note = f": {reason}" if reason else ""
        record(
            session,
            [
                (
                    shipment.order_id,
                    principal.actor,
                    "label_voided",
                    f"Shipment {shipment_id}: label {number} voided{note}",
                    {"shipment_id": shipment_id, "tracking_number": number},
                )
            ],
        )
        return {"shipment_id": shipment_id}

    return db.run(use_case)


# --- confirming a shipment -----------------------------------------------------------------------


def ship(db: Database, shipment_id: int, principal: Principal, public_url: str) -> dict[str, Any]:
    """Hand the shipment to the carrier: its units leave on_hand and their reservation (ledger rows),
    the order is shipped or partially shipped, and the customer and subscribers are told."""

    def use_case(session: Session) -> dict[str, Any]:
        shipment = lock_shipment(session, shipment_id)
        check_transition(shipment_id, shipment.status, S.SHIPPED, "ship")
        order = session.get(Order, shipment.order_id)
        assert order is not None
        now = utcnow()
        units = _consume_reservations(session, shipment, principal, now)
        shipment.status = S.SHIPPED.value
        shipment.shipped_at = now
        shipment.shipped_by = principal.actor
        shipment.estimated_delivery = promises.estimated_delivery(now.date(), shipment.transit_days or 0)
        shipment.updated_at = now
        lines = session.scalars(select(OrderLine).where(OrderLine.order_id == order.id)).all()
        target = (
            OrderStatus.SHIPPED if all(ln.shipped >= ln.quantity for ln in lines) else OrderStatus.PARTIALLY_SHIPPED
        )
        if order.status != target:
            check_order_transition(order.status, target, "ship")
            order.status = target.value
        order.updated_at = now
        carrier = get_carrier(session, shipment.carrier or "")
        packages = (
            session.scalar(
                select(Package.number)
                .where(Package.shipment_id == shipment_id)
                .order_by(Package.number.desc())
                .limit(1)
            )
            or 0
        )
        url = tracking_url(public_url, shipment.tracking_number or "")
        record(
            session,
            [
                (
                    order.id,
                    principal.actor,
                    "shipped",
                    f"Shipment {shipment_id} shipped with {shipment.service_name}, tracking {shipment.tracking_number}"
                    f" ({units} unit(s) in {packages} package(s)); order is {order.status}",
                    {"shipment_id": shipment_id, "tracking_number": shipment.tracking_number},
                )
            ],
        )
        emit_many(
            session,
            [
                (
                    "shipment.shipped",
                    {
                        "order_id": order.id,
                        "shipment_id": shipment_id,
                        "carrier": shipment.carrier,
                        "carrier_name": carrier.name,
                        "service_name": shipment.service_name,
                        "tracking_number": shipment.tracking_number,
                        "tracking_url": url,
                        "packages": packages,
                        "shipped_at": now.isoformat(),
                    },
                ),
                (
                    "order.shipped",
                    {
                        "order_id": order.id,
                        "status": order.status,
                        "shipment_id": shipment_id,
                        "carrier": shipment.carrier,
                        "tracking_number": shipment.tracking_number,
                        "tracking_url": url,
                    },
                ),
            ],
        )
        emit_many(session, replay_early(session, shipment, order, public_url))
        session.flush()
        return {"shipment_id": shipment_id}

    return db.run(use_case)


def _consume_reservations(session: Session, shipment: Shipment, principal: Principal, now: datetime) -> int:
    """The picked units of the shipment leave the warehouse: one ledger row per product takes them
    off on_hand and off the reservation; allocations and order lines record them as shipped."""
    tasks = session.scalars(
        select(PickTask)
        .where(PickTask.shipment_id == shipment.id, PickTask.picked > 0, PickTask.status != "cancelled")
        .order_by(PickTask.id)
    ).all()
    if not tasks:
        raise Conflict(f"shipment {shipment.id} holds no picked units", code="nothing_to_ship")
    allocation_ids = sorted({t.allocation_id for t in tasks if t.allocation_id is not None})
    allocations = {
        a.id: a
        for a in session.scalars(select(Allocation).where(Allocation.id.in_(allocation_ids)).order_by(Allocation.id))
    }
    lines = {
        ln.id: ln
        for ln in session.scalars(
            select(OrderLine)
            .where(OrderLine.id.in_({a.order_line_id for a in allocations.values()}))
            .order_by(OrderLine.id)
        )
    }
    on_hand: dict[int, int] = defaultdict(int)
    reserved: dict[int, int] = defaultdict(int)
    for task in tasks:
        on_hand[task.product_id] += task.picked
        allocation = allocations.get(task.allocation_id) if task.allocation_id else None
        if allocation is None:  # re-routed away after it was picked: the units were not reserved here
            continue
        reserved[task.product_id] += task.picked
        allocation.quantity -= task.picked
        allocation.picked -= task.picked
        line = lines[allocation.order_line_id]
        line.reserved -= task.picked
        line.shipped += task.picked
    reference = f"shipment {shipment.id}"
    apply(
        session,
        [
            Movement(
                product_id,
                shipment.warehouse_id,
                MovementKind.SHIPMENT,
                principal.actor,
                delta_on_hand=-units,
                delta_reserved=-reserved[product_id],
                reference=reference,
                order_id=shipment.order_id,
            )
            for product_id, units in sorted(on_hand.items())
        ],
    )
    # Allocations that reach 0 stay: they record which warehouse the line shipped from.
    return sum(on_hand.values())


# --- return labels -------------------------------------------------------------------------------


def buy_return_label(db: Database, request: ShipmentRequest) -> tuple[list[LabelPurchase], str]:
    """The cheapest economy label (or the cheapest at all) from the customer back to a warehouse, for
    oms.returns. Called outside any transaction, like every carrier call."""
    carriers = _carriers(db)
    choice = _choose([a for _, a in carriers], request, None, "economy")
    service = choice.chosen.service
    adapter = dict((row.code, a) for row, a in carriers)[service.carrier]
    return adapter.buy_label(request, service.code, _serial(db, service.carrier)), service.name


def void_purchases(db: Database, purchases: list[LabelPurchase]) -> None:
    """Void labels bought for something that did not happen (a return whose approval failed)."""
    if not purchases:
        return
    adapters = {row.code: a for row, a in _carriers(db)}
    adapter = adapters.get(purchases[0].carrier)
    if adapter is not None:
        _void_quietly(adapter, purchases)
