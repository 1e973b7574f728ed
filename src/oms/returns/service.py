"""Return use cases: policies, asking for a return, approving (with a return label) or rejecting,
receiving, inspecting unit by unit (restock, quarantine, write off), refunding or exchanging.

Every step checks the transition table (oms.returns.rules) under the order's lock, then the
return's, so two clerks working one return take turns; stock moves only through the ledger.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from oms.auth.service import Principal
from oms.catalog.model import Product
from oms.channels.model import Channel
from oms.db import Database
from oms.db.base import utcnow
from oms.db.locks import lock_row
from oms.errors import Conflict, Forbidden, InvalidInput, NotFound
from oms.events.outbox import emit_many
from oms.inventory.model import Bin, BinStock, Warehouse
from oms.inventory.stock import Movement, MovementKind, apply
from oms.notifications.email import order_context, queue_email
from oms.orders.backorders import fill_backorders, lock_waiting_orders
from oms.orders.locks import lock_order
from oms.orders.model import Allocation, Order, OrderLine
from oms.orders.queries import NUMBER_PREFIX, order_number
from oms.orders.timeline import record
from oms.picking.model import PickTask
from oms.returns import rules
from oms.returns.model import Refund, Return, ReturnInspection, ReturnLine
from oms.returns.policies import policy_for
from oms.returns.rules import ReturnStatus as R
from oms.returns.schemas import ApproveIn, InspectIn, ReceiveIn, ReturnCreate
from oms.returns.views import return_out
from oms.shipping.model import Shipment

LINK_PURPOSE = b"oms.return-link.v1"


def _get(session: Session, return_id: int, *, lock: bool = False) -> tuple[Return, Order]:
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


def lock_return(session: Session, return_id: int) -> Return:
    return _get(session, return_id, lock=True)[0]


def _step(
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
            .where(Return.order_id == order.id, Return.status != R.REJECTED)
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


def customer_order(db: Database, number: str, email: str) -> int:
    """The order a customer names by number and email. One answer for a wrong number and a wrong email,
    so the form cannot be used to learn which order numbers exist."""
    digits = number.strip().upper().removeprefix(NUMBER_PREFIX)
    order_id = int(digits) if digits.isascii() and digits.isdigit() and len(digits) < 12 else 0
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
        by_sku = {ln.sku: ln for ln in lines}
        unknown = sorted({x.sku for x in data.lines} - by_sku.keys())
        if unknown:
            raise InvalidInput(
                f"order {order_number(order.id)} has no line for {', '.join(unknown)}", code="unknown_line"
            )
        asked = [rules.RequestedLine(by_sku[x.sku].order_line_id, x.quantity, x.reason) for x in data.lines]
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
                sku=next(x.sku for x in data.lines if by_sku[x.sku].order_line_id == a.order_line_id),
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
        return ret.id

    return db.run(use_case)


# --- approving, with a return label --------------------------------------------------------------


def _items(session: Session, ret: Return, field: str = "quantity") -> list[dict[str, Any]]:
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
    from oms.shipping.service import buy_return_label

    with db.read() as session:
        ret, order = _get(session, return_id)
        rules.check_transition(ret.status, R.APPROVED, "approve")
        warehouse = _return_warehouse(session, order, data.warehouse)
        request = _return_request(session, ret, order, warehouse) if data.label else None
        session.expunge(warehouse)
    purchases, service_name = buy_return_label(db, request) if request is not None else ([], None)
    token = make_token(secret, return_id, utcnow() + timedelta(days=90), LINK_PURPOSE)

    def use_case(session: Session) -> None:
        ret, order = _get(session, return_id, lock=True)
        _step(session, ret, R.APPROVED, "approve", principal.actor, f"Return {rules.rma_number(ret.id)} approved")
        ret.warehouse_id = warehouse.id
        ret.approved_at = utcnow()
        label_url = None
        if purchases:
            first = purchases[0]
            ret.carrier, ret.tracking_number = first.carrier, first.tracking_number
            ret.label_pdf, ret.label_zpl, ret.label_cost = first.label_pdf, first.label_zpl, first.cost
            label_url = f"{public_url.rstrip('/')}/returns/{token}/label.pdf"
            _step(
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
                    "items": _items(session, ret),
                    "return_by": (utcnow() + timedelta(days=max(policy.window_days, 14))).date(),
                },
            },
            dedupe_key=f"return_approved:{ret.id}",
            order_id=order.id,
        )

    db.run(use_case)


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
        ret, _ = _get(session, return_id, lock=True)
        ret.note = reason
        _step(
            session, ret, R.REJECTED, "reject", principal.actor, f"Return {rules.rma_number(ret.id)} rejected: {reason}"
        )

    db.run(use_case)


def carrier_scan(session: Session, ret: Return, code: str, actor: str) -> bool:
    """A tracking event for a return label (oms.shipping.tracking_events): in the carrier's hands, the
    return is in transit. Whether it arrived is the warehouse's scan, not the carrier's."""
    if code in ("picked_up", "in_transit", "out_for_delivery", "delivered") and ret.status == R.LABEL_SENT:
        _step(
            session,
            ret,
            R.IN_TRANSIT,
            "move",
            actor,
            f"Return {rules.rma_number(ret.id)} on its way back ({code.replace('_', ' ')})",
        )
        return True
    return False


# --- receiving and inspecting ---------------------------------------------------------------------


def receive(db: Database, return_id: int, data: ReceiveIn, principal: Principal) -> None:
    """Scan the RMA and the items at the warehouse; what differs from the request is recorded."""
    if data.rma.strip().upper() != rules.rma_number(return_id):
        raise InvalidInput(f"the scanned RMA {data.rma!r} is not {rules.rma_number(return_id)}", code="wrong_rma")

    def use_case(session: Session) -> None:
        ret, order = _get(session, return_id, lock=True)
        rules.check_transition(ret.status, R.RECEIVED, "receive")
        warehouse = session.scalar(select(Warehouse).where(Warehouse.code == data.warehouse))
        if warehouse is None:
            raise NotFound(f"no warehouse {data.warehouse!r}", code="unknown_warehouse")
        lines = session.scalars(select(ReturnLine).where(ReturnLine.return_id == ret.id).order_by(ReturnLine.id)).all()
        barcodes = dict(
            session.execute(
                select(Product.barcode, Product.sku).where(Product.id.in_([ln.product_id for ln in lines]))
            ).all()
        )
        counted: dict[str, int] = defaultdict(int)
        for item in data.items:
            sku = barcodes.get(item.item, item.item)
            if sku not in {ln.sku for ln in lines}:
                raise InvalidInput(f"{item.item} is not on return {rules.rma_number(ret.id)}", code="not_on_return")
            counted[sku] += item.quantity
        differences = []
        for ln in lines:
            ln.received = counted.get(ln.sku, 0)
            if ln.received > ln.quantity:
                raise InvalidInput(
                    f"{ln.received} x {ln.sku} scanned, the return asks for {ln.quantity}", code="too_many"
                )
            if ln.received != ln.quantity:
                differences.append(f"{ln.sku}: {ln.received} of {ln.quantity}")
        ret.warehouse_id = warehouse.id
        ret.received_at = utcnow()
        ret.note = ("received " + "; ".join(differences)) if differences else None
        message = f"Return {rules.rma_number(ret.id)} received at {warehouse.code}" + (
            f" ({ret.note})" if differences else ""
        )
        _step(session, ret, R.RECEIVED, "receive", principal.actor, message, {"differences": differences})
        queue_email(
            session,
            kind="return_received",
            to=order.customer_email,
            context={
                "order": order_context(session, order.id),
                "rma": {"number": rules.rma_number(ret.id), "items": _items(session, ret, "received")},
            },
            dedupe_key=f"return_received:{ret.id}",
            order_id=order.id,
        )

    db.run(use_case)


def inspect(db: Database, return_id: int, data: InspectIn, principal: Principal) -> None:
    """Grade each received unit and decide: restock into a sellable bin (a ledger row; waiting
    backorders fill from it), quarantine, or write off (ledger rows with the reason)."""

    def use_case(session: Session) -> None:
        with session.no_autoflush:
            ret, order = _get(session, return_id, lock=True)
        rules.check_transition(ret.status, R.INSPECTED, "inspect")
        lines = {ln.sku: ln for ln in session.scalars(select(ReturnLine).where(ReturnLine.return_id == ret.id))}
        product_ids = sorted({ln.product_id for ln in lines.values()})
        lock_waiting_orders(session, product_ids, order.id)  # orders before stock rows, as every writer
        per_sku: dict[str, int] = defaultdict(int)
        for unit in data.units:
            if unit.sku not in lines:
                raise InvalidInput(f"{unit.sku} is not on return {rules.rma_number(ret.id)}", code="not_on_return")
            per_sku[unit.sku] += 1
        for sku, ln in lines.items():
            if per_sku.get(sku, 0) != ln.received:
                raise InvalidInput(
                    f"{ln.received} x {sku} were received; inspect each of them once ({per_sku.get(sku, 0)} given)",
                    code="inspection_incomplete",
                )
        assert ret.warehouse_id is not None
        movements: list[Movement] = []
        reference = rules.rma_number(ret.id)
        for unit in data.units:
            ln = lines[unit.sku]
            disposition = unit.disposition or rules.default_disposition(unit.grade)
            bin_id = (
                _restock_bin(session, ret.warehouse_id, ln.product_id, unit.bin)
                if disposition == rules.Disposition.RESTOCK
                else None
            )
            kind = {
                rules.Disposition.RESTOCK: MovementKind.RETURN,
                rules.Disposition.QUARANTINE: MovementKind.QUARANTINE,
                rules.Disposition.WRITE_OFF: MovementKind.WRITE_OFF,
            }[disposition]
            movements.append(
                Movement(
                    ln.product_id,
                    ret.warehouse_id,
                    kind,
                    principal.actor,
                    delta_on_hand=1 if disposition == rules.Disposition.RESTOCK else 0,
                    reason=f"returned {unit.grade.value}" + (f": {unit.note}" if unit.note else ""),
                    reference=reference,
                    order_id=order.id,
                    bin_id=bin_id,
                )
            )
            field = {"restock": "restocked", "quarantine": "quarantined", "write_off": "written_off"}[disposition.value]
            setattr(ln, field, getattr(ln, field) + 1)
            session.add(
                ReturnInspection(
                    return_line_id=ln.id,
                    grade=unit.grade.value,
                    disposition=disposition.value,
                    bin_id=bin_id,
                    note=unit.note,
                    actor=principal.actor,
                    created_at=utcnow(),
                )
            )
        apply(session, movements)
        restocked = sorted({m.product_id for m in movements if m.delta_on_hand > 0})
        filled = fill_backorders(session, restocked, principal.actor) if restocked else []
        counts = {d: sum(getattr(ln, d) for ln in lines.values()) for d in ("restocked", "quarantined", "written_off")}
        message = f"Return {reference} inspected: " + ", ".join(
            f"{n} {what.replace('_', ' ')}" for what, n in counts.items()
        )
        _step(
            session, ret, R.INSPECTED, "inspect", principal.actor, message, {**counts, "backorders_filled": len(filled)}
        )

    db.run(use_case)


def _restock_bin(session: Session, warehouse_id: int, product_id: int, code: str | None) -> int | None:
    """The bin named, or the bin that already holds most of the product (none: loose stock)."""
    if code is not None:
        found = session.scalar(select(Bin.id).where(Bin.warehouse_id == warehouse_id, Bin.code == code))
        if found is None:
            raise InvalidInput(f"no bin {code!r} in this warehouse", code="unknown_bin")
        return found
    return session.scalar(
        select(BinStock.bin_id)
        .join(Bin, Bin.id == BinStock.bin_id)
        .where(Bin.warehouse_id == warehouse_id, BinStock.product_id == product_id)
        .order_by(BinStock.quantity.desc(), BinStock.bin_id)
        .limit(1)
    )


# --- refund or exchange ---------------------------------------------------------------------------


def _money(order: Order) -> rules.OrderMoney:
    return rules.OrderMoney(
        currency=order.currency,
        lines_subtotal=order.subtotal,
        discount_total=order.discount_total,
        shipping_total=order.shipping_total,
        tax_total=order.tax_total,
        paid=order.paid_amount,
        refunded=order.refunded_amount,
    )


def refund(db: Database, return_id: int, principal: Principal) -> int:
    """Refund what the policy says for the units received, never more than was paid and not yet refunded."""

    def use_case(session: Session) -> int:
        ret, order = _get(session, return_id, lock=True)
        rules.check_transition(ret.status, R.REFUNDED, "refund")
        policy = policy_for(session, order.channel_id)
        rows = session.execute(
            select(ReturnLine, OrderLine)
            .join(OrderLine, OrderLine.id == ReturnLine.order_line_id)
            .where(ReturnLine.return_id == ret.id)
        ).all()
        lines = [rules.RefundLine(ol.id, rl.received, ol.unit_price, ol.quantity) for rl, ol in rows if rl.received]
        # A reason taken off the policy since the return was asked for still counts, as not the shop's fault.
        offered = {r.code: r for r in policy.reasons}
        reasons = [offered.get(rl.reason, rules.Reason(rl.reason, rl.reason, False)) for rl, _ in rows if rl.received]
        if not lines:
            raise Conflict(
                f"nothing was received on {rules.rma_number(ret.id)}: there is nothing to refund",
                code="nothing_received",
            )
        money = _money(order)
        breakdown = rules.compute_refund(policy, money, lines, reasons)
        if breakdown.total > 0:
            rules.check_refund_amount(money, breakdown.total)
        order.refunded_amount += breakdown.total
        if breakdown.total > 0:
            order.payment_status = rules.payment_status_after_refund(order.paid_amount, order.refunded_amount)
        order.updated_at = utcnow()
        row = Refund(
            order_id=order.id,
            return_id=ret.id,
            amount=breakdown.total,
            currency=order.currency,
            method=policy.refund_method,
            breakdown=_breakdown_json(breakdown),
            actor=principal.actor,
            created_at=utcnow(),
        )
        session.add(row)
        session.flush()
        ret.resolution, ret.refund_total, ret.resolved_at = "refund", breakdown.total, utcnow()
        _step(
            session,
            ret,
            R.REFUNDED,
            "refund",
            principal.actor,
            f"Refund {breakdown.total} {order.currency} for {rules.rma_number(ret.id)}: " + "; ".join(breakdown.notes),
            {"refund_id": row.id},
        )
        emit_many(
            session,
            [
                (
                    "refund.issued",
                    {"order_id": order.id, "return_id": ret.id, "refund_id": row.id, "amount": str(breakdown.total)},
                )
            ],
        )
        queue_email(
            session,
            kind="refund_issued",
            to=order.customer_email,
            context={
                "order": order_context(session, order.id),
                "refund": {"amount": breakdown.total, "rma_number": rules.rma_number(ret.id)},
            },
            dedupe_key=f"refund_issued:{row.id}",
            order_id=order.id,
        )
        return row.id

    return db.run(use_case)


def _breakdown_json(b: rules.RefundBreakdown) -> dict[str, Any]:
    return {
        "items": str(b.items),
        "discount_share": str(b.discount_share),
        "tax_share": str(b.tax_share),
        "shipping": str(b.shipping),
        "restocking_fee": str(b.restocking_fee),
        "return_shipping_fee": str(b.return_shipping_fee),
        "total": str(b.total),
        "capped": b.capped,
        "notes": list(b.notes),
    }


def exchange(db: Database, return_id: int, lines: list[tuple[str, int]], principal: Principal) -> int:
    """A replacement order for the chosen products, reserved and routed like any other, paid by the
    returned items (up to their value), and linked to the return."""
    from oms.orders.capture import create_order
    from oms.orders.schemas import Address, Customer, LineIn, OrderCreate, PaymentIn

    with db.read() as session:
        ret, order = _get(session, return_id)
        rules.check_transition(ret.status, R.EXCHANGED, "exchange")
        policy = policy_for(session, order.channel_id)
        if not policy.exchange_allowed:
            raise Conflict("this channel's return policy does not offer exchanges", code="exchange_not_allowed")
        returned = session.execute(
            select(func.coalesce(func.sum(ReturnLine.received * OrderLine.unit_price), 0))
            .join(OrderLine, OrderLine.id == ReturnLine.order_line_id)
            .where(ReturnLine.return_id == ret.id)
        ).scalar_one()
        prices = dict(
            session.execute(select(Product.sku, Product.price).where(Product.sku.in_([s for s, _ in lines]))).all()
        )
        channel = session.get(Channel, order.channel_id)
        assert channel is not None
        unknown = sorted({s for s, _ in lines} - prices.keys())
        if unknown:
            raise InvalidInput(f"unknown SKU(s): {', '.join(unknown)}", code="unknown_sku")
        value = sum((prices[s] * q for s, q in lines), Decimal(0))
        if value > Decimal(returned):
            raise Conflict(
                f"the replacement is worth {value}, the returned items {returned}: refund and order instead",
                code="exchange_worth_more",
            )
        data = OrderCreate(
            channel=channel.code,
            external_id=f"exchange-{rules.rma_number(ret.id)}",
            customer=Customer(email=order.customer_email, name=order.customer_name, phone=order.customer_phone),
            shipping_address=Address(
                name=order.ship_name,
                line1=order.ship_line1,
                line2=order.ship_line2,
                city=order.ship_city,
                region=order.ship_region,
                postal_code=order.ship_postal_code,
                country=order.ship_country,
                latitude=order.ship_latitude,
                longitude=order.ship_longitude,
            ),
            lines=[LineIn(sku=s, quantity=q, unit_price=prices[s]) for s, q in lines],
            currency=order.currency,
            payment=PaymentIn(status="paid", amount=value, method="exchange", reference=rules.rma_number(ret.id)),
        )
    new_order, _ = create_order(db, data, principal)

    def use_case(session: Session) -> int:
        ret, order = _get(session, return_id, lock=True)
        ret.resolution, ret.exchange_order_id, ret.resolved_at = "exchange", new_order.id, utcnow()
        _step(
            session,
            ret,
            R.EXCHANGED,
            "exchange",
            principal.actor,
            f"Return {rules.rma_number(ret.id)} exchanged: new order {new_order.number}",
            {"exchange_order_id": new_order.id},
        )
        queue_email(
            session,
            kind="exchange_created",
            to=order.customer_email,
            context={
                "order": order_context(session, order.id),
                "rma": {"number": rules.rma_number(ret.id)},
                "exchange": {
                    "order_number": new_order.number,
                    "items": [{"sku": ln.sku, "name": ln.name, "quantity": ln.quantity} for ln in new_order.lines],
                },
            },
            dedupe_key=f"exchange_created:{ret.id}",
            order_id=order.id,
        )
        return new_order.id

    return db.run(use_case)


def close(db: Database, return_id: int, principal: Principal) -> None:
    def use_case(session: Session) -> None:
        ret, _ = _get(session, return_id, lock=True)
        _step(session, ret, R.CLOSED, "close", principal.actor, f"Return {rules.rma_number(ret.id)} closed")

    db.run(use_case)


def check_customer(db: Database, return_id: int, principal: Principal) -> None:
    """A customer (orders:read_own) sees only the returns of their own orders."""
    if "returns:write" in principal.scopes:
        return
    with db.read() as session:
        email = session.scalar(select(Return.customer_email).where(Return.id == return_id))
    if email != principal.email:
        raise (
            Forbidden("this return belongs to another customer")
            if email
            else NotFound(f"no return {return_id}", code="return_not_found")
        )


__all__ = ["return_out"]
