"""A real ``oms serve`` in a subprocess, for end-to-end tests that need separate worker processes.

``run_server()`` is the context manager; ``live_server`` is the pytest fixture built on it (import it
into a test module: ``from tests.server import live_server  # noqa: F401``). The server gets the
test's database and secret through the environment, exactly as a deployment would. Startup waits for
GET /healthz *and* (on Linux) for every worker process to be accepting connections, so a burst of
requests that follows really spreads over all the workers. A server that does not come up fails
with its stderr; a server that is stopped has its stderr kept on ``LiveServer.stderr``.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from oms.config import Settings
from oms.db import Database
from tests.conftest import SECRET


def _oms_bin() -> Path:
    beside_python = Path(sys.executable).with_name("oms")  # the venv pytest runs from
    return beside_python if beside_python.exists() else Path(__file__).parents[1] / ".venv" / "bin" / "oms"


OMS_BIN = _oms_bin()
START_TIMEOUT_S = 60.0


class ServerFailed(RuntimeError):
    """The server did not start (or died); the message carries its stderr."""


@dataclass
class LiveServer:
    url: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    workers: int
    worker_pids: list[int] = field(default_factory=list)
    stderr: str = ""

    def read_log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def cpu_seconds(self) -> dict[int, float]:
        """CPU time used so far by each worker process (Linux; empty elsewhere)."""
        return {pid: t for pid in self.worker_pids if (t := _cpu_seconds(pid)) is not None}

    def stop(self) -> str:
        """Stop the server now (the fixture would at teardown); returns its stderr."""
        _stop(self)
        return self.stderr

    def assert_alive(self) -> None:
        if self.process.poll() is not None:
            raise ServerFailed(f"the server exited with {self.process.returncode}; stderr:\n{self.read_log()}")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(database_url: str, data_dir: Path, secret: str = SECRET, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMS_")}
    env.update(
        OMS_DATABASE_URL=database_url,
        OMS_SECRET_KEY=secret,
        OMS_DATA_DIR=str(data_dir),
        OMS_LOG_LEVEL="warning",
        PYTHONUNBUFFERED="1",
        _TYPER_STANDARD_TRACEBACK="1",  # a startup failure shows a plain traceback, not a boxed one
        **extra,
    )
    return env


@contextlib.contextmanager
def run_server(
    database_url: str,
    data_dir: Path,
    *,
    workers: int = 2,
    secret: str = SECRET,
    extra_env: dict[str, str] | None = None,
    start_timeout_s: float = START_TIMEOUT_S,
) -> Iterator[LiveServer]:
    """Start ``oms serve --workers N --port <free port>`` and stop it (the whole process group) on exit."""
    data_dir.mkdir(parents=True, exist_ok=True)
    env = server_env(database_url, data_dir, secret, **(extra_env or {}))
    attempt = 0
    while True:
        attempt += 1
        port = free_port()
        log_path = data_dir / f"server-{port}.stderr.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [str(OMS_BIN), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, so the workers stop with it
            )
        server = LiveServer(f"http://127.0.0.1:{port}", port, process, log_path, workers)
        try:
            _wait_until_serving(server, start_timeout_s)
            break
        except ServerFailed as exc:
            _stop(server)
            # Someone took the port between free_port() and bind: try another one.
            if attempt < 3 and "address already in use" in str(exc).lower():
                continue
            raise
        except BaseException:
            _stop(server)
            raise
    try:
        yield server
    finally:
        _stop(server)


def _wait_until_serving(server: LiveServer, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    with httpx.Client(timeout=2.0) as client:
        while True:
            server.assert_alive()
            try:
                if client.get(f"{server.url}/healthz").status_code == 200:
                    break
            except httpx.HTTPError as exc:
                last_error = exc
            if time.monotonic() > deadline:
                raise ServerFailed(
                    f"the server did not answer /healthz within {timeout_s:.0f}s ({last_error!r}); "
                    f"stderr:\n{server.read_log()}"
                )
            time.sleep(0.05)
    if server.workers < 2:
        server.worker_pids = [server.process.pid]
        return
    if not sys.platform.startswith("linux"):
        return
    # /healthz was answered by *one* worker. Wait for all of them: a worker is serving once the
    # listening socket it inherited from the supervisor is registered in its event loop's epoll set.
    while True:
        server.assert_alive()
        supervisor_sockets = _socket_links(server.process.pid)
        serving = [pid for pid in _children(server.process.pid) if _polls_any(pid, supervisor_sockets)]
        if len(serving) >= server.workers:
            server.worker_pids = sorted(serving)
            return
        if time.monotonic() > deadline:
            raise ServerFailed(
                f"only {len(serving)} of the {server.workers} workers started within {timeout_s:.0f}s; "
                f"stderr:\n{server.read_log()}"
            )
        time.sleep(0.05)


def _stop(server: LiveServer) -> None:
    process = server.process
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
    # Workers that outlived the supervisor (they are in its process group).
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    server.stderr = server.read_log()


# -- /proc helpers (Linux) ----------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...; comm may contain spaces and parentheses
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:
            found.append(int(entry))
    return found


def _socket_links(pid: int) -> set[str]:
    """The process's sockets, named as /proc/<pid>/fd links name them ("socket:[inode]")."""
    links = set()
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:"):
                    links.add(target)
    return links


def _polls_any(pid: int, links: set[str]) -> bool:
    """Whether one of the process's epoll instances watches one of ``links`` (the supervisor's
    sockets: its listening socket, and its ends of the worker pipes, which no worker polls)."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    watched_fds: set[str] = set()
    mine: dict[str, str] = {}
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        mine[fd] = target
        if target == "anon_inode:[eventpoll]":
            with contextlib.suppress(OSError):
                watched_fds.update(re.findall(r"^tfd:\s*(\d+)", Path(f"/proc/{pid}/fdinfo/{fd}").read_text(), re.M))
    return any(mine.get(fd) in links for fd in watched_fds)


def _cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


# -- pytest fixture -----------------------------------------------------------------------------------


@pytest.fixture
def live_server(settings: Settings, db: Database, tmp_path: Path) -> Iterator[LiveServer]:
    """``oms serve --workers 2`` on the test's database (SQLite file or PostgreSQL), already emptied
    by the ``db`` fixture; yields a LiveServer whose ``url`` takes requests."""
    url = settings.resolved_database_url()
    # Left alone, each worker may open db_pool_size + db_max_overflow = 40 connections, 80 for the
    # two: most of a stock PostgreSQL's max_connections=100, which the parallel test processes share.
    pool = {"OMS_DB_POOL_SIZE": "5", "OMS_DB_MAX_OVERFLOW": "15"} if url.startswith("postgresql") else {}
    with run_server(url, tmp_path / "server", extra_env=pool) as server:
        yield server
