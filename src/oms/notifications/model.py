"""Customer emails: each one rendered once, kept as sent, and sent by the outbox worker."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from oms.db.base import Base, PkId, Timestamp, utcnow


class EmailStatus(StrEnum):
    QUEUED = "queued"  # waiting for the worker (new, re-sent, or being retried)
    SENDING = "sending"  # a worker is talking to the SMTP server (until sending_until)
    SENT = "sent"  # the SMTP server accepted it
    FAILED = "failed"  # the last try failed; the outbox retries with backoff
    UNSENT = "unsent"  # no SMTP server is configured: kept, can be re-sent later


class EmailMessage(Base):
    __tablename__ = "email_messages"
    __table_args__ = (
        # The back office lists newest first, often by status (the failed ones) or by recipient.
        Index("ix_email_messages_status_id", "status", "id"),
        Index("ix_email_messages_to_address", "to_address"),
    )

    id: Mapped[int] = mapped_column(PkId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    to_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"), index=True)
    # One email per event that causes it ("shipped:42"): a second try to queue it is a no-op.
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(16))
    # While one worker sends, no other does (a re-send racing a retry); a crashed sender's lease runs out.
    sending_until: Mapped[datetime | None] = mapped_column(Timestamp)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    # Chosen by the sender on the first try (it knows the From domain) and kept through retries, so
    # a copy a server took before timing out is recognised as the same message. A re-send of a
    # message that was sent gets a new one: a mailbox may drop a message whose id it already holds.
    message_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(Timestamp)
    resent_count: Mapped[int] = mapped_column(Integer, default=0)
