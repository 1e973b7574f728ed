"""Reading shipments and their packages (one shipment, or a page of them), and the builders of
the package and shipment responses the use cases return too."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from oms.db import Database
from oms.errors import NotFound
from oms.inventory.model import Warehouse
from oms.orders.queries import order_number
from oms.packing.model import Box, Package, PackageItem
from oms.packing.rules import ShipmentStatus
from oms.packing.schemas import PackageBoxOut, PackageItemOut, PackageOut, PlacementOut, ShipmentOut
from oms.schemas import Page, keyset, page_of
from oms.shipping.model import Shipment


def _packages_out(session: Session, shipment_ids: Sequence[int]) -> dict[int, list[PackageOut]]:
    """The packages of these shipments, in three queries whatever their number."""
    if not shipment_ids:
        return {}
    rows = session.execute(
        select(Package, Box)
        .join(Box, Box.id == Package.box_id)
        .where(Package.shipment_id.in_(shipment_ids))
        .order_by(Package.shipment_id, Package.number)
    ).all()
    items: dict[int, list[PackageItem]] = defaultdict(list)
    if rows:
        for it in session.scalars(
            select(PackageItem).where(PackageItem.package_id.in_([p.id for p, _ in rows])).order_by(PackageItem.id)
        ):
            items[it.package_id].append(it)
    count = Counter(p.shipment_id for p, _ in rows)
    out: dict[int, list[PackageOut]] = defaultdict(list)
    for package, box in rows:
        out[package.shipment_id].append(package_out(package, box, items[package.id], count[package.shipment_id]))
    return out


def package_out(package: Package, box: Box, items: Sequence[PackageItem], of: int) -> PackageOut:
    return PackageOut(
        id=package.id,
        number=package.number,
        of=of,
        label=f"{package.number} of {of}",
        status=package.status,
        box=PackageBoxOut.model_validate(box),
        fragile=package.fragile,
        marks=["FRAGILE"] if package.fragile else [],
        instructions=list(package.instructions),
        fill_rate=package.fill_rate,
        expected_weight_g=package.expected_weight_g,
        measured_weight_g=package.measured_weight_g,
        weight_warning=package.weight_warning,
        items=[PackageItemOut(sku=i.sku, expected=i.expected, scanned=i.scanned) for i in items],
        missing={i.sku: i.expected - i.scanned for i in items if i.scanned < i.expected},
        placements=[
            PlacementOut(item=p["item"], sku=p["sku"], **{k: p[k] for k in ("x", "y", "z", "dx", "dy", "dz")})
            for p in package.placements
        ],
        closed_by=package.closed_by,
        closed_at=package.closed_at,
    )


def shipment_out(
    session: Session, shipment: Shipment, warehouse: str, packages: list[PackageOut] | None = None
) -> ShipmentOut:
    """``packages`` when the caller read them already (a page of shipments reads them at once)."""
    return ShipmentOut(
        id=shipment.id,
        status=shipment.status,
        order_id=shipment.order_id,
        order_number=order_number(shipment.order_id),
        warehouse=warehouse,
        created_at=shipment.created_at,
        updated_at=shipment.updated_at,
        packages=packages if packages is not None else _packages_out(session, [shipment.id]).get(shipment.id, []),
    )


def warehouse_code(session: Session, warehouse_id: int) -> str:
    return session.scalar(select(Warehouse.code).where(Warehouse.id == warehouse_id)) or ""


def get_shipment(db: Database, shipment_id: int) -> ShipmentOut:
    with db.read() as session:
        row = session.execute(
            select(Shipment, Warehouse.code)
            .join(Warehouse, Warehouse.id == Shipment.warehouse_id)
            .where(Shipment.id == shipment_id)
        ).first()
        if row is None:
            raise NotFound(f"no shipment {shipment_id}", code="shipment_not_found")
        return shipment_out(session, row[0], row[1])


def list_shipments(
    db: Database, status: ShipmentStatus | None, warehouse: str | None, limit: int, cursor: str | None
) -> Page[ShipmentOut]:
    stmt = select(Shipment, Warehouse.code).join(Warehouse, Warehouse.id == Shipment.warehouse_id)
    if status is not None:
        stmt = stmt.where(Shipment.status == status.value)
    if warehouse is not None:
        stmt = stmt.where(Warehouse.code == warehouse)
    with db.read() as session:
        rows = session.execute(keyset(stmt, Shipment.id, cursor, limit)).all()
        packages = _packages_out(session, [s.id for s, _ in rows[:limit]])
        return page_of([shipment_out(session, s, code, packages.get(s.id, [])) for s, code in rows], limit)
