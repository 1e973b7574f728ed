"""Protective packaging: how fragile items are wrapped and padded, what that costs in room and
weight, and the instructions handed to the packer. Pure.

A fragile item grows by its bubble wrap on every side, and a box that holds a fragile item loses a
void-fill margin (air pillows) at every wall, floor and top included. Heavy items go first, at the
bottom; fragile items go last, with nothing placed on them.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    # Types only: cartons imports this module, so a runtime import back would be circular.
    from oms.packing.cartons import Box, Item
    from oms.packing.fit import Dims, Unit


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


def protection_for(box: Box, units: Sequence[Unit], margin: int, rules: ProtectionRules, empty_mm3: int) -> Protection:
    """What one package needs beyond its items: the packer's instructions in the order they are
    done, and the weight of the wrap and void fill they add."""
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


def _skus(units: Sequence[Unit]) -> str:
    counts = Counter(u.item.sku for u in units)
    return ", ".join(sku if n == 1 else f"{sku} × {n}" for sku, n in counts.items())
