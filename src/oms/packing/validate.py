"""Checking a packing from its placements alone, independently of how it was found: the safety net
under the ``fit`` heuristic, used by the tests, the bench and pack verification. Pure."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

from oms.packing.fit import format_dims

if TYPE_CHECKING:
    # Types only: cartons re-exports these functions, so a runtime import back would be circular.
    from oms.packing.cartons import Item, PackedBox, PackResult
    from oms.packing.protection import ProtectionRules


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
            problems.append(f"{p.item_key} has a size of {format_dims((p.dx, p.dy, p.dz))} mm")
        if p.x < m or p.y < m or p.z < m or p.x + p.dx > hi[0] or p.y + p.dy > hi[1] or p.z + p.dz > hi[2]:
            problems.append(
                f"{p.item_key} at ({p.x}, {p.y}, {p.z}) size {format_dims((p.dx, p.dy, p.dz))} leaves the usable space "
                f"({m}..{hi[0]}, {m}..{hi[1]}, {m}..{hi[2]})"
            )
        item = items.get(p.item_key)
        if item is not None:
            pad = 2 * prot.wrap_mm if item.fragile else 0
            want_dims = sorted(d + pad for d in item.dims)
            if sorted((p.dx, p.dy, p.dz)) != want_dims:
                problems.append(
                    f"{p.item_key} is placed as {format_dims((p.dx, p.dy, p.dz))} mm, "
                    f"not a rotation of {format_dims(want_dims)}"
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
