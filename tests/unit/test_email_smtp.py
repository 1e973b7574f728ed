"""How oms talks to the SMTP server for each OMS_SMTP_SECURITY, and how refusals are reported."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from typing import Any

import pytest

from oms.config import Settings
from oms.notifications import smtp
from oms.notifications.smtp import EmailNotSent, send_message


class FakeSMTP:
    """Records what oms asks of the connection; ``fail`` raises at send."""

    made: list[FakeSMTP] = []
    fail: Exception | None = None

    def __init__(self, host: str, port: int, timeout: float, context: ssl.SSLContext | None = None) -> None:
        self.opened = (host, port, timeout)
        self.ssl_context = context
        self.calls: list[tuple[str, Any]] = []
        FakeSMTP.made.append(self)

    def __enter__(self) -> FakeSMTP:
        return self

    def __exit__(self, *exc: object) -> None:
        self.calls.append(("quit", None))

    def starttls(self, context: ssl.SSLContext) -> None:
        self.calls.append(("starttls", context))

    def login(self, user: str, password: str) -> None:
        self.calls.append(("login", (user, password)))

    def send_message(self, msg: EmailMessage) -> dict[str, Any]:
        if FakeSMTP.fail is not None:
            raise FakeSMTP.fail
        self.calls.append(("send", msg["To"]))
        return {}


class FakeSSL(FakeSMTP):
    pass


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> type[FakeSMTP]:
    FakeSMTP.made = []
    FakeSMTP.fail = None
    monkeypatch.setattr(smtp.smtplib, "SMTP", FakeSMTP)
    monkeypatch.setattr(smtp.smtplib, "SMTP_SSL", FakeSSL)
    return FakeSMTP


def message() -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "shop@example.com"
    msg["To"] = "ada@example.com"
    msg["Subject"] = "hello"
    msg.set_content("hi")
    return msg


def settings(**kw: Any) -> Settings:
    return Settings(**{"env": "test", "smtp_host": "mail.example.com", "smtp_port": 2525, "smtp_timeout_s": 7, **kw})


def test_starttls_upgrades_the_connection_with_a_verifying_context_before_logging_in(fake):
    send_message(settings(smtp_security="starttls", smtp_username="shop", smtp_password="pw"), message())
    (conn,) = fake.made
    assert type(conn) is FakeSMTP and conn.opened == ("mail.example.com", 2525, 7)
    assert [c[0] for c in conn.calls] == ["starttls", "login", "send", "quit"]
    context = conn.calls[0][1]
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert conn.calls[1] == ("login", ("shop", "pw"))


def test_ssl_connects_over_tls_from_the_start(fake):
    send_message(settings(smtp_security="ssl", smtp_port=465), message())
    (conn,) = fake.made
    assert type(conn) is FakeSSL and conn.opened == ("mail.example.com", 465, 7)
    assert conn.ssl_context.verify_mode == ssl.CERT_REQUIRED
    assert [c[0] for c in conn.calls] == ["send", "quit"]


def test_none_sends_in_plain_text_without_logging_in_when_no_user_is_set(fake):
    send_message(settings(smtp_security="none"), message())
    (conn,) = fake.made
    assert type(conn) is FakeSMTP and [c[0] for c in conn.calls] == ["send", "quit"]


def test_a_temporary_refusal_is_reported_with_the_servers_reply(fake):
    fake.fail = smtplib.SMTPDataError(451, b"4.3.0 Try again later")
    with pytest.raises(EmailNotSent) as failed:
        send_message(settings(smtp_security="none"), message())
    assert "451 4.3.0 Try again later" in str(failed.value) and not failed.value.permanent


def test_a_recipient_refused_for_good_is_permanent(fake):
    fake.fail = smtplib.SMTPRecipientsRefused({"ada@example.com": (550, b"5.1.1 No such user")})
    with pytest.raises(EmailNotSent) as failed:
        send_message(settings(smtp_security="none"), message())
    assert "550 5.1.1 No such user" in str(failed.value) and failed.value.permanent


def test_a_server_that_cannot_be_reached_is_reported_not_raised_raw(fake):
    fake.fail = ConnectionRefusedError(111, "Connection refused")
    with pytest.raises(EmailNotSent) as failed:
        send_message(settings(smtp_security="none"), message())
    assert "cannot talk to SMTP server mail.example.com:2525" in str(failed.value)


def test_without_a_host_nothing_is_tried(fake):
    with pytest.raises(EmailNotSent, match="OMS_SMTP_HOST is not set"):
        send_message(Settings(env="test"), message())
    assert fake.made == []
