"""Packing use cases: planning a shipment's packages, scanning units in, closing (the box catalogue is
in ``oms.packing.boxes``, shipment reads in ``oms.packing.queries``).

A shipment that is ``ready_to_pack`` is planned (``pack``): every picked unit becomes an item,
``choose_boxes`` picks the boxes, and the packages are stored with their items, placements and
instructions; the shipment is then ``packing``. Each unit is scanned into its package
(``scan``), a package closes when it holds exactly its plan (``close``), and the shipment is
``packed`` when its last package closes. Every write locks the shipment row first, so two
packers on one shipment take turns and the last close always sees every other package closed.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from oms.auth.service import Principal
from oms.catalog.model import Product
from oms.db import Database
from oms.db.base import utcnow
from oms.db.locks import lock_row
from oms.errors import Conflict, DomainError, InvalidTransition, NotFound
from oms.events.outbox import emit_many
from oms.orders.locks import lock_order
from oms.orders.queries import order_number
from oms.orders.rules import OrderStatus
from oms.orders.timeline import record
from oms.packing import cartons
from oms.packing.boxes import carton_box
from oms.packing.model import Box, Package, PackageItem, PackScan
from oms.packing.queries import package_out, shipment_out, warehouse_code
from oms.packing.rules import PackageStatus, ShipmentStatus, check_transition
from oms.packing.schemas import CloseCreate, CloseOut, PackageOut, PackedShipmentOut, PackPlanOut, ScanCreate, ScanOut
from oms.packing.verification import PackVerification
from oms.picking.model import PickTask
from oms.shipping.model import Shipment

RULES = cartons.ProtectionRules()
# A measured weight further than this from items + box + packaging is flagged (not refused).
WEIGHT_TOLERANCE_PCT = 5.0


# --- planning the packages ------------------------------------------------------------------------


def lock_shipment(session: Session, shipment_id: int, *, refuse_held: bool = True) -> Shipment:
    """The order's row first, then the shipment's (the lock order of every writer): a cancel or a
    hold of the order and packing its shipment happen one after the other. An order that is on
    hold or cancelled is not packed, labelled or shipped (``refuse_held``); carrier tracking is
    recorded whatever the order's state."""
    order_id = session.scalar(select(Shipment.order_id).where(Shipment.id == shipment_id))
    if order_id is None:
        raise NotFound(f"no shipment {shipment_id}", code="shipment_not_found")
    order = lock_order(session, order_id)
    if refuse_held and order.status in (OrderStatus.ON_HOLD, OrderStatus.CANCELLED):
        raise Conflict(
            f"order {order_number(order.id)} is {order.status}: its shipments are not packed or shipped",
            code="order_not_packable",
            order_status=order.status,
        )
    shipment = lock_row(session, Shipment, shipment_id)
    assert shipment is not None
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
        shipment = lock_shipment(session, shipment_id)
        check_transition(shipment, ShipmentStatus.PACKING, "pack it")
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
        result = cartons.choose_boxes(items, [carton_box(b) for b in boxes], RULES)
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

        warehouse = warehouse_code(session, shipment.warehouse_id)
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
        out = shipment_out(session, shipment, warehouse)
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
    carton = carton_box(box)
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
        self.shipment = lock_shipment(session, shipment_id)
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
        return package_out(self.package, box, self.items[self.package.id], len(self.packages))


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
            check_transition(shipment, ShipmentStatus.PACKED, "close it")
            shipment.status = ShipmentStatus.PACKED.value
            shipment.updated_at = now
            warehouse = warehouse_code(session, shipment.warehouse_id)
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
