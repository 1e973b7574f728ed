"""Picking API: pick lists for an order or a wave, reading them, scans and short picks. Every
route needs the picker's scope (picking:write); admins and managers hold it too."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from oms.auth.service import Principal
from oms.picking import queries, service
from oms.picking.rules import ListStatus
from oms.picking.schemas import (
    OrderPickListsOut,
    PickListOut,
    PickListSummary,
    ScanCreate,
    ScanOut,
    ShortCreate,
    ShortOut,
    WaveCreate,
)
from oms.schemas import Input, Page
from oms.web.deps import DbDep, require
from oms.web.params import MAX_ID, Cursor, Limit, OrderId
from oms.web.responses import IdempotencyKeyHeader, created

router = APIRouter(tags=["picking"])

Picker = Annotated[Principal, require("picking:write")]
ListId = Annotated[int, Path(ge=1, le=MAX_ID, description="The pick list's id.")]
TaskId = Annotated[int, Path(ge=1, le=MAX_ID, description="The pick task's id.")]


@router.post(
    "/orders/{order_id}/pick-lists",
    status_code=201,
    response_model=OrderPickListsOut,
    summary="Start picking one order: a pick list per warehouse holding its stock",
    responses={409: {"description": "invalid_transition (order not confirmed) or nothing_to_pick"}},
)
def create_order_pick_lists(
    order_id: OrderId, request: Request, db: DbDep, principal: Picker, key: IdempotencyKeyHeader = None
):
    return created(
        request,
        principal,
        key,
        _NoBody(),
        lambda: (service.create_order_pick_lists(db, order_id, principal), 201),
    )


@router.post(
    "/warehouses/{code}/waves",
    status_code=201,
    response_model=PickListOut,
    summary="Pick a wave: ready orders that go together, one walk, a tote per order",
    responses={409: {"description": "nothing_to_pick: no order is ready in this warehouse"}},
)
def create_wave(
    code: str, body: WaveCreate, request: Request, db: DbDep, principal: Picker, key: IdempotencyKeyHeader = None
):
    return created(request, principal, key, body, lambda: (service.create_wave(db, code, body, principal), 201))


@router.get("/pick-lists", response_model=Page[PickListSummary], summary="Pick lists, oldest first")
def list_pick_lists(
    db: DbDep,
    _: Picker,
    warehouse: Annotated[str | None, Query(max_length=32)] = None,
    status: ListStatus | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[PickListSummary]:
    return queries.list_pick_lists(db, warehouse, status, limit, cursor)


@router.get("/pick-lists/{list_id}", response_model=PickListOut, summary="A pick list: its tasks in walking order")
def get_pick_list(list_id: ListId, db: DbDep, _: Picker) -> PickListOut:
    return queries.read_pick_list(db, list_id)


@router.post(
    "/pick-lists/{list_id}/scans",
    status_code=201,
    response_model=ScanOut,
    summary="Scan a bin, an item, or confirm a quantity",
    responses={
        409: {"description": "scan_bin_first, scan_item_first, task_done, pick_list_done, insufficient_stock"},
        422: {"description": "wrong_bin, wrong_item, too_many: the body names what was expected"},
    },
)
def scan(
    list_id: ListId, body: ScanCreate, request: Request, db: DbDep, principal: Picker, key: IdempotencyKeyHeader = None
):
    return created(request, principal, key, body, lambda: (service.scan(db, list_id, body, principal), 201))


@router.post(
    "/pick-lists/{list_id}/tasks/{task_id}/short",
    status_code=201,
    response_model=ShortOut,
    summary="Report a short pick: the bin holds fewer units than the task needs",
    responses={409: {"description": "task_done"}, 422: {"description": "not_short"}},
)
def short_pick(
    list_id: ListId,
    task_id: TaskId,
    body: ShortCreate,
    request: Request,
    db: DbDep,
    principal: Picker,
    key: IdempotencyKeyHeader = None,
):
    return created(
        request, principal, key, body, lambda: (service.short_pick(db, list_id, task_id, body, principal), 201)
    )


class _NoBody(Input):
    """The request hash of a POST without a body (for Idempotency-Key)."""
