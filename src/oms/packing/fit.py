"""Does this set of items fit in this box, and where does each go? The 3D placement heuristic behind
``cartons.choose_boxes``. Pure.

The packer (is this set of items feasible in this box?) is an extreme-point heuristic (Crainic,
Perboli & Tadei, "Extreme point-based heuristics for three-dimensional bin packing", 2008): items
go in a fixed order, each at the candidate corner and in the orientation (all six rotations) that
scores best, where the candidates are the corners of what is already placed, projected back
against the walls and the other items. Three scores (smallest bounding box of the load, long sides
along or across the box; lowest, back-most corner) over three sorted orders (heavy then large
first; longest first; largest face first), then a dozen seeded shuffles, stopping at the first that
places everything. It is a heuristic: "no" may mean a packing exists that it did not find, which
costs a bigger box, never an invalid one. ``validate`` checks every result independently.

Units and coordinates as in ``cartons``: millimetres, origin at the inner corner of the box.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import permutations
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    # Types only: cartons imports this module, so a runtime import back would be circular.
    from oms.packing.cartons import Box, Item
    from oms.packing.protection import ProtectionRules

Dims = tuple[int, int, int]


def format_dims(dims: Iterable[int]) -> str:
    return " × ".join(str(d) for d in dims)


@dataclass(frozen=True, slots=True)
class Unit:
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
    def of(cls, item: Item, rules: ProtectionRules) -> Unit:
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


def void_margin(units: Iterable[Unit], rules: ProtectionRules) -> int:
    return rules.void_margin_mm if any(u.fragile for u in units) else 0


def _usable(box: Box, margin: int) -> Dims:
    return (box.inner_length_mm - 2 * margin, box.inner_width_mm - 2 * margin, box.inner_height_mm - 2 * margin)


def _fits_dims(sorted_dims: Dims, sorted_space: Dims) -> bool:
    # Sorted against sorted: the one test that decides whether some rotation fits.
    return sorted_dims[0] <= sorted_space[0] and sorted_dims[1] <= sorted_space[1] and sorted_dims[2] <= sorted_space[2]


def fits_alone(u: Unit, box: Box, rules: ProtectionRules) -> bool:
    a, b, c = sorted(_usable(box, void_margin([u], rules)))
    return _fits_dims(u.sorted_dims, (a, b, c))


def gross_weight(box: Box, units: Sequence[Unit], rules: ProtectionRules) -> int:
    empty = box.volume_mm3 - sum(u.volume for u in units)
    return sum(u.item.weight_g + u.wrap_g for u in units) + box.tare_weight_g + rules.void_fill_weight_g(max(empty, 0))


def packing_orders(units: Sequence[Unit]) -> list[list[Unit]]:
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


def _restart_orders(units: Sequence[Unit]) -> list[list[Unit]]:
    rng = random.Random(0)  # fixed seed: the same order always gets the same boxes
    solid = [u for u in units if not u.fragile]
    fragile = [u for u in units if u.fragile]
    orders = []
    for n in range(_RESTARTS):
        rng.shuffle(solid)
        rng.shuffle(fragile)
        orders.append(fragile + solid if n % 3 == 2 and solid else solid + fragile)
    return _distinct(orders)


def _distinct(orders: Iterable[list[Unit]]) -> list[list[Unit]]:
    out: list[list[Unit]] = []
    seen: set[tuple[str, ...]] = set()
    for order in orders:
        sig = tuple(u.item.key for u in order)
        if sig not in seen:
            seen.add(sig)
            out.append(order)
    return out


BBOX, _BBOX_ACROSS, _LOW = 0, 1, 2  # placement scores, see Packer.add


class Packer:
    """Extreme-point packing into one box. ``add`` places a unit or leaves the state unchanged."""

    __slots__ = ("box", "margin", "hi", "score", "placed", "units", "points", "far")

    def __init__(self, box: Box, margin: int, score: int) -> None:
        self.box = box
        self.margin = margin
        self.hi = (box.inner_length_mm - margin, box.inner_width_mm - margin, box.inner_height_mm - margin)
        self.score = score
        # Placed boxes as (x, y, z, x2, y2, z2, fragile): far corners saved, not sizes.
        self.placed: list[tuple[int, int, int, int, int, int, bool]] = []
        self.units: list[Unit] = []
        self.points: list[Dims] = [(margin, margin, margin)]
        self.far = (margin, margin, margin)  # far corner of the load's bounding box

    def add(self, u: Unit) -> bool:
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
                # BBOX keeps the load compact (smallest bounding box after this placement), lying
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
                    key = (first, z, z2, y, x, y2 if score == BBOX else x2)
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

    def _place(self, u: Unit, at: tuple[int, int, int, int, int, int], fragile: bool) -> None:
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


class Search:
    """What one ``choose_boxes`` call remembers: the packings it tried, and its restarts left."""

    def __init__(self, rules: ProtectionRules) -> None:
        self.rules = rules
        self.tried: dict[tuple[str, frozenset[str], bool], Packer | None] = {}
        self.restarts_left = _RESTART_BUDGET


def pack_one(box: Box, units: Sequence[Unit], search: Search, restarts: bool = True) -> tuple[Packer | None, str]:
    """A packing of all ``units`` in ``box``, or None and why not. Cheap refusals first. Without
    ``restarts``, only the sorted orders: for downsizing, where a miss costs a little money only."""
    rules = search.rules
    margin = void_margin(units, rules)
    usable = _usable(box, margin)
    if min(usable) <= 0:
        return None, f"too small for {margin} mm of void fill at each wall"
    a, b, c = sorted(usable)
    for u in units:
        if not _fits_dims(u.sorted_dims, (a, b, c)):
            return None, f"{u.item.sku} ({format_dims(u.dims)} mm{' wrapped' if u.fragile else ''}) does not fit"
    need = sum(u.volume for u in units)
    have = usable[0] * usable[1] * usable[2]
    if need > have:
        return None, f"too small: the items need {need / 1e6:.1f} l, it holds {have / 1e6:.1f} l"
    weight = gross_weight(box, units, rules)
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
    attempts = [(order, score) for order in packing_orders(units) for score in (BBOX, _BBOX_ACROSS, _LOW)]
    if restarts and len(units) > 2 and search.restarts_left > 0:
        more = [(order, score) for order in _restart_orders(units) for score in (BBOX, _BBOX_ACROSS)]
        more = more[: search.restarts_left]
        search.restarts_left -= len(more)
        attempts += more
    for order, score in attempts:
        packer = Packer(box, margin, score)
        if all(packer.add(u) for u in order):
            search.tried[key] = packer
            return packer, ""
    search.tried[key] = None
    return None, "no arrangement found"
