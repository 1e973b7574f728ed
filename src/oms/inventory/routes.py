from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from oms.auth.service import Principal
from oms.inventory import service
from oms.inventory import warehouses as warehouse_service
from oms.inventory.schemas import (
    AdjustmentCreate,
    BinCreate,
    BinOut,
    MovementOut,
    ReceiptCreate,
    StockChangeOut,
    StockOut,
    TransferCreate,
    WarehouseCreate,
    WarehouseOut,
    WarehouseUpdate,
)
from oms.schemas import Page
from oms.web.deps import DbDep, require
from oms.web.params import MAX_ID, Cursor, Limit
from oms.web.responses import IdempotencyKeyHeader, created

warehouses = APIRouter(prefix="/warehouses", tags=["warehouses"])
inventory = APIRouter(prefix="/inventory", tags=["inventory"])

Writer = Annotated[Principal, require("inventory:write")]


@warehouses.post("", status_code=201, response_model=WarehouseOut)
def create_warehouse(
    body: WarehouseCreate,
    request: Request,
    db: DbDep,
    principal: Annotated[Principal, require("warehouses:write")],
    key: IdempotencyKeyHeader = None,
):
    return created(request, principal, key, body, lambda: (warehouse_service.create_warehouse(db, body), 201))


@warehouses.get("", response_model=Page[WarehouseOut])
def list_warehouses(
    db: DbDep, _: Annotated[Principal, require("warehouses:read")], limit: Limit = 50, cursor: Cursor = None
) -> Page[WarehouseOut]:
    return warehouse_service.list_warehouses(db, limit, cursor)


@warehouses.get("/{code}", response_model=WarehouseOut)
def get_warehouse(code: str, db: DbDep, _: Annotated[Principal, require("warehouses:read")]) -> WarehouseOut:
    return warehouse_service.read_warehouse(db, code)


@warehouses.patch("/{code}", response_model=WarehouseOut, summary="Rename, or switch a warehouse off and on")
def update_warehouse(
    code: str, body: WarehouseUpdate, db: DbDep, principal: Annotated[Principal, require("warehouses:write")]
) -> WarehouseOut:
    return warehouse_service.update_warehouse(db, code, body, principal)


@warehouses.post("/{code}/bins", status_code=201, response_model=BinOut)
def create_bin(
    code: str,
    body: BinCreate,
    request: Request,
    db: DbDep,
    principal: Annotated[Principal, require("warehouses:write")],
    key: IdempotencyKeyHeader = None,
):
    return created(request, principal, key, body, lambda: (warehouse_service.create_bin(db, code, body), 201))


@warehouses.get("/{code}/bins", response_model=Page[BinOut])
def list_bins(
    code: str,
    db: DbDep,
    _: Annotated[Principal, require("warehouses:read")],
    limit: Limit = 200,
    cursor: Cursor = None,
) -> Page[BinOut]:
    return warehouse_service.list_bins(db, code, limit, cursor)


@inventory.post("/receipts", status_code=201, response_model=StockChangeOut, summary="Receive stock")
def receive(body: ReceiptCreate, request: Request, db: DbDep, principal: Writer, key: IdempotencyKeyHeader = None):
    return created(request, principal, key, body, lambda: (service.receive(db, body, principal), 201))


@inventory.post("/adjustments", status_code=201, response_model=StockChangeOut, summary="Correct stock on hand")
def adjust(body: AdjustmentCreate, request: Request, db: DbDep, principal: Writer, key: IdempotencyKeyHeader = None):
    return created(request, principal, key, body, lambda: (service.adjust(db, body, principal), 201))


@inventory.post("/transfers", status_code=201, response_model=StockChangeOut, summary="Move stock between warehouses")
def transfer(body: TransferCreate, request: Request, db: DbDep, principal: Writer, key: IdempotencyKeyHeader = None):
    return created(request, principal, key, body, lambda: (service.transfer(db, body, principal), 201))


@inventory.get("/movements", response_model=Page[MovementOut], summary="The stock ledger, newest first")
def movements(
    db: DbDep,
    _: Annotated[Principal, require("inventory:read")],
    sku: Annotated[str | None, Query(max_length=64)] = None,
    warehouse: Annotated[str | None, Query(max_length=32)] = None,
    order_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[MovementOut]:
    return service.list_movements(db, sku, warehouse, order_id, limit, cursor)


@inventory.get("/{sku}", response_model=StockOut, summary="Stock of one SKU, in total and per warehouse")
def stock_for_sku(sku: str, db: DbDep, _: Annotated[Principal, require("inventory:read")]) -> StockOut:
    return service.stock_for_sku(db, sku)
