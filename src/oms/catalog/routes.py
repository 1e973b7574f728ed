from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from oms.auth.service import Principal
from oms.catalog import service
from oms.catalog.schemas import ProductCreate, ProductOut, ProductUpdate
from oms.schemas import Page
from oms.web.deps import DbDep, require
from oms.web.params import Cursor, Limit
from oms.web.responses import IdempotencyKeyHeader, created

router = APIRouter(prefix="/products", tags=["catalog"])


@router.post("", status_code=201, response_model=ProductOut)
def create_product(
    body: ProductCreate,
    request: Request,
    db: DbDep,
    principal: Annotated[Principal, require("products:write")],
    key: IdempotencyKeyHeader = None,
):
    return created(request, principal, key, body, lambda: (service.create_product(db, body), 201))


@router.get("", response_model=Page[ProductOut])
def list_products(
    db: DbDep,
    _: Annotated[Principal, require("products:read")],
    q: Annotated[str | None, Query(max_length=100, description="SKU, name or barcode")] = None,
    active: bool | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[ProductOut]:
    return service.list_products(db, q, limit, cursor, active)


@router.get("/{sku}", response_model=ProductOut)
def get_product(sku: str, db: DbDep, _: Annotated[Principal, require("products:read")]) -> ProductOut:
    return service.read_product(db, sku)


@router.patch("/{sku}", response_model=ProductOut)
def update_product(
    sku: str, body: ProductUpdate, db: DbDep, principal: Annotated[Principal, require("products:write")]
) -> ProductOut:
    return service.update_product(db, sku, body, principal)
