"""Pick paths: the order to visit picks in, from the depot and back, and the length of the walk.

``optimal_tour`` is Ratliff and Rosenthal's dynamic programme ("Order-picking in a rectangular
warehouse: a solvable case of the traveling salesman problem", Operations Research 31(3), 1983):
exact for a single-block warehouse (parallel aisles, a front and a back cross aisle), in time
linear in the number of aisles, whatever the number of picks. ``s_shape`` is the traversal
heuristic most warehouses walk by habit, reported beside it. ``held_karp`` is an exact solver of a
different kind (dynamic programming over subsets of picks, exponential) that the tests and the
benchmark use to check the first one on small lists.

All three take a ``Layout`` and picks as ``(aisle index, y)`` and return a ``Tour``: the picks'
indices in walking order (picks at one spot are consecutive, in the order given) and the length in
metres. Internally y is measured from the depot's cross aisle ("offset"), so a depot at the back is
the same problem mirrored.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from oms.picking.layout import Layout, Location

Point = tuple[float, float]
INF = math.inf
HELD_KARP_MAX = 12


@dataclass(frozen=True)
class Tour:
    """``order``: indices into the picks given, in walking order. ``length_m``: depot to depot.
    ``route``: the corners of the walk in warehouse (x, y), depot first and last, for drawing it."""

    length_m: float
    order: tuple[int, ...]
    route: tuple[Point, ...]


# ---------------------------------------------------------------------------------------------
# Ratliff-Rosenthal. Sweep the aisles left to right, building the tour's edges as a multigraph.
# After each aisle, the part built so far is summarised by what matters for completing it: the
# degree of the aisle's front end and back end (absent, odd, even) and whether the two ends are in
# one connected piece. Every piece must touch the current aisle's ends (else it could never join
# the rest), and at the end all degrees are even and there is one piece: an Euler tour.
# ---------------------------------------------------------------------------------------------

_ABSENT, _ODD, _EVEN = 0, 1, 2

# Ways to cover one aisle's picks with its vertical edges (RR's six; "return" = out and back):
_NONE, _LOWER, _UPPER, _BOTH, _TRAVERSE, _DOUBLE = range(6)
# ... and what each leaves at (front end, back end, ends joined by the aisle itself). A return of
# length zero still marks its end as visited: that is how a pick on a cross aisle, or the depot,
# becomes a place the tour must reach.
_KIND_ENDS = (
    (_ABSENT, _ABSENT, False),  # no edges: only an aisle with nothing to pick
    (_EVEN, _ABSENT, False),  # return from the front to the farthest pick
    (_ABSENT, _EVEN, False),  # return from the back to the nearest pick
    (_EVEN, _EVEN, False),  # both returns, leaving out the largest gap between picks
    (_ODD, _ODD, True),  # walk through once
    (_EVEN, _EVEN, True),  # walk through twice
)

State = tuple[int, int, bool]


def _end(horizontal: int, vertical: int) -> int:
    if not (horizontal or vertical):
        return _ABSENT
    return _ODD if (horizontal + (vertical == _ODD)) % 2 else _EVEN


def _step(state: State, front: int, back: int, kind: int) -> State | None:
    """Add ``front``/``back`` cross-aisle edges to the next aisle and that aisle's ``kind`` of
    cover; the next state, or None if the partial tour can no longer become a tour."""
    a, b, joined = state
    for end, n in ((a, front), (b, back)):
        if n and end == _ABSENT:
            return None  # a spur to a place nothing needs: never shorter
        if end != _ABSENT and (end == _ODD) != (n % 2 == 1):
            return None  # the end now leaves the sweep and must have even degree
    if a and b and not joined:
        if not (front and back):
            return None  # one of the two pieces would be cut off
    elif not (front or back):
        return None
    ka, kb, kjoined = _KIND_ENDS[kind]
    na, nb = _end(front, ka), _end(back, kb)
    njoined = kjoined or (bool(front and back) and joined) or not (na and nb)
    return (na, nb, njoined)


def _closed(state: State) -> bool:
    a, b, joined = state
    return a != _ODD and b != _ODD and (a or b) != _ABSENT and joined


def _transitions() -> dict[State, list[tuple[int, int, int, State]]]:
    table: dict[State, list[tuple[int, int, int, State]]] = {}
    for a, b, joined in itertools.product(range(3), range(3), (False, True)):
        moves = itertools.product(range(3), range(3), range(6))
        steps = ((front, back, kind, _step((a, b, joined), front, back, kind)) for front, back, kind in moves)
        table[(a, b, joined)] = [(front, back, kind, nxt) for front, back, kind, nxt in steps if nxt is not None]
    return table


# The moves are derived by _step from every count of cross-aisle edges (0-2 each) rather than
# copied from the paper's hand-made table: dominated moves cost nothing to keep, a missing one would
# cost optimality. A few hundred entries, built once; the DP only looks them up.
_MOVES = _transitions()


@dataclass
class _Column:
    """One aisle of the sweep (or the depot, when it is not at an aisle: a column with no aisle)."""

    x: float
    aisle: int | None
    inner: list[float]  # distinct pick offsets strictly between the cross aisles, ascending
    need_front: bool
    need_back: bool

    def costs(self, length: float) -> list[float]:
        if self.aisle is None:  # the depot alone: visit it, no aisle to walk
            return [INF, 0.0, INF, INF, INF, INF]
        q = self.inner
        if not q:
            lower = upper = both = 0.0
        else:
            lower, upper = 2 * q[-1], 2 * (length - q[0])
            stops = [0.0, *q, length]
            both = 2 * (length - max(y2 - y1 for y1, y2 in zip(stops, stops[1:], strict=False)))
        empty = not (q or self.need_front or self.need_back)
        return [
            0.0 if empty else INF,
            INF if self.need_back else lower,
            INF if self.need_front else upper,
            both,
            length,
            2 * length,
        ]


def optimal_tour(layout: Layout, picks: Sequence[Location | tuple[int, float]]) -> Tour:
    """The shortest tour from the depot through every pick and back (Ratliff-Rosenthal)."""
    layout.check(picks)
    if not picks:
        return Tour(0.0, (), (layout.depot, layout.depot))
    length = layout.aisle_length
    offsets = _offsets(layout, picks)
    columns, depot_col = _columns(layout, picks, offsets)

    # best[state] = (cost, back pointer); one dict of back pointers per column for the walk back.
    costs0 = columns[0].costs(length)
    best: dict[State, float] = {}
    pointers: list[dict[State, tuple[State | None, int, int, int]]] = [{}]
    for kind, c in enumerate(costs0):
        ka, kb, kjoined = _KIND_ENDS[kind]
        if c == INF or not (ka or kb):
            continue
        state = (ka, kb, kjoined or not (ka and kb))
        if c < best.get(state, INF):
            best[state], pointers[0][state] = c, (None, 0, 0, kind)
    for j in range(1, len(columns)):
        dx = columns[j].x - columns[j - 1].x
        vertical = columns[j].costs(length)
        nxt: dict[State, float] = {}
        ptr: dict[State, tuple[State | None, int, int, int]] = {}
        for state, cost in best.items():
            for front, back, kind, new in _MOVES[state]:
                v = vertical[kind]
                if v == INF:
                    continue
                total = cost + (front + back) * dx + v
                if total < nxt.get(new, INF):
                    nxt[new], ptr[new] = total, (state, front, back, kind)
        best = nxt
        pointers.append(ptr)

    final = min((s for s in best if _closed(s)), key=lambda s: best[s])
    # Walk the pointers back to the choice made at each column.
    choices: list[tuple[int, int, int]] = []
    state: State | None = final
    for ptr in reversed(pointers):
        assert state is not None
        prev, front, back, kind = ptr[state]
        choices.append((front, back, kind))
        state = prev
    choices.reverse()
    return _euler_tour(layout, picks, offsets, columns, depot_col, choices, best[final])


def _offsets(layout: Layout, picks: Sequence[Location | tuple[int, float]]) -> list[float]:
    """Each pick's distance along its aisle from the depot's cross aisle."""
    if layout.depot_at_back:
        return [layout.back_y - y for _, y in picks]
    return [y - layout.front_y for _, y in picks]


def _columns(
    layout: Layout, picks: Sequence[Location | tuple[int, float]], offsets: list[float]
) -> tuple[list[_Column], int]:
    """The aisles the sweep must cover, left to right: from the leftmost to the rightmost of the
    aisles with picks and the depot (a tour never gains by going beyond them), empty aisles in
    between included since the tour may use them to cross over. The depot adds a column of its own
    when it is not at an aisle."""
    length = layout.aisle_length
    depot_x = layout.depot[0]
    used = {aisle for aisle, _ in picks}
    xs = layout.aisles_x
    depot_aisle = next((i for i, x in enumerate(xs) if abs(x - depot_x) < 1e-9), None)
    span = [xs[i] for i in used] + [depot_x]
    lo, hi = min(span), max(span)
    columns = [_Column(x, i, [], False, False) for i, x in enumerate(xs) if lo - 1e-9 <= x <= hi + 1e-9]
    by_aisle = {c.aisle: c for c in columns}
    for (aisle, _), off in zip(picks, offsets, strict=True):
        col = by_aisle[aisle]
        if off <= 0.0:
            col.need_front = True
        elif off >= length:
            col.need_back = True
        else:
            col.inner.append(off)
    for col in columns:
        col.inner = sorted(set(col.inner))
    if depot_aisle is None:
        columns.append(_Column(depot_x, None, [], True, False))
        columns.sort(key=lambda c: c.x)
    else:
        by_aisle[depot_aisle].need_front = True
    depot_col = next(j for j, c in enumerate(columns) if c.aisle == depot_aisle)
    return columns, depot_col


def _euler_tour(
    layout: Layout,
    picks: Sequence[Location | tuple[int, float]],
    offsets: list[float],
    columns: list[_Column],
    depot_col: int,
    choices: list[tuple[int, int, int]],
    length_m: float,
) -> Tour:
    """Turn the chosen edges into a walk (Hierholzer's Euler circuit from the depot) and list the
    picks in the order the walk first reaches them."""
    length = layout.aisle_length
    edges: list[tuple[tuple[int, float], tuple[int, float]]] = []
    for j, (front, back, kind) in enumerate(choices):
        if j:
            edges += [((j - 1, 0.0), (j, 0.0))] * front + [((j - 1, length), (j, length))] * back
        stops = [0.0, *columns[j].inner, length]
        segments = list(zip(stops, stops[1:], strict=False))
        if kind == _TRAVERSE:
            chosen = segments
        elif kind == _DOUBLE:
            chosen = segments * 2
        elif kind in (_LOWER, _UPPER, _BOTH) and columns[j].aisle is not None:
            gap = {_LOWER: len(segments) - 1, _UPPER: 0}.get(kind)
            if gap is None:
                gap = max(range(len(segments)), key=lambda k: segments[k][1] - segments[k][0])
            chosen = (segments[:gap] + segments[gap + 1 :]) * 2
        else:
            chosen = []
        edges += [((j, y1), (j, y2)) for y1, y2 in chosen]

    adjacency: dict[tuple[int, float], list[tuple[tuple[int, float], int]]] = {}
    for i, (u, v) in enumerate(edges):
        adjacency.setdefault(u, []).append((v, i))
        adjacency.setdefault(v, []).append((u, i))
    used = [False] * len(edges)
    start = (depot_col, 0.0)
    stack, circuit, nxt = [start], [], dict.fromkeys(adjacency, 0)
    while stack:
        node = stack[-1]
        around = adjacency.get(node, ())
        k = nxt.get(node, 0)
        while k < len(around) and used[around[k][1]]:
            k += 1
        nxt[node] = k
        if k == len(around):
            circuit.append(stack.pop())
        else:
            used[around[k][1]] = True
            stack.append(around[k][0])
    circuit.reverse()
    assert all(used), "the chosen edges do not form one tour"

    col_of = {c.aisle: j for j, c in enumerate(columns) if c.aisle is not None}
    at: dict[tuple[int, float], list[int]] = {}
    for i, ((aisle, _), off) in enumerate(zip(picks, offsets, strict=True)):
        at.setdefault((col_of[aisle], min(max(off, 0.0), length)), []).append(i)
    order: list[int] = []
    for node in circuit:
        order += at.pop(node, [])
    assert not at, "the tour misses a pick"
    # The depot's column may stand for an aisle a rounding error away: the walk still starts and
    # ends exactly at the depot (a step of that rounding error along the cross aisle).
    route = [layout.depot, *((columns[j].x, _y(layout, off)) for j, off in circuit), layout.depot]
    return Tour(length_m, tuple(order), _dedupe(route))


# ---------------------------------------------------------------------------------------------
# S-shape, the reference heuristic, and a length check.
# ---------------------------------------------------------------------------------------------


def s_shape(layout: Layout, picks: Sequence[Location | tuple[int, float]]) -> Tour:
    """Traverse every aisle that has picks end to end, up one, down the next; when that count is
    odd the last aisle is entered and left from the depot's side (out to its farthest pick and
    back). The aisles are swept from the depot's nearer end: both directions are tried and the
    shorter kept, since a depot in the middle has no natural first aisle."""
    layout.check(picks)
    if not picks:
        return Tour(0.0, (), (layout.depot, layout.depot))
    offsets = _offsets(layout, picks)
    aisles = sorted({aisle for aisle, _ in picks})
    return min(
        (_s_shape_sweep(layout, picks, offsets, sweep) for sweep in (aisles, aisles[::-1])),
        key=lambda t: t.length_m,
    )


def _s_shape_sweep(
    layout: Layout, picks: Sequence[Location | tuple[int, float]], offsets: list[float], sweep: list[int]
) -> Tour:
    length, (dx, _) = layout.aisle_length, layout.depot
    xs = layout.aisles_x
    corners: list[tuple[float, float]] = [(dx, 0.0)]  # (x, offset)
    order: list[int] = []
    for n, aisle in enumerate(sweep):
        here = sorted((i for i, (a, _) in enumerate(picks) if a == aisle), key=lambda i: offsets[i])
        x = xs[aisle]
        if n == len(sweep) - 1 and n % 2 == 0:  # odd count: the last aisle is a return
            corners += [(x, 0.0), (x, max(offsets[i] for i in here)), (x, 0.0)]
            order += here
        elif n % 2 == 0:
            corners += [(x, 0.0), (x, length)]
            order += here
        else:
            corners += [(x, length), (x, 0.0)]
            order += here[::-1]
    corners.append((dx, 0.0))
    # Consecutive corners share an x or a cross aisle, so the rectilinear distance is the walk.
    walked = sum(abs(x2 - x1) + abs(o2 - o1) for (x1, o1), (x2, o2) in zip(corners, corners[1:], strict=False))
    return Tour(walked, tuple(order), _dedupe([(x, _y(layout, o)) for x, o in corners]))


def tour_length(layout: Layout, picks: Sequence[Location | tuple[int, float]], order: Sequence[int]) -> float:
    """Length of visiting ``picks`` in ``order`` (indices) by shortest walks, depot to depot."""
    if not order:
        return 0.0
    seq = [picks[i] for i in order]
    inner = sum(layout.distance(a, b) for a, b in zip(seq, seq[1:], strict=False))
    return layout.depot_distance(seq[0]) + inner + layout.depot_distance(seq[-1])


# ---------------------------------------------------------------------------------------------
# Held-Karp: exact over subsets of pick locations, O(2^n n^2). For checking, on small lists only.
# ---------------------------------------------------------------------------------------------


def held_karp(
    layout: Layout, picks: Sequence[Location | tuple[int, float]], *, max_locations: int = HELD_KARP_MAX
) -> Tour:
    """The shortest tour by dynamic programming over subsets of the distinct pick locations, with
    shortest walks in the aisle network as distances. Independent of ``optimal_tour``: it knows
    nothing of aisles beyond ``Layout.distance``."""
    layout.check(picks)
    spots: dict[tuple[int, float], list[int]] = {}
    for i, (aisle, y) in enumerate(picks):
        spots.setdefault((aisle, y), []).append(i)
    places = list(spots)
    n = len(places)
    if n > max_locations:
        raise ValueError(f"held_karp is for at most {max_locations} distinct locations, got {n}")
    if n == 0:
        return Tour(0.0, (), (layout.depot, layout.depot))
    home = [layout.depot_distance(p) for p in places]
    dist = [[layout.distance(p, q) for q in places] for p in places]
    full = (1 << n) - 1
    cost = [[INF] * n for _ in range(1 << n)]
    parent = [[-1] * n for _ in range(1 << n)]
    for j in range(n):
        cost[1 << j][j] = home[j]
    for mask in range(1, full + 1):
        row = cost[mask]
        for j in range(n):
            c = row[j]
            if c == INF:
                continue
            dj = dist[j]
            for k in range(n):
                if mask >> k & 1:
                    continue
                nm = mask | 1 << k
                t = c + dj[k]
                if t < cost[nm][k]:
                    cost[nm][k], parent[nm][k] = t, j
    last = min(range(n), key=lambda j: cost[full][j] + home[j])
    total = cost[full][last] + home[last]
    visit, mask, j = [], full, last
    while j != -1:
        visit.append(j)
        mask, j = mask & ~(1 << j), parent[mask][j]
    visit.reverse()
    order = tuple(i for j in visit for i in spots[places[j]])
    return Tour(total, order, layout.corners([places[j] for j in visit]))


def _y(layout: Layout, offset: float) -> float:
    return layout.back_y - offset if layout.depot_at_back else layout.front_y + offset


def _dedupe(points: list[Point]) -> tuple[Point, ...]:
    out = [points[0]]
    out += [p for prev, p in zip(points, points[1:], strict=False) if p != prev]
    if len(out) == 1:
        out.append(out[0])  # a route always closes at the depot
    return tuple(out)
