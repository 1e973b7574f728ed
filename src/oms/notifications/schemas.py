"""Customer email responses. Nothing here is written by clients: emails are queued by events and
re-sent by an action without a body."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from oms.notifications.model import EmailStatus
from oms.schemas import Output


class EmailOut(Output):
    id: int
    kind: str
    to: str
    subject: str
    status: EmailStatus
    order_id: int | None
    order_number: str | None
    attempts: int = Field(description="Times it was handed to the SMTP server.")
    last_error: str | None = Field(description="Why the last try failed (cleared once sent).")
    message_id: str | None = Field(description="The Message-ID header; chosen on the first try.")
    created_at: datetime
    sent_at: datetime | None
    resent_count: int


class EmailDetailOut(EmailOut):
    text_body: str
    html_body: str
