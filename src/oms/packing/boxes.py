"""The box catalogue: adding, listing and changing the boxes packing chooses from, and the
catalogue box as ``oms.packing.cartons`` sees it."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from oms.db import Database
from oms.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from oms.packing import cartons
from oms.packing.model import Box, Package
from oms.packing.rules import PackageStatus
from oms.packing.schemas import BoxCreate, BoxOut, BoxUpdate, cents
from oms.schemas import Page, keyset, page_of


def _get_box(session: Session, code: str) -> Box:
    box = session.scalar(select(Box).where(Box.code == code))
    if box is None:
        raise NotFound(f"no box with code {code!r}", code="box_not_found")
    return box


def create_box(db: Database, data: BoxCreate) -> BoxOut:
    def use_case(session: Session) -> BoxOut:
        if session.scalar(select(Box.id).where(Box.code == data.code)):
            raise AlreadyExists(f"a box with code {data.code!r} already exists")
        box = Box(**data.model_dump(), is_active=True)
        session.add(box)
        session.flush()
        return BoxOut.model_validate(box)

    return db.run(use_case)


def list_boxes(db: Database, active: bool | None, limit: int, cursor: str | None) -> Page[BoxOut]:
    stmt = select(Box)
    if active is not None:
        stmt = stmt.where(Box.is_active.is_(active))
    with db.read() as session:
        return page_of([BoxOut.model_validate(b) for b in session.scalars(keyset(stmt, Box.id, cursor, limit))], limit)


_SHAPE = ("inner_length_mm", "inner_width_mm", "inner_height_mm", "max_weight_g", "tare_weight_g")


def update_box(db: Database, code: str, data: BoxUpdate) -> BoxOut:
    def use_case(session: Session) -> BoxOut:
        box = _get_box(session, code)
        changes = data.model_dump(exclude_unset=True)
        for key, value in changes.items():
            if value is None:
                raise InvalidInput(f"{key} cannot be null", code="validation_error")
        reshaped = [k for k in _SHAPE if k in changes and changes[k] != getattr(box, k)]
        if reshaped:
            # An open package's placements and expected weight were computed for this box.
            in_use = session.scalar(
                select(func.count()).where(Package.box_id == box.id, Package.status == PackageStatus.OPEN)
            )
            if in_use:
                raise Conflict(
                    f"box {code} is in {in_use} open package(s): its {', '.join(reshaped)} cannot change "
                    "until they are closed (add a new box instead)",
                    code="box_in_use",
                )
        for key, value in changes.items():
            setattr(box, key, value)
        if box.tare_weight_g >= box.max_weight_g:
            raise InvalidInput("tare_weight_g must be below max_weight_g", code="validation_error")
        session.flush()
        return BoxOut.model_validate(box)

    return db.run(use_case)


def carton_box(box: Box) -> cartons.Box:
    return cartons.Box(
        code=box.code,
        inner_length_mm=box.inner_length_mm,
        inner_width_mm=box.inner_width_mm,
        inner_height_mm=box.inner_height_mm,
        max_weight_g=box.max_weight_g,
        tare_weight_g=box.tare_weight_g,
        cost=cents(box.cost),  # as people write it in the explanation: 0.50, not 0.5000
    )
