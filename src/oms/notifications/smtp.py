"""Handing one message to the SMTP server configured in Settings (``OMS_SMTP_*``)."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from oms.config import Settings


class EmailNotSent(Exception):
    """The SMTP server could not be reached or did not take the message. ``permanent`` is true when
    the server refused every recipient with a 5xx reply: the same address will be refused again."""

    def __init__(self, detail: str, *, permanent: bool = False) -> None:
        super().__init__(detail)
        self.detail = detail
        self.permanent = permanent


def _reply(code: int, message: bytes | str) -> str:
    text = message.decode(errors="replace") if isinstance(message, bytes) else message
    return f"{code} {' '.join(text.split())}"


def send_message(settings: Settings, msg: EmailMessage) -> None:
    """Send ``msg`` (its From/To/Cc/Bcc headers name the envelope) or raise ``EmailNotSent``."""
    host = settings.smtp_host
    if not host:
        raise EmailNotSent("OMS_SMTP_HOST is not set")
    where = f"{host}:{settings.smtp_port}"
    try:
        if settings.smtp_security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                host, settings.smtp_port, timeout=settings.smtp_timeout_s, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(host, settings.smtp_port, timeout=settings.smtp_timeout_s)
        with client:
            if settings.smtp_security == "starttls":
                # Verifies the server's certificate and name: credentials and customer data never
                # cross an unauthenticated channel.
                client.starttls(context=ssl.create_default_context())
            if settings.smtp_username:
                password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
                client.login(settings.smtp_username, password)
            refused = client.send_message(msg)
    except smtplib.SMTPRecipientsRefused as exc:
        replies = "; ".join(f"{rcpt}: {_reply(code, text)}" for rcpt, (code, text) in exc.recipients.items())
        permanent = all(500 <= code < 600 for code, _ in exc.recipients.values())
        raise EmailNotSent(f"SMTP server {where} refused the recipient ({replies})", permanent=permanent) from exc
    except smtplib.SMTPResponseException as exc:  # refused at MAIL FROM, DATA, AUTH...
        raise EmailNotSent(f"SMTP server {where} replied {_reply(exc.smtp_code, exc.smtp_error)}") from exc
    except smtplib.SMTPException as exc:
        raise EmailNotSent(f"SMTP with {where} failed: {exc}") from exc
    except OSError as exc:  # refused or timed out connection, DNS, TLS handshake or certificate
        raise EmailNotSent(f"cannot talk to SMTP server {where}: {exc}") from exc
    if refused:  # accepted for some recipients only; oms sends to one, so this is rare
        raise EmailNotSent(f"SMTP server {where} refused some recipients: {refused}")
