"""Channels: where orders come from, and which warehouses may serve them."""

from __future__ import annotations

from typing import Any, NamedTuple

from sqlalchemy import Connection, Row, bindparam, delete, insert, select
from sqlalchemy.orm import Session

from oms.channels.model import Channel, ChannelWarehouse
from oms.channels.schemas import ChannelCreate, ChannelOut, ChannelUpdate
from oms.db import Database
from oms.errors import AlreadyExists, InvalidInput, NotFound
from oms.inventory.model import Warehouse
from oms.money import currency_exponent
from oms.routing.scoring import Candidate
from oms.schemas import Page, keyset, page_of


def create_channel(db: Database, data: ChannelCreate) -> ChannelOut:
    if data.currency:
        currency_exponent(data.currency)
    codes = data.warehouses or []
    if len(set(codes)) != len(codes):
        raise InvalidInput("a warehouse is listed twice", code="duplicate_warehouse")

    def use_case(session: Session) -> ChannelOut:
        if session.scalar(select(Channel.id).where(Channel.code == data.code)):
            raise AlreadyExists(f"a channel with code {data.code!r} already exists")
        ids = dict(session.execute(select(Warehouse.code, Warehouse.id).where(Warehouse.code.in_(codes))).all())
        missing = [c for c in codes if c not in ids]
        if missing:
            raise InvalidInput(f"unknown warehouse(s): {', '.join(missing)}", code="unknown_warehouse")
        channel = Channel(
            code=data.code,
            name=data.name,
            kind=data.kind.value,
            currency=data.currency,
            allow_stores=data.allow_stores,
            handling_days=data.handling_days,
            service_level=data.service_level,
        )
        session.add(channel)
        session.flush()
        if codes:
            session.execute(
                insert(ChannelWarehouse),
                [{"channel_id": channel.id, "warehouse_id": ids[c], "position": i} for i, c in enumerate(codes)],
            )
        return _out(session, channel)

    return db.run(use_case)


def _listed_codes(session: Session, channel_id: int) -> list[str]:
    return list(
        session.scalars(
            select(Warehouse.code)
            .join(ChannelWarehouse, ChannelWarehouse.warehouse_id == Warehouse.id)
            .where(ChannelWarehouse.channel_id == channel_id)
            .order_by(ChannelWarehouse.position)
        )
    )


def _out(session: Session, channel: Channel) -> ChannelOut:
    return ChannelOut(
        id=channel.id,
        code=channel.code,
        name=channel.name,
        kind=channel.kind,
        currency=channel.currency,
        is_active=channel.is_active,
        allow_stores=channel.allow_stores,
        handling_days=channel.handling_days,
        service_level=channel.service_level,
        warehouses=_listed_codes(session, channel.id),
        created_at=channel.created_at,
    )


def update_channel(db: Database, code: str, data: ChannelUpdate) -> ChannelOut:
    """Change a channel's rules. New orders follow them at once; placed orders keep their plan
    until they are routed again (POST /orders/{id}/reroute)."""
    codes = data.warehouses
    if codes is not None and len(set(codes)) != len(codes):
        raise InvalidInput("a warehouse is listed twice", code="duplicate_warehouse")

    def use_case(session: Session) -> ChannelOut:
        channel = get_channel(session, code)
        for field in ("name", "allow_stores", "is_active", "handling_days", "service_level"):
            value = getattr(data, field)
            if value is not None:
                setattr(channel, field, value)
        if codes is not None:
            ids = dict(session.execute(select(Warehouse.code, Warehouse.id).where(Warehouse.code.in_(codes))).all())
            missing = [c for c in codes if c not in ids]
            if missing:
                raise InvalidInput(f"unknown warehouse(s): {', '.join(missing)}", code="unknown_warehouse")
            session.execute(delete(ChannelWarehouse).where(ChannelWarehouse.channel_id == channel.id))
            if codes:
                session.execute(
                    insert(ChannelWarehouse),
                    [{"channel_id": channel.id, "warehouse_id": ids[c], "position": i} for i, c in enumerate(codes)],
                )
        session.flush()
        return _out(session, channel)

    return db.run(use_case)


def list_channels(db: Database, limit: int, cursor: str | None) -> Page[ChannelOut]:
    stmt = keyset(select(Channel), Channel.id, cursor, limit)
    with db.read() as session:
        rows = [_out(session, c) for c in session.scalars(stmt)]
    return page_of(rows, limit)


def read_channel(db: Database, code: str) -> ChannelOut:
    with db.read() as session:
        return _out(session, get_channel(session, code))


def get_channel(session: Session, code: str) -> Channel:
    channel = session.scalar(select(Channel).where(Channel.code == code))
    if channel is None:
        raise NotFound(f"no channel with code {code!r}")
    return channel


def routing_candidates(session: Session, channel_id: int) -> tuple[bool, list[Candidate]]:
    """(stores allowed, the eligible warehouses as routing candidates in preference order)."""
    rows = session.execute(_BY_ID, {"id": channel_id}).all()
    return (rows[0].allow_stores if rows else True), resolve_candidates(session.connection(), rows)


def channel_for_order(conn: Connection, code: str) -> ChannelForOrder:
    """An active channel with its eligible warehouses, in one read (the order hot path)."""
    rows = conn.execute(_BY_CODE, {"code": code}).all()
    if not rows:
        raise NotFound(f"no channel with code {code!r}")
    if not rows[0].is_active:
        raise InvalidInput(f"channel {code!r} is switched off", code="channel_inactive")
    return ChannelForOrder(rows[0].id, rows[0].currency, rows[0].allow_stores, resolve_candidates(conn, rows))


class ChannelForOrder(NamedTuple):
    id: int
    currency: str | None
    allow_stores: bool
    candidates: list[Candidate]


def resolve_candidates(conn: Connection, rows: list[Row[Any]]) -> list[Candidate]:
    """The rule, in one place (oms.orders.capture_pg repeats it in SQL, and the tests run both): a
    channel with no warehouses listed may use every active one; a channel with a list uses the
    active ones on it, in its order."""
    if not rows:
        return []
    if rows[0].warehouse_id is None:
        listed = [(r.id, r.code, r.kind, r.latitude, r.longitude) for r in conn.execute(_ALL_ACTIVE)]
    else:
        listed = [
            (r.warehouse_id, r.warehouse_code, r.warehouse_kind, r.warehouse_latitude, r.warehouse_longitude)
            for r in rows
            if r.warehouse_active
        ]
    return [Candidate(w, code, lat, lon, kind, rank) for rank, (w, code, kind, lat, lon) in enumerate(listed)]


_c, _cw, _w = Channel.__table__.c, ChannelWarehouse.__table__.c, Warehouse.__table__.c
# A channel with its listed warehouses in preference order (one row per listed warehouse).
_WITH_WAREHOUSES = (
    select(
        _c.id,
        _c.is_active,
        _c.currency,
        _c.allow_stores,
        _w.id.label("warehouse_id"),
        _w.code.label("warehouse_code"),
        _w.is_active.label("warehouse_active"),
        _w.kind.label("warehouse_kind"),
        _w.latitude.label("warehouse_latitude"),
        _w.longitude.label("warehouse_longitude"),
    )
    .select_from(Channel.__table__)
    .outerjoin(ChannelWarehouse.__table__, _cw.channel_id == _c.id)
    .outerjoin(Warehouse.__table__, _w.id == _cw.warehouse_id)
    .order_by(_cw.position)
)
_BY_CODE = _WITH_WAREHOUSES.where(_c.code == bindparam("code"))
_BY_ID = _WITH_WAREHOUSES.where(_c.id == bindparam("id"))
_ALL_ACTIVE = select(_w.id, _w.code, _w.kind, _w.latitude, _w.longitude).where(_w.is_active.is_(True)).order_by(_w.id)
