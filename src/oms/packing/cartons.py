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

The packer (is this set of items feasible in this box?) is an extreme-point heuristic (Crainic,
Perboli & Tadei, "Extreme point-based heuristics for three-dimensional bin packing", 2008): items
go in a fixed order, each at the candidate corner and in the orientation (all six rotations) that
scores best, where the candidates are the corners of what is already placed, projected back
against the walls and the other items. Three scores (smallest bounding box of the load, long sides
along or across the box; lowest, back-most corner) over three sorted orders (heavy then large
first; longest first; largest face first), then a dozen seeded shuffles, stopping at the first that
places everything. It is a heuristic: "no" may mean a packing exists that it did not find, which
costs a bigger box, never an invalid one. ``validate`` checks every result independently.

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
import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import permutations

from oms.errors import Conflict, InvalidInput

Dims = tuple[int, int, int]


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
class ProtectionRules:
    """How fragile items are protected, and what protection weighs. The defaults follow common
    carrier packing guidance: two layers of small-bubble wrap around a fragile item, about an inch
    of cushioning between the contents and every wall, voids filled so nothing shifts, nothing
    stacked on what can break."""

    wrap_layers: int = 2
    # Small-bubble wrap is ~5 mm thick (3/16"); 6 mm a layer allows for the overlap of the wrapping,
    # so a fragile item grows by 12 mm on every side.
    wrap_layer_mm: int = 6
    # Small-bubble wrap weighs 30-45 g/m² a layer; counted on the item's surface.
    wrap_g_per_m2: float = 40.0
    # Air pillows between the contents and every wall (floor and top too) in a box holding a
    # fragile item: a drop on a corner dents the box, not the item.
    void_margin_mm: int = 25
    # Air pillows weigh ~2 g a litre of space they fill. Every box's empty space is filled so the
    # contents cannot shift; less than this much empty space needs none.
    void_fill_g_per_litre: float = 2.0
    void_fill_min_litres: float = 0.5
    # At or above this weight an item is "heavy": packed first, at the bottom.
    heavy_item_g: int = 2000

    @property
    def wrap_mm(self) -> int:
        """Padding on each side of a fragile item."""
        return self.wrap_layers * self.wrap_layer_mm

    def padded_dims(self, item: Item) -> Dims:
        if not item.fragile:
            return item.dims
        pad = 2 * self.wrap_mm
        return (item.length_mm + pad, item.width_mm + pad, item.height_mm + pad)

    def wrap_weight_g(self, item: Item) -> int:
        if not item.fragile:
            return 0
        l, w, h = item.dims  # noqa: E741 (the usual letters)
        area_m2 = 2 * (l * w + l * h + w * h) / 1_000_000
        return math.ceil(area_m2 * self.wrap_layers * self.wrap_g_per_m2)

    def void_fill_weight_g(self, empty_mm3: int) -> int:
        litres = empty_mm3 / 1_000_000
        if litres < self.void_fill_min_litres:
            return 0
        return math.ceil(litres * self.void_fill_g_per_litre)


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
class Protection:
    """What the packer does beyond putting items in: the instructions, and what they cost in room
    (``wrap_mm`` on each side of a fragile item, ``margin_mm`` inside each wall) and weight."""

    fragile: bool
    instructions: tuple[str, ...]
    wrap_mm: int
    margin_mm: int
    bubble_wrap_g: int
    void_fill_g: int

    @property
    def packaging_weight_g(self) -> int:
        return self.bubble_wrap_g + self.void_fill_g


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
        super().__init__(detail or f"{sku} ({_fmt(dims)} mm) fits no box in the catalogue", sku=sku, dims_mm=list(dims))
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
    units = [_Unit.of(item, rules) for item in items]
    catalogue = sorted(boxes, key=lambda b: (b.cost, b.volume_mm3, b.code))
    largest = max(boxes, key=lambda b: b.volume_mm3)
    for u in units:
        fitting = [b for b in catalogue if _fits_alone(u, b, rules)]
        if not fitting:
            raise ItemTooLarge(
                u.item.sku,
                u.item.dims,
                f"{u.item.sku} ({_fmt(u.item.dims)} mm"
                + (
                    f", {_fmt(u.dims)} mm with bubble wrap and {rules.void_margin_mm} mm of void fill"
                    if u.fragile
                    else ""
                )
                + f") fits no box in the catalogue; the largest is {largest.code} ({_fmt(largest.dims)} mm inside)",
            )
        if not any(_gross_weight(b, [u], rules) <= b.max_weight_g for b in fitting):
            raise ItemTooHeavy(u.item.sku, u.item.weight_g)

    padded_volume = sum(u.volume for u in units)
    lower_bound = math.ceil(padded_volume / largest.volume_mm3)
    search = _Search(rules)
    explanation: list[str] = []
    for box in catalogue:
        packer, why = _pack_one(box, units, search)
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


@dataclass(frozen=True, slots=True)
class _Unit:
    """An item as the packer sees it: padded, with its distinct orientations."""

    item: Item
    dims: Dims
    sorted_dims: Dims
    orientations: tuple[Dims, ...]
    volume: int
    wrap_g: int
    fragile: bool
    heavy: bool

    @classmethod
    def of(cls, item: Item, rules: ProtectionRules) -> _Unit:
        dims = rules.padded_dims(item)
        a, b, c = sorted(dims)
        return cls(
            item=item,
            dims=dims,
            sorted_dims=(a, b, c),
            orientations=tuple(sorted(set(permutations(dims)))),
            volume=dims[0] * dims[1] * dims[2],
            wrap_g=rules.wrap_weight_g(item),
            fragile=item.fragile,
            heavy=not item.fragile and item.weight_g >= rules.heavy_item_g,
        )


def _margin(units: Iterable[_Unit], rules: ProtectionRules) -> int:
    return rules.void_margin_mm if any(u.fragile for u in units) else 0


def _usable(box: Box, margin: int) -> Dims:
    return (box.inner_length_mm - 2 * margin, box.inner_width_mm - 2 * margin, box.inner_height_mm - 2 * margin)


def _fits_dims(sorted_dims: Dims, sorted_space: Dims) -> bool:
    # Sorted against sorted: the one test that decides whether some rotation fits.
    return sorted_dims[0] <= sorted_space[0] and sorted_dims[1] <= sorted_space[1] and sorted_dims[2] <= sorted_space[2]


def _fits_alone(u: _Unit, box: Box, rules: ProtectionRules) -> bool:
    a, b, c = sorted(_usable(box, _margin([u], rules)))
    return _fits_dims(u.sorted_dims, (a, b, c))


def _gross_weight(box: Box, units: Sequence[_Unit], rules: ProtectionRules) -> int:
    empty = box.volume_mm3 - sum(u.volume for u in units)
    return sum(u.item.weight_g + u.wrap_g for u in units) + box.tare_weight_g + rules.void_fill_weight_g(max(empty, 0))


def _orders(units: Sequence[_Unit]) -> list[list[_Unit]]:
    """The orders the packer tries first: fragile items last (so nothing lands on them), and before
    them heavy-then-large first, longest first, largest face first. Sorts are stable: ties keep the
    caller's order, so the result is deterministic."""
    solid = [u for u in units if not u.fragile]
    fragile = sorted((u for u in units if u.fragile), key=lambda u: -u.volume)
    keys = [
        lambda u: (not u.heavy, -u.volume),
        lambda u: (-u.sorted_dims[2], -u.volume),
        lambda u: (-u.sorted_dims[2] * u.sorted_dims[1], -u.volume),
    ]
    return _distinct(sorted(solid, key=key) + fragile for key in keys)


# Shuffled orders tried when the sorted ones fail. Measured on the bench's orders: the sorted
# orders miss about one box in seven that hundreds of random shuffles can fill; these dozen
# recover about 60% of those, for ~2 ms per refused box. A third of them stand fragile items
# first, on the floor, with the others around them (still nothing on top of them).
_RESTARTS = 12
# ...and at most this many attempts from them per order, spent on the cheapest boxes first: a box
# catalogue of near sizes could otherwise cost a dozen restarts for each of its boxes.
_RESTART_BUDGET = 48


def _restart_orders(units: Sequence[_Unit]) -> list[list[_Unit]]:
    rng = random.Random(0)  # fixed seed: the same order always gets the same boxes
    solid = [u for u in units if not u.fragile]
    fragile = [u for u in units if u.fragile]
    orders = []
    for n in range(_RESTARTS):
        rng.shuffle(solid)
        rng.shuffle(fragile)
        orders.append(fragile + solid if n % 3 == 2 and solid else solid + fragile)
    return _distinct(orders)


def _distinct(orders: Iterable[list[_Unit]]) -> list[list[_Unit]]:
    out: list[list[_Unit]] = []
    seen: set[tuple[str, ...]] = set()
    for order in orders:
        sig = tuple(u.item.key for u in order)
        if sig not in seen:
            seen.add(sig)
            out.append(order)
    return out


_BBOX, _BBOX_ACROSS, _LOW = 0, 1, 2  # placement scores, see _Packer.add


class _Packer:
    """Extreme-point packing into one box. ``add`` places a unit or leaves the state unchanged."""

    __slots__ = ("box", "margin", "hi", "score", "placed", "units", "points", "far")

    def __init__(self, box: Box, margin: int, score: int) -> None:
        self.box = box
        self.margin = margin
        self.hi = (box.inner_length_mm - margin, box.inner_width_mm - margin, box.inner_height_mm - margin)
        self.score = score
        # Placed boxes as (x, y, z, x2, y2, z2, fragile): far corners saved, not sizes.
        self.placed: list[tuple[int, int, int, int, int, int, bool]] = []
        self.units: list[_Unit] = []
        self.points: list[Dims] = [(margin, margin, margin)]
        self.far = (margin, margin, margin)  # far corner of the load's bounding box

    def add(self, u: _Unit) -> bool:
        hx, hy, hz = self.hi
        lo = self.margin
        fx, fy, fz = self.far
        score = self.score
        fragile = u.fragile
        placed = self.placed
        best: tuple[int, int, int, int, int, int] | None = None
        best_key: tuple[int, ...] = ()
        best_first = 1 << 62  # best_key[0], kept apart: most candidates lose on it alone
        low = score == _LOW
        for x, y, z in self.points:
            for dx, dy, dz in u.orientations:
                x2, y2, z2 = x + dx, y + dy, z + dz
                if x2 > hx or y2 > hy or z2 > hz:
                    continue
                # _BBOX keeps the load compact (smallest bounding box after this placement), lying
                # items flat, their long side along the box's length; _BBOX_ACROSS the same with the
                # long side across; _LOW fills the floor first, back to front. The ties matter: four
                # mugs fill a layer only if all four turn the same way.
                if low:
                    first = z
                else:
                    first = (
                        ((x2 if x2 > fx else fx) - lo) * ((y2 if y2 > fy else fy) - lo) * ((z2 if z2 > fz else fz) - lo)
                    )
                if first > best_first:
                    continue  # scored before the collision test: the cheap test first
                if low:
                    key: tuple[int, ...] = (z, y, x, z2, y2)
                else:
                    key = (first, z, z2, y, x, y2 if score == _BBOX else x2)
                if first == best_first and key >= best_key:
                    continue
                for px, py, pz, qx, qy, qz, pf in placed:
                    if x < qx and px < x2 and y < qy and py < y2:  # footprints overlap
                        if z < qz and pz < z2:
                            break  # the boxes overlap
                        if pf and z >= qz:
                            break  # it would rest above a fragile item
                        if fragile and pz >= z2:
                            break  # a fragile item would go under another
                else:
                    best, best_key, best_first = (x, y, z, x2, y2, z2), key, first
        if best is None:
            return False
        self._place(u, best, fragile)
        return True

    def _place(self, u: _Unit, at: tuple[int, int, int, int, int, int], fragile: bool) -> None:
        x, y, z, x2, y2, z2 = at
        self.placed.append((x, y, z, x2, y2, z2, fragile))
        self.units.append(u)
        fx, fy, fz = self.far
        self.far = (max(fx, x2), max(fy, y2), max(fz, z2))
        # New corners: the three beyond the item, and each pushed back along the two other axes
        # until it meets a wall or an item (the "projections" that let items tuck in).
        new = {
            (x2, y, z),
            (x, y2, z),
            (x, y, z2),
            (x2, self._back(1, x2, y, z), z),
            (x2, y, self._back(2, x2, y, z)),
            (self._back(0, x, y2, z), y2, z),
            (x, y2, self._back(2, x, y2, z)),
            (self._back(0, x, y, z2), y, z2),
            (x, self._back(1, x, y, z2), z2),
        }
        hx, hy, hz = self.hi
        kept = [p for p in self.points if not (x <= p[0] < x2 and y <= p[1] < y2 and z <= p[2] < z2)]
        seen = set(kept)
        for p in new:
            if p in seen or p[0] >= hx or p[1] >= hy or p[2] >= hz or self._useless(p):
                continue
            seen.add(p)
            kept.append(p)
        self.points = kept

    def _back(self, axis: int, x: int, y: int, z: int) -> int:
        """How far the point can move toward the origin along ``axis`` before meeting something.
        (One loop per axis: this runs six times per placement.)"""
        stop = self.margin
        if axis == 0:
            for _, py, pz, qx, qy, qz, _f in self.placed:
                if stop < qx <= x and py <= y < qy and pz <= z < qz:
                    stop = qx
        elif axis == 1:
            for px, _, pz, qx, qy, qz, _f in self.placed:
                if stop < qy <= y and px <= x < qx and pz <= z < qz:
                    stop = qy
        else:
            for px, py, _, qx, qy, qz, _f in self.placed:
                if stop < qz <= z and px <= x < qx and py <= y < qy:
                    stop = qz
        return stop

    def _useless(self, p: Dims) -> bool:
        """Inside an item, or above a fragile one (nothing may go there)."""
        x, y, z = p
        for px, py, pz, qx, qy, qz, pf in self.placed:
            if px <= x < qx and py <= y < qy and (pz <= z < qz or (pf and z >= qz)):
                return True
        return False


class _Search:
    """What one ``choose_boxes`` call remembers: the packings it tried, and its restarts left."""

    def __init__(self, rules: ProtectionRules) -> None:
        self.rules = rules
        self.tried: dict[tuple[str, frozenset[str], bool], _Packer | None] = {}
        self.restarts_left = _RESTART_BUDGET


def _pack_one(box: Box, units: Sequence[_Unit], search: _Search, restarts: bool = True) -> tuple[_Packer | None, str]:
    """A packing of all ``units`` in ``box``, or None and why not. Cheap refusals first. Without
    ``restarts``, only the sorted orders: for downsizing, where a miss costs a little money only."""
    rules = search.rules
    margin = _margin(units, rules)
    usable = _usable(box, margin)
    if min(usable) <= 0:
        return None, f"too small for {margin} mm of void fill at each wall"
    a, b, c = sorted(usable)
    for u in units:
        if not _fits_dims(u.sorted_dims, (a, b, c)):
            return None, f"{u.item.sku} ({_fmt(u.dims)} mm{' wrapped' if u.fragile else ''}) does not fit"
    need = sum(u.volume for u in units)
    have = usable[0] * usable[1] * usable[2]
    if need > have:
        return None, f"too small: the items need {need / 1e6:.1f} l, it holds {have / 1e6:.1f} l"
    weight = _gross_weight(box, units, rules)
    if weight > box.max_weight_g:
        return None, f"too heavy: {weight} g packed, the box takes {box.max_weight_g} g"
    # Nothing goes on a fragile item, so fragile items stand side by side: their smallest faces
    # must fit on the floor together.
    floor = sum(u.sorted_dims[0] * u.sorted_dims[1] for u in units if u.fragile)
    if floor > usable[0] * usable[1]:
        return None, "the fragile items cannot all stand side by side, with nothing on top"
    key = (box.code, frozenset(u.item.key for u in units), restarts)
    if key in search.tried:
        found = search.tried[key]
        return found, "" if found else "no arrangement found"
    attempts = [(order, score) for order in _orders(units) for score in (_BBOX, _BBOX_ACROSS, _LOW)]
    if restarts and len(units) > 2 and search.restarts_left > 0:
        more = [(order, score) for order in _restart_orders(units) for score in (_BBOX, _BBOX_ACROSS)]
        more = more[: search.restarts_left]
        search.restarts_left -= len(more)
        attempts += more
    for order, score in attempts:
        packer = _Packer(box, margin, score)
        if all(packer.add(u) for u in order):
            search.tried[key] = packer
            return packer, ""
    search.tried[key] = None
    return None, "no arrangement found"


class _Bin:
    """A box being filled during multi-box packing."""

    def __init__(self, box: Box, rules: ProtectionRules) -> None:
        self.box = box
        self.rules = rules
        self.packer: _Packer | None = None

    @property
    def units(self) -> list[_Unit]:
        return self.packer.units if self.packer else []

    def add(self, u: _Unit) -> bool:
        units = self.units
        if _gross_weight(self.box, [*units, u], self.rules) > self.box.max_weight_g:
            return False
        margin = _margin([*units, u], self.rules)
        if self.packer is None or margin != self.packer.margin:
            # The first fragile item brings the void-fill margin: re-place everything inside it.
            packer = _Packer(self.box, margin, _BBOX)
            if all(packer.add(v) for v in [*units, u]):
                self.packer = packer
                return True
            return False
        return self.packer.add(u)


def _pack_many(units: Sequence[_Unit], catalogue: Sequence[Box], search: _Search) -> list[PackedBox]:
    rules = search.rules
    order = _orders(units)[0]
    by_size = sorted(catalogue, key=lambda b: (-b.volume_mm3, b.cost))
    best: tuple[tuple[Decimal, int, int], list[_Packer]] | None = None
    tried: set[tuple[tuple[str, tuple[str, ...]], ...]] = set()
    for fill_type in by_size:
        packers: list[_Packer] = []
        remaining = list(order)
        while remaining:
            first = remaining[0]
            box = fill_type
            if not (_fits_alone(first, box, rules) and _gross_weight(box, [first], rules) <= box.max_weight_g):
                # This item needs another type: the largest that takes it (checked in choose_boxes).
                box = next(
                    b
                    for b in by_size
                    if _fits_alone(first, b, rules) and _gross_weight(b, [first], rules) <= b.max_weight_g
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


def _downsize(packer: _Packer, catalogue: Sequence[Box], search: _Search) -> _Packer:
    """The cheapest box that takes what this one holds (the last box of a greedy fill is often
    half empty)."""
    for box in catalogue:
        if box.cost >= packer.box.cost:
            break
        smaller, _ = _pack_one(box, packer.units, search, restarts=False)
        if smaller is not None:
            return smaller
    return packer


def _packed_box(packer: _Packer, rules: ProtectionRules) -> PackedBox:
    box = packer.box
    # Packing order: bottom up, fragile items last (nothing rests on them, so they can always wait).
    rows = sorted(
        zip(packer.placed, packer.units, strict=True), key=lambda r: (r[1].fragile, r[0][2], r[0][1], r[0][0])
    )
    placements = tuple(Placement(u.item.key, x, y, z, x2 - x, y2 - y, z2 - z) for (x, y, z, x2, y2, z2, _), u in rows)
    units = [u for _, u in rows]
    empty = box.volume_mm3 - sum(u.volume for u in units)
    protection = _protection(box, units, packer.margin, rules, empty)
    weight = sum(u.item.weight_g for u in units) + box.tare_weight_g + protection.packaging_weight_g
    return PackedBox(
        box=box,
        placements=placements,
        protection=protection,
        weight_g=weight,
        fill_rate=sum(u.item.volume_mm3 for u in units) / box.volume_mm3,
        items=tuple(u.item for u in units),
    )


def _protection(box: Box, units: Sequence[_Unit], margin: int, rules: ProtectionRules, empty_mm3: int) -> Protection:
    fragile = [u for u in units if u.fragile]
    heavy = [u for u in units if u.heavy]
    void_g = rules.void_fill_weight_g(max(empty_mm3, 0))
    lines: list[str] = []
    if heavy:
        lines.append(f"Pack heavy items first, at the bottom: {_skus(heavy)}")
    fragile_skus = Counter(u.item.sku for u in fragile)
    for sku, n in fragile_skus.items():
        each = f", each of the {n} units" if n > 1 else ""
        lines.append(f"Wrap {sku} in bubble wrap ({rules.wrap_layers} layers{each})")
    if fragile:
        lines.append(f"Line the box with {margin} mm of air pillows on every side, floor and top included")
    if void_g:
        lines.append("Fill voids with air pillows")
    for sku in fragile_skus:
        lines.append(f"Keep {sku} apart from heavy items: packed last, nothing placed on it")
    if fragile:
        lines.append("Mark the package FRAGILE")
    return Protection(
        fragile=bool(fragile),
        instructions=tuple(lines),
        wrap_mm=rules.wrap_mm,
        margin_mm=margin,
        bubble_wrap_g=sum(u.wrap_g for u in fragile),
        void_fill_g=void_g,
    )


def _skus(units: Sequence[_Unit]) -> str:
    counts = Counter(u.item.sku for u in units)
    return ", ".join(sku if n == 1 else f"{sku} × {n}" for sku, n in counts.items())


def _fmt(dims: Iterable[int]) -> str:
    return " × ".join(str(d) for d in dims)


# --- checking a packing ---------------------------------------------------------------------------


def validate(packed_box: PackedBox, rules: ProtectionRules | None = None) -> list[str]:
    """Every problem with one package, as sentences; empty when it is sound. Checked from the
    placements alone, not from how they were found: inside the box's usable space (walls less the
    void-fill margin), no two overlapping, each the size of its item (padded when fragile) in some
    rotation, each item placed once, nothing above a fragile item, weight adding up and within the
    box's limit. With ``rules``, also that the protection used is the one those rules ask for."""
    pb = packed_box
    box, prot = pb.box, pb.protection
    problems: list[str] = []
    items = {i.key: i for i in pb.items}
    if len(items) != len(pb.items):
        problems.append("an item is listed twice in the package")
    any_fragile = any(i.fragile for i in pb.items)
    if prot.fragile != any_fragile:
        problems.append(f"protection says fragile={prot.fragile}, the items say {any_fragile}")
    if rules is not None:
        if prot.wrap_mm != rules.wrap_mm:
            problems.append(f"bubble wrap of {prot.wrap_mm} mm, the rules ask for {rules.wrap_mm} mm")
        want = rules.void_margin_mm if any_fragile else 0
        if prot.margin_mm < want:
            problems.append(f"void-fill margin of {prot.margin_mm} mm, the rules ask for {want} mm")
    m = prot.margin_mm
    hi = (box.inner_length_mm - m, box.inner_width_mm - m, box.inner_height_mm - m)
    counts = Counter(p.item_key for p in pb.placements)
    for key, n in counts.items():
        if n > 1:
            problems.append(f"{key} is placed {n} times")
        if key not in items:
            problems.append(f"{key} is placed but is not in the package")
    for key in items:
        if key not in counts:
            problems.append(f"{key} is not placed")
    for p in pb.placements:
        if min(p.dx, p.dy, p.dz) <= 0:
            problems.append(f"{p.item_key} has a size of {_fmt((p.dx, p.dy, p.dz))} mm")
        if p.x < m or p.y < m or p.z < m or p.x + p.dx > hi[0] or p.y + p.dy > hi[1] or p.z + p.dz > hi[2]:
            problems.append(
                f"{p.item_key} at ({p.x}, {p.y}, {p.z}) size {_fmt((p.dx, p.dy, p.dz))} leaves the usable space "
                f"({m}..{hi[0]}, {m}..{hi[1]}, {m}..{hi[2]})"
            )
        item = items.get(p.item_key)
        if item is not None:
            pad = 2 * prot.wrap_mm if item.fragile else 0
            want_dims = sorted(d + pad for d in item.dims)
            if sorted((p.dx, p.dy, p.dz)) != want_dims:
                problems.append(
                    f"{p.item_key} is placed as {_fmt((p.dx, p.dy, p.dz))} mm, not a rotation of {_fmt(want_dims)}"
                )
    ps = pb.placements
    for i, a in enumerate(ps):
        for b in ps[i + 1 :]:
            if not (a.x < b.x + b.dx and b.x < a.x + a.dx and a.y < b.y + b.dy and b.y < a.y + a.dy):
                continue
            if a.z < b.z + b.dz and b.z < a.z + a.dz:
                problems.append(f"{a.item_key} and {b.item_key} overlap")
                continue
            low, high = (a, b) if a.z < b.z else (b, a)
            low_item = items.get(low.item_key)
            if low_item is not None and low_item.fragile:
                problems.append(f"{high.item_key} rests above fragile {low.item_key}")
    expected = sum(i.weight_g for i in pb.items) + box.tare_weight_g + prot.packaging_weight_g
    if pb.weight_g != expected:
        problems.append(f"weight {pb.weight_g} g does not add up: items + box + packaging = {expected} g")
    if pb.weight_g > box.max_weight_g:
        problems.append(f"weight {pb.weight_g} g is over the box's {box.max_weight_g} g")
    return problems


def validate_result(result: PackResult, items: Sequence[Item], rules: ProtectionRules | None = None) -> list[str]:
    """``validate`` on every package, and every item of the order in exactly one package."""
    problems: list[str] = []
    for n, pb in enumerate(result.packages, 1):
        problems += [f"package {n} ({pb.box.code}): {p}" for p in validate(pb, rules)]
    placed = Counter(p.item_key for pb in result.packages for p in pb.placements)
    wanted = {i.key for i in items}
    for key in sorted(wanted - placed.keys()):
        problems.append(f"{key} is in no package")
    for key, n in sorted(placed.items()):
        if key not in wanted:
            problems.append(f"{key} is packed but not ordered")
        elif n > 1:
            problems.append(f"{key} is packed {n} times")
    if result.cost != sum((pb.box.cost for pb in result.packages), Decimal(0)):
        problems.append("the cost is not the sum of the boxes' costs")
    if len(result.packages) < result.lower_bound_boxes:
        problems.append(f"{len(result.packages)} packages is below the volume bound of {result.lower_bound_boxes}")
    return problems
