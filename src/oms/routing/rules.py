"""Choosing the warehouses that fill an order. Pure: plain data in, a plan (with the reasons) out.

This issue's strategy is the channel's preference order. A distance- and cost-based planner
plugs in beside it with the same signature (``Planner``) and the orders service need not change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class LineRequest:
    line_no: int
    product_id: int
    quantity: int


@dataclass(frozen=True)
class Pick:
    line_no: int
    product_id: int
    warehouse_id: int
    quantity: int


@dataclass
class Plan:
    picks: list[Pick]
    short: dict[int, int]  # line_no -> quantity no eligible warehouse can cover
    explanation: dict[str, Any] = field(default_factory=dict)

    def reserved_for(self, line_no: int) -> int:
        return sum(p.quantity for p in self.picks if p.line_no == line_no)


Planner = Callable[[Sequence[LineRequest], Sequence[int], Mapping[tuple[int, int], int]], Plan]
"""(lines, eligible warehouse ids in preference order, available by (product, warehouse)) -> Plan"""


def plan_by_preference(
    lines: Sequence[LineRequest],
    warehouse_ids: Sequence[int],
    available: Mapping[tuple[int, int], int],
) -> Plan:
    """Each line from the first warehouse (in the channel's order) that can cover all of it; when
    none can alone, split it across warehouses in that order; what is left is short. Lines of the
    same product draw on the same remaining stock."""
    left = {k: max(v, 0) for k, v in available.items()}
    picks: list[Pick] = []
    short: dict[int, int] = {}
    reasons: list[str] = []
    for line in lines:
        whole = next((w for w in warehouse_ids if left.get((line.product_id, w), 0) >= line.quantity), None)
        if whole is not None:
            left[(line.product_id, whole)] -= line.quantity
            picks.append(Pick(line.line_no, line.product_id, whole, line.quantity))
            continue
        need = line.quantity
        for w in warehouse_ids:
            take = min(need, left.get((line.product_id, w), 0))
            if take > 0:
                left[(line.product_id, w)] -= take
                picks.append(Pick(line.line_no, line.product_id, w, take))
                need -= take
            if need == 0:
                break
        if need:
            short[line.line_no] = need
        reasons.append(
            f"line {line.line_no}: no single warehouse holds {line.quantity}; split"
            + (f", {need} short" if need else "")
        )
    return Plan(
        picks=picks,
        short=short,
        explanation={"strategy": "channel_preference", "warehouse_order": list(warehouse_ids), "notes": reasons},
    )
