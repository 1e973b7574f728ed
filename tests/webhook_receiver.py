"""A real HTTP endpoint for webhook tests: a threaded server on 127.0.0.1 that records every request
(method, path, headers, raw body) and can be told to fail or to hang.

Use the ``webhook_receiver`` fixture (import it into a test module:
``from tests.webhook_receiver import receiver_fixture  # noqa: F401``)::

    webhook_receiver.fail_next(2)           # the next two requests get a 500
    webhook_receiver.hang_next(1, 2.0)      # the next request waits 2 s before answering
    webhook_receiver.url                    # http://127.0.0.1:<port>/hooks
    webhook_receiver.requests               # what arrived, oldest first
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class WebhookReceiver:
    def __init__(self) -> None:
        self.requests: list[Received] = []
        self._lock = threading.Lock()
        self._fail = 0
        self._fail_status = 500
        self._hang = 0
        self._hang_s = 0.0
        self._stopping = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                status, hang_s = receiver._record(Received(self.command, self.path, dict(self.headers.items()), body))
                if hang_s:
                    receiver._stopping.wait(hang_s)  # released at once when the server stops
                reply = b"receiver says no" if status >= 300 else b"ok"
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(reply)))
                    self.end_headers()
                    self.wfile.write(reply)
                except OSError:  # the client gave up waiting (a timeout test)
                    pass

            do_POST = do_PUT = do_GET = _handle  # the names http.server calls

            def log_message(self, format: str, *args: object) -> None:  # quiet test output
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks"
        self._thread = threading.Thread(target=self.server.serve_forever, name="webhook-receiver", daemon=True)

    def _record(self, received: Received) -> tuple[int, float]:
        with self._lock:
            self.requests.append(received)
            status, hang_s = 200, 0.0
            if self._hang:
                self._hang -= 1
                hang_s = self._hang_s
            if self._fail:
                self._fail -= 1
                status = self._fail_status
            return status, hang_s

    def fail_next(self, n: int, status: int = 500) -> None:
        """Answer the next ``n`` requests with ``status``."""
        with self._lock:
            self._fail, self._fail_status = n, status

    def hang_next(self, n: int, seconds: float) -> None:
        """Wait ``seconds`` before answering each of the next ``n`` requests."""
        with self._lock:
            self._hang, self._hang_s = n, seconds

    def start(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)


# Named apart from its function, so a test module imports ``receiver_fixture`` and its tests take
# ``webhook_receiver`` as an argument without shadowing the import.
@pytest.fixture(name="webhook_receiver")
def receiver_fixture() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver().start()
    try:
        yield receiver
    finally:
        receiver.stop()
