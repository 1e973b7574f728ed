"""Packing use cases: the box catalogue, planning a shipment's packages, scanning units in, closing.

A shipment that is ``ready_to_pack`` is planned (``pack``): every picked unit becomes an item,
``choose_boxes`` picks the boxes, and the packages are stored with their items, placements and
instructions; the shipment is then ``packing``. Each unit is scanned into its package
(``scan``), a package closes when it holds exactly its plan (``close``), and the shipment is
``packed`` when its last package closes. Every write locks the shipment row first, so two
packers on one shipment take turns and the last close always sees every other package closed.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from oms.auth.service import Principal
from oms.catalog.model import Product
from oms.db import Database
from oms.db.base import utcnow
from oms.db.locks import lock_in_key_order
from oms.errors import AlreadyExists, Conflict, DomainError, InvalidInput, InvalidTransition, NotFound
from oms.events.outbox import emit_many
from oms.inventory.model import Warehouse
from oms.orders.queries import order_number
from oms.orders.timeline import record
from oms.packing import cartons
from oms.packing.model import Box, Package, PackageItem, PackScan
from oms.packing.schemas import (
    BoxCreate,
    BoxOut,
    BoxUpdate,
    CloseCreate,
    CloseOut,
    PackageBoxOut,
    PackageItemOut,
    PackageOut,
    PackedShipmentOut,
    PackPlanOut,
    PlacementOut,
    ScanCreate,
    ScanOut,
    ShipmentOut,
    cents,
)
from oms.packing.verification import PackVerification
from oms.picking.model import PickTask
from oms.schemas import Page, keyset, page_of
from oms.shipping.model import Shipment

RULES = cartons.ProtectionRules()
# A measured weight further than this from items + box + packaging is flagged (not refused).
WEIGHT_TOLERANCE_PCT = 5.0


class ShipmentStatus(StrEnum):
    PICKING = "picking"
    READY_TO_PACK = "ready_to_pack"
    PACKING = "packing"  # packages planned, units being scanned in
    PACKED = "packed"
    SHIPPED = "shipped"
    CANCELLED = "cancelled"


class PackageStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


# The moves packing makes; packing -> packing is a new plan before any scan.
TRANSITIONS: dict[ShipmentStatus, frozenset[ShipmentStatus]] = {
    ShipmentStatus.READY_TO_PACK: frozenset({ShipmentStatus.PACKING}),
    ShipmentStatus.PACKING: frozenset({ShipmentStatus.PACKING, ShipmentStatus.PACKED}),
}


def _check_transition(shipment: Shipment, target: ShipmentStatus, action: str) -> None:
    if target not in TRANSITIONS.get(ShipmentStatus(shipment.status), frozenset()):
        raise InvalidTransition(
            f"shipment {shipment.id} is {shipment.status}: cannot {action}",
            shipment_id=shipment.id,
            shipment_status=shipment.status,
        )


# --- the box catalogue ----------------------------------------------------------------------------


def _get_box(session: Session, code: str) -> Box:
    box = session.scalar(select(Box).where(Box.code == code))
    if box is None:
        raise NotFound(f"no box with code {code!r}", code="box_not_found")
    return box


def create_box(db: Database, data: BoxCreate) -> BoxOut:
    def use_case(session: Session) -> BoxOut:
        if session.scalar(select(Box.id).where(Box.code == data.code)):
            raise AlreadyExists(f"a box with code {data.code!r} already exists")
        box = Box(**data.model_dump(), is_active=True)
        session.add(box)
        session.flush()
        return BoxOut.model_validate(box)

    return db.run(use_case)


def list_boxes(db: Database, active: bool | None, limit: int, cursor: str | None) -> Page[BoxOut]:
    stmt = select(Box)
    if active is not None:
        stmt = stmt.where(Box.is_active.is_(active))
    with db.read() as session:
        return page_of([BoxOut.model_validate(b) for b in session.scalars(keyset(stmt, Box.id, cursor, limit))], limit)


_SHAPE = ("inner_length_mm", "inner_width_mm", "inner_height_mm", "max_weight_g", "tare_weight_g")


def update_box(db: Database, code: str, data: BoxUpdate) -> BoxOut:
    def use_case(session: Session) -> BoxOut:
        box = _get_box(session, code)
        changes = data.model_dump(exclude_unset=True)
        for key, value in changes.items():
            if value is None:
                raise InvalidInput(f"{key} cannot be null", code="validation_error")
        reshaped = [k for k in _SHAPE if k in changes and changes[k] != getattr(box, k)]
        if reshaped:
            # An open package's placements and expected weight were computed for this box.
            in_use = session.scalar(
                select(func.count()).where(Package.box_id == box.id, Package.status == PackageStatus.OPEN)
            )
            if in_use:
                raise Conflict(
                    f"box {code} is in {in_use} open package(s): its {', '.join(reshaped)} cannot change "
                    "until they are closed (add a new box instead)",
                    code="box_in_use",
                )
        for key, value in changes.items():
            setattr(box, key, value)
        if box.tare_weight_g >= box.max_weight_g:
            raise InvalidInput("tare_weight_g must be below max_weight_g", code="validation_error")
        session.flush()
        return BoxOut.model_validate(box)

    return db.run(use_case)


def _carton_box(box: Box) -> cartons.Box:
    return cartons.Box(
        code=box.code,
        inner_length_mm=box.inner_length_mm,
        inner_width_mm=box.inner_width_mm,
        inner_height_mm=box.inner_height_mm,
        max_weight_g=box.max_weight_g,
        tare_weight_g=box.tare_weight_g,
        cost=cents(box.cost),  # as people write it in the explanation: 0.50, not 0.5000
    )


# --- reading shipments ----------------------------------------------------------------------------


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
        out[package.shipment_id].append(_package_out(package, box, items[package.id], count[package.shipment_id]))
    return out


def _package_out(package: Package, box: Box, items: Sequence[PackageItem], of: int) -> PackageOut:
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


def _shipment_out(session: Session, shipment: Shipment, warehouse: str) -> ShipmentOut:
    return ShipmentOut(
        id=shipment.id,
        status=shipment.status,
        order_id=shipment.order_id,
        order_number=order_number(shipment.order_id),
        warehouse=warehouse,
        created_at=shipment.created_at,
        updated_at=shipment.updated_at,
        packages=_packages_out(session, [shipment.id]).get(shipment.id, []),
    )


def _warehouse_code(session: Session, warehouse_id: int) -> str:
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
        return _shipment_out(session, row[0], row[1])


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
        return page_of(
            [
                ShipmentOut(
                    id=s.id,
                    status=s.status,
                    order_id=s.order_id,
                    order_number=order_number(s.order_id),
                    warehouse=code,
                    created_at=s.created_at,
                    updated_at=s.updated_at,
                    packages=packages.get(s.id, []),
                )
                for s, code in rows
            ],
            limit,
        )


# --- planning the packages ------------------------------------------------------------------------


def _lock_shipment(session: Session, shipment_id: int) -> Shipment:
    shipment = session.scalar(
        lock_in_key_order(session, select(Shipment).where(Shipment.id == shipment_id), Shipment.id)
    )
    if shipment is None:
        raise NotFound(f"no shipment {shipment_id}", code="shipment_not_found")
    return shipment


def _items_to_pack(session: Session, shipment_id: int) -> tuple[list[cartons.Item], dict[str, int]]:
    """One item per unit in the shipment's tote(s), and SKU -> product id."""
    rows = session.execute(
        select(Product, func.sum(PickTask.picked))
        .join(PickTask, PickTask.product_id == Product.id)
        .where(PickTask.shipment_id == shipment_id, PickTask.status != "cancelled", PickTask.picked > 0)
        .group_by(Product.id)
        .order_by(Product.id)
    ).all()
    items = [
        cartons.Item(
            key=f"{p.sku}#{n}",
            sku=p.sku,
            length_mm=p.length_mm,
            width_mm=p.width_mm,
            height_mm=p.height_mm,
            weight_g=p.weight_g,
            fragile=p.fragile,
        )
        for p, units in rows
        for n in range(1, int(units) + 1)
    ]
    return items, {p.sku: p.id for p, _ in rows}


def _placements_json(pb: cartons.PackedBox) -> list[dict[str, Any]]:
    """The placements, each with the item as it was planned (so the plan can be checked later even
    if the product's details change)."""
    items = {i.key: i for i in pb.items}
    return [
        {
            "item": p.item_key,
            "sku": items[p.item_key].sku,
            "x": p.x,
            "y": p.y,
            "z": p.z,
            "dx": p.dx,
            "dy": p.dy,
            "dz": p.dz,
            "length_mm": items[p.item_key].length_mm,
            "width_mm": items[p.item_key].width_mm,
            "height_mm": items[p.item_key].height_mm,
            "weight_g": items[p.item_key].weight_g,
            "fragile": items[p.item_key].fragile,
        }
        for p in pb.placements
    ]


def pack(db: Database, shipment_id: int, principal: Principal) -> PackedShipmentOut:
    """Plan the packages of a shipment that is ready to pack, or plan again while no unit is scanned."""

    def use_case(session: Session) -> PackedShipmentOut:
        shipment = _lock_shipment(session, shipment_id)
        _check_transition(shipment, ShipmentStatus.PACKING, "pack it")
        old = list(session.scalars(select(Package.id).where(Package.shipment_id == shipment.id)))
        if old:
            scans = session.scalar(select(func.count()).where(PackScan.package_id.in_(old)))
            if scans:
                # Scans (refused ones too) are the floor's audit trail; a new plan would delete them.
                raise Conflict(
                    f"packing of shipment {shipment.id} has started ({scans} scan(s) recorded): "
                    "its packages cannot be planned again",
                    code="packing_started",
                    shipment_id=shipment.id,
                )
        items, product_ids = _items_to_pack(session, shipment.id)
        boxes = session.scalars(select(Box).where(Box.is_active.is_(True)).order_by(Box.id)).all()
        result = cartons.choose_boxes(items, [_carton_box(b) for b in boxes], RULES)
        box_ids = {b.code: b.id for b in boxes}
        if old:
            session.execute(delete(PackageItem).where(PackageItem.package_id.in_(old)))
            session.execute(delete(Package).where(Package.id.in_(old)))
        packages = [
            Package(
                shipment_id=shipment.id,
                number=n,
                box_id=box_ids[pb.box.code],
                status=PackageStatus.OPEN.value,
                fragile=pb.protection.fragile,
                instructions=list(pb.protection.instructions),
                placements=_placements_json(pb),
                fill_rate=pb.fill_rate,
                expected_weight_g=pb.weight_g,
            )
            for n, pb in enumerate(result.packages, 1)
        ]
        session.add_all(packages)
        session.flush()
        session.add_all(
            PackageItem(package_id=package.id, product_id=product_ids[sku], sku=sku, expected=n, scanned=0)
            for package, pb in zip(packages, result.packages, strict=True)
            for sku, n in sorted(Counter(i.sku for i in pb.items).items())
        )
        now = utcnow()
        shipment.status = ShipmentStatus.PACKING.value
        shipment.updated_at = now
        session.flush()

        warehouse = _warehouse_code(session, shipment.warehouse_id)
        codes = ", ".join(pb.box.code for pb in result.packages)
        fragile = " (FRAGILE)" if result.fragile else ""
        verb = "planned again" if old else "planned"
        message = f"Shipment {shipment.id} {verb}: {len(items)} unit(s) in {len(packages)} package(s), {codes}{fragile}"
        record(
            session,
            [
                (
                    shipment.order_id,
                    principal.actor,
                    "packing_started",
                    message,
                    {"shipment_id": shipment.id, "boxes": codes.split(", "), "explanation": list(result.explanation)},
                )
            ],
        )
        emit_many(
            session,
            [
                (
                    "shipment.packing",
                    {
                        "shipment_id": shipment.id,
                        "order_id": shipment.order_id,
                        "warehouse": warehouse,
                        "packages": [
                            {"id": p.id, "number": p.number, "box": pb.box.code, "fragile": p.fragile}
                            for p, pb in zip(packages, result.packages, strict=True)
                        ],
                        "replanned": bool(old),
                    },
                )
            ],
        )
        out = _shipment_out(session, shipment, warehouse)
        return PackedShipmentOut(
            **out.model_dump(),
            plan=PackPlanOut(
                cost=result.cost,
                fill_rate=result.fill_rate,
                weight_g=result.weight_g,
                lower_bound_boxes=result.lower_bound_boxes,
                explanation=list(result.explanation),
            ),
        )

    return db.run(use_case)


def stored_plan(session: Session, package_id: int) -> cartons.PackedBox:
    """A stored package as ``cartons.PackedBox``, for ``cartons.validate``: its box, items and
    placements as planned, and the protection the rules give them."""
    row = session.execute(
        select(Package, Box).join(Box, Box.id == Package.box_id).where(Package.id == package_id)
    ).first()
    if row is None:
        raise NotFound(f"no package {package_id}", code="package_not_found")
    package, box = row
    items = [
        cartons.Item(
            key=p["item"],
            sku=p["sku"],
            length_mm=p["length_mm"],
            width_mm=p["width_mm"],
            height_mm=p["height_mm"],
            weight_g=p["weight_g"],
            fragile=p["fragile"],
        )
        for p in package.placements
    ]
    carton = _carton_box(box)
    fragile = [i for i in items if i.fragile]
    padded = sum(d[0] * d[1] * d[2] for d in (RULES.padded_dims(i) for i in items))
    return cartons.PackedBox(
        box=carton,
        placements=tuple(
            cartons.Placement(p["item"], p["x"], p["y"], p["z"], p["dx"], p["dy"], p["dz"]) for p in package.placements
        ),
        protection=cartons.Protection(
            fragile=package.fragile,
            instructions=tuple(package.instructions),
            wrap_mm=RULES.wrap_mm,
            margin_mm=RULES.void_margin_mm if fragile else 0,
            bubble_wrap_g=sum(RULES.wrap_weight_g(i) for i in fragile),
            void_fill_g=RULES.void_fill_weight_g(max(carton.volume_mm3 - padded, 0)),
        ),
        weight_g=package.expected_weight_g,
        fill_rate=package.fill_rate,
        items=tuple(items),
    )


# --- scanning in and closing ----------------------------------------------------------------------


class _Packing:
    """One shipment's packages loaded for a scan or a close, under the shipment's lock."""

    def __init__(self, session: Session, package_id: int) -> None:
        shipment_id = session.scalar(select(Package.shipment_id).where(Package.id == package_id))
        if shipment_id is None:
            raise NotFound(f"no package {package_id}", code="package_not_found")
        self.shipment = _lock_shipment(session, shipment_id)
        self.packages = list(
            session.scalars(select(Package).where(Package.shipment_id == shipment_id).order_by(Package.number))
        )
        package = next((p for p in self.packages if p.id == package_id), None)
        if package is None:  # the plan was replaced while we waited for the lock
            raise NotFound(f"no package {package_id}: the shipment was planned again", code="package_not_found")
        self.package = package
        self.items: dict[int, list[PackageItem]] = defaultdict(list)
        for it in session.scalars(
            select(PackageItem)
            .where(PackageItem.package_id.in_([p.id for p in self.packages]))
            .order_by(PackageItem.id)
        ):
            self.items[it.package_id].append(it)

    def verification(self, session: Session, scanned_code: str | None = None) -> PackVerification:
        all_items = [it for items in self.items.values() for it in items]
        barcodes = dict(
            session.execute(
                select(Product.barcode, Product.sku).where(
                    Product.id.in_({it.product_id for it in all_items}), Product.barcode.is_not(None)
                )
            ).all()
        )
        code = (scanned_code or "").strip()
        if code and code not in {it.sku for it in all_items} and code not in barcodes:
            # Not one of ours: name the product when the code is another one's barcode.
            other = session.execute(select(Product.barcode, Product.sku).where(Product.barcode == code)).first()
            if other is not None:
                barcodes[other[0]] = other[1]
        number = {p.id: p.number for p in self.packages}
        return PackVerification(
            expected={p.number: [] for p in self.packages}
            | {number[pid]: [it.sku for it in items for _ in range(it.expected)] for pid, items in self.items.items()},
            barcodes=barcodes,
            expected_weight_g={p.number: p.expected_weight_g for p in self.packages},
            scanned={
                number[pid]: [it.sku for it in items for _ in range(it.scanned)] for pid, items in self.items.items()
            },
            closed=[p.number for p in self.packages if p.status == PackageStatus.CLOSED],
        )

    def out(self, session: Session) -> PackageOut:
        box = session.get(Box, self.package.box_id)
        assert box is not None  # a foreign key
        return _package_out(self.package, box, self.items[self.package.id], len(self.packages))


def _record_scan(session: Session, package_id: int, value: str, error: str | None, actor: str) -> None:
    session.add(PackScan(package_id=package_id, value=value, accepted=error is None, error=error, actor=actor))
    session.flush()


def scan(db: Database, package_id: int, data: ScanCreate, principal: Principal) -> ScanOut:
    """Scan one unit into a package. A refused scan is recorded, then its error is raised."""

    def use_case(session: Session) -> ScanOut | DomainError:
        packing = _Packing(session, package_id)
        package = packing.package
        try:
            if packing.shipment.status != ShipmentStatus.PACKING:
                raise InvalidTransition(
                    f"shipment {packing.shipment.id} is {packing.shipment.status}: nothing can be scanned in",
                    code="shipment_not_packing",
                )
            sku = packing.verification(session, data.item).scan(package.number, data.item)
        except DomainError as exc:
            # Refused, and recorded in this same transaction; the caller raises after the commit.
            _record_scan(session, package.id, data.item, exc.code[:48], principal.actor)
            return exc
        item = next(it for it in packing.items[package.id] if it.sku == sku)
        item.scanned += 1
        _record_scan(session, package.id, data.item, None, principal.actor)
        out = packing.out(session)
        return ScanOut(accepted=True, sku=sku, package=out, complete=not out.missing)

    outcome = db.run(use_case)
    if isinstance(outcome, DomainError):
        raise outcome
    return outcome


def close(db: Database, package_id: int, data: CloseCreate, principal: Principal) -> CloseOut:
    """Close a package that holds exactly its plan; the last one closed makes the shipment packed."""

    def use_case(session: Session) -> CloseOut:
        packing = _Packing(session, package_id)
        shipment, package = packing.shipment, packing.package
        if shipment.status != ShipmentStatus.PACKING:
            raise InvalidTransition(
                f"shipment {shipment.id} is {shipment.status}: no package can be closed", code="shipment_not_packing"
            )
        verification = packing.verification(session)
        outcome = verification.close(package.number, data.measured_weight_g, WEIGHT_TOLERANCE_PCT)
        now = utcnow()
        package.status = PackageStatus.CLOSED.value
        package.measured_weight_g = data.measured_weight_g
        package.weight_warning = outcome.warnings[0][:300] if outcome.warnings else None
        package.closed_by = principal.actor
        package.closed_at = now
        if verification.all_closed:
            _check_transition(shipment, ShipmentStatus.PACKED, "close it")
            shipment.status = ShipmentStatus.PACKED.value
            shipment.updated_at = now
            warehouse = _warehouse_code(session, shipment.warehouse_id)
            flagged = [p.number for p in packing.packages if p.weight_warning]
            note = f"; weight flagged on package(s) {', '.join(map(str, flagged))}" if flagged else ""
            record(
                session,
                [
                    (
                        shipment.order_id,
                        principal.actor,
                        "packed",
                        f"Shipment {shipment.id} packed in {len(packing.packages)} package(s){note}",
                        {"shipment_id": shipment.id},
                    )
                ],
            )
            emit_many(
                session,
                [
                    (
                        "shipment.packed",
                        {
                            "shipment_id": shipment.id,
                            "order_id": shipment.order_id,
                            "warehouse": warehouse,
                            "packages": [
                                {
                                    "id": p.id,
                                    "number": p.number,
                                    "fragile": p.fragile,
                                    "weight_g": p.measured_weight_g or p.expected_weight_g,
                                }
                                for p in packing.packages
                            ],
                        },
                    )
                ],
            )
        session.flush()
        return CloseOut(
            package=packing.out(session),
            weight_ok=outcome.weight_ok,
            warnings=list(outcome.warnings),
            shipment_status=shipment.status,
        )

    return db.run(use_case)
