"""Channels: where orders come from, and which warehouses may serve them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from oms.channels.model import Channel, ChannelWarehouse
from oms.channels.schemas import ChannelCreate, ChannelOut
from oms.db import Database
from oms.errors import AlreadyExists, InvalidInput, NotFound
from oms.inventory.model import Warehouse
from oms.money import currency_exponent
from oms.schemas import Page, keyset, page_of


@dataclass(frozen=True)
class ChannelWarehouseRef:
    id: int
    code: str
    kind: str
    latitude: float | None
    longitude: float | None


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
        channel = Channel(code=data.code, name=data.name, kind=data.kind.value, currency=data.currency)
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
        warehouses=_listed_codes(session, channel.id),
        created_at=channel.created_at,
    )


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


def eligible_warehouses(session: Session, channel_id: int) -> list[ChannelWarehouseRef]:
    """The active warehouses this channel may ship from, in its preference order (one query)."""
    cols = (Warehouse.id, Warehouse.code, Warehouse.kind, Warehouse.latitude, Warehouse.longitude)
    listed = session.execute(
        select(*cols)
        .join(ChannelWarehouse, ChannelWarehouse.warehouse_id == Warehouse.id)
        .where(ChannelWarehouse.channel_id == channel_id, Warehouse.is_active.is_(True))
        .order_by(ChannelWarehouse.position)
    ).all()
    if not listed:
        # An empty result means either "no list: every active warehouse" or "all listed ones are off".
        has_list = session.scalar(
            select(ChannelWarehouse.warehouse_id).where(ChannelWarehouse.channel_id == channel_id).limit(1)
        )
        if has_list is None:
            listed = session.execute(select(*cols).where(Warehouse.is_active.is_(True)).order_by(Warehouse.id)).all()
    return [ChannelWarehouseRef(*row) for row in listed]
