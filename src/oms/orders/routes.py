from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from oms.auth.service import Principal
from oms.orders import queries, reroute, service
from oms.orders.rules import OrderStatus
from oms.orders.schemas import (
    OrderCreate,
    OrderEventOut,
    OrderOut,
    OrderSummary,
    PaymentCreate,
    PaymentOut,
    Reason,
    RerouteRequest,
    RoutingOut,
)
from oms.schemas import Page
from oms.web.deps import DbDep, require
from oms.web.params import Cursor, Limit, OrderId
from oms.web.responses import IdempotencyKeyHeader, created

router = APIRouter(prefix="/orders", tags=["orders"])

Reader = Annotated[Principal, require("orders:read", "orders:read_own")]


@router.post(
    "",
    status_code=201,
    response_model=OrderOut,
    responses={
        200: {"description": "This channel order (channel, external_id) exists already: it is returned"},
        409: {"description": "insufficient_stock, or an Idempotency-Key still in progress"},
    },
)
def create_order(
    body: OrderCreate,
    request: Request,
    db: DbDep,
    principal: Annotated[Principal, require("orders:write")],
    key: IdempotencyKeyHeader = None,
):
    def work():  # type: ignore[no-untyped-def]
        order, was_created = service.create_order(db, body, principal)
        return order, 201 if was_created else 200

    return created(request, principal, key, body, work)


@router.get("", response_model=Page[OrderSummary])
def list_orders(
    db: DbDep,
    principal: Reader,
    status: OrderStatus | None = None,
    channel: Annotated[str | None, Query(max_length=32)] = None,
    q: Annotated[str | None, Query(max_length=100, description="Order number, email, name or external id")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[OrderSummary]:
    return queries.list_orders(
        db, principal, status=status.value if status else None, channel=channel, q=q, limit=limit, cursor=cursor
    )


@router.get("/{order_id}", response_model=OrderOut)
def get_order(order_id: OrderId, db: DbDep, principal: Reader) -> OrderOut:
    return queries.read_order(db, order_id, principal)


@router.get("/{order_id}/events", response_model=Page[OrderEventOut], summary="The order's timeline")
def order_events(order_id: OrderId, db: DbDep, principal: Reader) -> Page[OrderEventOut]:
    return queries.list_events(db, order_id, principal)


@router.get("/{order_id}/payments", response_model=Page[PaymentOut])
def order_payments(order_id: OrderId, db: DbDep, principal: Reader) -> Page[PaymentOut]:
    return queries.list_payments(db, order_id, principal)


@router.get(
    "/{order_id}/routing",
    response_model=RoutingOut,
    summary="How the order's warehouses were chosen: candidates, scores, and why the winner won",
)
def order_routing(order_id: OrderId, db: DbDep, principal: Annotated[Principal, require("orders:read")]) -> RoutingOut:
    return RoutingOut.model_validate(reroute.read_routing(db, order_id))


@router.post("/{order_id}/reroute", response_model=OrderOut, summary="Route an order again from today's stock")
def reroute_order(
    order_id: OrderId,
    db: DbDep,
    principal: Annotated[Principal, require("orders:reroute")],
    body: RerouteRequest | None = None,
) -> OrderOut:
    body = body or RerouteRequest()
    return reroute.reroute_order(db, order_id, principal, body.exclude, body.reason)


@router.post("/{order_id}/cancel", response_model=OrderOut, summary="Cancel: releases reservations and backorders")
def cancel(
    order_id: OrderId, db: DbDep, principal: Annotated[Principal, require("orders:cancel")], body: Reason | None = None
) -> OrderOut:
    return service.cancel_order(db, order_id, principal, body.reason if body else None)


@router.post("/{order_id}/hold", response_model=OrderOut)
def hold(
    order_id: OrderId, db: DbDep, principal: Annotated[Principal, require("orders:hold")], body: Reason | None = None
) -> OrderOut:
    return service.hold_order(db, order_id, principal, body.reason if body else None)


@router.post("/{order_id}/release", response_model=OrderOut, summary="Release an order from hold")
def release(order_id: OrderId, db: DbDep, principal: Annotated[Principal, require("orders:hold")]) -> OrderOut:
    return service.release_order(db, order_id, principal)


@router.post(
    "/{order_id}/payments",
    status_code=201,
    response_model=OrderOut,
    summary="Record a payment authorisation or capture",
)
def record_payment(
    order_id: OrderId,
    body: PaymentCreate,
    request: Request,
    db: DbDep,
    principal: Annotated[Principal, require("payments:write")],
    key: IdempotencyKeyHeader = None,
):
    return created(request, principal, key, body, lambda: (service.record_payment(db, order_id, body, principal), 201))
