"""End-of-day manifests: closing the day's shipped parcels of one carrier at one warehouse onto the
sheet the driver signs, and reading it back as PDF or CSV (rendered by oms.shipping.manifest)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, time

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from oms.auth.service import Principal
from oms.db import Database
from oms.db.base import utcnow
from oms.db.locks import lock_in_key_order
from oms.errors import Conflict, NotFound
from oms.inventory.model import Warehouse
from oms.orders.model import Order
from oms.orders.queries import order_number
from oms.packing.model import Package
from oms.schemas import Page, keyset, page_of
from oms.shipping import manifest
from oms.shipping.carriers import get_carrier
from oms.shipping.model import Manifest, Shipment
from oms.shipping.schemas import ManifestCreate, ManifestOut
from oms.shipping.service import address_lines


def _warehouse(session: Session, code: str) -> Warehouse:
    row = session.scalar(select(Warehouse).where(Warehouse.code == code))
    if row is None:
        raise NotFound(f"no warehouse {code!r}", code="unknown_warehouse")
    return row


def _outs(session: Session, manifests: Sequence[Manifest]) -> list[ManifestOut]:
    """Manifests with their warehouse codes and tracking numbers, in two queries for the whole page."""
    ids = [m.id for m in manifests]
    numbers: dict[int, list[str]] = defaultdict(list)
    for manifest_id, number in session.execute(
        select(Shipment.manifest_id, Shipment.tracking_number)
        .where(Shipment.manifest_id.in_(ids))
        .order_by(Shipment.id)
    ):
        if number:
            numbers[manifest_id].append(number)
    codes = dict(
        session.execute(
            select(Warehouse.id, Warehouse.code).where(Warehouse.id.in_({m.warehouse_id for m in manifests}))
        ).all()
    )
    return [
        ManifestOut(
            id=m.id,
            carrier=m.carrier,
            warehouse=codes.get(m.warehouse_id, ""),
            day=m.day,
            shipments=m.shipments,
            packages=m.packages,
            tracking_numbers=numbers[m.id],
            created_by=m.created_by,
            created_at=m.created_at,
        )
        for m in manifests
    ]


def _out(session: Session, m: Manifest) -> ManifestOut:
    return _outs(session, [m])[0]


def close_manifest(db: Database, data: ManifestCreate, principal: Principal) -> ManifestOut:
    """Put every shipment of this carrier and warehouse shipped by the end of ``day`` and not yet on
    a manifest onto a new one. 409 when there is nothing to hand over."""
    day = data.day or utcnow().date()
    until = datetime.combine(day, time.max, tzinfo=UTC)

    def use_case(session: Session) -> ManifestOut:
        carrier = get_carrier(session, data.carrier)
        warehouse = _warehouse(session, data.warehouse)
        # Locked in id order, so two clerks closing the same day cannot put a parcel on two sheets.
        stmt = select(Shipment.id).where(
            Shipment.carrier == carrier.code,
            Shipment.warehouse_id == warehouse.id,
            Shipment.manifest_id.is_(None),
            Shipment.shipped_at.is_not(None),
            Shipment.shipped_at <= until,
        )
        ids = list(session.scalars(lock_in_key_order(session, stmt, Shipment.id)))
        if not ids:
            raise Conflict(
                f"no {carrier.name} shipment from {warehouse.code} shipped by {day} is waiting for a manifest",
                code="nothing_to_manifest",
            )
        packages = session.scalar(select(func.count()).where(Package.shipment_id.in_(ids))) or 0
        m = Manifest(
            carrier=carrier.code,
            warehouse_id=warehouse.id,
            day=day,
            shipments=len(ids),
            packages=packages,
            created_by=principal.actor,
            created_at=utcnow(),
        )
        session.add(m)
        session.flush()
        session.execute(update(Shipment).where(Shipment.id.in_(ids)).values(manifest_id=m.id))
        return _out(session, m)

    return db.run(use_case)


def list_manifests(db: Database, limit: int, cursor: str | None) -> Page[ManifestOut]:
    with db.read() as session:
        rows = session.scalars(keyset(select(Manifest), Manifest.id, cursor, limit, newest_first=True)).all()
        return page_of(_outs(session, rows), limit)


def read_manifest(db: Database, manifest_id: int) -> ManifestOut:
    with db.read() as session:
        return _out(session, _get(session, manifest_id))


def _get(session: Session, manifest_id: int) -> Manifest:
    m = session.get(Manifest, manifest_id)
    if m is None:
        raise NotFound(f"no manifest {manifest_id}", code="manifest_not_found")
    return m


def manifest_data(db: Database, manifest_id: int) -> manifest.ManifestData:
    with db.read() as session:
        m = _get(session, manifest_id)
        carrier = get_carrier(session, m.carrier)
        warehouse = session.get(Warehouse, m.warehouse_id)
        assert warehouse is not None
        rows = session.execute(
            select(Shipment, Order)
            .join(Order, Order.id == Shipment.order_id)
            .where(Shipment.manifest_id == m.id)
            .order_by(Shipment.id)
        ).all()
        weights: dict[int, list[int]] = defaultdict(list)
        for sid, measured, expected in session.execute(
            select(Package.shipment_id, Package.measured_weight_g, Package.expected_weight_g).where(
                Package.shipment_id.in_([s.id for s, _ in rows])
            )
        ):
            weights[sid].append(measured or expected)
        return manifest.ManifestData(
            carrier_code=carrier.code,
            carrier_name=carrier.name,
            warehouse_code=warehouse.code,
            warehouse_name=warehouse.name,
            warehouse_lines=address_lines(
                warehouse.line1, None, warehouse.city, warehouse.region, warehouse.postal_code, warehouse.country
            ),
            day=m.day,
            generated_at=utcnow(),
            rows=[
                manifest.ManifestRow(
                    tracking_number=s.tracking_number or "",
                    order_number=order_number(o.id),
                    service_name=s.service_name or s.service or "",
                    packages=len(weights[s.id]),
                    weight_g=sum(weights[s.id]),
                    ship_to_name=o.ship_name,
                    ship_to_city=o.ship_city,
                    ship_to_region=o.ship_region,
                    ship_to_postal_code=o.ship_postal_code,
                    ship_to_country=o.ship_country,
                    cost=s.shipping_cost or 0,
                    currency=s.cost_currency or o.currency,
                )
                for s, o in rows
            ],
        )
