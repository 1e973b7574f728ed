"""Customer email, the service: queue (``messages``), send through SMTP from the outbox worker,
list, re-send.

Sending never happens twice for one event: ``queue_email`` keeps one row per ``dedupe_key``, and
the ``email.send`` handler does nothing for a row already ``sent``. A human re-send is the one
exception. No database transaction is open while the SMTP server is being talked to.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage as MimeMessage
from email.utils import format_datetime, parseaddr
from functools import partial
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from oms.config import Settings
from oms.db import Database
from oms.db.base import utcnow
from oms.db.locks import lock_row
from oms.errors import NotFound
from oms.events.outbox import emit
from oms.events.worker import Registry
from oms.notifications import customer_emails
from oms.notifications.messages import SEND_TOPIC, order_context, queue_email
from oms.notifications.model import EmailMessage, EmailStatus
from oms.notifications.schemas import EmailDetailOut, EmailOut
from oms.notifications.smtp import EmailNotSent, send_message
from oms.orders.queries import order_number
from oms.orders.timeline import record
from oms.schemas import Page, keyset, page_of

__all__ = [
    "SEND_TOPIC",
    "get_email",
    "list_emails",
    "order_context",
    "queue_email",
    "register",
    "resend",
    "send_email",
]

log = logging.getLogger("oms.email")

NO_SMTP = "OMS_SMTP_HOST is not set"


# --- sending (the email.send handler) ---------------------------------------------------------


@dataclass(frozen=True)
class _Outgoing:
    id: int
    to: str
    subject: str
    text: str
    html: str
    message_id: str


def make_message_id(email_id: int, mail_from: str) -> str:
    """``<oms-email-42.3f9a...@shop.example>``: the row's id for people reading headers, a random
    part so two databases never mint the same id, the From domain as RFC 5322 suggests."""
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "oms.localhost"
    return f"<oms-email-{email_id}.{secrets.token_hex(8)}@{domain}>"


def _claim(db: Database, settings: Settings, email_id: int) -> _Outgoing | None:
    """What to send, or None when there is nothing to send. Short: committed before SMTP starts."""
    with db.write() as session:
        row = lock_row(session, EmailMessage, email_id)
        if row is None or row.status == EmailStatus.SENT:
            return None
        now = utcnow()
        if row.status == EmailStatus.SENDING and row.sending_until and row.sending_until > now:
            return None  # another worker is sending it right now; its own event retries if it fails
        if not settings.smtp_host:
            # Nothing to retry until someone configures SMTP; then GET /emails shows what to re-send.
            row.status = EmailStatus.UNSENT
            row.last_error = NO_SMTP
            return None
        if row.message_id is None:
            row.message_id = make_message_id(row.id, settings.mail_from)
        row.status = EmailStatus.SENDING
        row.sending_until = now + timedelta(seconds=2 * settings.smtp_timeout_s + 30)
        return _Outgoing(row.id, row.to_address, row.subject, row.text_body, row.html_body, row.message_id)


def build_message(settings: Settings, out: _Outgoing) -> MimeMessage:
    """multipart/alternative: the plain text first, the HTML last (clients show the last part they
    can render)."""
    msg = MimeMessage()
    msg["From"] = settings.mail_from
    msg["To"] = out.to
    msg["Subject"] = out.subject
    msg["Message-ID"] = out.message_id
    msg["Date"] = format_datetime(utcnow())
    # RFC 3834: tells vacation responders and the like not to answer a machine.
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(out.text)
    msg.add_alternative(out.html, subtype="html")
    return msg


def send_email(db: Database, settings: Settings, email_id: int) -> None:
    """Send one queued email. On failure the row says why and ``EmailNotSent`` is raised, so the
    outbox retries with backoff; not when the server refused the address for good (a retry would
    be refused the same way: a human can fix the address and re-send)."""
    out = _claim(db, settings, email_id)
    if out is None:
        return
    try:
        send_message(settings, build_message(settings, out))
    except (EmailNotSent, ValueError) as exc:  # ValueError: a header the email package refuses
        permanent = not isinstance(exc, EmailNotSent) or exc.permanent
        _finish(db, email_id, error=str(exc))
        log.warning("email %s not sent%s: %s", email_id, " (permanent)" if permanent else "", exc)
        if permanent:
            return
        raise
    _finish(db, email_id, error=None)


def _finish(db: Database, email_id: int, error: str | None) -> None:
    values: dict[str, Any] = {"attempts": EmailMessage.attempts + 1, "last_error": error, "sending_until": None}
    stmt = update(EmailMessage).where(EmailMessage.id == email_id)
    if error is None:
        values |= {"status": EmailStatus.SENT, "sent_at": utcnow()}
    else:
        # A concurrent handler (a re-send racing a retry) may have sent it meanwhile: sent stays sent.
        stmt = stmt.where(EmailMessage.status != EmailStatus.SENT)
        values["status"] = EmailStatus.FAILED
    with db.write() as session:
        session.execute(stmt.values(**values))


# --- reading and re-sending ---------------------------------------------------------------------


def _fields(row: EmailMessage) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "to": row.to_address,
        "subject": row.subject,
        "status": row.status,
        "order_id": row.order_id,
        "order_number": order_number(row.order_id) if row.order_id is not None else None,
        "attempts": row.attempts,
        "last_error": row.last_error,
        "message_id": row.message_id,
        "created_at": row.created_at,
        "sent_at": row.sent_at,
        "resent_count": row.resent_count,
    }


def email_out(row: EmailMessage) -> EmailOut:
    return EmailOut(**_fields(row))


def email_detail(row: EmailMessage) -> EmailDetailOut:
    return EmailDetailOut(**_fields(row), text_body=row.text_body, html_body=row.html_body)


def list_emails(
    db: Database,
    *,
    status: EmailStatus | None = None,
    order_id: int | None = None,
    to: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[EmailOut]:
    """Newest first, without the bodies."""
    stmt = select(EmailMessage)
    if status is not None:
        stmt = stmt.where(EmailMessage.status == status)
    if order_id is not None:
        stmt = stmt.where(EmailMessage.order_id == order_id)
    if to:
        # Customer addresses are kept as oms normalised them (lower case); match what was typed too.
        stmt = stmt.where(EmailMessage.to_address.in_({to.strip(), to.strip().lower()}))
    with db.read() as session:
        rows = session.scalars(keyset(stmt, EmailMessage.id, cursor, limit, newest_first=True))
        return page_of([email_out(r) for r in rows], limit)


def _get(session: Session, email_id: int) -> EmailMessage:
    row = session.get(EmailMessage, email_id)
    if row is None:
        raise NotFound(f"no email with id {email_id}", code="email_not_found")
    return row


def get_email(db: Database, email_id: int) -> EmailDetailOut:
    with db.read() as session:
        return email_detail(_get(session, email_id))


def resend(db: Database, email_id: int, actor: str) -> EmailDetailOut:
    """Queue the email again, as it was rendered, even if it was sent: a person asked for it. A
    double click sends once: the second ``email.send`` finds the row sent by the first."""

    def use_case(session: Session) -> EmailDetailOut:
        row = lock_row(session, EmailMessage, email_id)
        if row is None:
            raise NotFound(f"no email with id {email_id}", code="email_not_found")
        if row.status == EmailStatus.SENT:
            row.message_id = None  # a new one (see EmailMessage.message_id)
        row.status = EmailStatus.QUEUED
        row.resent_count += 1
        emit(session, SEND_TOPIC, {"email_id": row.id})
        if row.order_id is not None:
            record(
                session,
                [
                    (
                        row.order_id,
                        actor,
                        "email_resent",
                        f"Email re-sent to {row.to_address}: {row.subject}",
                        {"email_id": row.id, "kind": row.kind},
                    )
                ],
            )
        session.flush()
        return email_detail(row)

    return db.run(use_case)


# --- wiring -----------------------------------------------------------------------------------


def _return_link(settings: Settings, order_id: int) -> str:
    """The signed link to the order's return form, valid 30 days (the default return window)."""
    # Imported here: returns builds on notifications, which reaches it only at run time.
    from oms.feedback.rules import make_token
    from oms.returns.pages import START_PURPOSE

    token = make_token(settings.resolved_secret_key(), order_id, utcnow() + timedelta(days=30), START_PURPOSE)
    return f"{settings.public_url.rstrip('/')}/returns/start/{token}"


def register(registry: Registry, db: Database, settings: Settings) -> None:
    """Subscribe ``email.send`` {email_id} and the handlers that turn domain events into customer
    emails (``customer_emails``)."""

    def on_send(event_id: int, topic: str, payload: dict[str, Any]) -> None:
        send_email(db, settings, int(payload["email_id"]))

    registry.subscribe(SEND_TOPIC, "email.send", on_send)
    customer_emails.register(registry, db, partial(_return_link, settings))
