"""The search behind ``scoring.plan_by_cost`` and ``scoring.exhaustive_plan``: one decision's inputs
indexed once (``Context``: products as bit masks, stock as small tuples, a lower-bound cost per
warehouse), the quantity assignment that prices a set of warehouses (``Assignment``), and the
searches over sets: subsets by size, pairs, greedy cover with local search, branch and bound. The
rule they serve and when each is used are in ``scoring``'s docstring. Pure."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from oms.routing.explain import explain
from oms.routing.geocode import EARTH_RADIUS_KM
from oms.routing.rules import LineRequest, Pick, Plan

if TYPE_CHECKING:
    # Types only: scoring imports this module, so a runtime import back would be circular.
    from oms.routing.scoring import Candidate, CostModel, Destination


def locate_destination(dest: Destination) -> tuple[tuple[float, float] | None, dict[str, Any] | None, str | None]:
    """(point, how to show it, why there is none)."""
    if dest is None:
        return None, None, "no destination given"
    if hasattr(dest, "reason"):
        return None, None, f"address not geocoded: {dest.reason}"
    if isinstance(dest, tuple | list) and len(dest) == 2:
        lat, lon = float(dest[0]), float(dest[1])
        return (lat, lon), {"latitude": lat, "longitude": lon, "source": "given"}, None
    lat, lon = float(dest.latitude), float(dest.longitude)
    shown = dest.to_dict() if hasattr(dest, "to_dict") else {"latitude": lat, "longitude": lon, "source": "given"}
    return (lat, lon), shown, None


def _distances(point: tuple[float, float] | None, cands: Sequence[Candidate]) -> list[float | None]:
    """``scoring._distance`` for many candidates, with the destination's trigonometry done once (the same
    operations as ``haversine_km``, so the same floats)."""
    if point is None:
        return [None] * len(cands)
    p1 = math.radians(point[0])
    cos1 = math.cos(p1)
    lon1 = point[1]
    radians, sin, cos, asin, sqrt = math.radians, math.sin, math.cos, math.asin, math.sqrt
    out: list[float | None] = []
    for c in cands:
        if c.latitude is None or c.longitude is None:
            out.append(None)
            continue
        p2 = radians(c.latitude)
        dp, dl = p2 - p1, radians(c.longitude - lon1)
        a = sin(dp / 2) ** 2 + cos1 * cos(p2) * sin(dl / 2) ** 2
        out.append(2 * EARTH_RADIUS_KM * asin(min(1.0, sqrt(a))))
    return out


def leg_cost(model: CostModel, c: Candidate, distance_km: float | None, units: int, by_rank: bool) -> float:
    # Without a destination, distances mean nothing: the channel's rank stands in for them.
    if by_rank:
        return model.per_shipment + c.preference_rank
    return model.leg(c, distance_km, units)


@dataclass
class Assignment:
    """A set of shipping warehouses with its picks; ``key`` orders assignments best first."""

    warehouses: list[int]  # indices into Context.cands, in pick order (nearest first)
    picks: list[Pick]
    units: dict[int, int]
    cost: float
    split_lines: list[int]
    rank_sum: int
    ids: tuple[int, ...] = field(default=())

    def key(self) -> tuple[int, float, int, int, tuple[int, ...]]:
        return (len(self.warehouses), round(self.cost, 6), len(self.split_lines), self.rank_sum, self.ids)


class Context:
    """Everything one decision needs, indexed once: products as bits, stock as small tuples."""

    def __init__(
        self,
        lines: Sequence[LineRequest | tuple[int, int, int]],
        candidates: Sequence[Candidate],
        available: Mapping[tuple[int, int], int],
        destination: Destination,
        allow_stores: bool,
        model: CostModel,
    ) -> None:
        self.model = model
        self.point, self.dest_shown, self.no_dest_reason = locate_destination(destination)
        self.by_rank = self.point is None
        self.lines = [ln if isinstance(ln, LineRequest) else LineRequest(*ln) for ln in lines]

        seen: set[int] = set()
        self.cands: list[Candidate] = []
        self.excluded: list[dict[str, Any]] = []
        for c in candidates:
            if c.id in seen:
                continue
            seen.add(c.id)
            if c.kind == "store" and not allow_stores:
                self.excluded.append(
                    {"warehouse_id": c.id, "code": c.code, "reason": "store: this channel does not ship from stores"}
                )
                continue
            self.cands.append(c)
        n = len(self.cands)
        cands = self.cands
        self.wid = wid = [c.id for c in cands]
        self.rank = [c.preference_rank for c in cands]
        self.dist = _distances(self.point, cands)
        # What "near" means when ordering picks inside a chosen set: km, or the channel rank without them.
        unknown = model.unknown_distance_km
        if self.by_rank:
            self.basis = [float(r) for r in self.rank]
        else:
            self.basis = [unknown if d is None else d for d in self.dist]

        # Demand per product, and what all candidates together can give: the rest is short.
        need: dict[int, int] = {}
        for ln in self.lines:
            if ln.quantity > 0:
                need[ln.product_id] = need.get(ln.product_id, 0) + ln.quantity
        self.avail: dict[int, list[int]] = {}
        get = available.get
        for pid in need:
            row = [get((pid, w), 0) or 0 for w in wid]
            if min(row, default=0) < 0:
                row = [max(0, q) for q in row]  # a negative balance is an error elsewhere, not stock here
            self.avail[pid] = row
        totals = {pid: sum(row) for pid, row in self.avail.items()}
        self.products = [pid for pid in need if totals[pid] > 0]
        self.target = [min(need[pid], totals[pid]) for pid in self.products]
        self.need_mask = (1 << len(self.products)) - 1

        # Earlier lines of a product are served first; what is left over is short.
        left = {pid: self.target[i] for i, pid in enumerate(self.products)}
        self.deliver: list[tuple[int, int, int]] = []  # (line_no, product, quantity to ship)
        self.short: dict[int, int] = {}
        for ln in self.lines:
            if ln.quantity <= 0:
                continue
            q = min(ln.quantity, left.get(ln.product_id, 0))
            if q:
                left[ln.product_id] -= q
                self.deliver.append((ln.line_no, ln.product_id, q))
            if q < ln.quantity:
                self.short[ln.line_no] = self.short.get(ln.line_no, 0) + ln.quantity - q
        self.units_total = sum(q for _, _, q in self.deliver)
        # Bigger lines are placed first so that the small ones fill the gaps instead of forcing a split.
        self.assign_order = sorted(self.deliver, key=lambda d: (-d[2], d[0]))

        # Per candidate: stock capped at the target (more does not help), and bit masks of the
        # products it holds fully / at all. Built a product at a time: ten rows beat 64 columns.
        full = [0] * n
        anym = [0] * n
        capped_rows = []
        for i, pid in enumerate(self.products):
            t, bit = self.target[i], 1 << i
            row = self.avail[pid]
            capped_rows.append([q if q < t else t for q in row])
            for w, q in enumerate(row):
                if q:
                    anym[w] |= bit
                    if q >= t:
                        full[w] |= bit
        self.capped_rows = capped_rows
        self.stock: list[tuple[int, ...]] = list(zip(*capped_rows, strict=True)) if capped_rows else [()] * n
        self.full, self.any = full, anym
        # A leg's lower bound (1 unit) orders the search; with per_unit_km = 0 and no rate it is exact.
        if self.by_rank:
            self.lb = [model.per_shipment + r for r in self.rank]
        elif model.rate is None:
            self.lb = [model.per_shipment + (model.per_km + model.per_unit_km) * b for b in self.basis]
        else:
            self.lb = [self.leg(w, 1) for w in range(n)]
        basis, rank, lb = self.basis, self.rank, self.lb
        self.ws = sorted((w for w in range(n) if anym[w]), key=lambda w: (lb[w], basis[w], rank[w], wid[w]))
        self._holders_cache: list[int] | None = None
        self.additive = self.by_rank or (model.rate is None and model.per_unit_km == 0)

    # pricing

    def leg(self, w: int, units: int) -> float:
        return leg_cost(self.model, self.cands[w], self.dist[w], units, self.by_rank)

    def covers(self, subset: Sequence[int]) -> bool:
        m = 0
        for w in subset:
            m |= self.full[w]
        if m == self.need_mask:
            return True
        a = 0
        for w in subset:
            a |= self.any[w]
        if a != self.need_mask:
            return False
        missing = self.need_mask & ~m
        while missing:
            low = missing & -missing
            p = low.bit_length() - 1
            missing ^= low
            if sum(self.stock[w][p] for w in subset) < self.target[p]:
                return False
        return True

    def assign(self, subset: Sequence[int]) -> Assignment | None:
        """Quantities per line from ``subset``: each line whole from the nearest warehouse of the set
        that holds it, else split nearest first. None when the set cannot fill the order."""
        order = sorted(subset, key=lambda w: (self.basis[w], self.rank[w], self.wid[w]))
        left = {(pid, w): self.avail[pid][w] for w in order for pid in self.products}
        picks: list[Pick] = []
        units: dict[int, int] = {}
        split: list[int] = []
        for line_no, pid, q in self.assign_order:
            whole = next((w for w in order if left[(pid, w)] >= q), None)
            if whole is not None:
                left[(pid, whole)] -= q
                picks.append(Pick(line_no, pid, self.wid[whole], q))
                units[whole] = units.get(whole, 0) + q
                continue
            need = q
            for w in order:
                take = min(need, left[(pid, w)])
                if take:
                    left[(pid, w)] -= take
                    picks.append(Pick(line_no, pid, self.wid[w], take))
                    units[w] = units.get(w, 0) + take
                    need -= take
                    if not need:
                        break
            if need:
                return None
            split.append(line_no)
        used = [w for w in order if units.get(w)]
        pos = {self.wid[w]: i for i, w in enumerate(used)}
        picks.sort(key=lambda p: (p.line_no, pos[p.warehouse_id]))
        return Assignment(
            warehouses=used,
            picks=picks,
            units={w: units[w] for w in used},
            cost=sum(self.leg(w, units[w]) for w in used),
            split_lines=sorted(split),
            rank_sum=sum(self.rank[w] for w in used),
            ids=tuple(sorted(self.wid[w] for w in used)),
        )

    # search

    def lower_bound_size(self) -> int:
        """No set smaller than this can cover: for each product, how many of its biggest holders it
        takes to reach the target."""
        best = 1
        for row, t in zip(self.capped_rows, self.target, strict=True):
            if max(row) >= t:
                continue
            got, k = 0, 0
            for q in sorted(row, reverse=True):
                got += q
                k += 1
                if got >= t:
                    break
            best = max(best, k)
        return best

    def best_subsets(self, start: int, stop: int) -> tuple[Assignment | None, Assignment | None]:
        for k in range(max(1, start), stop + 1):
            best: Assignment | None = None
            runner: Assignment | None = None
            for subset in itertools.combinations(self.ws, k):
                if runner is not None and self.additive and sum(self.lb[w] for w in subset) > runner.cost + 1e-9:
                    continue
                if not self.covers(subset):
                    continue
                a = self.assign(subset)
                if a is None or len(a.warehouses) < k:
                    continue  # a smaller set would have been found at an earlier size
                best, runner = _keep_two(best, runner, a)
            if best is not None:
                return best, runner
        return None, None

    def _holders(self) -> list[int]:
        """Per product, a bit mask over positions in ``ws`` (lower-bound order) of who holds any of it.
        A warehouse that completes a partial cover must hold every product still missing, so an AND
        of these masks leaves only the few worth checking, already in cost order."""
        if self._holders_cache is None:
            holders = [0] * len(self.products)
            for i, w in enumerate(self.ws):
                bit, m = 1 << i, self.any[w]
                while m:
                    low = m & -m
                    holders[low.bit_length() - 1] |= bit
                    m ^= low
            self._holders_cache = holders
        return self._holders_cache

    def _residual(self, subset: Iterable[int]) -> list[int]:
        resid = list(self.target)
        for w in subset:
            s = self.stock[w]
            resid = [r - s[p] if r > s[p] else 0 for p, r in enumerate(resid)]
        return resid

    def _completing(self, resid: Sequence[int], allowed: int) -> list[int]:
        """Positions among ``allowed`` (a mask over ``ws``) whose stock covers ``resid``, cheapest first."""
        holders, stock, ws = self._holders(), self.stock, self.ws
        needed = [p for p, r in enumerate(resid) if r]
        m = allowed
        for p in needed:
            m &= holders[p]
        out: list[int] = []
        while m:
            low = m & -m
            i = low.bit_length() - 1
            m ^= low
            s = stock[ws[i]]
            if all(s[p] >= resid[p] for p in needed):
                out.append(i)
        return out

    def best_pair(self) -> tuple[Assignment | None, Assignment | None]:
        """Every covering pair, in increasing lower-bound cost, stopping once no later pair can beat
        the runner-up (so both the winner and the runner-up are exact). One of the two must hold the
        product the fewest warehouses hold, so only those are tried first; the partner is any
        warehouse that completes the order."""
        ws, lb = self.ws, self.lb
        n = len(ws)
        if n < 2:
            return None, None
        holders = self._holders()
        pivot = min(range(len(self.products)), key=lambda p: holders[p].bit_count())
        firsts = holders[pivot]
        cheapest = lb[ws[0]]
        best: Assignment | None = None
        runner: Assignment | None = None
        bound = math.inf
        everyone = (1 << n) - 1
        done = 0  # pivot holders already tried first: their pairs are all seen
        m = firsts
        while m:
            low = m & -m
            i = low.bit_length() - 1
            m ^= low
            a = ws[i]
            la = lb[a]
            if la + cheapest > bound + 1e-9:
                break
            done |= low
            for j in self._completing(self._residual((a,)), everyone & ~done):
                b = ws[j]
                if la + lb[b] > bound + 1e-9:
                    break
                asg = self.assign((a, b))
                if asg is None or len(asg.warehouses) < 2:
                    continue
                best, runner = _keep_two(best, runner, asg)
                if runner is not None:
                    bound = runner.cost
        return best, runner

    def branch_and_bound(self, k: int, incumbent: Assignment | None, budget: int) -> tuple[Assignment | None, bool]:
        """The cheapest cover of exactly ``k`` warehouses, given that none smaller exists, and whether
        the search finished within ``budget`` nodes (if not, the answer is only the best found).

        Each level branches on the still-needed product that the fewest remaining warehouses hold
        (every cover must contain one of them), in increasing cost; a warehouse tried at a level is
        banned from its later siblings' subtrees, so each set is visited once. The last level only
        looks at warehouses that hold every missing product. A branch stops as soon as its
        lower-bound cost cannot beat the best so far."""
        ws, lb, stock = self.ws, self.lb, self.stock
        n = len(ws)
        everyone = (1 << n) - 1
        holders = self._holders()
        min_lb = lb[ws[0]] if ws else 0.0
        best = incumbent if incumbent is not None and len(incumbent.warehouses) == k else None
        bound = best.cost if best is not None else math.inf
        steps = 0
        complete = True

        def dfs(chosen: list[int], resid: list[int], partial: float, banned: int, left: int) -> None:
            nonlocal best, bound, steps, complete
            if left == 1:
                for i in self._completing(resid, everyone & ~banned):
                    w = ws[i]
                    if partial + lb[w] > bound + 1e-9:
                        return  # cheapest first: nothing later can win
                    steps += 1
                    a = self.assign([ws[c] for c in (*chosen, i)])
                    if a is not None and len(a.warehouses) == k and (best is None or a.key() < best.key()):
                        best, bound = a, a.cost
                return
            needed = [p for p, r in enumerate(resid) if r]
            pivot = min(needed, key=lambda p: (holders[p] & ~banned).bit_count())
            options = holders[pivot] & ~banned
            tried = banned
            while options:
                low = options & -options
                i = low.bit_length() - 1
                options ^= low
                w = ws[i]
                if partial + lb[w] + (left - 1) * min_lb > bound + 1e-9:
                    return
                steps += 1
                if steps > budget:
                    complete = False
                    return
                s = stock[w]
                rest = [r - s[p] if r > s[p] else 0 for p, r in enumerate(resid)]
                if any(rest):  # a set smaller than k covering the order does not exist (see caller)
                    dfs([*chosen, i], rest, partial + lb[w], tried | low, left - 1)
                    if not complete:
                        return
                tried |= low

        if k >= 1 and n:
            dfs([], list(self.target), 0.0, 0, k)
        return best, complete

    def greedy_with_local_search(self) -> Assignment:
        """Greedy set cover (most of the remaining need first, cheaper on ties), then improve."""
        chosen = self._improve(self._greedy())
        a = self.assign(chosen)
        assert a is not None  # the greedy only stops once the set covers
        return a

    def _greedy(self) -> list[int]:
        rem = list(self.target)
        inv = [1.0 / t for t in self.target]
        chosen: list[int] = []
        pool = list(self.ws)
        stock = self.stock
        while any(rem):
            needed = [p for p, r in enumerate(rem) if r]
            best_w, best_gain = -1, -1.0
            for w in pool:
                s = stock[w]
                gain = 0.0
                for p in needed:
                    q, r = s[p], rem[p]
                    gain += (q if q < r else r) * inv[p]
                # pool is in cost order, so a strictly larger gain is needed to take a dearer one
                if gain > best_gain + 1e-12:
                    best_w, best_gain = w, gain
            chosen.append(best_w)
            pool.remove(best_w)
            s = stock[best_w]
            rem = [r - s[p] if r > s[p] else 0 for p, r in enumerate(rem)]
        return chosen

    def _set_cost(self, subset: Sequence[int]) -> float:
        if self.additive:
            return sum(self.lb[w] for w in subset)
        a = self.assign(subset)
        return math.inf if a is None else a.cost

    def _improve(self, chosen: list[int]) -> list[int]:
        """Local search on a cover: drop a redundant warehouse, replace two by one, or swap one for a
        cheaper one, until none applies."""
        ws, lb = self.ws, self.lb
        pos = {w: i for i, w in enumerate(ws)}
        everyone = (1 << len(ws)) - 1
        chosen = list(chosen)
        for _ in range(20):  # each round makes the set smaller or cheaper; 20 is never reached in the bench
            outside = everyone
            for w in chosen:
                outside &= ~(1 << pos[w])
            # drop a warehouse the others make redundant (dearest first)
            dearest_first = sorted(chosen, key=lambda w: -lb[w])
            dropped = next((w for w in dearest_first if not any(self._residual(x for x in chosen if x != w))), None)
            if dropped is not None:
                chosen = [x for x in chosen if x != dropped]
                continue
            # replace two by one
            replaced = False
            for x, y in itertools.combinations(chosen, 2):
                rest = [w for w in chosen if w not in (x, y)]
                options = self._completing(self._residual(rest), outside)
                if options:
                    chosen = [*rest, min((ws[i] for i in options), key=lambda w: self._set_cost([*rest, w]))]
                    replaced = True
                    break
            if replaced:
                continue
            # swap one for a cheaper one
            current = self._set_cost(chosen)
            best_swap: tuple[float, list[int]] | None = None
            for x in chosen:
                rest = [w for w in chosen if w != x]
                for i in self._completing(self._residual(rest), outside):
                    w = ws[i]
                    if self.additive and lb[w] >= lb[x]:
                        break  # cheapest first: no cheaper replacement for x
                    c = self._set_cost([*rest, w])
                    if c < current - 1e-9 and (best_swap is None or c < best_swap[0]):
                        best_swap = (c, [*rest, w])
            if best_swap is None:
                break
            chosen = best_swap[1]
        return chosen

    # explaining

    def to_plan(self, best: Assignment | None, runner: Assignment | None, method: str, *, optimal: bool) -> Plan:
        explanation = explain(self, best, runner, method, optimal)
        short = dict(self.short)
        return Plan(picks=list(best.picks) if best else [], short=short, explanation=explanation)


def _keep_two(
    best: Assignment | None, runner: Assignment | None, a: Assignment
) -> tuple[Assignment | None, Assignment | None]:
    if best is None or a.key() < best.key():
        return a, best
    if runner is None or a.key() < runner.key():
        return best, a
    return best, runner
