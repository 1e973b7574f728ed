from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request

from oms.auth.service import Principal
from oms.channels import service
from oms.channels.schemas import ChannelCreate, ChannelOut, ChannelUpdate
from oms.schemas import Page
from oms.web.deps import DbDep, require
from oms.web.params import Cursor, Limit
from oms.web.responses import IdempotencyKeyHeader, created

router = APIRouter(prefix="/channels", tags=["channels"])


@router.post("", status_code=201, response_model=ChannelOut)
def create_channel(
    body: ChannelCreate,
    request: Request,
    db: DbDep,
    principal: Annotated[Principal, require("channels:write")],
    key: IdempotencyKeyHeader = None,
):
    return created(request, principal, key, body, lambda: (service.create_channel(db, body), 201))


@router.get("", response_model=Page[ChannelOut])
def list_channels(
    db: DbDep, _: Annotated[Principal, require("channels:read")], limit: Limit = 50, cursor: Cursor = None
) -> Page[ChannelOut]:
    return service.list_channels(db, limit, cursor)


@router.get("/{code}", response_model=ChannelOut)
def get_channel(code: str, db: DbDep, _: Annotated[Principal, require("channels:read")]) -> ChannelOut:
    return service.read_channel(db, code)


@router.patch("/{code}", response_model=ChannelOut, summary="Change a channel's name, warehouses or routing rules")
def update_channel(
    code: str, body: ChannelUpdate, db: DbDep, _: Annotated[Principal, require("channels:write")]
) -> ChannelOut:
    return service.update_channel(db, code, body)
