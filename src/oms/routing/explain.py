"""The JSON explanation of a routing decision: the strategy and cost model, every candidate with
what it can cover and its score alone, the chosen set and the runner-up with their legs, and a
sentence saying why. Pure, like ``oms.routing.search``, whose search context it reads."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from oms.routing.search import Assignment, Context


def _label(ctx: Context, w: int) -> str:
    if ctx.by_rank:
        return f"{ctx.cands[w].code} (rank {ctx.rank[w]})"
    d = ctx.dist[w]
    return f"{ctx.cands[w].code} ({'unknown distance' if d is None else f'{d:,.0f} km'})"


def _describe_set(ctx: Context, a: Assignment) -> str:
    n = len(a.warehouses)
    what = "single shipment" if n == 1 else f"{n} shipments"
    return f"{what} from " + " + ".join(_label(ctx, w) for w in a.warehouses)


def explain(ctx: Context, best: Assignment | None, runner: Assignment | None, method: str, optimal: bool) -> dict:
    strategy = "channel_preference_fallback" if ctx.by_rank else "fewest_shipments_then_distance"
    out: dict[str, Any] = {
        "strategy": strategy,
        "method": method,
        "optimal": optimal,
        "destination": ctx.dest_shown,
        "cost_model": ctx.model.describe() if not ctx.by_rank else _rank_model(ctx),
    }
    if ctx.no_dest_reason:
        out["fallback_reason"] = f"{ctx.no_dest_reason}; ranked by the channel's warehouse order instead"
    out["candidates"] = _candidates(ctx)
    out["score_meaning"] = "score: cost of this warehouse shipping the whole order alone"
    if ctx.excluded:
        out["excluded"] = ctx.excluded
    if best is not None:
        out["chosen"] = _set_dict(ctx, best)
    else:
        out["chosen"] = None
    if runner is not None:
        out["runner_up"] = _set_dict(ctx, runner)
    if ctx.short:
        out["short"] = [{"line_no": ln, "quantity": q} for ln, q in sorted(ctx.short.items())]
    out["why"] = _why(ctx, best, runner, method, optimal)
    return out


def _candidates(ctx: Context) -> list[dict[str, Any]]:
    """Every candidate, cheapest alone first: what it can cover and its cost shipping everything."""
    n = len(ctx.cands)
    can_cover: list[list[int]] = [[] for _ in range(n)]
    for ln, pid, q in sorted(ctx.deliver):
        for w, have in enumerate(ctx.avail[pid]):
            if have >= q:
                can_cover[w].append(ln)
    units = ctx.units_total or 1
    single = ctx.lb if ctx.additive else [ctx.leg(w, units) for w in range(n)]
    need, full, dist = ctx.need_mask, ctx.full, ctx.dist
    order = sorted(range(n), key=lambda w: (single[w], ctx.rank[w], ctx.wid[w]))
    return [
        {
            "warehouse_id": ctx.cands[w].id,
            "code": ctx.cands[w].code,
            "kind": ctx.cands[w].kind,
            "preference_rank": ctx.cands[w].preference_rank,
            "distance_km": None if dist[w] is None else round(dist[w], 1),
            "can_cover_lines": can_cover[w],
            "covers_whole_order": bool(need) and full[w] == need,
            "score": round(single[w], 2),
        }
        for w in order
    ]


def _rank_model(ctx: Context) -> dict[str, Any]:
    formula = "sum over shipments of per_shipment + preference_rank"
    return {"formula": formula, "per_shipment": ctx.model.per_shipment}


def _versus(ctx: Context, best: Assignment, runner: Assignment) -> str:
    other = " + ".join(_label(ctx, w) for w in runner.warehouses)
    if round(best.cost, 6) == round(runner.cost, 6):
        return f"ties with {other} on score, and wins on {_tie_reason(best, runner)}"
    return f"beats {other}"


def _set_dict(ctx: Context, a: Assignment) -> dict[str, Any]:
    return {
        "warehouse_ids": [ctx.wid[w] for w in a.warehouses],
        "codes": [ctx.cands[w].code for w in a.warehouses],
        "shipments": len(a.warehouses),
        "score": round(a.cost, 2),
        "split_lines": a.split_lines,
        "legs": [
            {
                "warehouse_id": ctx.wid[w],
                "code": ctx.cands[w].code,
                "distance_km": None if ctx.dist[w] is None else round(ctx.dist[w], 1),
                "units": a.units[w],
                "cost": round(ctx.leg(w, a.units[w]), 2),
            }
            for w in a.warehouses
        ],
    }


def _why(ctx: Context, best: Assignment | None, runner: Assignment | None, method: str, optimal: bool) -> str:
    prefix = "no destination, so the channel's order stands in for distance: " if ctx.by_rank else ""
    if best is None:
        if ctx.short:
            return "no eligible warehouse holds any of the ordered stock: every line is short"
        return "nothing to ship"
    short = f"; {sum(ctx.short.values())} unit(s) short on line(s) {sorted(ctx.short)}" if ctx.short else ""
    if len(best.warehouses) == 1:
        w = best.warehouses[0]
        if runner is None:
            verdict = f"{_describe_set(ctx, best)}: the only warehouse that holds the whole order"
        else:
            verdict = f"{_describe_set(ctx, best)} {_versus(ctx, best, runner)}"
        # Name the nearest warehouse passed over, so "why not the closer one?" is answered too.
        nearer = [x for x in ctx.ws if ctx.basis[x] < ctx.basis[w] and ctx.full[x] != ctx.need_mask]
        also = ""
        if nearer:
            x = min(nearer, key=lambda x: ctx.basis[x])
            lines = [ln for ln, pid, q in ctx.deliver if ctx.avail[pid][x] >= q]
            holds = f"holds only line(s) {lines}" if lines else "holds no whole line"
            also = f"; {'preferred' if ctx.by_rank else 'nearer'} {_label(ctx, x)} {holds}"
        return f"{prefix}{verdict}{also}{short}"
    head = f"{prefix}no single warehouse holds the whole order; {_describe_set(ctx, best)} (score {best.cost:,.0f})"
    if runner is not None:
        tail = f" {_versus(ctx, best, runner)} (score {runner.cost:,.0f})"
    elif not optimal:
        tail = " is the best set found within the search budget"
    elif method == "branch_and_bound":
        tail = " is the cheapest set of that size that covers it"
    else:
        tail = " is the only set of that size that covers it"
    splits = f"; line(s) {best.split_lines} split" if best.split_lines else ""
    return head + tail + splits + short


def _tie_reason(best: Assignment, runner: Assignment) -> str:
    if len(best.split_lines) != len(runner.split_lines):
        return "fewer split lines"
    if best.rank_sum != runner.rank_sum:
        return "the channel's preference order"
    return "lowest warehouse id"
