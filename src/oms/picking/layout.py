"""The walking network of a rectangular warehouse, for pick paths. Pure: plain data in and out.

The model is the one the pick path literature uses (Ratliff and Rosenthal 1983; Roodbergen's
layouts): parallel vertical aisles at given x positions, joined by a front cross aisle (``y =
front_y``) and a back cross aisle (``y = back_y``), and a depot where every tour starts and ends, on
one of the cross aisles. A picker walks only along aisles and cross aisles, so the distance between
two places is the length of the shortest walk in that network, never a straight line across racks.
A bin is picked from its aisle, standing at the bin's y; which side of the aisle it faces does not
matter.

A layout is either declared (``Layout(aisles_x=..., front_y=..., back_y=...)``, or ``Layout.regular``)
or derived from the bins' coordinates with ``Layout.from_bins``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

CLUSTER_M = 0.5
"""Bins without an aisle label whose x lie within this of each other (chained, in x order) share an
aisle. Half a metre: well under any real aisle pitch (about 2.5-4 m centre to centre), well over
the scatter of surveyed bin positions along one aisle."""

MARGIN_M = 1.0
"""How far beyond the first and last bins (in y) the derived cross aisles run: a cross aisle is at
least a picker's width clear of the racks' ends."""


class LayoutError(ValueError):
    """A layout that cannot be walked, or a pick that is not on it."""


class Location(NamedTuple):
    """Where a pick is made: an aisle (index into ``Layout.aisles_x``) and y in metres."""

    aisle: int
    y: float


class BinPosition(NamedTuple):
    """A bin as the inventory stores it: x and y in metres from the warehouse origin, and an
    optional aisle label. Any 4-tuple in this order will do."""

    code: str
    x_m: float
    y_m: float
    aisle: str | None = None


@dataclass(frozen=True)
class Layout:
    """Aisles at ``aisles_x`` (strictly increasing), cross aisles at ``front_y < back_y``, and the depot
    on the front cross aisle (or the back one with ``depot_at_back``) at ``depot_x``, by default at the
    first aisle. ``aisle_labels``, when given, names each aisle (``from_bins`` fills it in)."""

    aisles_x: tuple[float, ...]
    front_y: float
    back_y: float
    depot_x: float | None = None
    depot_at_back: bool = False
    aisle_labels: tuple[str | None, ...] = ()

    def __post_init__(self) -> None:
        # Accept lists from callers but keep the frozen dataclass hashable.
        object.__setattr__(self, "aisles_x", tuple(float(x) for x in self.aisles_x))
        object.__setattr__(self, "aisle_labels", tuple(self.aisle_labels))
        xs = self.aisles_x
        if not xs:
            raise LayoutError("a layout needs at least one aisle")
        numbers = [*xs, self.front_y, self.back_y, 0.0 if self.depot_x is None else self.depot_x]
        if not all(math.isfinite(v) for v in numbers):
            raise LayoutError("layout coordinates must be finite numbers")
        if any(b <= a for a, b in zip(xs, xs[1:], strict=False)):
            raise LayoutError(f"aisle x positions must be strictly increasing, got {list(xs)}")
        if not self.front_y < self.back_y:
            raise LayoutError(f"the front cross aisle (y={self.front_y}) must lie below the back one (y={self.back_y})")
        if self.aisle_labels and len(self.aisle_labels) != len(xs):
            raise LayoutError(f"{len(self.aisle_labels)} aisle labels for {len(xs)} aisles")

    @property
    def aisle_length(self) -> float:
        """Length of every aisle, cross aisle to cross aisle."""
        return self.back_y - self.front_y

    @property
    def depot(self) -> tuple[float, float]:
        """(x, y) of the depot."""
        x = self.aisles_x[0] if self.depot_x is None else self.depot_x
        return (x, self.back_y if self.depot_at_back else self.front_y)

    @classmethod
    def regular(
        cls,
        aisles: int,
        spacing_m: float,
        length_m: float,
        *,
        first_x: float = 0.0,
        front_y: float = 0.0,
        depot_x: float | None = None,
        depot_at_back: bool = False,
    ) -> Layout:
        """``aisles`` evenly spaced aisles of ``length_m`` between the cross aisles."""
        return cls(
            aisles_x=tuple(first_x + i * spacing_m for i in range(aisles)),
            front_y=front_y,
            back_y=front_y + length_m,
            depot_x=depot_x,
            depot_at_back=depot_at_back,
        )

    @classmethod
    def from_bins(
        cls,
        bins: Iterable[BinPosition | tuple[str, float, float, str | None]],
        *,
        margin_m: float = MARGIN_M,
        cluster_m: float = CLUSTER_M,
        depot_x: float | None = None,
        depot_at_back: bool = False,
    ) -> Layout:
        """Derive the layout from bin coordinates.

        Aisles: bins with the same aisle label form one aisle, running at the mean x of its bins.
        Bins without a label join a labelled aisle whose x is within ``cluster_m``; the rest are
        grouped by single linkage on x (sorted, a bin within ``cluster_m`` of the previous one is on
        the same aisle) and each group runs at its mean x. Two labelled aisles closer than
        ``cluster_m`` are refused: a picker cannot tell them apart, so the labels are probably wrong.

        Cross aisles: ``margin_m`` below the lowest bin and above the highest. Depot: on the front
        cross aisle (or the back one) at ``depot_x``, by default at the first aisle.
        """
        rows = [BinPosition(*b) for b in bins]
        if not rows:
            raise LayoutError("no bins to derive a layout from")
        by_label: dict[str, list[float]] = {}
        unlabelled: list[float] = []
        for b in rows:
            if b.aisle:
                by_label.setdefault(b.aisle, []).append(float(b.x_m))
            else:
                unlabelled.append(float(b.x_m))

        aisles: list[tuple[float, str | None]] = sorted(
            ((sum(xs) / len(xs), label) for label, xs in by_label.items()), key=lambda a: a[0]
        )
        for (x1, l1), (x2, l2) in zip(aisles, aisles[1:], strict=False):
            if x2 - x1 < cluster_m:
                raise LayoutError(f"aisles {l1!r} (x={x1:g} m) and {l2!r} (x={x2:g} m) are closer than {cluster_m:g} m")
        labelled_x = [x for x, _ in aisles]
        loose = [x for x in unlabelled if not any(abs(x - lx) <= cluster_m for lx in labelled_x)]
        groups: list[list[float]] = []
        for x in sorted(loose):
            if groups and x - groups[-1][-1] <= cluster_m:
                groups[-1].append(x)
            else:
                groups.append([x])
        aisles += [(sum(g) / len(g), None) for g in groups]
        aisles.sort(key=lambda a: a[0])

        ys = [float(b.y_m) for b in rows]
        return cls(
            aisles_x=tuple(x for x, _ in aisles),
            front_y=min(ys) - margin_m,
            back_y=max(ys) + margin_m,
            depot_x=depot_x,
            depot_at_back=depot_at_back,
            aisle_labels=tuple(label for _, label in aisles),
        )

    def locate(self, x_m: float, y_m: float, aisle: str | None = None) -> Location:
        """Where a bin at (x_m, y_m) is picked: its labelled aisle when this layout knows the label,
        otherwise the aisle nearest in x."""
        if not self.front_y <= y_m <= self.back_y:
            raise LayoutError(f"y={y_m:g} m lies outside the cross aisles ({self.front_y:g} to {self.back_y:g} m)")
        if aisle and aisle in self.aisle_labels:
            return Location(self.aisle_labels.index(aisle), y_m)
        nearest = min(range(len(self.aisles_x)), key=lambda i: abs(self.aisles_x[i] - x_m))
        return Location(nearest, y_m)

    def locate_bins(self, bins: Iterable[BinPosition | tuple[str, float, float, str | None]]) -> dict[str, Location]:
        """``locate`` for many bins, by bin code."""
        return {b.code: self.locate(b.x_m, b.y_m, b.aisle) for b in (BinPosition(*row) for row in bins)}

    def check(self, picks: Sequence[Location | tuple[int, float]]) -> None:
        """Refuse a pick that is not on this layout (unknown aisle, y beyond the cross aisles)."""
        n = len(self.aisles_x)
        for i, (aisle, y) in enumerate(picks):
            if not 0 <= aisle < n:
                raise LayoutError(f"pick {i}: no aisle {aisle} (the layout has {n})")
            if not self.front_y <= y <= self.back_y:
                raise LayoutError(f"pick {i}: y={y:g} m lies outside the cross aisles")

    def distance(self, a: Location | tuple[int, float], b: Location | tuple[int, float]) -> float:
        """Shortest walk between two picks: straight along a shared aisle, otherwise out of one aisle
        by the front or the back cross aisle (whichever is shorter) and into the other."""
        (ia, ya), (ib, yb) = a, b
        if ia == ib:
            return abs(ya - yb)
        via_front = (ya - self.front_y) + (yb - self.front_y)
        via_back = (self.back_y - ya) + (self.back_y - yb)
        return abs(self.aisles_x[ia] - self.aisles_x[ib]) + min(via_front, via_back)

    def depot_distance(self, a: Location | tuple[int, float]) -> float:
        """Shortest walk from the depot to a pick: along the depot's cross aisle, then up the aisle."""
        aisle, y = a
        dx, dy = self.depot
        return abs(self.aisles_x[aisle] - dx) + abs(y - dy)

    def corners(self, stops: Sequence[Location | tuple[int, float]]) -> tuple[tuple[float, float], ...]:
        """The corners (x, y) of the walk depot -> stops -> depot by shortest walks, for drawing a
        tour given as a visiting order."""
        xs, (dx, dy) = self.aisles_x, self.depot
        points = [(dx, dy)]
        here: tuple[int, float] | None = None
        for aisle, y in stops:
            if here is None:
                points += [(xs[aisle], dy), (xs[aisle], y)]
            elif here[0] != aisle:
                by_front = (here[1] - self.front_y) + (y - self.front_y) <= (self.back_y - here[1]) + (self.back_y - y)
                cross = self.front_y if by_front else self.back_y
                points += [(xs[here[0]], cross), (xs[aisle], cross), (xs[aisle], y)]
            else:
                points.append((xs[aisle], y))
            here = (aisle, y)
        if here is not None:
            points += [(xs[here[0]], dy), (dx, dy)]
        walk = [p for i, p in enumerate(points) if i == 0 or p != points[i - 1]]
        return tuple(walk if len(walk) > 1 else walk * 2)
