"""The demo's warehouse floor: a box catalogue, and one warehouse mid-shift: a wave picked and
packed, a wave picked and waiting at the packing bench, and (when enough orders are ready) a wave
still to walk.
Everything goes through the same services the API calls, so the demo's rows are real rows."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from oms.auth.service import Principal
from oms.db import Database
from oms.errors import Conflict
from oms.packing import service as packing
from oms.packing.boxes import create_box
from oms.packing.schemas import BoxCreate, CloseCreate
from oms.packing.schemas import ScanCreate as PackScan
from oms.picking import service as picking
from oms.picking.schemas import ScanCreate as PickScan
from oms.picking.schemas import WaveCreate

# code, name, inner length x width x height (mm), max gross weight (g), tare (g), cost (USD):
# common sizes of corrugated shipping boxes and a padded mailer, at typical small-quantity prices.
BOXES = [
    ("MAILER-S", "Padded mailer 9x12", 300, 230, 40, 2000, 40, "0.45"),
    ("BOX-6x6x6", "Cube 6x6x6", 152, 152, 152, 9000, 130, "0.62"),
    ("BOX-8x6x4", "Small 8x6x4", 203, 152, 102, 9000, 140, "0.58"),
    ("BOX-10x8x6", "Medium 10x8x6", 254, 203, 152, 14000, 230, "0.89"),
    ("BOX-12x12x8", "Medium 12x12x8", 305, 305, 203, 18000, 360, "1.24"),
    ("BOX-16x12x10", "Large 16x12x10", 406, 305, 254, 23000, 520, "1.71"),
    ("BOX-20x16x12", "Large 20x16x12", 508, 406, 305, 29000, 780, "2.48"),
    ("BOX-24x18x18", "Extra large 24x18x18", 610, 457, 457, 32000, 1180, "3.95"),
]


def seed_floor(
    db: Database, picker: Principal, packer: Principal, warehouse: str, say: Callable[[str], None]
) -> list[int]:
    """Returns the shipments it packed."""
    for code, name, length, width, height, max_g, tare, cost in BOXES:
        create_box(
            db,
            BoxCreate(
                code=code,
                name=name,
                inner_length_mm=length,
                inner_width_mm=width,
                inner_height_mm=height,
                max_weight_g=max_g,
                tare_weight_g=tare,
                cost=Decimal(cost),
            ),
        )
    say(f"{len(BOXES)} box sizes")
    waves = []
    packed_ids: list[int] = []
    for _ in range(3):
        try:
            waves.append(picking.create_wave(db, warehouse, WaveCreate(max_orders=3), picker))
        except Conflict:  # no confirmed order left to pick in this warehouse
            break
    for n, wave in enumerate(waves[:2]):
        for task in wave.tasks:
            if task.bin:
                picking.scan(db, wave.id, PickScan(task_id=task.id, bin=task.bin), picker)
            picking.scan(db, wave.id, PickScan(task_id=task.id, item=task.barcode or task.sku), picker)
            picking.scan(db, wave.id, PickScan(task_id=task.id, quantity=task.remaining), picker)
        if n == 0:  # the first wave is packed too
            for shipment_id in sorted({o.shipment_id for o in wave.orders}):
                packed = packing.pack(db, shipment_id, packer)
                for package in packed.packages:
                    for item in package.items:
                        for _ in range(item.expected):
                            packing.scan(db, package.id, PackScan(item=item.sku), packer)
                    packing.close(db, package.id, CloseCreate(), packer)
                packed_ids.append(shipment_id)
    states = ["picked and packed", "picked, waiting to be packed", "still to walk"]
    say(f"{warehouse}: {len(waves)} pick wave(s): " + "; ".join(states[: len(waves)]))
    return packed_ids
