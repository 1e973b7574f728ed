"""Labels: buying every package's label from the chosen carrier (outside any transaction, stored
after in a short one that checks the shipment has not moved), voiding them, and the labels of
returns (oms.returns)."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from oms.auth.service import Principal
from oms.db import Database
from oms.db.base import utcnow
from oms.errors import Conflict, InvalidInput, NotFound
from oms.events.outbox import emit_many
from oms.orders.timeline import record
from oms.packing.model import Package
from oms.packing.rules import ShipmentStatus as S
from oms.packing.service import lock_shipment
from oms.shipping import promises
from oms.shipping.adapters import CarrierAdapter, LabelPurchase, ShipmentRequest
from oms.shipping.carriers import adapter_of, get_carrier
from oms.shipping.model import Carrier, LabelSerial, Shipment, ShippingLabel
from oms.shipping.rules import check_transition
from oms.shipping.schemas import LabelCreate
from oms.shipping.service import carriers_with_adapters, choice_json, choose_service, quote_all, read_facts

log = logging.getLogger("oms.shipping")


# --- labels --------------------------------------------------------------------------------------


def take_serial(db: Database, carrier: str) -> int:
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
        facts = read_facts(session, shipment_id, today)
    check_transition(shipment_id, facts.status, S.LABELLED, "buy labels for")
    carriers = carriers_with_adapters(db)
    choice = facts.rate_choice
    if choice is None or data.carrier is not None:
        choice = choice_json(quote_all([a for _, a in carriers], facts), facts, utcnow())
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
    purchases = adapter.buy_label(facts.request, service_code, take_serial(db, carrier_code))
    option = offered[0]

    def use_case(session: Session) -> dict[str, Any]:
        shipment = lock_shipment(session, shipment_id)
        check_transition(shipment_id, shipment.status, S.LABELLED, "buy labels for")
        return _store_labels(session, shipment, purchases, option, choice, principal, today)

    try:
        return db.run(use_case), 201
    except Exception:
        void_quietly(adapter, purchases)
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


def void_quietly(adapter: CarrierAdapter, purchases: list[LabelPurchase]) -> None:
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


# --- return labels -------------------------------------------------------------------------------


def buy_return_label(db: Database, request: ShipmentRequest) -> tuple[list[LabelPurchase], str]:
    """The cheapest economy label (or the cheapest at all) from the customer back to a warehouse, for
    oms.returns. Called outside any transaction, like every carrier call."""
    carriers = carriers_with_adapters(db)
    choice = choose_service([a for _, a in carriers], request, None, "economy")
    service = choice.chosen.service
    adapter = dict((row.code, a) for row, a in carriers)[service.carrier]
    return adapter.buy_label(request, service.code, take_serial(db, service.carrier)), service.name


def void_purchases(db: Database, purchases: list[LabelPurchase]) -> None:
    """Void labels bought for something that did not happen (a return whose approval failed)."""
    if not purchases:
        return
    adapters = {row.code: a for row, a in carriers_with_adapters(db)}
    adapter = adapters.get(purchases[0].carrier)
    if adapter is not None:
        void_quietly(adapter, purchases)


def void_cancelled(db: Database, shipment_id: int) -> None:
    """The worker's handler for ``shipment.labels_to_void``: a cancelled order's unused labels are
    voided at the carrier so they are not billed, and marked voided. Raising lets the outbox retry."""
    with db.read() as session:
        shipment = session.get(Shipment, shipment_id)
        if shipment is None or shipment.status != S.CANCELLED or not shipment.tracking_number:
            return
        number, order_id = shipment.tracking_number, shipment.order_id
        row = get_carrier(session, shipment.carrier or "")
        session.expunge(row)
        pending = session.scalar(
            select(ShippingLabel.id).where(ShippingLabel.shipment_id == shipment_id, ShippingLabel.status == "bought")
        )
    if pending is None:
        return  # voided already (a retried event)
    result = adapter_of(row).void_label(number)
    if not result.voided:
        raise Conflict(f"{row.name} did not void {number}: {result.reason}", code="void_refused")

    def use_case(session: Session) -> None:
        now = utcnow()
        for label in session.scalars(
            select(ShippingLabel).where(ShippingLabel.shipment_id == shipment_id, ShippingLabel.status == "bought")
        ):
            label.status, label.voided_at = "voided", now
        record(
            session,
            [(order_id, "worker", "label_voided", f"Label {number} voided: the order was cancelled", None)],
        )

    db.run(use_case)
