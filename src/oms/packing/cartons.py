"""Choosing boxes for a shipment, with room for protective packaging. Pure: plain data in, placements out.

How a box is chosen
-------------------
1. Protection first. A fragile item grows by its bubble wrap on every side, and a box that holds a
   fragile item loses a void-fill margin (air pillows) at every wall, floor and top included. All
   the geometry below works on these padded sizes, so the box chosen always leaves the room that
   protection needs, and a placement is in that padded space.
2. One package whenever one box takes everything: boxes are tried cheapest first and the first one
   the packer can fill wins. A second label costs more than any difference between two boxes, so a
   single dearer box beats two cheaper ones.
3. Otherwise several packages: first-fit decreasing, opening a box of one "fill type" each time and
   putting in every remaining item that still fits; then each box is downsized to the cheapest type
   that takes its contents. Every box type is tried as the fill type and the cheapest total wins
   (then fewer boxes). Items are never split by SKU on purpose; units are packed one by one.

The packer that answers "does this set of items fit in this box?" is in ``fit`` (an extreme-point
heuristic); the protection rules and the packer's instructions are in ``protection``; ``validate``
(in ``validate``) checks every result independently.

Heavy and fragile: heavy items go first, so they sit low; fragile items go last, and no placement
may rest above a fragile item's footprint (nor a fragile item go under anything). So nothing is
ever stacked on a fragile item, whatever its weight. (Some shuffled orders stand fragile items
first, on the floor; the rule is the same, and the packing order handed to people still puts
every fragile item last.)

Units: millimetres and grams, integers. Coordinates: origin at the inner corner of the box, x along
its inner length, y along its inner width, z up from the floor. Weights are gross: ``max_weight_g``
of a box bounds contents + the box itself + packaging, as box makers rate it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from oms.errors import Conflict, InvalidInput
from oms.packing.fit import (
    BBOX,
    Dims,
    Packer,
    Search,
    Unit,
    fits_alone,
    format_dims,
    gross_weight,
    pack_one,
    packing_orders,
    void_margin,
)
from oms.packing.protection import Protection, ProtectionRules, protection_for
from oms.packing.validate import validate, validate_result

# Everything that was importable from here before the split into fit, protection and validate.
__all__ = [
    "Box",
    "Dims",
    "Item",
    "ItemTooHeavy",
    "ItemTooLarge",
    "PackResult",
    "PackedBox",
    "Placement",
    "Protection",
    "ProtectionRules",
    "choose_boxes",
    "validate",
    "validate_result",
]


# --- data ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One unit to pack. ``key`` tells units apart: two mugs of one SKU are two items."""

    key: str
    sku: str
    length_mm: int
    width_mm: int
    height_mm: int
    weight_g: int
    fragile: bool = False

    @property
    def dims(self) -> Dims:
        return (self.length_mm, self.width_mm, self.height_mm)

    @property
    def volume_mm3(self) -> int:
        return self.length_mm * self.width_mm * self.height_mm


@dataclass(frozen=True)
class Box:
    """A box type in the catalogue. ``max_weight_g`` is gross (contents, tare and packaging)."""

    code: str
    inner_length_mm: int
    inner_width_mm: int
    inner_height_mm: int
    max_weight_g: int
    tare_weight_g: int
    cost: Decimal

    @property
    def dims(self) -> Dims:
        return (self.inner_length_mm, self.inner_width_mm, self.inner_height_mm)

    @property
    def volume_mm3(self) -> int:
        return self.inner_length_mm * self.inner_width_mm * self.inner_height_mm


@dataclass(frozen=True)
class Placement:
    """Where one item goes: its corner nearest the origin and its oriented, padded size."""

    item_key: str
    x: int
    y: int
    z: int
    dx: int
    dy: int
    dz: int


@dataclass(frozen=True)
class PackedBox:
    """One package: its box, its items and where each goes, both in packing order (bottom up,
    fragile items last)."""

    box: Box
    placements: tuple[Placement, ...]
    protection: Protection
    weight_g: int
    fill_rate: float  # item volume (unpadded) / inner volume of the box
    items: tuple[Item, ...]


@dataclass(frozen=True)
class PackResult:
    packages: tuple[PackedBox, ...]
    cost: Decimal
    fill_rate: float  # all item volume / all boxes' inner volume
    # No packing can use fewer boxes: ceil(padded volume / the largest box's inner volume).
    lower_bound_boxes: int
    item_volume_mm3: int
    padded_volume_mm3: int
    weight_g: int
    explanation: tuple[str, ...]  # why these boxes: each cheaper one tried and why it was refused

    @property
    def fragile(self) -> bool:
        return any(p.protection.fragile for p in self.packages)


class ItemTooLarge(Conflict):
    """An item (with its protection) fits in no box of the catalogue, in any orientation. A 409:
    the request is sound, the box catalogue cannot serve it (add a box, then pack again)."""

    code = "item_too_large"

    def __init__(self, sku: str, dims: Dims, detail: str | None = None) -> None:
        super().__init__(
            detail or f"{sku} ({format_dims(dims)} mm) fits no box in the catalogue", sku=sku, dims_mm=list(dims)
        )
        self.sku = sku
        self.dims = dims


class ItemTooHeavy(Conflict):
    """An item fits some box but is heavier than every box it fits can carry."""

    code = "item_too_heavy"

    def __init__(self, sku: str, weight_g: int, detail: str | None = None) -> None:
        super().__init__(
            detail or f"{sku} ({weight_g} g) is too heavy for every box it fits", sku=sku, weight_g=weight_g
        )
        self.sku = sku
        self.weight_g = weight_g


# --- choosing boxes -------------------------------------------------------------------------------


def choose_boxes(
    items: Sequence[Item], boxes: Sequence[Box], protection: ProtectionRules = ProtectionRules()
) -> PackResult:
    """The cheapest box that takes every item (with room for protection and within its weight
    limit), or when none can, the cheapest set of boxes found. Raises ``ItemTooLarge`` /
    ``ItemTooHeavy`` for an item no box can take (both 409), ``InvalidInput`` for an empty order and
    ``Conflict`` for an empty catalogue."""
    rules = protection
    _check_input(items, boxes)
    units = [Unit.of(item, rules) for item in items]
    catalogue = sorted(boxes, key=lambda b: (b.cost, b.volume_mm3, b.code))
    largest = max(boxes, key=lambda b: b.volume_mm3)
    for u in units:
        fitting = [b for b in catalogue if fits_alone(u, b, rules)]
        if not fitting:
            raise ItemTooLarge(
                u.item.sku,
                u.item.dims,
                f"{u.item.sku} ({format_dims(u.item.dims)} mm"
                + (
                    f", {format_dims(u.dims)} mm with bubble wrap and {rules.void_margin_mm} mm of void fill"
                    if u.fragile
                    else ""
                )
                + f") fits no box in the catalogue; the largest is {largest.code}"
                + f" ({format_dims(largest.dims)} mm inside)",
            )
        if not any(gross_weight(b, [u], rules) <= b.max_weight_g for b in fitting):
            raise ItemTooHeavy(u.item.sku, u.item.weight_g)

    padded_volume = sum(u.volume for u in units)
    lower_bound = math.ceil(padded_volume / largest.volume_mm3)
    search = Search(rules)
    explanation: list[str] = []
    for box in catalogue:
        packer, why = pack_one(box, units, search)
        if packer is not None:
            explanation.append(f"{box.code} ({box.cost}) is the cheapest box that takes all {len(units)} items")
            packages = [_packed_box(packer, rules)]
            break
        explanation.append(f"{box.code} ({box.cost}): {why}")
    else:
        packages = _pack_many(units, catalogue, search)
        explanation.append(
            f"no single box takes everything: {len(packages)} packages "
            f"({', '.join(p.box.code for p in packages)}); the volume alone needs at least {lower_bound}"
        )
    item_volume = sum(u.item.volume_mm3 for u in units)
    inner_volume = sum(p.box.volume_mm3 for p in packages)
    return PackResult(
        packages=tuple(packages),
        cost=sum((p.box.cost for p in packages), Decimal(0)),
        fill_rate=item_volume / inner_volume,
        lower_bound_boxes=lower_bound,
        item_volume_mm3=item_volume,
        padded_volume_mm3=padded_volume,
        weight_g=sum(p.weight_g for p in packages),
        explanation=tuple(explanation),
    )


def _check_input(items: Sequence[Item], boxes: Sequence[Box]) -> None:
    if not items:
        raise InvalidInput("there is nothing to pack", code="nothing_to_pack")
    if not boxes:
        raise Conflict("the box catalogue is empty", code="no_boxes")
    seen: set[str] = set()
    for item in items:
        if item.key in seen:
            raise InvalidInput(f"item key {item.key!r} is given twice", code="duplicate_item")
        seen.add(item.key)
        if min(item.dims) <= 0 or item.weight_g < 0:
            raise InvalidInput(f"{item.sku} needs positive dimensions and a weight", code="invalid_dimensions")
    codes: set[str] = set()
    for box in boxes:
        if box.code in codes:
            raise InvalidInput(f"box code {box.code!r} is given twice", code="duplicate_box")
        codes.add(box.code)
        if min(box.dims) <= 0 or box.max_weight_g <= 0 or box.tare_weight_g < 0:
            raise InvalidInput(f"box {box.code} needs positive dimensions and weights", code="invalid_dimensions")


class _Bin:
    """A box being filled during multi-box packing."""

    def __init__(self, box: Box, rules: ProtectionRules) -> None:
        self.box = box
        self.rules = rules
        self.packer: Packer | None = None

    @property
    def units(self) -> list[Unit]:
        return self.packer.units if self.packer else []

    def add(self, u: Unit) -> bool:
        units = self.units
        if gross_weight(self.box, [*units, u], self.rules) > self.box.max_weight_g:
            return False
        margin = void_margin([*units, u], self.rules)
        if self.packer is None or margin != self.packer.margin:
            # The first fragile item brings the void-fill margin: re-place everything inside it.
            packer = Packer(self.box, margin, BBOX)
            if all(packer.add(v) for v in [*units, u]):
                self.packer = packer
                return True
            return False
        return self.packer.add(u)


def _pack_many(units: Sequence[Unit], catalogue: Sequence[Box], search: Search) -> list[PackedBox]:
    rules = search.rules
    order = packing_orders(units)[0]
    by_size = sorted(catalogue, key=lambda b: (-b.volume_mm3, b.cost))
    best: tuple[tuple[Decimal, int, int], list[Packer]] | None = None
    tried: set[tuple[tuple[str, tuple[str, ...]], ...]] = set()
    for fill_type in by_size:
        packers: list[Packer] = []
        remaining = list(order)
        while remaining:
            first = remaining[0]
            box = fill_type
            if not (fits_alone(first, box, rules) and gross_weight(box, [first], rules) <= box.max_weight_g):
                # This item needs another type: the largest that takes it (checked in choose_boxes).
                box = next(
                    b
                    for b in by_size
                    if fits_alone(first, b, rules) and gross_weight(b, [first], rules) <= b.max_weight_g
                )
            bin_ = _Bin(box, rules)
            remaining = [u for u in remaining if not bin_.add(u)]
            assert bin_.packer is not None  # the first item fits alone
            packers.append(bin_.packer)
        split = tuple((p.box.code, tuple(u.item.key for u in p.units)) for p in packers)
        if split in tried:
            continue  # another fill type made the same boxes
        tried.add(split)
        packers = [_downsize(p, catalogue, search) for p in packers]
        cost = sum((p.box.cost for p in packers), Decimal(0))
        key = (cost, len(packers), sum(p.box.volume_mm3 for p in packers))
        if best is None or key < best[0]:
            best = (key, packers)
    assert best is not None
    return [_packed_box(p, rules) for p in best[1]]


def _downsize(packer: Packer, catalogue: Sequence[Box], search: Search) -> Packer:
    """The cheapest box that takes what this one holds (the last box of a greedy fill is often
    half empty)."""
    for box in catalogue:
        if box.cost >= packer.box.cost:
            break
        smaller, _ = pack_one(box, packer.units, search, restarts=False)
        if smaller is not None:
            return smaller
    return packer


def _packed_box(packer: Packer, rules: ProtectionRules) -> PackedBox:
    box = packer.box
    # Packing order: bottom up, fragile items last (nothing rests on them, so they can always wait).
    rows = sorted(
        zip(packer.placed, packer.units, strict=True), key=lambda r: (r[1].fragile, r[0][2], r[0][1], r[0][0])
    )
    placements = tuple(Placement(u.item.key, x, y, z, x2 - x, y2 - y, z2 - z) for (x, y, z, x2, y2, z2, _), u in rows)
    units = [u for _, u in rows]
    empty = box.volume_mm3 - sum(u.volume for u in units)
    protection = protection_for(box, units, packer.margin, rules, empty)
    weight = sum(u.item.weight_g for u in units) + box.tare_weight_g + protection.packaging_weight_g
    return PackedBox(
        box=box,
        placements=placements,
        protection=protection,
        weight_g=weight,
        fill_rate=sum(u.item.volume_mm3 for u in units) / box.volume_mm3,
        items=tuple(u.item for u in units),
    )
