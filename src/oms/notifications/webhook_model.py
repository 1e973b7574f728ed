"""Outbound webhooks: who subscribed to which events, and the log of every delivery and attempt."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from oms.db.base import Base, PkId, Timestamp, utcnow


class WebhookSubscription(Base):
    """An endpoint that wants some events. The secret is kept in clear because every delivery is
    signed with it; the API shows it once, when the subscription is created."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[int] = mapped_column(PkId, primary_key=True)
    url: Mapped[str] = mapped_column(String(2048))
    events: Mapped[list] = mapped_column(JSON)  # topics, or ["*"] for every public topic
    secret: Mapped[str] = mapped_column(String(128))
    description: Mapped[str | None] = mapped_column(String(500))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class WebhookDelivery(Base):
    """One event for one subscription. ``body`` holds the exact JSON that is signed and sent, so
    every retry sends the same bytes under the same ``delivery_id``."""

    __tablename__ = "webhook_deliveries"
    # A fan-out that runs twice for one event (the outbox delivers at least once) adds nothing.
    __table_args__ = (UniqueConstraint("subscription_id", "event_id"),)

    id: Mapped[int] = mapped_column(PkId, primary_key=True)
    delivery_id: Mapped[str] = mapped_column(String(36), unique=True)  # uuid4, the receiver's dedupe key
    subscription_id: Mapped[int] = mapped_column(ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"), index=True)
    # The outbox event's id. Not a foreign key: the log outlives a cleaned-up outbox.
    event_id: Mapped[int] = mapped_column(PkId)
    topic: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | succeeded | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    last_attempt_at: Mapped[datetime | None] = mapped_column(Timestamp)
    delivered_at: Mapped[datetime | None] = mapped_column(Timestamp)


class WebhookAttempt(Base):
    """One POST of a delivery and what came of it: a status code, or the error when none came."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(PkId, primary_key=True)
    # The delivery row's id (not its uuid ``delivery_id``).
    webhook_delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    attempted_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer)
