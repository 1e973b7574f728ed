"""Picking scans over HTTP: how many barcode scans per second `oms serve` checks on PostgreSQL.

Starts a PostgreSQL-backed ``oms serve --workers 2``, seeds a warehouse with bins, products with
GTIN barcodes and stock, places orders and starts a pick list for each, then loads
``POST /api/v1/pick-lists/{id}/scans`` with wrk at 1, 8 and 32 concurrent connections: each
connection walks its own pick lists as a picker does, the bin, then the item's barcode, then the
quantity, task after task. In the same run it measures pgbench's TPC-B tps on the same PostgreSQL.
See bench/README.md.

The last line printed is one JSON object with the 32-connection figures:
``{"scans_per_s": .., "p50_ms": .., "p99_ms": .., "pgbench_tps": .., "ratio": ..}``
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from orders_http import (  # the orders benchmark's plumbing: same server, same probes, same report
    CpuProbe,
    Level,
    begin,
    checkpoint,
    clean_up,
    finish_args,
    http_bench_args,
    log,
    oms_env,
    out,
    print_headline,
    print_levels,
    run_pgbench,
    start_oms,
    step,
    stop_server,
    wrk_level,
)

HERE = Path(__file__).resolve().parent
LUA = HERE / "wrk" / "scans.lua"
WAREHOUSE, CHANNEL = "SCAN1", "bench-scan"
AISLES, BINS_PER_AISLE = 10, 20
LINES_PER_ORDER = 3


def gtin13(i: int) -> str:
    """A valid EAN-13 in the in-store '200' range for product number i."""
    body = f"200{i:09d}"
    total = sum(int(d) * (3 if n % 2 else 1) for n, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


def sku(i: int) -> str:
    return f"SCAN-{i:04d}"


# -- seeding through the API -----------------------------------------------------------------------


class Seeder:
    def __init__(self, base_url: str, token: str) -> None:
        self.api = httpx.Client(
            base_url=f"{base_url}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=120
        )

    def post(self, path: str, body: dict[str, Any], ok: tuple[int, ...] = (201,)) -> httpx.Response:
        r = self.api.post(path, json=body)
        if r.status_code not in ok:
            raise RuntimeError(f"seeding: POST {path} answered {r.status_code}: {r.text[:500]}")
        return r

    def business(self, products: int) -> None:
        """One warehouse of AISLES x BINS_PER_AISLE bins, a channel, products each in its own bin."""
        address = {"line1": "1 Dock Road", "city": "Newark", "region": "NJ", "postal_code": "07105", "country": "US"}
        self.post("/warehouses", {"code": WAREHOUSE, "name": "Bench scanning floor", "address": address})
        bins = [
            (f"A{a:02d}-{b:02d}", a * 3.0, 1.0 + b * 1.5, f"A{a:02d}")
            for a in range(AISLES)
            for b in range(BINS_PER_AISLE)
        ]
        with ThreadPoolExecutor(8) as pool:
            list(
                pool.map(
                    lambda b: self.post(
                        f"/warehouses/{WAREHOUSE}/bins", {"code": b[0], "x_m": b[1], "y_m": b[2], "aisle": b[3]}
                    ),
                    bins,
                )
            )
        self.post(
            "/channels", {"code": CHANNEL, "name": "Bench scanning store", "kind": "web", "warehouses": [WAREHOUSE]}
        )

        def product(i: int) -> None:
            body = {"sku": sku(i), "name": f"Scan product {i}", "barcode": gtin13(i), "price": "9.00"}
            body |= {"weight_g": 300, "length_mm": 150, "width_mm": 100, "height_mm": 50}
            self.post("/products", body)

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(product, range(1, products + 1)))
        lines = [
            {"sku": sku(i), "quantity": 1_000_000, "bin": bins[(i - 1) % len(bins)][0]} for i in range(1, products + 1)
        ]
        self.post("/inventory/receipts", {"warehouse": WAREHOUSE, "reference": "bench", "lines": lines})

    def pick_lists(self, count: int, products: int) -> list[list[str]]:
        """``count`` orders of LINES_PER_ORDER lines, each started as its own pick list; for each
        list, its scans in walking order (pick list id, tab, JSON body)."""

        def walk(n: int) -> list[str]:
            skus = [sku((n * 31 + k * 67) % products + 1) for k in range(LINES_PER_ORDER)]
            lines = [
                {"sku": s, "quantity": 1 + (n + k) % 2, "unit_price": "9.00"} for k, s in enumerate(dict.fromkeys(skus))
            ]
            total = sum(line["quantity"] for line in lines) * 9
            address = {"name": f"Shopper {n}", "line1": f"{n} Main St", "city": "Newark", "region": "NJ"}
            address |= {"postal_code": "07105", "country": "US"}
            body = {"channel": CHANNEL, "customer": {"email": f"scan{n}@example.com"}, "shipping_address": address}
            body |= {"lines": lines, "currency": "USD", "payment": {"status": "paid", "amount": f"{total}.00"}}
            order = self.post("/orders", body).json()
            (pick_list,) = self.post(f"/orders/{order['id']}/pick-lists", {}).json()["pick_lists"]
            scans = []
            for task in sorted(pick_list["tasks"], key=lambda t: t["seq"]):
                # Each scan names its task, as a handheld that shows the task does.
                steps = ([{"bin": task["bin"]}] if task["bin"] else []) + [
                    {"item": task["barcode"] or task["sku"]},
                    {"quantity": task["quantity"]},
                ]
                scans += [f"{pick_list['id']}\t{json.dumps({'task_id': task['id'], **s})}" for s in steps]
            return scans

        with ThreadPoolExecutor(8) as pool:
            return list(pool.map(walk, range(count)))


# -- wrk -------------------------------------------------------------------------------------------


def run_wrk(base_url: str, token: str, walks: list[list[str]], connections: int, seconds: int, tmp: Path) -> Level:
    """Each connection gets whole pick lists, dealt round the table, in a file of its own."""
    folder = Path(tempfile.mkdtemp(prefix="scans-", dir=tmp))
    per_connection: list[list[str]] = [[] for _ in range(connections)]
    for n, walk in enumerate(walks):
        per_connection[n % connections].extend(walk)
    for n, scans in enumerate(per_connection, 1):
        # wrk asks the script for one request it never sends before it starts; the first scan of
        # each file is a bin scan, which may be repeated at any time, so it goes in twice.
        scans = scans[:1] + scans
        (folder / f"scans-{n}.txt").write_text("\n".join(scans) + "\n" if scans else "")
    cmd = ["wrk", "-t", str(connections), "-c", str(connections), "-d", f"{seconds}s", "--timeout", "10s"]
    cmd += ["-s", str(LUA), base_url, "--", token, str(folder)]
    # A connection that ran out asks for /healthz ("exhausted"): not a 201, so a failed scan.
    return wrk_level(cmd, connections)


# -- main ------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = http_bench_args(__doc__, duration=(20, 5), warmup=(3, 1))
    p.add_argument("--expect", type=int, default=250, help="scans/s to prepare pick lists for (default 250)")
    return finish_args(p, argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    url = begin(args)
    started = time.monotonic()
    server = None
    tmp = Path(tempfile.mkdtemp(prefix="oms-bench-scans-"))
    env = oms_env(url.render_as_string(hide_password=False), tmp)
    background = ThreadPoolExecutor(1)
    try:
        server, token, pgbench_ready = start_oms(args, url, env, tmp, background)
        seeder = Seeder(server.base_url, token)
        step(
            f"seeding a warehouse of {AISLES * BINS_PER_AISLE} bins, a channel, {args.products} products with barcodes"
        )
        seeder.business(args.products)
        scans_per_list = LINES_PER_ORDER * 3
        runs = [(c, args.warmup, False) for c in args.levels if args.warmup]
        runs = sorted(
            runs + [(c, args.duration, True) for c in args.levels], key=lambda r: (args.levels.index(r[0]), r[2])
        )
        # Whole pick lists per connection, twice what an even share of --expect scans/s needs: the
        # two processes seldom get the connections evenly, and a connection that runs out is a
        # failed run.
        plan = [c * math.ceil(2 * args.expect * s / c / scans_per_list) for c, s, _ in runs]
        step(f"placing {sum(plan):,} orders and starting a pick list for each")
        walks = seeder.pick_lists(sum(plan), args.products)
        step(f"  {len(walks)} pick lists, {sum(map(len, walks)):,} scans")
        pgbench_ready.result()

        probe = CpuProbe(server.proc.pid, url)
        levels: list[Level] = []
        for (c, seconds, measured), lists in zip(runs, plan, strict=True):
            mine, walks = walks[:lists], walks[lists:]
            if not measured or not args.warmup:
                checkpoint(url)  # each level starts from a checkpoint, as the orders benchmark does
            step(f"{c} connection(s): {'measuring' if measured else 'warm-up'} {seconds} s")
            before = probe.snapshot()
            lv = run_wrk(server.base_url, token, mine, c, seconds, tmp)
            if measured:
                lv.cpu = probe.spent(before)
                levels.append(lv)
                step(f"  {lv.orders_per_s:,.0f} scans/s, p50 {lv.p50_ms:.1f} ms, p99 {lv.p99_ms:.1f} ms")
        stop_server(server)  # pgbench gets the machine to itself
        server = None
        step(f"pgbench TPC-B (scale {args.pgbench_scale}): -c 32 -j 2 -T {args.pgbench_seconds} -M prepared")
        tps = run_pgbench(url, args.pgbench_database, 32, args.pgbench_seconds)
    finally:
        clean_up(args, url, server, background, tmp)

    report(args, levels, tps, time.monotonic() - started)
    print_headline(levels, tps, "scans_per_s")
    return 0


def report(args: argparse.Namespace, levels: list[Level], tps: float, wall_s: float) -> None:
    cores = os.cpu_count() or 0
    title = f"POST /api/v1/pick-lists/{{id}}/scans, oms serve --workers {args.workers}, PostgreSQL, {cores} cores"
    print_levels(levels, tps, title, "scan")
    out.print(f"pgbench TPC-B (scale {args.pgbench_scale}, 32 clients, -M prepared): {tps:,.0f} tps")
    for lv in levels:
        if lv.failed:
            out.print(
                f"[red]{lv.connections} connections: {lv.failed} of {lv.requests} requests failed[/red] {lv.statuses}"
            )
            for sample in lv.error_samples:
                out.print(f"  {sample}", highlight=False, markup=False)
    if any(lv.failed > max(10, lv.requests // 100) for lv in levels):
        out.print(
            "[bold red]INVALID RUN:[/bold red] more than 1% of the scans failed at some level (or ran out: --expect)"
        )
    out.print(f"Whole run {wall_s:.0f} s.")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        log.print("interrupted")
        sys.exit(130)
