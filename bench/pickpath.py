"""Pick paths: tour length of oms's pick path against the optimum and against S-shape.

Random pick lists of 5 to 50 picks in a 10-aisle warehouse (aisles 3 m apart, 30 m long, depot at
the front of the first aisle). For every list it computes the tour of ``optimal_tour``
(Ratliff-Rosenthal), the S-shape tour, and, as the reference it is measured against:

- up to 12 picks: Held-Karp, an exact solver of another kind (dynamic programming over subsets of
  picks, knowing the warehouse only through shortest-walk distances);
- beyond: no independent exact solver finishes in time, so the Ratliff-Rosenthal tour is the
  optimum (it is exact by construction), and it is cross-checked against 2-opt + or-opt local search
  started from the S-shape order: a local search tour shorter than it would prove it wrong.

See bench/PICKPATH.md. The last line printed is one JSON object:
``{"avg_gap_pct": .., "s_shape_gap_pct": ..}``
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import sys
import time
from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table

from oms.picking.layout import Layout
from oms.picking.pickpath import HELD_KARP_MAX, held_karp, optimal_tour, s_shape, tour_length

SIZES = (5, 8, 10, 12, 15, 20, 30, 40, 50)
AISLES, SPACING_M, LENGTH_M = 10, 3.0, 30.0
FLOOR_GAP_PCT = 3.0
EPS = 1e-6

out = Console() if Console().is_terminal else Console(width=140)
log = Console(stderr=True) if Console(stderr=True).is_terminal else Console(stderr=True, width=120)


@dataclass
class Row:
    picks: int
    optimum_m: list[float] = field(default_factory=list)
    ours_m: list[float] = field(default_factory=list)
    s_shape_m: list[float] = field(default_factory=list)
    local_m: list[float] = field(default_factory=list)  # local search lengths, on the lists it ran on
    local_opt_m: list[float] = field(default_factory=list)  # the optimum of those same lists
    ours_ms: list[float] = field(default_factory=list)
    s_shape_ms: list[float] = field(default_factory=list)
    held_karp: bool = False
    failures: list[str] = field(default_factory=list)

    def gaps(self, lengths: list[float], optimum: list[float] | None = None) -> list[float]:
        return [100 * (a - o) / o for a, o in zip(lengths, optimum or self.optimum_m, strict=True) if o > 0]


def random_picks(rng: random.Random, n: int) -> list[tuple[int, float]]:
    """Bins spread uniformly over the racks: any aisle, anywhere along it clear of the cross aisles."""
    return [(rng.randrange(AISLES), round(rng.uniform(0.5, LENGTH_M - 0.5), 2)) for _ in range(n)]


def local_search(layout: Layout, picks: list[tuple[int, float]], start: tuple[int, ...]) -> float:
    """2-opt and or-opt (moving runs of 1-3 stops), first improvement, until neither improves.
    Runs over distinct locations with the depot as stop 0."""
    spots = list(dict.fromkeys(picks[i] for i in start))
    n = len(spots) + 1
    d = [[0.0] * n for _ in range(n)]
    for i, p in enumerate(spots, 1):
        d[0][i] = d[i][0] = layout.depot_distance(p)
        for j, q in enumerate(spots, 1):
            d[i][j] = layout.distance(p, q)
    tour = list(range(n)) + [0]
    improved = True
    while improved:
        improved = False
        for i in range(1, n - 1):
            for j in range(i + 1, n):
                a, b, c, e = tour[i - 1], tour[i], tour[j], tour[j + 1]
                if d[a][c] + d[b][e] < d[a][b] + d[c][e] - EPS:
                    tour[i : j + 1] = tour[i : j + 1][::-1]
                    improved = True
        for run in (1, 2, 3):
            i = 1
            while i + run <= n:  # the run tour[i : i + run] stays clear of the depot at both ends
                seg = tour[i : i + run]
                prev, nxt = tour[i - 1], tour[i + run]
                gain = d[prev][seg[0]] + d[seg[-1]][nxt] - d[prev][nxt]
                rest = tour[:i] + tour[i + run :]
                best, where, flip = EPS, None, False
                for k in range(len(rest) - 1):
                    u, v = rest[k], rest[k + 1]
                    for rev in (False, True):
                        s0, s1 = (seg[-1], seg[0]) if rev else (seg[0], seg[-1])
                        delta = gain - (d[u][s0] + d[s1][v] - d[u][v])
                        if delta > best:
                            best, where, flip = delta, k, rev
                if where is not None:
                    moved = seg[::-1] if flip else seg
                    tour = rest[: where + 1] + moved + rest[where + 1 :]
                    improved = True
                i += 1
    return sum(d[a][b] for a, b in zip(tour, tour[1:], strict=False))


def run(args: argparse.Namespace) -> list[Row]:
    layout = Layout.regular(AISLES, SPACING_M, LENGTH_M)
    rng = random.Random(args.seed)
    for _ in range(20):  # warm the interpreter's caches before timing anything
        optimal_tour(layout, random_picks(rng, 20))
    rows = []
    for size in args.sizes:
        row = Row(size, held_karp=size <= HELD_KARP_MAX)
        t0 = time.perf_counter()
        for k in range(args.lists):
            picks = random_picks(rng, size)
            # CPU time of the call: on a shared 2-core machine, wall time would mostly measure the others.
            t = time.thread_time_ns()
            ours = optimal_tour(layout, picks)
            row.ours_ms.append((time.thread_time_ns() - t) / 1e6)
            t = time.thread_time_ns()
            heuristic = s_shape(layout, picks)
            row.s_shape_ms.append((time.thread_time_ns() - t) / 1e6)
            walked = tour_length(layout, picks, ours.order)
            if abs(walked - ours.length_m) > EPS:
                row.failures.append(
                    f"{size} picks: the walking order is {walked:.3f} m, the tour says {ours.length_m:.3f}"
                )
            if row.held_karp:
                optimum = held_karp(layout, picks).length_m
                gc.collect()  # Held-Karp's tables would otherwise trigger a collection inside a timed call
                if ours.length_m > optimum + EPS:
                    row.failures.append(f"{size} picks: {ours.length_m:.3f} m against Held-Karp's {optimum:.3f}")
            else:
                optimum = ours.length_m
                if k < args.local_search:
                    found = local_search(layout, picks, heuristic.order)
                    row.local_m.append(found)
                    row.local_opt_m.append(optimum)
                    if found < optimum - EPS:
                        row.failures.append(
                            f"{size} picks: local search found {found:.3f} m, shorter than {optimum:.3f}"
                        )
            row.optimum_m.append(optimum)
            row.ours_m.append(ours.length_m)
            row.s_shape_m.append(heuristic.length_m)
        log.print(f"{size:>3} picks: {args.lists} lists in {time.perf_counter() - t0:.1f} s")
        rows.append(row)
    return rows


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(rows: list[Row]) -> dict[str, float]:
    title = f"Pick path length, {AISLES} aisles x {LENGTH_M:g} m, {SPACING_M:g} m apart, depot at the first aisle"
    table = Table(title=title)
    for name in ("picks", "lists", "optimum m", "optimum by", "gap %", "S-shape m", "S-shape gap %", "2-opt gap %"):
        table.add_column(name, justify="right")
    for name in ("CPU p50 ms", "CPU p99 ms", "S-shape p50 ms"):
        table.add_column(name, justify="right")
    for r in rows:
        local = f"{statistics.mean(r.gaps(r.local_m, r.local_opt_m)):.2f} ({len(r.local_m)})" if r.local_m else "-"
        table.add_row(
            str(r.picks),
            str(len(r.optimum_m)),
            f"{statistics.mean(r.optimum_m):.1f}",
            "Held-Karp" if r.held_karp else "RR",
            f"{statistics.mean(r.gaps(r.ours_m)):.3f}" if r.held_karp else "-",
            f"{statistics.mean(r.s_shape_m):.1f}",
            f"{statistics.mean(r.gaps(r.s_shape_m)):.2f}",
            local,
            f"{pct(r.ours_ms, 0.5):.3f}",
            f"{pct(r.ours_ms, 0.99):.3f}",
            f"{pct(r.s_shape_ms, 0.5):.3f}",
        )
    out.print(table)
    checked = [g for r in rows if r.held_karp for g in r.gaps(r.ours_m)]
    every_ms = [ms for r in rows for ms in r.ours_ms]
    figures = {
        "avg_gap_pct": round(statistics.mean(checked), 4) if checked else float("nan"),
        "s_shape_gap_pct": round(statistics.mean(g for r in rows for g in r.gaps(r.s_shape_m)), 2),
    }
    out.print(
        f"Our tour vs Held-Karp over {len(checked)} lists of <= {HELD_KARP_MAX} picks: "
        f"average gap {figures['avg_gap_pct']:.4f} %, largest {max(checked, default=0):.4f} %."
    )
    out.print(f"CPU time per path, all sizes: p50 {pct(every_ms, 0.5):.3f} ms, p99 {pct(every_ms, 0.99):.3f} ms.")
    verdict = "within" if checked and figures["avg_gap_pct"] <= FLOOR_GAP_PCT else "OUTSIDE"
    out.print(f"Average gap {verdict} the floor of {FLOOR_GAP_PCT:g} %.")
    return figures


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="the whole run in under a minute")
    p.add_argument("--lists", type=int, help="random pick lists per size (default 1000, quick 200)")
    p.add_argument(
        "--local-search",
        type=int,
        help="lists per size above 12 picks checked by local search (default all, quick 25)",
    )
    p.add_argument("--sizes", type=lambda s: [int(v) for v in s.split(",")], default=list(SIZES))
    p.add_argument("--seed", type=int, default=20260101)
    args = p.parse_args(argv)
    if args.lists is None:
        args.lists = 200 if args.quick else 1000
    if args.local_search is None:
        args.local_search = 25 if args.quick else args.lists
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rows = run(args)
    figures = report(rows)
    failures = [f for r in rows for f in r.failures]
    for f in failures[:10]:
        out.print(f"[red]NOT OPTIMAL[/red] {f}")
    print(json.dumps(figures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
