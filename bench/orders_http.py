"""Orders over HTTP: how many orders per second `oms serve` takes on PostgreSQL, beside pgbench.

Starts a PostgreSQL-backed ``oms serve --workers 2``, seeds a business through the API, then loads
``POST /api/v1/orders`` with wrk (a load generator that costs little CPU) at 1, 8 and 32 concurrent
connections, each level after a warm-up. In the same run it measures pgbench's TPC-B tps on the same
PostgreSQL, the baseline the order rate is compared with. See bench/README.md.

The last line printed is one JSON object with the 32-connection figures:
``{"orders_per_s": .., "p50_ms": .., "p99_ms": .., "pgbench_tps": .., "ratio": ..}``
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import URL, make_url

HERE = Path(__file__).resolve().parent
LUA = HERE / "wrk" / "orders.lua"
VENV_BIN = Path(sys.executable).parent
SECRET_KEY = "bench-secret-key-not-for-production-0123456789"
ADMIN_EMAIL = "bench-admin@example.com"
SKU_PREFIX = "BENCH-"
CHANNEL = "bench-web"
STOCK_PER_SKU = 500_000  # per warehouse: far more than any run can sell, so no order is refused
FLOOR_ORDERS_PER_S, FLOOR_P99_MS, GOAL_ORDERS_PER_S = 500, 100, 1000

out = Console()  # the tables; the JSON line goes to plain stdout
if not out.is_terminal:
    out = Console(width=120)
log = Console(stderr=True)  # progress
if not log.is_terminal:
    log = Console(stderr=True, width=120)


def price_cents(i: int) -> int:
    """Price of SKU number i; bench/wrk/orders.lua follows the same rule."""
    return 500 + (i * 37) % 5000


def sku(i: int) -> str:
    return f"{SKU_PREFIX}{i:04d}"


# -- PostgreSQL ------------------------------------------------------------------------------------


def libpq_args(url: URL, database: str | None = None) -> dict[str, Any]:
    args: dict[str, Any] = {
        "host": url.host or "127.0.0.1",
        "port": url.port or 5432,
        "user": url.username or "postgres",
        "dbname": database or url.database,
    }
    if url.password:
        args["password"] = url.password
    return args


def pg_env(url: URL) -> dict[str, str]:
    """Environment for the PostgreSQL command-line tools (pgbench)."""
    env = {**os.environ, "PGHOST": url.host or "127.0.0.1", "PGPORT": str(url.port or 5432)}
    env["PGUSER"] = url.username or "postgres"
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return env


def recreate_database(url: URL, name: str, *, drop_only: bool = False) -> None:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise SystemExit(f"refusing an unusual database name: {name!r}")
    with psycopg.connect(**libpq_args(url, "postgres"), autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop_only:
            conn.execute(f'CREATE DATABASE "{name}"')


def checkpoint(url: URL) -> None:
    """Start each measurement without the previous phase's dirty pages still to be written."""
    with psycopg.connect(**libpq_args(url, "postgres"), autocommit=True) as conn:
        conn.execute("CHECKPOINT")


def init_pgbench(url: URL, database: str, scale: int) -> None:
    recreate_database(url, database)
    cmd = ["pgbench", "-i", "-q", "-s", str(scale), database]
    init = subprocess.run(cmd, env=pg_env(url), capture_output=True, text=True, check=False)
    if init.returncode != 0:
        raise RuntimeError(f"pgbench -i failed:\n{init.stderr}")


def run_pgbench(url: URL, database: str, clients: int, seconds: int) -> float:
    checkpoint(url)
    threads = min(2, clients)
    cmd = ["pgbench", "-c", str(clients), "-j", str(threads), "-T", str(seconds), "-M", "prepared", database]
    run = subprocess.run(cmd, env=pg_env(url), capture_output=True, text=True, check=False)
    if run.returncode != 0:
        raise RuntimeError(f"pgbench failed:\n{run.stdout}\n{run.stderr}")
    m = re.search(r"^tps = ([0-9.]+)", run.stdout, re.MULTILINE)
    if m is None:
        raise RuntimeError(f"no tps in pgbench output:\n{run.stdout}")
    return float(m.group(1))


# -- the server ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def oms_env(database_url: str, data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "OMS_DATABASE_URL": database_url,
        "OMS_SECRET_KEY": SECRET_KEY,
        "OMS_DATA_DIR": str(data_dir),
        "OMS_LOG_LEVEL": "warning",
        # The hot path alone: a deployment at this rate sends its emails and webhooks from
        # `oms worker` processes (README), not from the threads that take orders.
        "OMS_EMBEDDED_WORKER": "false",
    }


def oms(env: dict[str, str], *args: str) -> str:
    exe = VENV_BIN / "oms"
    cmd = [str(exe) if exe.exists() else "oms", *args]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    base_url: str
    log_path: Path

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""


def start_server(env: dict[str, str], workers: int, log_path: Path) -> Server:
    port = free_port()
    exe = VENV_BIN / "oms"
    cmd = [str(exe) if exe.exists() else "oms", "serve", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--workers", str(workers)]
    with log_path.open("wb") as fh:
        # A session of its own, so the uvicorn supervisor and its workers are stopped as one group.
        proc = subprocess.Popen(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    return Server(proc, f"http://127.0.0.1:{port}", log_path)


def wait_healthy(server: Server, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"oms serve exited with {server.proc.returncode}:\n{server.log_tail()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{server.base_url}/healthz", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"oms serve did not answer /healthz within {timeout_s:.0f} s:\n{server.log_tail()}")


def stop_server(server: Server | None) -> None:
    if server is None or server.proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.proc.pid, signal.SIGTERM)
    try:
        server.proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.proc.pid, signal.SIGKILL)
        server.proc.wait(timeout=5)


# -- seeding through the API -----------------------------------------------------------------------


def seed(base_url: str, token: str, warehouses: int, products: int) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=f"{base_url}/api/v1", headers=headers, timeout=60) as api:

        def post(path: str, body: dict[str, Any]) -> None:
            r = api.post(path, json=body)
            if r.status_code != 201:
                raise RuntimeError(f"seeding: POST {path} answered {r.status_code}: {r.text[:500]}")

        codes = [f"BW{n}" for n in range(1, warehouses + 1)]
        for n, code in enumerate(codes):
            address = {"line1": f"{n + 1} Dock Road", "city": "Newark", "region": "NJ"}
            address |= {"postal_code": "07105", "country": "US"}
            post("/warehouses", {"code": code, "name": f"Bench warehouse {code}", "address": address})
        post("/channels", {"code": CHANNEL, "name": "Bench web store", "kind": "web", "warehouses": codes})

        def product(i: int) -> None:
            cents = price_cents(i)
            body = {"sku": sku(i), "name": f"Bench product {i}", "price": f"{cents // 100}.{cents % 100:02d}"}
            body |= {"weight_g": 400, "length_mm": 200, "width_mm": 120, "height_mm": 60}
            post("/products", body)

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(product, range(1, products + 1)))
        lines = [{"sku": sku(i), "quantity": STOCK_PER_SKU} for i in range(1, products + 1)]
        for code in codes:
            for start in range(0, len(lines), 1000):
                post(
                    "/inventory/receipts",
                    {"warehouse": code, "reference": "bench", "lines": lines[start : start + 1000]},
                )


# -- statements per order (in-process, for information) -------------------------------------------


@dataclass
class SqlCount:
    orders: int
    statements: float  # as the driver sends them
    executed: float  # as PostgreSQL runs them: an executemany is one statement per row
    transactions: float  # explicit (BEGIN ... COMMIT) plus statements run in autocommit
    explicit: float  # of which explicit: each adds a BEGIN and a COMMIT round trip
    checkouts: float
    pre_ping: bool
    cpu_ms: float
    wall_ms: float
    sample: list[str] = field(default_factory=list)

    @property
    def round_trips(self) -> float:
        """Statements, plus BEGIN and COMMIT per explicit transaction, plus the pre-ping of each checkout."""
        return self.statements + 2 * self.explicit + (self.checkouts if self.pre_ping else 0)


def count_sql(database_url: str, data_dir: Path, token: str, products: int, orders: int) -> SqlCount:
    """Post a few orders through the app in this process and count what reaches the database.

    Counts every statement where it reaches psycopg (through SQLAlchemy or, as the capture does, on
    the pooled driver connection), every explicit COMMIT/ROLLBACK and every connection checkout;
    the time is one request at a time, without a network or a second process, and its CPU
    includes the test client's share."""
    import psycopg as driver
    from sqlalchemy import event

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # starlette's note about httpx, irrelevant here
        from fastapi.testclient import TestClient

    from oms.app import create_app
    from oms.config import Settings

    settings = Settings(database_url=database_url, secret_key=SECRET_KEY, data_dir=data_dir, log_level="warning")
    app = create_app(settings)
    engine = app.state.db.write_engine
    seen: list[str] = []
    counts = {"executed": 0, "ends": 0, "checkouts": 0, "autocommit": 0}

    def noted(query: Any, rows: int, autocommit: bool) -> None:
        text = query.decode() if isinstance(query, bytes) else str(query)
        counts["executed"] += rows
        counts["autocommit"] += autocommit
        seen.append((f"[x{rows}] " if rows > 1 else "") + " ".join(text.split())[:110])

    class Counting(driver.Cursor):
        # A batched multi-row INSERT ("insertmanyvalues") arrives as one execute(): one statement
        # to PostgreSQL; an executemany() is one statement per row.
        def execute(self, query, params=None, **kwargs):  # type: ignore[no-untyped-def]
            noted(query, 1, self.connection.autocommit)
            return super().execute(query, params, **kwargs)

        def executemany(self, query, params_seq, **kwargs):  # type: ignore[no-untyped-def]
            params_seq = list(params_seq)
            noted(query, len(params_seq), self.connection.autocommit)
            return super().executemany(query, params_seq, **kwargs)

    def on_end(conn):  # type: ignore[no-untyped-def]
        counts["ends"] += 1

    def on_checkout(dbapi_conn, record, proxy):  # type: ignore[no-untyped-def]
        counts["checkouts"] += 1
        dbapi_conn.cursor_factory = Counting

    rng = random.Random(7)

    def body() -> dict[str, Any]:
        a, b = rng.sample(range(1, products + 1), 2)
        lines = [(a, 1), (b, 2)]
        cents = sum(q * price_cents(i) for i, q in lines)
        amount = f"{cents // 100}.{cents % 100:02d}"
        return {
            "channel": CHANNEL,
            "customer": {"email": "count@example.com", "name": "Count"},
            "shipping_address": {
                "name": "Count",
                "line1": "1 Main St",
                "city": "Brooklyn",
                "postal_code": "11201",
                "country": "US",
            },
            "lines": [
                {"sku": sku(i), "quantity": q, "unit_price": f"{price_cents(i) // 100}.{price_cents(i) % 100:02d}"}
                for i, q in lines
            ],
            "currency": "USD",
            "payment": {"status": "paid", "amount": amount},
        }

    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(app) as client:
        for _ in range(3):  # warm the pool and the caches first
            client.post("/api/v1/orders", json=body(), headers=headers).raise_for_status()
        listeners = [
            ("commit", on_end),
            ("rollback", on_end),
            ("checkout", on_checkout),
        ]
        for name, fn in listeners:
            event.listen(engine, name, fn)
        sample: list[str] = []
        wall, cpu = time.perf_counter(), time.process_time()
        for n in range(orders):
            r = client.post("/api/v1/orders", json=body(), headers=headers)
            if r.status_code != 201:
                raise RuntimeError(f"counting statements: {r.status_code} {r.text[:300]}")
            if n == 0:
                sample = list(seen)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        for name, fn in listeners:
            event.remove(engine, name, fn)
    app.state.db.dispose()
    return SqlCount(
        orders=orders,
        statements=len(seen) / orders,
        executed=counts["executed"] / orders,
        transactions=(counts["ends"] + counts["autocommit"]) / orders,
        explicit=counts["ends"] / orders,
        checkouts=counts["checkouts"] / orders,
        pre_ping=bool(getattr(engine.pool, "_pre_ping", False)),
        cpu_ms=cpu * 1000 / orders,
        wall_ms=wall * 1000 / orders,
        sample=sample,
    )


# -- where the CPU goes ----------------------------------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def descendants(pid: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
    found, frontier = [pid], [pid]
    while frontier:
        frontier = [child for child, parent in parents.items() if parent in frontier]
        found += frontier
    return found


def machine_busy_s() -> float:
    """CPU seconds the whole machine spent busy (all cores), from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return (sum(values[:8]) - idle) / TICK


@dataclass
class CpuSnapshot:
    server: dict[int, float]
    postgres: dict[int, float]
    children_s: float
    busy_s: float


class CpuProbe:
    """CPU seconds spent, over one measured window, by the oms server processes, by the PostgreSQL
    backends serving its database, by wrk, and by everything else on the machine. Unlike the
    throughput this is meaningful even on a machine that is not quiet."""

    def __init__(self, server_pid: int, url: URL) -> None:
        self.server_pid = server_pid
        self.url = url

    def _backends(self) -> list[int]:
        with psycopg.connect(**libpq_args(self.url, "postgres"), autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND backend_type = 'client backend'",
                (self.url.database,),
            ).fetchall()
        return [r[0] for r in rows]

    def snapshot(self) -> CpuSnapshot:
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return CpuSnapshot(
            server={p: proc_cpu_s(p) for p in descendants(self.server_pid)},
            postgres={p: proc_cpu_s(p) for p in self._backends()},
            children_s=children.ru_utime + children.ru_stime,
            busy_s=machine_busy_s(),
        )

    @staticmethod
    def _delta(before: dict[int, float], after: dict[int, float]) -> float:
        return sum(max(0.0, v - before.get(p, 0.0)) for p, v in after.items())

    def spent(self, before: CpuSnapshot) -> dict[str, float]:
        after = self.snapshot()
        spent = {
            "server": self._delta(before.server, after.server),
            "postgres": self._delta(before.postgres, after.postgres),
            "wrk": after.children_s - before.children_s,
            "busy": after.busy_s - before.busy_s,
        }
        spent["other"] = max(0.0, spent["busy"] - spent["server"] - spent["postgres"] - spent["wrk"])
        return spent


# -- wrk -------------------------------------------------------------------------------------------


@dataclass
class Level:
    connections: int
    seconds: float
    requests: int
    created: int
    statuses: dict[str, int]
    socket_errors: dict[str, int]
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    error_samples: list[str]
    cpu: dict[str, float] = field(default_factory=dict)

    @property
    def orders_per_s(self) -> float:
        return self.created / self.seconds if self.seconds else 0.0

    def cpu_ms_per_order(self, part: str) -> float:
        return self.cpu.get(part, 0.0) * 1000 / self.created if self.created else 0.0

    @property
    def failed(self) -> int:
        return self.requests - self.created + sum(self.socket_errors.values())


def run_wrk(base_url: str, token: str, products: int, connections: int, seconds: int) -> Level:
    threads = min(2, connections)
    cmd = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--timeout", "10s"]
    cmd += ["-s", str(LUA), base_url, "--", token, SKU_PREFIX, str(products), CHANNEL]
    return wrk_level(cmd, connections)


def wrk_level(cmd: list[str], connections: int) -> Level:
    """Runs wrk with a script that loads bench/wrk/report.lua and reads its BENCH_RESULT line;
    ``created`` counts the 201 answers. A script's own counts (report.lua's ``extra``) come back
    as statuses too."""
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("BENCH_RESULT ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    r = json.loads(line.removeprefix("BENCH_RESULT "))
    lat = r["latency_us"]
    return Level(
        connections=connections,
        seconds=r["duration_us"] / 1e6,
        requests=r["requests"],
        created=r["statuses"].get("201", 0),
        statuses=r["statuses"] | r.get("extra", {}),
        socket_errors=r["socket_errors"],
        p50_ms=lat["p50"] / 1000,
        p95_ms=lat["p95"] / 1000,
        p99_ms=lat["p99"] / 1000,
        max_ms=lat["max"] / 1000,
        error_samples=r["error_samples"],
    )


# -- main ------------------------------------------------------------------------------------------


def http_bench_args(doc: str, duration: tuple[int, int], warmup: tuple[int, int]) -> argparse.ArgumentParser:
    """The options every HTTP benchmark takes; ``duration`` and ``warmup`` are (full, quick) seconds."""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="the whole run in under a minute")
    p.add_argument(
        "--database-url",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/oms_bench",
        help="PostgreSQL database for oms (DROPPED and re-created)",
    )
    p.add_argument("--pgbench-database", default="oms_pgbench", help="database for pgbench (dropped afterwards)")
    p.add_argument("--connections", default="1,8,32", help="concurrency levels (default 1,8,32)")
    p.add_argument("--duration", type=int, help=f"seconds per level (default {duration[0]}, quick {duration[1]})")
    p.add_argument("--warmup", type=int, help=f"warm-up seconds per level (default {warmup[0]}, quick {warmup[1]})")
    p.add_argument("--pgbench-seconds", type=int, help="pgbench run length (default 30, quick 6)")
    p.add_argument("--pgbench-scale", type=int, default=10)
    p.add_argument("--workers", type=int, default=2, help="oms serve worker processes")
    p.add_argument("--products", type=int, default=200)
    p.set_defaults(durations=(duration, warmup))
    return p


def finish_args(p: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    args = p.parse_args(argv)
    (duration, warmup), pick = args.durations, (1 if args.quick else 0)
    args.levels = [int(c) for c in args.connections.split(",") if c.strip()]
    args.duration = args.duration or duration[pick]
    args.warmup = args.warmup if args.warmup is not None else warmup[pick]
    args.pgbench_seconds = args.pgbench_seconds or (6 if args.quick else 30)
    return args


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = http_bench_args(__doc__, duration=(30, 6), warmup=(5, 2))
    p.add_argument("--warehouses", type=int, default=3)
    p.add_argument("--no-sql-count", action="store_true", help="skip counting statements per order")
    p.add_argument("--show-sql", action="store_true", help="print the statements of one order")
    p.add_argument("--keep-server", type=int, default=0, metavar="S", help="keep serving S seconds after (profiling)")
    args = finish_args(p, argv)
    if args.products < 2:
        p.error("--products must be at least 2 (orders have two different SKUs)")
    return args


def check_tools() -> None:
    missing = []
    if shutil.which("wrk") is None:
        missing.append("wrk: the load generator. Install it with:  sudo apt-get install wrk")
    if shutil.which("pgbench") is None:
        missing.append("pgbench: the baseline. Install it with:  sudo apt-get install postgresql-contrib")
    if missing:
        for m in missing:
            log.print(f"[red]missing[/red] {m}")
        log.print("(see bench/README.md, 'Prerequisites')")
        raise SystemExit(2)


def step(message: str) -> None:
    log.print(f"[dim]{time.strftime('%H:%M:%S')}[/dim] {message}")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def begin(args: argparse.Namespace) -> URL:
    """What every HTTP benchmark does first: the tools, the signals, the database URL."""
    check_tools()
    # Ctrl-C and kill both end in the caller's finally, which stops the server. (A shell starting us
    # in the background may have left SIGINT ignored; take it back.)
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    url = make_url(args.database_url)
    if not url.drivername.startswith("postgresql"):
        raise SystemExit("--database-url must be a PostgreSQL URL (postgresql+psycopg://...)")
    return url


def start_oms(
    args: argparse.Namespace, url: URL, env: dict[str, str], tmp: Path, background: ThreadPoolExecutor
) -> tuple[Server, str, Future[None]]:
    """A fresh database, migrated; ``oms serve`` up with an admin's token; pgbench's tables being
    built meanwhile (the future). Stops the server itself if a later step fails."""
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    step(f"load average {load}; re-creating database {url.database} and migrating")
    recreate_database(url, url.database or "oms_bench")
    oms(env, "db", "upgrade")
    # pgbench's tables are built while oms starts and is seeded; neither is being measured.
    pgbench_ready = background.submit(init_pgbench, url, args.pgbench_database, args.pgbench_scale)
    step(f"starting oms serve --workers {args.workers}; creating the admin user and token")
    server = start_server(env, args.workers, tmp / "server.log")
    try:
        oms(env, "users", "create", "--email", ADMIN_EMAIL, "--role", "admin", "--password", "bench-password-123")
        token = oms(env, "tokens", "create", "--email", ADMIN_EMAIL, "--name", "bench").strip()
        wait_healthy(server)
    except BaseException:
        stop_server(server)
        raise
    return server, token, pgbench_ready


def clean_up(
    args: argparse.Namespace, url: URL, server: Server | None, background: ThreadPoolExecutor, tmp: Path
) -> None:
    """Whatever happened: the server stopped, pgbench's database dropped, the scratch folder gone."""
    stop_server(server)
    background.shutdown(wait=False, cancel_futures=True)
    with contextlib.suppress(Exception):
        recreate_database(url, args.pgbench_database, drop_only=True)
    shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    url = begin(args)
    started = time.monotonic()
    server: Server | None = None
    tmp = Path(tempfile.mkdtemp(prefix="oms-bench-"))
    database_url = url.render_as_string(hide_password=False)
    env = oms_env(database_url, tmp)
    background = ThreadPoolExecutor(1)
    try:
        server, token, pgbench_ready = start_oms(args, url, env, tmp, background)
        step(f"seeding {args.warehouses} warehouses, a channel, {args.products} products and their stock")
        seed(server.base_url, token, args.warehouses, args.products)

        sql: SqlCount | None = None
        if not args.no_sql_count:
            sql = count_sql(database_url, tmp, token, args.products, 10)
        pgbench_ready.result()

        probe = CpuProbe(server.proc.pid, url)
        levels: list[Level] = []
        for c in args.levels:
            checkpoint(url)
            if args.warmup:
                step(f"{c} connection(s): warm-up {args.warmup} s")
                warm = run_wrk(server.base_url, token, args.products, c, args.warmup)
                if warm.failed:
                    log.print(f"[yellow]warm-up: {warm.failed} failed request(s)[/yellow] {warm.statuses}")
            step(f"{c} connection(s): measuring {args.duration} s")
            before = probe.snapshot()
            lv = run_wrk(server.base_url, token, args.products, c, args.duration)
            lv.cpu = probe.spent(before)
            levels.append(lv)
            step(f"  {lv.orders_per_s:,.0f} orders/s, p50 {lv.p50_ms:.1f} ms, p99 {lv.p99_ms:.1f} ms")

        if args.keep_server:
            step(f"server stays up {args.keep_server} s at {server.base_url} (token {token})")
            time.sleep(args.keep_server)
        stop_server(server)  # pgbench gets the machine to itself, as the orders did
        server = None

        step(f"pgbench TPC-B (scale {args.pgbench_scale}): -c 32 -j 2 -T {args.pgbench_seconds} -M prepared")
        tps = run_pgbench(url, args.pgbench_database, 32, args.pgbench_seconds)
    finally:
        clean_up(args, url, server, background, tmp)

    report(args, levels, tps, sql, time.monotonic() - started)
    print_headline(levels, tps, "orders_per_s")
    return 0


def print_headline(levels: list[Level], tps: float, rate: str) -> None:
    """The last line: the 32-connection figures (or the last level's) as one JSON object."""
    headline = next((lv for lv in levels if lv.connections == 32), levels[-1])
    figures = {
        rate: round(headline.orders_per_s, 1),
        "p50_ms": round(headline.p50_ms, 2),
        "p99_ms": round(headline.p99_ms, 2),
        "pgbench_tps": round(tps, 1),
        "ratio": round(headline.orders_per_s / tps, 3) if tps else None,
    }
    print(json.dumps(figures))


def print_levels(levels: list[Level], tps: float, title: str, unit: str) -> None:
    """The two tables of an HTTP benchmark: rate and latency per level, then CPU per ``unit``
    (one 201 answer: an order, a scan) and how busy the machine was."""
    table = Table(title=title)
    columns = ("conns", f"{unit}s/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "requests", "failed", "vs pgbench")
    for col in columns:
        table.add_column(col, justify="right")
    for lv in levels:
        table.add_row(
            str(lv.connections),
            f"{lv.orders_per_s:,.0f}",
            f"{lv.p50_ms:.1f}",
            f"{lv.p95_ms:.1f}",
            f"{lv.p99_ms:.1f}",
            f"{lv.max_ms:.0f}",
            f"{lv.requests:,}",
            f"[red]{lv.failed}[/red]" if lv.failed else "0",
            f"{lv.orders_per_s / tps:.2f}" if tps else "-",
        )
    out.print(table)

    cpu = Table(title=f"CPU per {unit} (ms) and cores busy with work outside the benchmark")
    for col in ("conns", "oms server", "postgres", "wrk", "total", "machine busy", "other work"):
        cpu.add_column(col, justify="right")
    for lv in levels:
        parts = [lv.cpu_ms_per_order(k) for k in ("server", "postgres", "wrk")]
        cpu.add_row(
            str(lv.connections),
            *(f"{v:.2f}" for v in parts),
            f"{sum(parts):.2f}",
            f"{lv.cpu.get('busy', 0) / lv.seconds:.2f} cores",
            f"{lv.cpu.get('other', 0) / lv.seconds:.2f} cores",
        )
    out.print(cpu)


def report(args: argparse.Namespace, levels: list[Level], tps: float, sql: SqlCount | None, wall_s: float) -> None:
    cores = os.cpu_count() or 0
    title = f"POST /api/v1/orders, oms serve --workers {args.workers}, PostgreSQL, {cores} cores"
    print_levels(levels, tps, title, "order")
    out.print(f"pgbench TPC-B (scale {args.pgbench_scale}, 32 clients, -M prepared): {tps:,.0f} tps")
    if sql is not None:
        ping = ", each with a pre-ping" if sql.pre_ping else ""
        out.print(
            f"per order ({sql.orders} orders in-process, one at a time): {sql.statements:.1f} SQL statements "
            f"({sql.executed:.1f} as PostgreSQL runs them), {sql.transactions:.1f} transactions "
            f"({sql.explicit:.1f} with BEGIN and COMMIT) on "
            f"{sql.checkouts:.1f} connection checkouts{ping}: {sql.round_trips:.0f} round trips; "
            f"{sql.cpu_ms:.1f} ms CPU (test client included), {sql.wall_ms:.1f} ms"
        )
        if args.show_sql:
            for s in sql.sample:
                out.print(f"  {s}", highlight=False, markup=False)
    for lv in levels:
        if lv.failed:
            out.print(
                f"[red]{lv.connections} connections: {lv.failed} of {lv.requests} requests failed[/red] "
                f"statuses {lv.statuses}, socket errors {lv.socket_errors}"
            )
            for sample in lv.error_samples:
                out.print(f"  {sample}", highlight=False, markup=False)
    if any(lv.failed > max(10, lv.requests // 100) for lv in levels):
        out.print("[bold red]INVALID RUN:[/bold red] more than 1% of requests failed at some level")
    noisy = [lv for lv in levels if lv.seconds and lv.cpu.get("other", 0) / lv.seconds > 0.25]
    if noisy:
        worst = max(lv.cpu["other"] / lv.seconds for lv in noisy)
        out.print(
            f"[yellow]NOISY MACHINE:[/yellow] other processes kept up to {worst:.1f} of {cores} cores busy "
            "during the measurement; orders/s and latencies are lower than on a quiet machine "
            "(CPU per order is the better figure to compare)."
        )
    headline = next((lv for lv in levels if lv.connections == 32), None)
    if headline is not None:
        ok = headline.orders_per_s >= FLOOR_ORDERS_PER_S and headline.p99_ms < FLOOR_P99_MS
        verdict = "[green]meets[/green]" if ok else "[red]misses[/red]"
        out.print(
            f"32 connections {verdict} the floor ({FLOOR_ORDERS_PER_S} orders/s with p99 < {FLOOR_P99_MS} ms); "
            f"goal {GOAL_ORDERS_PER_S:,} orders/s. Whole run {wall_s:.0f} s."
        )


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        log.print("interrupted")
        sys.exit(130)
