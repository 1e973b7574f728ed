"""Packing API: the box catalogue, shipments and their packages, scanning units in, closing."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel

from oms.auth.service import Principal
from oms.packing import boxes, queries, service
from oms.packing.rules import ShipmentStatus
from oms.packing.schemas import (
    BoxCreate,
    BoxOut,
    BoxUpdate,
    CloseCreate,
    CloseOut,
    PackedShipmentOut,
    ScanCreate,
    ScanOut,
    ShipmentOut,
)
from oms.schemas import Page
from oms.web.deps import DbDep, require
from oms.web.params import MAX_ID, Cursor, Limit
from oms.web.responses import IdempotencyKeyHeader, created

router = APIRouter(tags=["packing"])

# Boxes are warehouse supplies: managers keep the catalogue (with the products), floor staff read it.
BoxWriter = Annotated[Principal, require("products:write")]
BoxReader = Annotated[Principal, require("warehouses:read")]
Packer = Annotated[Principal, require("packing:write")]
ShipmentReader = Annotated[Principal, require("orders:read")]
ShipmentId = Annotated[int, Path(ge=1, le=MAX_ID, description="The shipment's id.")]
PackageId = Annotated[int, Path(ge=1, le=MAX_ID, description="The package's id.")]


class _NoBody(BaseModel):
    """What an Idempotency-Key is matched against for a POST without a body (the path is hashed too)."""


@router.post("/boxes", status_code=201, response_model=BoxOut, summary="Add a box to the catalogue")
def create_box(body: BoxCreate, request: Request, db: DbDep, principal: BoxWriter, key: IdempotencyKeyHeader = None):
    return created(request, principal, key, body, lambda: (boxes.create_box(db, body), 201))


@router.get("/boxes", response_model=Page[BoxOut], summary="The box catalogue")
def list_boxes(
    db: DbDep,
    _: BoxReader,
    active: Annotated[bool | None, Query(description="Only active (true) or retired (false) boxes.")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[BoxOut]:
    return boxes.list_boxes(db, active, limit, cursor)


@router.patch("/boxes/{code}", response_model=BoxOut, summary="Change a box, or retire it (is_active: false)")
def update_box(code: str, body: BoxUpdate, db: DbDep, _: BoxWriter) -> BoxOut:
    return boxes.update_box(db, code, body)


@router.get("/shipments", response_model=Page[ShipmentOut], summary="Shipments, with their packages")
def list_shipments(
    db: DbDep,
    _: ShipmentReader,
    status: ShipmentStatus | None = None,
    warehouse: Annotated[str | None, Query(max_length=32, description="Warehouse code")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[ShipmentOut]:
    return queries.list_shipments(db, status, warehouse, limit, cursor)


@router.get("/shipments/{shipment_id}", response_model=ShipmentOut, summary="A shipment and its packages")
def get_shipment(shipment_id: ShipmentId, db: DbDep, _: ShipmentReader) -> ShipmentOut:
    return queries.get_shipment(db, shipment_id)


@router.post(
    "/shipments/{shipment_id}/pack",
    status_code=201,
    response_model=PackedShipmentOut,
    summary="Choose the boxes and plan the packages (again, while nothing is scanned)",
)
def pack(shipment_id: ShipmentId, request: Request, db: DbDep, principal: Packer, key: IdempotencyKeyHeader = None):
    return created(request, principal, key, _NoBody(), lambda: (service.pack(db, shipment_id, principal), 201))


@router.post("/packages/{package_id}/scans", status_code=201, response_model=ScanOut, summary="Scan a unit in")
def scan(
    package_id: PackageId,
    body: ScanCreate,
    request: Request,
    db: DbDep,
    principal: Packer,
    key: IdempotencyKeyHeader = None,
):
    return created(request, principal, key, body, lambda: (service.scan(db, package_id, body, principal), 201))


@router.post("/packages/{package_id}/close", response_model=CloseOut, summary="Close a package (weigh it)")
def close(package_id: PackageId, db: DbDep, principal: Packer, body: CloseCreate | None = None) -> CloseOut:
    return service.close(db, package_id, body or CloseCreate(), principal)
