"""Cost-based routing ("zone skipping"): which warehouses ship an order, and why. Pure: plain data
in, a ``rules.Plan`` out; no database, no framework.

The rule, in order:

1. Fewest shipments. One warehouse that holds the whole order always beats any split, however far
   it is; lines are split across warehouses only when no smaller set of warehouses can fill them.
2. Then the lowest cost. A plan's cost is the sum of its shipments' costs, and one shipment from
   warehouse ``w`` carrying ``u`` units to a point ``d_w`` km away (great circle) costs::

       per_shipment + per_km * d_w + per_unit_km * u * d_w

   ``per_shipment`` is a handling cost per parcel. It is large by default so that the score reads
   as "shipments first", but the planner compares (shipments, cost) lexicographically, so rule 1
   holds whatever the numbers. With the default ``per_unit_km = 0`` a plan's cost depends only on
   which warehouses ship; set it above zero to make units from far away cost more too. Once
   carriers exist, ``CostModel.rate`` replaces the distance part with a rate estimate.
3. Ties: fewer split lines, then the channel's preference order (sum of ranks), then warehouse
   ids, so the same input always gives the same plan.

Stock that no warehouse has makes lines short (a backorder); everything else is still planned.
Lines of one product draw on the same stock, and earlier lines are served first, as in
``rules.plan_by_preference``.

When the destination could not be geocoded the distance is replaced by the channel's preference
rank (rank 0 "costs" 0 km, rank 1 costs 1, ...), so the plan is still the fewest shipments, now from
the channel's favourite warehouses, and the explanation records why.

Search (``plan_by_cost``), all of it over bit masks of products and small tuples of stock:

- one warehouse that covers everything: all are priced, the cheapest wins (exact);
- otherwise, with at most ``exact_limit`` warehouses that hold any of the stock: every subset, by
  increasing size, stopping at the first size that covers (exact);
- otherwise every pair that can cover, cheapest first, stopping as soon as no later pair can win
  (exact when two shipments suffice);
- otherwise a greedy set cover, improved by local search (drop one, replace two by one, swap one
  for a cheaper one), gives a first plan; then branch and bound over sets of each size from a lower
  bound up proves it optimal or finds the better one (exact unless it runs out of its node
  ``budget``, and then the plan says ``"optimal": false``).

The bench (``bench/routing.py``) measures the time of each and the gap to the optimum.
``exhaustive_plan`` is the reference: it tries every subset and is used by the tests and the bench.

The search itself (``Context``, ``Assignment``) is in ``oms.routing.search``; this module decides
which search to run and keeps the cost model.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from oms.routing.geocode import haversine_km
from oms.routing.rules import LineRequest, Pick, Plan, Planner
from oms.routing.search import Assignment, Context, leg_cost, locate_destination

# Context and Assignment were defined here before the search moved to oms.routing.search.
__all__ = [
    "BNB_BUDGET",
    "DEFAULT_COST_MODEL",
    "EXACT_LIMIT",
    "Assignment",
    "Candidate",
    "Context",
    "CostModel",
    "Destination",
    "Kind",
    "RateFn",
    "exhaustive_plan",
    "make_planner",
    "plan_by_cost",
    "plan_cost",
]
Kind = Literal["warehouse", "store"]

EXACT_LIMIT = 12
"""Up to this many stocked candidates the planner enumerates subsets (at most C(12, 6) = 924 per
size); beyond it, singles and pairs stay exact and larger sets use the heuristic."""

BNB_BUDGET = 1000
"""Nodes the branch and bound may visit for orders that need three or more shipments. The bench's
orders need at most ~200; a node costs ~5 microseconds, so an order that needs five or six shipments
out of 64 warehouses stops after ~5 ms with the best plan found, marked not proven optimal."""


@dataclass(frozen=True)
class Candidate:
    """A warehouse or store that may ship the order. Inactive and ineligible ones are simply not
    passed: the channel's rules are applied before the scorer is called."""

    id: int
    code: str
    latitude: float | None
    longitude: float | None
    kind: Kind = "warehouse"
    preference_rank: int = 0  # the channel's order, 0 first


RateFn = Callable[[Candidate, "float | None", int], float]
"""(shipping warehouse, distance in km or None when unknown, units) -> cost of that leg, without the
per-shipment handling cost. Must not fall as units grow: the search bounds a leg by its 1-unit cost."""


@dataclass(frozen=True)
class CostModel:
    per_shipment: float = 1000.0
    per_km: float = 1.0
    per_unit_km: float = 0.0
    unknown_distance_km: float = 20_037.5
    """A candidate without coordinates is priced as if half the world away: used only when needed."""
    rate: RateFn | None = None

    def leg(self, candidate: Candidate, distance_km: float | None, units: int) -> float:
        if self.rate is not None:
            return self.per_shipment + self.rate(candidate, distance_km, units)
        d = self.unknown_distance_km if distance_km is None else distance_km
        return self.per_shipment + self.per_km * d + self.per_unit_km * units * d

    def describe(self) -> dict[str, Any]:
        return {
            "formula": "sum over shipments of per_shipment + per_km*km + per_unit_km*units*km",
            "per_shipment": self.per_shipment,
            "per_km": self.per_km,
            "per_unit_km": self.per_unit_km,
            "rate": getattr(self.rate, "__name__", repr(self.rate)) if self.rate is not None else None,
        }


DEFAULT_COST_MODEL = CostModel()


Destination = Any
"""A ``geocode.Geocode`` (or anything with ``latitude`` and ``longitude``), a ``(lat, lon)`` pair,
a ``geocode.NoMatch`` (anything with ``reason``), or None."""


# --- the decision -----------------------------------------------------------------------------


def plan_by_cost(
    lines: Sequence[LineRequest | tuple[int, int, int]],
    candidates: Sequence[Candidate | tuple[Any, ...]],
    available: Mapping[tuple[int, int], int],
    destination: Destination,
    *,
    allow_stores: bool = False,
    cost_model: CostModel = DEFAULT_COST_MODEL,
    exact_limit: int = EXACT_LIMIT,
    budget: int = BNB_BUDGET,
) -> Plan:
    """The plan for the whole order: fewest shipments, then lowest cost (module docstring).

    ``exact_limit`` and ``budget`` trade time for proof of optimality; ``explanation["optimal"]``
    says whether this plan is proven optimal."""
    ctx = Context(lines, [_candidate(c) for c in candidates], available, destination, allow_stores, cost_model)
    if not ctx.need_mask:
        return ctx.to_plan(None, None, "nothing_to_ship", optimal=True)

    singles = [w for w in ctx.ws if ctx.full[w] == ctx.need_mask]
    if singles:
        ranked = sorted(singles, key=lambda w: (round(ctx.leg(w, ctx.units_total), 6), ctx.rank[w], ctx.wid[w]))
        best = ctx.assign([ranked[0]])
        runner = ctx.assign([ranked[1]]) if len(ranked) > 1 else None
        return ctx.to_plan(best, runner, "single", optimal=True)

    if len(ctx.ws) <= exact_limit:
        best, runner = ctx.best_subsets(ctx.lower_bound_size(), len(ctx.ws))
        return ctx.to_plan(best, runner, "exact_subsets", optimal=True)

    smallest = ctx.lower_bound_size()
    if smallest <= 2:
        best, runner = ctx.best_pair()
        if best is not None:
            return ctx.to_plan(best, runner, "pairs", optimal=True)
        smallest = 3  # the pair search was exhaustive: no two warehouses cover the order

    # Three or more shipments: a greedy cover gives an upper bound on the size and a first price;
    # branch and bound then looks for a cover of each size from the lower bound up, within a budget.
    greedy = ctx.greedy_with_local_search()
    for k in range(smallest, len(greedy.warehouses) + 1):
        best, complete = ctx.branch_and_bound(k, greedy, budget)
        if best is not None:
            return ctx.to_plan(best, None, "branch_and_bound", optimal=complete)
        if not complete:
            break
    return ctx.to_plan(greedy, None, "greedy_local_search", optimal=False)


def exhaustive_plan(
    lines: Sequence[LineRequest | tuple[int, int, int]],
    candidates: Sequence[Candidate | tuple[Any, ...]],
    available: Mapping[tuple[int, int], int],
    destination: Destination,
    *,
    allow_stores: bool = False,
    cost_model: CostModel = DEFAULT_COST_MODEL,
    max_size: int | None = None,
) -> Plan | None:
    """The true optimum by brute force: every subset of the stocked candidates, smallest first, each
    checked by summing its stock and priced by the same quantity assignment as ``plan_by_cost``.
    With ``max_size`` it gives up (None) when no subset of at most that many warehouses covers the
    order. For tests and the bench: C(n, k) subsets, so keep n small or ``max_size`` low."""
    ctx = Context(lines, [_candidate(c) for c in candidates], available, destination, allow_stores, cost_model)
    if not ctx.need_mask:
        return ctx.to_plan(None, None, "nothing_to_ship", optimal=True)
    top = len(ctx.ws) if max_size is None else min(max_size, len(ctx.ws))
    checked = 0
    for k in range(1, top + 1):
        found: list[Assignment] = []
        for subset in itertools.combinations(ctx.ws, k):
            checked += 1
            covers = all(sum(ctx.stock[w][p] for w in subset) >= ctx.target[p] for p in range(len(ctx.products)))
            if covers:
                a = ctx.assign(list(subset))
                if a is not None:
                    found.append(a)
        if found:
            found.sort(key=Assignment.key)
            plan = ctx.to_plan(found[0], found[1] if len(found) > 1 else None, "exhaustive", optimal=True)
            plan.explanation["subsets_checked"] = checked
            return plan
    return None


def make_planner(
    candidates: Sequence[Candidate | tuple[Any, ...]],
    destination: Destination,
    *,
    allow_stores: bool = False,
    cost_model: CostModel = DEFAULT_COST_MODEL,
) -> Planner:
    """Adapter to ``rules.Planner`` ``(lines, eligible ids in preference order, available) -> Plan``.

    The orders service already knows the eligible warehouses in the channel's order; the adapter
    takes the rest (coordinates, kind, destination, costs) once per order. Ids in the eligible list
    decide who may ship and their rank; a candidate not in the list is ignored, and an eligible id
    without a ``Candidate`` is priced as a warehouse with unknown coordinates."""
    by_id = {c.id: c for c in map(_candidate, candidates)}

    def planner(
        lines: Sequence[LineRequest], warehouse_ids: Sequence[int], available: Mapping[tuple[int, int], int]
    ) -> Plan:
        eligible = [
            replace(by_id.get(w) or Candidate(w, str(w), None, None), preference_rank=i)
            for i, w in enumerate(warehouse_ids)
        ]
        return plan_by_cost(lines, eligible, available, destination, allow_stores=allow_stores, cost_model=cost_model)

    return planner


def plan_cost(
    picks: Iterable[Pick],
    candidates: Sequence[Candidate | tuple[Any, ...]],
    destination: Destination,
    cost_model: CostModel = DEFAULT_COST_MODEL,
) -> tuple[int, float]:
    """(shipments, cost) of a plan's picks, recomputed from scratch: for tests and the bench, so a
    reported score is checked against the picks and not trusted."""
    point, _, _ = locate_destination(destination)
    by_id = {c.id: c for c in map(_candidate, candidates)}
    units: dict[int, int] = {}
    for p in picks:
        units[p.warehouse_id] = units.get(p.warehouse_id, 0) + p.quantity
    total = 0.0
    for wid, u in units.items():
        c = by_id[wid]
        total += leg_cost(cost_model, c, _distance(point, c), u, point is None)
    return len(units), total


# --- internals ----------------------------------------------------------------------------------


def _candidate(c: Candidate | tuple[Any, ...]) -> Candidate:
    """Candidates may come as plain tuples ``(id, code, lat, lon, kind, preference_rank)``."""
    return c if isinstance(c, Candidate) else Candidate(*c)


def _distance(point: tuple[float, float] | None, c: Candidate) -> float | None:
    if point is None or c.latitude is None or c.longitude is None:
        return None
    return haversine_km(point[0], point[1], c.latitude, c.longitude)
