"""Carriers as configured data: stored, changed through the API, and turned into the adapter that
prices and labels with them. A table-rate carrier's whole rate card lives in ``carriers.config``
(the JSON of oms.shipping.carrier_config.CarrierConfig)."""

from __future__ import annotations

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from oms.db import Database
from oms.db.base import utcnow
from oms.errors import InvalidInput, NotFound
from oms.shipping import tracking
from oms.shipping.adapters import ADAPTERS, CarrierAdapter, TableRateCarrier, adapter_for
from oms.shipping.carrier_config import CarrierConfig, from_carrier, to_carrier
from oms.shipping.carriers_demo import DEMO_CARRIERS
from oms.shipping.model import Carrier
from oms.shipping.schemas import CarrierOut, CarrierPut

TABLE_RATE = "table_rate"


def carrier_out(row: Carrier) -> CarrierOut:
    return CarrierOut(
        code=row.code,
        name=row.name,
        adapter=row.adapter,
        tracking_prefix=row.tracking_prefix,
        is_active=row.is_active,
        has_webhook_secret=bool(row.webhook_secret),
        services=row.config.get("services", []),
        updated_at=row.updated_at,
    )


def get_carrier(session: Session, code: str) -> Carrier:
    row = session.scalar(select(Carrier).where(Carrier.code == code))
    if row is None:
        raise NotFound(f"no carrier {code!r}", code="unknown_carrier", carrier=code)
    return row


def list_carriers(db: Database) -> list[CarrierOut]:
    with db.read() as session:
        return [carrier_out(c) for c in session.scalars(select(Carrier).order_by(Carrier.code))]


def read_carrier(db: Database, code: str) -> CarrierOut:
    with db.read() as session:
        return carrier_out(get_carrier(session, code))


def put_carrier(db: Database, code: str, data: CarrierPut) -> tuple[CarrierOut, bool]:
    """Create or replace a carrier's configuration; (carrier, created)."""
    if data.adapter == TABLE_RATE and not data.tracking_prefix:
        raise InvalidInput("a table-rate carrier needs a tracking_prefix for its numbers", code="invalid_carrier")
    if data.adapter != TABLE_RATE and data.adapter not in ADAPTERS:
        raise InvalidInput(
            f"no carrier adapter named {data.adapter!r} (installed: {', '.join(sorted(ADAPTERS))}, {TABLE_RATE})",
            code="unknown_adapter",
        )
    try:
        config = CarrierConfig(code=code, name=data.name, services=data.services)
    except ValidationError as exc:  # the body was checked; what is left is the code and name together
        raise InvalidInput(f"invalid carrier: {exc.errors()[0]['msg']}", code="invalid_carrier") from None
    if data.adapter == TABLE_RATE:
        to_carrier(config)  # every check the rate tables make, before anything is stored

    def use_case(session: Session) -> tuple[CarrierOut, bool]:
        row = session.scalar(select(Carrier).where(Carrier.code == code))
        if data.tracking_prefix:
            others = {
                c: p
                for c, p in session.execute(select(Carrier.code, Carrier.tracking_prefix).where(Carrier.code != code))
                if p
            }
            tracking.check_prefixes({**others, code: data.tracking_prefix})
        created = row is None
        if row is None:
            row = Carrier(code=code, created_at=utcnow())
            session.add(row)
        elif row.tracking_prefix and data.tracking_prefix != row.tracking_prefix:
            # Numbers already printed carry the old prefix: changing it would orphan them.
            raise InvalidInput(
                f"carrier {code!r} prints {row.tracking_prefix!r} on its labels; a prefix is never changed",
                code="prefix_in_use",
            )
        row.name = data.name
        row.adapter = data.adapter
        row.config = config.model_dump(mode="json")
        row.tracking_prefix = data.tracking_prefix
        row.is_active = data.is_active
        if data.webhook_secret is not None:
            row.webhook_secret = data.webhook_secret.get_secret_value()
        row.updated_at = utcnow()
        session.flush()
        return carrier_out(row), created

    return db.run(use_case)


def adapter_of(row: Carrier) -> CarrierAdapter:
    """The adapter that talks to this carrier: built from its stored rate card, or the live one."""
    if row.adapter == TABLE_RATE:
        carrier = to_carrier(CarrierConfig.model_validate(row.config))
        return TableRateCarrier(carrier, {row.code: row.tracking_prefix or ""})
    return adapter_for(row.adapter)


def active_carriers(session: Session) -> list[Carrier]:
    return list(session.scalars(select(Carrier).where(Carrier.is_active).order_by(Carrier.code)))


def seed_demo_carriers(session: Session, webhook_secret: str) -> None:
    """The built-in carriers with their illustrative rate cards (oms.shipping.carriers_demo)."""
    now = utcnow()
    for carrier in DEMO_CARRIERS:
        if session.scalar(select(Carrier.id).where(Carrier.code == carrier.code)):
            continue
        session.add(
            Carrier(
                code=carrier.code,
                name=carrier.name,
                adapter=TABLE_RATE,
                config=from_carrier(carrier).model_dump(mode="json"),
                tracking_prefix=tracking.CARRIER_PREFIXES[carrier.code],
                webhook_secret=webhook_secret,
                is_active=True,
                created_at=now,
                updated_at=now,
            )
        )
    session.flush()
