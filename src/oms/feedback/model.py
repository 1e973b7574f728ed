"""Feedback requests (one per delivered order), the customer's answer, and support tasks."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from oms.db.base import Base, PkId, Timestamp, utcnow


class FeedbackRequest(Base):
    """Asking one delivered order for feedback: the email goes out at ``due_at``; its link works
    until ``expires_at`` (whole seconds, as signed into the link)."""

    __tablename__ = "feedback_requests"

    id: Mapped[int] = mapped_column(PkId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), unique=True)
    due_at: Mapped[datetime] = mapped_column(Timestamp)
    sent_at: Mapped[datetime | None] = mapped_column(Timestamp, index=True)
    expires_at: Mapped[datetime] = mapped_column(Timestamp)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class FeedbackResponse(Base):
    """The customer's answer: one per order, changed in place while the link works."""

    __tablename__ = "feedback_responses"
    __table_args__ = (
        CheckConstraint("rating >= 1 AND rating <= 5", name="rating_1_to_5"),
        Index("ix_feedback_responses_channel_id_id", "channel_id", "id"),
    )

    id: Mapped[int] = mapped_column(PkId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), unique=True)
    # The order's channel, copied: scores by channel without a join through orders.
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"))
    rating: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    item_ratings: Mapped[dict] = mapped_column(JSON)  # SKU -> 1..5, only products of the order
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow, index=True)


class SupportTask(Base):
    """Something a person in customer service should look at. ``kind`` says what raised it
    (``low_feedback`` here; returns and others add their own kinds)."""

    __tablename__ = "support_tasks"
    __table_args__ = (Index("ix_support_tasks_status_id", "status", "id"),)

    id: Mapped[int] = mapped_column(PkId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    # A task outlives the order it was about (SET NULL): it is part of the support history.
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"), index=True)
    subject: Mapped[str] = mapped_column(String(200))
    detail: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # open | closed
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(Timestamp)
    closed_by: Mapped[str | None] = mapped_column(String(320))
