"""Picking rules, pure: which bins a pick comes from, which orders go together in a wave, and
what a picker may scan next. Plain data in, plain data out (or a DomainError naming what was
expected); no database, no framework."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from oms.errors import Conflict, InvalidInput


class TaskStatus(StrEnum):
    OPEN = "open"
    PICKED = "picked"
    SHORT = "short"
    CANCELLED = "cancelled"


class ListStatus(StrEnum):
    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"


class Step(StrEnum):
    """What a scan is: the bin, the item, a quantity confirmed, or a short pick declared."""

    BIN = "bin"
    ITEM = "item"
    QUANTITY = "quantity"
    SHORT = "short"


SETTLED = frozenset({TaskStatus.PICKED, TaskStatus.SHORT, TaskStatus.CANCELLED})


def tote_code(n: int) -> str:
    """The n-th tote of a list (1-based): T01, T02, ... T99, T100."""
    return f"T{n:02d}"


# --- bins --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BinOffer:
    """A bin that holds the product: ``free`` units not promised to another open task, and how
    far it is from the depot (metres of walk)."""

    bin_id: int
    free: int
    depot_m: float


def choose_bins(quantity: int, offers: Iterable[BinOffer]) -> list[tuple[int | None, int]]:
    """Where to pick ``quantity`` units: as few bins as possible, the closest to the depot among
    equals. Returns ``[(bin_id, units)]``; units no bin can cover come last as ``(None, units)``:
    stock not put away yet, picked at the depot.

    Fewest bins: while no single bin covers what is left, take the fullest bin (the k fullest
    bins hold the most any k bins can, so the count is minimal); as soon as one bin covers the
    rest, take the closest such bin."""
    if quantity <= 0:
        return []
    pool = [o for o in offers if o.free > 0]
    chosen: list[tuple[int | None, int]] = []
    left = quantity
    while left > 0 and pool:
        covering = [o for o in pool if o.free >= left]
        if covering:
            best = min(covering, key=lambda o: (o.depot_m, o.bin_id))
            chosen.append((best.bin_id, left))
            return chosen
        best = max(pool, key=lambda o: (o.free, -o.depot_m, -o.bin_id))
        chosen.append((best.bin_id, best.free))
        left -= best.free
        pool.remove(best)
    if left > 0:
        chosen.append((None, left))
    return chosen


# --- waves -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WaveCandidate:
    """An order ready to pick in this warehouse: its units and the places its picks would be made
    (any hashable location the ``distance`` function understands; the depot included)."""

    order_id: int
    units: int
    places: tuple[Hashable, ...]


SHORTLIST = 32
"""How many of the nearest candidates a wave prices by the walk they add, per order chosen."""


def select_wave(
    candidates: Sequence[WaveCandidate],
    distance: Callable[[Hashable, Hashable], float],
    depot: Hashable,
    *,
    max_orders: int,
    max_units: int | None = None,
    walk: Callable[[Sequence[Hashable]], float] | None = None,
    shortlist: int = SHORTLIST,
) -> list[int]:
    """Which orders go together, in tote order. ``candidates`` come oldest first: the oldest is
    the seed and always goes (an order is never split across waves, even one bigger than
    ``max_units``). Then, repeatedly, the order closest to the places already in the walk (the
    depot is in every walk), as long as it fits ``max_units``, until ``max_orders``.

    Closest: each candidate's proximity is the sum over its places of the distance to the nearest
    place already in the wave (cheap, kept up to date as the wave grows). With ``walk`` (the
    length of the shortest walk through some places), the ``shortlist`` nearest candidates are
    then priced by the walk they would add, which sees that a bin on an aisle the walk already
    goes up costs nothing; the cheapest goes, the nearer and then the older on a tie."""
    if not candidates or max_orders < 1:
        return []
    seed = candidates[0]
    chosen = [seed.order_id]
    units = seed.units
    visited: list[Hashable] = [depot, *seed.places]
    rest = list(enumerate(candidates[1:], start=1))
    # nearest[i][j]: distance from candidate i's j-th place to the nearest place in the wave.
    nearest = {i: [min(distance(p, v) for v in visited) for p in c.places] for i, c in rest}
    while len(chosen) < max_orders and rest:
        fitting = [(i, c) for i, c in rest if max_units is None or units + c.units <= max_units]
        if not fitting:
            break
        ranked = sorted(fitting, key=lambda ic: (sum(nearest[ic[0]]), ic[0]))
        if walk is None:
            i, best = ranked[0]
        else:
            now = walk(visited)
            i, best = min(
                ranked[:shortlist],
                key=lambda ic: (walk([*visited, *ic[1].places]) - now, sum(nearest[ic[0]]), ic[0]),
            )
        chosen.append(best.order_id)
        units += best.units
        visited += best.places
        rest = [(j, c) for j, c in rest if j != i]
        for j, c in rest:  # only the new places can bring the others closer
            nearest[j] = [
                min(d, *(distance(p, q) for q in best.places)) for d, p in zip(nearest[j], c.places, strict=True)
            ]
    return chosen


# --- scans -------------------------------------------------------------------------------------


def expected_step(needs_bin: bool, accepted: Sequence[str], remaining: int) -> Step | None:
    """The scan a task expects next, from its accepted scans so far (oldest first): the bin
    (unless the task is at the depot), then the item, then a quantity. After a quantity that
    leaves units to pick, the bin stays verified and the item is scanned again. None: the task
    is done."""
    if remaining <= 0:
        return None
    last = accepted[-1] if accepted else None
    if last == Step.ITEM:
        return Step.QUANTITY
    if last in (Step.BIN, Step.QUANTITY) or not needs_bin:
        return Step.ITEM
    return Step.BIN


def check_order_of_scans(step: Step, expected: Step) -> None:
    """A bin scan is always welcome (it re-verifies where the picker stands), and so is the item
    again before its quantity; otherwise the item needs the bin first and a quantity the item."""
    if step == expected or step == Step.BIN or (step == Step.ITEM and expected == Step.QUANTITY):
        return
    if expected == Step.BIN:
        raise Conflict(
            "scan the bin first, then the item, then confirm the quantity", code="scan_bin_first", expected_step="bin"
        )
    raise Conflict("scan the item before confirming a quantity", code="scan_item_first", expected_step="item")


def check_bin(scanned: str, expected_code: str | None) -> None:
    if expected_code is None:
        raise InvalidInput(
            "this task is picked at the depot: there is no bin to scan; scan the item",
            code="wrong_bin",
            expected_bin=None,
        )
    if scanned.strip().casefold() != expected_code.casefold():
        raise InvalidInput(
            f"wrong bin {scanned!r}: this task is in bin {expected_code}", code="wrong_bin", expected_bin=expected_code
        )


def _digits(value: str) -> str:
    return value.lstrip("0")


def item_matches(scanned: str, sku: str, barcode: str | None) -> bool:
    """A GTIN barcode (leading zeros aside: a GTIN-13 read as GTIN-14 is the same item) or the SKU
    (case aside)."""
    value = scanned.strip()
    if barcode and value.isdigit() and _digits(value) == _digits(barcode):
        return True
    return value.casefold() == sku.casefold()


def check_item(scanned: str, sku: str, barcode: str | None) -> None:
    if not item_matches(scanned, sku, barcode):
        expected = f"{sku} (barcode {barcode})" if barcode else sku
        raise InvalidInput(
            f"wrong item {scanned!r}: this task is {expected}",
            code="wrong_item",
            expected_sku=sku,
            expected_barcode=barcode,
        )


def check_quantity(quantity: int, remaining: int) -> None:
    if quantity < 1:
        raise InvalidInput("confirm at least one unit", code="invalid_quantity", remaining=remaining)
    if quantity > remaining:
        raise InvalidInput(
            f"{quantity} is more than this task needs: {remaining} unit(s) remain",
            code="too_many",
            remaining=remaining,
        )


def check_short(found: int, remaining: int) -> int:
    """Units missing when the picker finds ``found`` of the ``remaining`` a task needs."""
    if found < 0:
        raise InvalidInput("found cannot be negative", code="invalid_quantity", remaining=remaining)
    if found >= remaining:
        raise InvalidInput(
            f"found {found} of {remaining}: nothing is missing; confirm the quantity instead",
            code="not_short",
            remaining=remaining,
        )
    return remaining - found
