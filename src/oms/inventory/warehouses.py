"""Warehouses and bins: where stock lives. Switching a warehouse back on hands its stock to the
orders waiting for it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from oms.auth.service import Principal
from oms.db import Database
from oms.errors import AlreadyExists, InvalidInput, NotFound
from oms.inventory.model import Bin, StockLevel, Warehouse
from oms.inventory.schemas import BinCreate, BinOut, WarehouseCreate, WarehouseOut, WarehouseUpdate
from oms.orders.backorders import fill_backorders
from oms.routing.geocode import Geocode, geocode
from oms.schemas import Page, keyset, page_of


def _warehouse_out(w: Warehouse) -> WarehouseOut:
    return WarehouseOut(
        id=w.id,
        code=w.code,
        name=w.name,
        kind=w.kind,
        address={
            "line1": w.line1,
            "city": w.city,
            "region": w.region,
            "postal_code": w.postal_code,
            "country": w.country,
        },
        latitude=w.latitude,
        longitude=w.longitude,
        is_active=w.is_active,
        created_at=w.created_at,
    )


def create_warehouse(db: Database, data: WarehouseCreate) -> WarehouseOut:
    latitude, longitude = data.latitude, data.longitude
    if latitude is None:
        # Routing measures distances from here: without coordinates, the address's ZIP or city
        # centroid (offline) stands in. A warehouse nothing matches stays without a position.
        a = data.address
        point = geocode(a.country, a.postal_code, a.city, a.region)
        if isinstance(point, Geocode):
            latitude, longitude = point.latitude, point.longitude

    def use_case(session: Session) -> WarehouseOut:
        if session.scalar(select(Warehouse.id).where(Warehouse.code == data.code)):
            raise AlreadyExists(f"a warehouse with code {data.code!r} already exists")
        w = Warehouse(
            code=data.code,
            name=data.name,
            kind=data.kind.value,
            latitude=latitude,
            longitude=longitude,
            **data.address.model_dump(),
        )
        session.add(w)
        session.flush()
        return _warehouse_out(w)

    return db.run(use_case)


def get_warehouse(session: Session, code: str) -> Warehouse:
    w = session.scalar(select(Warehouse).where(Warehouse.code == code))
    if w is None:
        raise NotFound(f"no warehouse with code {code!r}")
    return w


def warehouse_for_input(session: Session, code: str) -> Warehouse:
    """A warehouse named inside a request body: unknown is a 422, not a 404 of the URL."""
    try:
        return get_warehouse(session, code)
    except NotFound:
        raise InvalidInput(f"unknown warehouse {code!r}", code="unknown_warehouse") from None


def read_warehouse(db: Database, code: str) -> WarehouseOut:
    with db.read() as session:
        return _warehouse_out(get_warehouse(session, code))


def update_warehouse(db: Database, code: str, data: WarehouseUpdate, principal: Principal) -> WarehouseOut:
    def use_case(session: Session) -> WarehouseOut:
        w = get_warehouse(session, code)
        switched_on = data.is_active is True and not w.is_active
        for key, value in data.model_dump(exclude_unset=True).items():
            if value is None:
                raise InvalidInput(f"{key} cannot be null", code="validation_error")
            setattr(w, key, value)
        session.flush()
        if switched_on:  # its stock is eligible again: the orders waiting for it come first
            held = set(
                session.scalars(
                    select(StockLevel.product_id).where(
                        StockLevel.warehouse_id == w.id, StockLevel.on_hand > StockLevel.reserved
                    )
                )
            )
            fill_backorders(session, held, principal.actor)
        return _warehouse_out(w)

    return db.run(use_case)


def list_warehouses(db: Database, limit: int, cursor: str | None) -> Page[WarehouseOut]:
    stmt = keyset(select(Warehouse), Warehouse.id, cursor, limit)
    with db.read() as session:
        return page_of([_warehouse_out(w) for w in session.scalars(stmt)], limit)


def create_bin(db: Database, warehouse_code: str, data: BinCreate) -> BinOut:
    def use_case(session: Session) -> BinOut:
        w = get_warehouse(session, warehouse_code)
        if session.scalar(select(Bin.id).where(Bin.warehouse_id == w.id, Bin.code == data.code)):
            raise AlreadyExists(f"warehouse {w.code} already has a bin {data.code!r}")
        b = Bin(warehouse_id=w.id, **data.model_dump())
        session.add(b)
        session.flush()
        return BinOut.model_validate(b)

    return db.run(use_case)


def list_bins(db: Database, warehouse_code: str, limit: int, cursor: str | None) -> Page[BinOut]:
    with db.read() as session:
        w = get_warehouse(session, warehouse_code)
        stmt = keyset(select(Bin).where(Bin.warehouse_id == w.id), Bin.id, cursor, limit)
        return page_of([BinOut.model_validate(b) for b in session.scalars(stmt)], limit)
