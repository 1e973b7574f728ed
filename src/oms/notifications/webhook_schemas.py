"""Webhook requests and responses: subscriptions, the delivery log and the event catalogue."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, StringConstraints

from oms.schemas import Input, Output

Url = Annotated[str, StringConstraints(min_length=1, max_length=2048)]
Topic = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Events = Annotated[
    list[Topic],
    Field(min_length=1, max_length=50, description='Topics from GET /webhook-events, or ["*"] for all of them.'),
]
Description = Annotated[str, StringConstraints(max_length=500)]
Secret = Annotated[str, StringConstraints(min_length=16, max_length=128, pattern=r"^[\x21-\x7e]+$")]


class WebhookCreate(Input):
    url: Url = Field(description="An http(s) URL that accepts POSTs.")
    events: Events
    description: Description | None = None
    secret: Secret | None = Field(
        default=None, description="Sign with this secret (16-128 printable characters); default: a new one."
    )


class WebhookUpdate(Input):
    """Every field optional. The secret cannot be read back or changed here."""

    url: Url | None = None
    events: Events | None = None
    description: Description | None = None
    is_active: bool | None = None


class WebhookOut(Output):
    id: int
    url: str
    events: list[str]
    description: str | None
    is_active: bool
    created_by: str
    created_at: datetime


class WebhookCreatedOut(WebhookOut):
    secret: str = Field(description="Verifies the signatures. Shown only now: keep it.")


class AttemptOut(Output):
    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


class DeliveryOut(Output):
    id: int
    delivery_id: str = Field(description="Sent as Oms-Webhook-Id; the same on every retry.")
    subscription_id: int
    event_id: int
    topic: str
    status: str = Field(description="pending | succeeded | failed")
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    last_attempt_at: datetime | None
    delivered_at: datetime | None
    body: dict[str, Any] = Field(description="The JSON that was signed and sent.")
    attempt_log: list[AttemptOut] = Field(description="Every attempt, oldest first.")


class WebhookEventOut(Output):
    name: str
    description: str
