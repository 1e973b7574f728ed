"""Reading returns: one, a page of them, and the returns report."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from oms.db import Database
from oms.inventory.model import Warehouse
from oms.money import to_currency
from oms.orders.model import Order, OrderLine
from oms.orders.queries import order_number
from oms.returns import rules
from oms.returns.model import Return, ReturnLine
from oms.returns.schemas import ReportRow, ReturnLineOut, ReturnOut, ReturnsReport
from oms.returns.service import holds_units
from oms.schemas import Page, keyset, page_of


def return_outs(session: Session, returns: list[Return]) -> list[ReturnOut]:
    """Returns with their lines and warehouse codes, in two queries for the whole page."""
    ids = [r.id for r in returns]
    lines: dict[int, list[ReturnLineOut]] = defaultdict(list)
    for rl, name in session.execute(
        select(ReturnLine, OrderLine.name)
        .join(OrderLine, OrderLine.id == ReturnLine.order_line_id)
        .where(ReturnLine.return_id.in_(ids))
        .order_by(ReturnLine.id)
    ):
        lines[rl.return_id].append(
            ReturnLineOut(
                sku=rl.sku,
                name=name,
                quantity=rl.quantity,
                reason=rl.reason,
                received=rl.received,
                restocked=rl.restocked,
                quarantined=rl.quarantined,
                written_off=rl.written_off,
            )
        )
    currencies = dict(
        session.execute(select(Order.id, Order.currency).where(Order.id.in_({r.order_id for r in returns}))).all()
    )
    codes = dict(
        session.execute(
            select(Warehouse.id, Warehouse.code).where(
                Warehouse.id.in_({r.warehouse_id for r in returns if r.warehouse_id})
            )
        ).all()
    )
    return [
        ReturnOut(
            id=r.id,
            rma=rules.rma_number(r.id),
            order_id=r.order_id,
            order_number=order_number(r.order_id),
            status=r.status,
            customer_email=r.customer_email,
            requested_by=r.requested_by,
            comment=r.comment,
            warehouse=codes.get(r.warehouse_id) if r.warehouse_id else None,
            carrier=r.carrier,
            tracking_number=r.tracking_number,
            label_url=f"/api/v1/returns/{r.id}/label.pdf" if r.label_pdf else None,
            resolution=r.resolution,
            currency=currencies[r.order_id],
            refund_total=to_currency(r.refund_total, currencies[r.order_id]) if r.refund_total is not None else None,
            exchange_order_id=r.exchange_order_id,
            note=r.note,
            lines=lines[r.id],
            created_at=r.created_at,
            updated_at=r.updated_at,
        )
        for r in returns
    ]


def return_out(session: Session, ret: Return) -> ReturnOut:
    return return_outs(session, [ret])[0]


def get_return(db: Database, return_id: int) -> ReturnOut:
    from oms.errors import NotFound

    with db.read() as session:
        ret = session.get(Return, return_id)
        if ret is None:
            raise NotFound(f"no return {return_id}", code="return_not_found")
        return return_out(session, ret)


def list_returns(
    db: Database, status: str | None, order_id: int | None, email: str | None, limit: int, cursor: str | None
) -> Page[ReturnOut]:
    stmt = select(Return)
    if status:
        stmt = stmt.where(Return.status == status)
    if order_id:
        stmt = stmt.where(Return.order_id == order_id)
    if email:
        stmt = stmt.where(Return.customer_email == email)
    with db.read() as session:
        rows = list(session.scalars(keyset(stmt, Return.id, cursor, limit, newest_first=True)))
        return page_of(return_outs(session, rows), limit)


def report(db: Database) -> ReturnsReport:
    """Return rate by product (units returned / units shipped), units by reason, and how long a
    refund takes from the request."""
    with db.read() as session:
        returned = dict(
            session.execute(
                select(ReturnLine.sku, func.sum(ReturnLine.quantity))
                .join(Return, Return.id == ReturnLine.return_id)
                .where(holds_units())
                .group_by(ReturnLine.sku)
            ).all()
        )
        shipped = dict(
            session.execute(
                select(OrderLine.sku, func.sum(OrderLine.shipped))
                .where(OrderLine.sku.in_(returned))
                .group_by(OrderLine.sku)
            ).all()
        )
        reasons = session.execute(
            select(ReturnLine.reason, func.sum(ReturnLine.quantity))
            .join(Return, Return.id == ReturnLine.return_id)
            .where(holds_units())
            .group_by(ReturnLine.reason)
            .order_by(func.sum(ReturnLine.quantity).desc())
        ).all()
        total = session.scalar(select(func.count()).select_from(Return)) or 0
        refunded = session.execute(
            select(Return.created_at, Return.resolved_at).where(
                Return.resolution == "refund", Return.resolved_at.is_not(None)
            )
        ).all()
    days = [(done - asked).total_seconds() / 86400 for asked, done in refunded]
    return ReturnsReport(
        by_product=sorted(
            (
                ReportRow(
                    key=sku,
                    returned_units=int(n),
                    sold_units=int(shipped.get(sku) or 0),
                    return_rate=round(int(n) / int(shipped[sku]), 4) if shipped.get(sku) else None,
                )
                for sku, n in returned.items()
            ),
            key=lambda r: (-(r.return_rate or 0), r.key),
        ),
        by_reason=[ReportRow(key=reason, returned_units=int(n)) for reason, n in reasons],
        returns=total,
        refunded=len(refunded),
        average_days_to_refund=round(sum(days) / len(days), 2) if days else None,
    )


def label_of(db: Database, return_id: int, fmt: str) -> tuple[bool, bytes | str | None]:
    """(whether the return exists, its label as ``pdf`` or ``zpl``, None when it has none): the one
    read behind the staff API's and the customer page's label downloads."""
    column = {"pdf": Return.label_pdf, "zpl": Return.label_zpl}[fmt]
    with db.read() as session:
        row = session.execute(select(column).where(Return.id == return_id)).first()
    return (row is not None, row[0] if row is not None else None)
