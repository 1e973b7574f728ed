"""Webhooks API: subscriptions, their delivery log, redelivery and the event catalogue."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel

from oms.auth.service import Principal
from oms.notifications import webhook_service as service
from oms.notifications.webhook_schemas import (
    DeliveryOut,
    WebhookCreate,
    WebhookCreatedOut,
    WebhookEventOut,
    WebhookOut,
    WebhookUpdate,
)
from oms.notifications.webhooks import WEBHOOK_EVENTS, DeliveryStatus
from oms.schemas import Page
from oms.web.deps import DbDep, require
from oms.web.params import MAX_ID, Cursor, Limit
from oms.web.responses import IdempotencyKeyHeader, created

router = APIRouter(tags=["webhooks"])

Admin = Annotated[Principal, require("webhooks:admin")]
WebhookId = Annotated[int, Path(ge=1, le=MAX_ID, description="The subscription's id.")]
DeliveryId = Annotated[str, Path(min_length=1, max_length=36, description="The delivery's id (Oms-Webhook-Id).")]


class _NoBody(BaseModel):
    """What an Idempotency-Key is matched against for a POST without a body (the path is hashed too)."""


@router.post(
    "/webhooks",
    status_code=201,
    response_model=WebhookCreatedOut,
    summary="Subscribe an endpoint to events (the signing secret is shown only in this answer)",
)
def create_webhook(
    body: WebhookCreate, request: Request, db: DbDep, principal: Admin, key: IdempotencyKeyHeader = None
):
    private = request.app.state.settings.webhooks_may_reach_private()
    return created(
        request, principal, key, body, lambda: (service.create_subscription(db, body, principal, private), 201)
    )


@router.get("/webhooks", response_model=Page[WebhookOut], summary="Webhook subscriptions")
def list_webhooks(
    db: DbDep,
    _: Admin,
    active: Annotated[bool | None, Query(description="Only active (true) or inactive (false) ones.")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[WebhookOut]:
    return service.list_subscriptions(db, active, limit, cursor)


@router.get("/webhooks/{webhook_id}", response_model=WebhookOut, summary="A webhook subscription")
def get_webhook(webhook_id: WebhookId, db: DbDep, _: Admin) -> WebhookOut:
    return service.get_subscription(db, webhook_id)


@router.patch(
    "/webhooks/{webhook_id}",
    response_model=WebhookOut,
    summary="Change a subscription's URL, events or description, or pause it (is_active: false)",
)
def update_webhook(webhook_id: WebhookId, body: WebhookUpdate, request: Request, db: DbDep, _: Admin) -> WebhookOut:
    return service.update_subscription(db, webhook_id, body, request.app.state.settings.webhooks_may_reach_private())


@router.delete(
    "/webhooks/{webhook_id}",
    status_code=204,
    response_class=Response,
    summary="Delete a subscription and its delivery log",
)
def delete_webhook(webhook_id: WebhookId, db: DbDep, _: Admin) -> Response:
    service.delete_subscription(db, webhook_id)
    return Response(status_code=204)


@router.get(
    "/webhooks/{webhook_id}/deliveries",
    response_model=Page[DeliveryOut],
    summary="The delivery log, newest first, with every attempt",
)
def list_deliveries(
    webhook_id: WebhookId,
    db: DbDep,
    _: Admin,
    status: DeliveryStatus | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[DeliveryOut]:
    return service.list_deliveries(db, webhook_id, status, limit, cursor)


@router.post(
    "/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
    status_code=202,
    response_model=DeliveryOut,
    summary="Send a failed (or succeeded) delivery again, with the same id and body",
)
def redeliver(
    webhook_id: WebhookId,
    delivery_id: DeliveryId,
    request: Request,
    db: DbDep,
    principal: Admin,
    key: IdempotencyKeyHeader = None,
):
    # An Idempotency-Key lets a client retry the request safely: the 202 is replayed, not a 409.
    return created(request, principal, key, _NoBody(), lambda: (service.redeliver(db, delivery_id, webhook_id), 202))


@router.get("/webhook-events", response_model=list[WebhookEventOut], summary="The events a webhook can subscribe to")
async def webhook_events(_: Admin) -> list[WebhookEventOut]:
    return [WebhookEventOut(name=name, description=text) for name, text in WEBHOOK_EVENTS.items()]
