"""A real SMTP server for email tests: aiosmtpd on 127.0.0.1 and a free port, keeping every message
that arrives, parsed. It can be told to refuse, or be stopped (connections refused).

Use the ``smtp_sink`` fixture (import it into a test module:
``from tests.smtp import smtp_sink  # noqa: F401``)::

    settings.model_copy(update=smtp_sink.settings_update())   # point oms at it (security "none")
    smtp_sink.wait_for(1)                   # the messages, once at least one has arrived
    smtp_sink.refuse()                      # "451 4.3.0 Try again later" to every DATA from now on
    smtp_sink.refuse("550 5.1.1 No such user", at="RCPT")   # refuse the recipient, for good
    smtp_sink.accept()                      # back to normal
    smtp_sink.stop(); smtp_sink.start()     # nothing listening, then listening again (same port)
    smtp_sink.logins                        # [(user, password)] of AUTH LOGIN/PLAIN seen
"""

from __future__ import annotations

import email
import email.policy
import socket
import threading
import time
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SmtpSink:
    def __init__(self) -> None:
        self.host = "127.0.0.1"
        self.port = free_port()
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []  # (MAIL FROM, RCPT TOs) of each message
        self.logins: list[tuple[str, str]] = []
        self._refusal: tuple[str, str] | None = None  # (SMTP command, reply)
        self._arrived = threading.Condition()
        self._controller: Controller | None = None

    # --- what the server does ---

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]) -> str:
        if self._refusal and self._refusal[0] == "RCPT":
            return self._refusal[1]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self._refusal and self._refusal[0] == "DATA":
            return self._refusal[1]
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        with self._arrived:
            self.messages.append(message)  # type: ignore[arg-type]
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            self._arrived.notify_all()
        return "250 Message accepted for delivery"

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        if isinstance(data, LoginPassword):
            self.logins.append((data.login.decode(), data.password.decode()))
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    # --- controlling it ---

    def start(self) -> None:
        # AUTH is offered without TLS so tests can see the login (plain TCP on 127.0.0.1 only).
        self._controller = Controller(
            self,
            hostname=self.host,
            port=self.port,
            authenticator=self._authenticate,
            auth_require_tls=False,
        )
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def refuse(self, reply: str = "451 4.3.0 Try again later", at: str = "DATA") -> None:
        assert at in {"RCPT", "DATA"}, at
        self._refusal = (at, reply)

    def accept(self) -> None:
        self._refusal = None

    def wait_for(self, n: int, timeout: float = 5.0) -> list[EmailMessage]:
        """The messages, once at least ``n`` have arrived; fails after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.messages) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(self.messages)} message(s) arrived, expected {n} within {timeout}s")
                self._arrived.wait(left)
            return list(self.messages)

    def settings_update(self) -> dict[str, Any]:
        """Settings fields that point oms at this server: ``settings.model_copy(update=...)``."""
        return {"smtp_host": self.host, "smtp_port": self.port, "smtp_security": "none"}


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.start()
    try:
        yield sink
    finally:
        sink.stop()
