"""Return use cases: policies, asking for a return, approving (with a return label) or rejecting,
receiving, inspecting unit by unit (restock, quarantine, write off), refunding or exchanging.

Every step checks the transition table (oms.returns.rules) under the order's lock, then the
return's, so two clerks working one return take turns; stock moves only through the ledger.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from oms.auth.service import Principal
from oms.catalog.model import Product
from oms.db import Database
from oms.db.base import utcnow
from oms.db.locks import lock_row
from oms.errors import Conflict, InvalidInput, NotFound
from oms.events.outbox import emit_many
from oms.inventory.model import Warehouse
from oms.notifications.email import order_context, queue_email
from oms.orders.locks import lock_order
from oms.orders.model import Allocation, Order, OrderLine
from oms.orders.queries import order_id_of, order_number
from oms.orders.timeline import record
from oms.picking.model import PickTask
from oms.returns import rules
from oms.returns.model import Return, ReturnLine
from oms.returns.policies import policy_for
from oms.returns.rules import ReturnStatus as R
from oms.returns.schemas import ApproveIn, ReturnCreate
from oms.shipping.model import Shipment

LINK_PURPOSE = b"oms.return-link.v1"


def load(session: Session, return_id: int, *, lock: bool = False) -> tuple[Return, Order]:
    """The return and its order; with ``lock``, the order's row first, then the return's."""
    order_id = session.scalar(select(Return.order_id).where(Return.id == return_id))
    if order_id is None:
        raise NotFound(f"no return {return_id}", code="return_not_found")
    if lock:
        order = lock_order(session, order_id)
        ret = lock_row(session, Return, return_id)
    else:
        order, ret = session.get(Order, order_id), session.get(Return, return_id)
    assert order is not None and ret is not None
    return ret, order


def holds_units():  # type: ignore[no-untyped-def]
    """Returns that count against what may still be returned: every one but the rejected."""
    return or_(Return.resolution.is_(None), Return.resolution != "rejected")


def lock_return(session: Session, return_id: int) -> Return:
    return load(session, return_id, lock=True)[0]


def step(
    session: Session, ret: Return, target: R, action: str, actor: str, message: str, data: dict | None = None
) -> None:
    rules.check_transition(ret.status, target, action)
    ret.status = target.value
    ret.updated_at = utcnow()
    record(session, [(ret.order_id, actor, f"return_{target.value}", message, {"return_id": ret.id, **(data or {})})])
    emit_many(
        session,
        [(f"return.{target.value}", {"return_id": ret.id, "order_id": ret.order_id, "rma": rules.rma_number(ret.id)})],
    )


# --- what may be returned ------------------------------------------------------------------------


def delivered_lines(session: Session, order: Order) -> tuple[list[rules.DeliveredLine], datetime | None]:
    """Per order line, the units delivered (picked into shipments the carrier delivered) and the units
    already on other returns that were not rejected; and when the last of those shipments arrived."""
    shipments = session.execute(
        select(Shipment.id, Shipment.delivered_at).where(Shipment.order_id == order.id, Shipment.status == "delivered")
    ).all()
    delivered: dict[int, int] = defaultdict(int)
    if shipments:
        for line_id, units in session.execute(
            select(Allocation.order_line_id, func.sum(PickTask.picked))
            .join(Allocation, Allocation.id == PickTask.allocation_id)
            .where(PickTask.shipment_id.in_([s for s, _ in shipments]), PickTask.status != "cancelled")
            .group_by(Allocation.order_line_id)
        ):
            delivered[line_id] += int(units or 0)
    on_returns = dict(
        session.execute(
            select(ReturnLine.order_line_id, func.sum(ReturnLine.quantity))
            .join(Return, Return.id == ReturnLine.return_id)
            .where(Return.order_id == order.id, holds_units())
            .group_by(ReturnLine.order_line_id)
        ).all()
    )
    rows = session.execute(
        select(OrderLine, Product.returnable)
        .join(Product, Product.id == OrderLine.product_id)
        .where(OrderLine.order_id == order.id)
        .order_by(OrderLine.line_no)
    ).all()
    lines = [
        rules.DeliveredLine(
            order_line_id=ln.id,
            sku=ln.sku,
            name=ln.name,
            quantity=ln.quantity,
            unit_price=ln.unit_price,
            returnable=returnable,
            delivered=min(delivered[ln.id], ln.shipped),
            already_returned=int(on_returns.get(ln.id, 0)),
        )
        for ln, returnable in rows
    ]
    return lines, max((at for _, at in shipments if at), default=None)


def spread_over_lines(
    lines: list[rules.DeliveredLine], requested: list[tuple[str, int, str]]
) -> list[rules.RequestedLine]:
    """Customers name products, not order lines. A product ordered on several lines (a marketplace
    splits lines by promotion) is taken from them in order, each up to what it may still return;
    what no line can take stays on the product's last line, so the eligibility check refuses it with
    the reason. Pure."""
    taken: dict[int, int] = defaultdict(int)
    asked: list[rules.RequestedLine] = []
    for sku, quantity, reason in requested:
        candidates = [ln for ln in lines if ln.sku == sku]
        left = quantity
        for n, ln in enumerate(candidates):
            room = max(0, ln.delivered - ln.already_returned - taken[ln.order_line_id])
            take = left if n == len(candidates) - 1 else min(room, left)
            if take > 0:
                asked.append(rules.RequestedLine(ln.order_line_id, take, reason))
                taken[ln.order_line_id] += take
                left -= take
    return asked


def customer_order(db: Database, number: str, email: str) -> int:
    """The order a customer names by number and email. One answer for a wrong number and a wrong email,
    so the form cannot be used to learn which order numbers exist."""
    order_id = order_id_of(number) or 0
    with db.read() as session:
        found = session.scalar(select(Order.customer_email).where(Order.id == order_id))
    if found is None or found != email:
        raise NotFound("no order with that number and email address", code="order_not_found")
    return order_id


def request_return(db: Database, data: ReturnCreate, actor: str, *, order_id: int, now: datetime | None = None) -> int:
    """Open a return for lines of a delivered order; refused with every reason the policy gives."""
    now = now or utcnow()

    def use_case(session: Session) -> int:
        order = lock_order(session, order_id)
        policy = policy_for(session, order.channel_id)
        lines, delivered_at = delivered_lines(session, order)
        unknown = sorted({x.sku for x in data.lines} - {ln.sku for ln in lines})
        if unknown:
            raise InvalidInput(
                f"order {order_number(order.id)} has no line for {', '.join(unknown)}", code="unknown_line"
            )
        asked = spread_over_lines(lines, [(x.sku, x.quantity, x.reason) for x in data.lines])
        sku_of = {ln.order_line_id: ln.sku for ln in lines}
        refusals = rules.check_eligibility(policy, lines, asked, delivered_at, now)
        if refusals:
            raise Conflict(
                "; ".join(r.detail for r in refusals),
                code=refusals[0].code,
                refusals=[{"order_line_id": r.order_line_id, "code": r.code, "detail": r.detail} for r in refusals],
            )
        products = dict(
            session.execute(select(OrderLine.id, OrderLine.product_id).where(OrderLine.order_id == order.id)).all()
        )
        ret = Return(
            order_id=order.id,
            status=R.REQUESTED.value,
            customer_email=order.customer_email,
            requested_by=actor,
            comment=data.comment,
            created_at=now,
            updated_at=now,
        )
        session.add(ret)
        session.flush()
        session.add_all(
            ReturnLine(
                return_id=ret.id,
                order_line_id=a.order_line_id,
                product_id=products[a.order_line_id],
                sku=sku_of[a.order_line_id],
                quantity=a.quantity,
                reason=a.reason,
                received=0,
                restocked=0,
                quarantined=0,
                written_off=0,
            )
            for a in asked
        )
        summary = ", ".join(f"{x.quantity} x {x.sku} ({policy.reason(x.reason).label})" for x in data.lines)
        record(
            session,
            [
                (
                    order.id,
                    actor,
                    "return_requested",
                    f"Return {rules.rma_number(ret.id)} asked for: {summary}",
                    {"return_id": ret.id},
                )
            ],
        )
        emit_many(
            session,
            [("return.requested", {"return_id": ret.id, "order_id": order.id, "rma": rules.rma_number(ret.id)})],
        )
        session.flush()
        queue_email(
            session,
            kind="return_requested",
            to=order.customer_email,
            context={
                "order": order_context(session, order.id),
                "rma": {"number": rules.rma_number(ret.id), "items": items_of(session, ret)},
            },
            dedupe_key=f"return_requested:{ret.id}",
            order_id=order.id,
        )
        return ret.id

    return db.run(use_case)


# --- approving, with a return label --------------------------------------------------------------


def items_of(session: Session, ret: Return, field: str = "quantity") -> list[dict[str, Any]]:
    rows = session.execute(
        select(ReturnLine, OrderLine.name)
        .join(OrderLine, OrderLine.id == ReturnLine.order_line_id)
        .where(ReturnLine.return_id == ret.id)
        .order_by(ReturnLine.id)
    ).all()
    return [{"sku": rl.sku, "name": name, "quantity": getattr(rl, field)} for rl, name in rows if getattr(rl, field)]


def _return_request(session: Session, ret: Return, order: Order, warehouse: Warehouse):  # type: ignore[no-untyped-def]
    """What the carrier is asked: from the customer's address back to the warehouse, one parcel."""
    from oms.routing.geocode import Geocode
    from oms.routing.service import order_destination
    from oms.shipping import rates
    from oms.shipping.adapters import ShipmentRequest
    from oms.shipping.service import address_lines, order_address_lines

    rows = session.execute(
        select(Product, ReturnLine.quantity)
        .join(ReturnLine, ReturnLine.product_id == Product.id)
        .where(ReturnLine.return_id == ret.id)
    ).all()
    weight = sum(p.weight_g * q for p, q in rows) + 300  # the customer's own box and filling
    sides = sorted((max(p.length_mm, p.width_mm, p.height_mm) for p, _ in rows), reverse=True)
    dims = (
        sides[0] + 50,
        max(p.width_mm for p, _ in rows) + 50,
        sum(min(p.length_mm, p.width_mm, p.height_mm) * q for p, q in rows) + 50,
    )
    home = order_destination(order)
    return ShipmentRequest(
        origin=rates.Location(
            home.latitude if isinstance(home, Geocode) else None,
            home.longitude if isinstance(home, Geocode) else None,
            order.ship_postal_code if order.ship_country == "US" else None,
        ),
        destination=rates.Location(
            warehouse.latitude, warehouse.longitude, warehouse.postal_code if warehouse.country == "US" else None
        ),
        ship_from_name=order.ship_name,
        ship_from_lines=order_address_lines(order),
        ship_to_name=f"{warehouse.name} - Returns",
        ship_to_lines=address_lines(
            warehouse.line1, None, warehouse.city, warehouse.region, warehouse.postal_code, warehouse.country
        ),
        packages=[rates.Package(weight_g=weight, dims_mm=dims, fragile=any(p.fragile for p, _ in rows))],
        order_number=rules.rma_number(ret.id),
    )


def approve(db: Database, return_id: int, data: ApproveIn, principal: Principal, public_url: str, secret: str) -> None:
    from oms.feedback.rules import make_token
    from oms.shipping.labelling import buy_return_label, void_purchases

    with db.read() as session:
        ret, order = load(session, return_id)
        rules.check_transition(ret.status, R.APPROVED, "approve")
        warehouse = _return_warehouse(session, order, data.warehouse)
        request = _return_request(session, ret, order, warehouse) if data.label else None
        session.expunge(warehouse)
    purchases, service_name = buy_return_label(db, request) if request is not None else ([], None)
    token = make_token(secret, return_id, utcnow() + timedelta(days=90), LINK_PURPOSE)

    def use_case(session: Session) -> None:
        ret, order = load(session, return_id, lock=True)
        step(session, ret, R.APPROVED, "approve", principal.actor, f"Return {rules.rma_number(ret.id)} approved")
        ret.warehouse_id = warehouse.id
        ret.approved_at = utcnow()
        label_url = None
        if purchases:
            first = purchases[0]
            ret.carrier, ret.tracking_number = first.carrier, first.tracking_number
            ret.label_pdf, ret.label_zpl, ret.label_cost = first.label_pdf, first.label_zpl, first.cost
            label_url = f"{public_url.rstrip('/')}/returns/{token}/label.pdf"
            step(
                session,
                ret,
                R.LABEL_SENT,
                "send the label of",
                principal.actor,
                f"Return label {first.tracking_number} ({service_name}) sent to the customer",
            )
        policy = policy_for(session, order.channel_id)
        queue_email(
            session,
            kind="return_approved",
            to=order.customer_email,
            context={
                "order": order_context(session, order.id),
                "rma": {
                    "number": rules.rma_number(ret.id),
                    "label_url": label_url or f"{public_url.rstrip('/')}/returns/{token}",
                    "items": items_of(session, ret),
                    "return_by": (utcnow() + timedelta(days=max(policy.window_days, 14))).date(),
                },
            },
            dedupe_key=f"return_approved:{ret.id}",
            order_id=order.id,
        )

    try:
        db.run(use_case)
    except Exception:
        void_purchases(db, purchases)  # the approval did not happen: the label must not be billed
        raise


def _return_warehouse(session: Session, order: Order, code: str | None) -> Warehouse:
    if code is not None:
        found = session.scalar(select(Warehouse).where(Warehouse.code == code))
        if found is None:
            raise NotFound(f"no warehouse {code!r}", code="unknown_warehouse")
        return found
    shipped_from = session.scalar(
        select(Shipment.warehouse_id)
        .where(Shipment.order_id == order.id, Shipment.status == "delivered")
        .order_by(Shipment.id)
    )
    if shipped_from is None:
        raise Conflict("the order has no delivered shipment to return to; name a warehouse", code="no_warehouse")
    found = session.get(Warehouse, shipped_from)
    assert found is not None
    return found


def reject(db: Database, return_id: int, reason: str, principal: Principal) -> None:
    def use_case(session: Session) -> None:
        ret, _ = load(session, return_id, lock=True)
        ret.note = reason
        ret.resolution = "rejected"  # what stays true once it is closed: its units are free again
        step(
            session, ret, R.REJECTED, "reject", principal.actor, f"Return {rules.rma_number(ret.id)} rejected: {reason}"
        )

    db.run(use_case)


def carrier_scan(session: Session, ret: Return, code: str, actor: str) -> bool:
    """A tracking event for a return label (oms.shipping.tracking_events): in the carrier's hands, the
    return is in transit. Whether it arrived is the warehouse's scan, not the carrier's."""
    if code in ("picked_up", "in_transit", "out_for_delivery", "delivered") and ret.status == R.LABEL_SENT:
        step(
            session,
            ret,
            R.IN_TRANSIT,
            "move",
            actor,
            f"Return {rules.rma_number(ret.id)} on its way back ({code.replace('_', ' ')})",
        )
        return True
    return False


def check_customer(db: Database, return_id: int, principal: Principal) -> None:
    """A customer (orders:read_own) sees only the returns of their own orders."""
    if "returns:write" in principal.scopes:
        return
    with db.read() as session:
        email = session.scalar(select(Return.customer_email).where(Return.id == return_id))
    if email != principal.email:  # another customer's, or none: one answer
        raise NotFound(f"no return {return_id}", code="return_not_found")
