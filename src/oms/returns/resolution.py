"""Resolving a return: the refund the policy gives (never more than was paid and not yet refunded),
or an exchange (a replacement order linked to the return); then closing it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from oms.auth.service import Principal
from oms.catalog.model import Product
from oms.channels.model import Channel
from oms.db import Database
from oms.db.base import utcnow
from oms.errors import Conflict, InvalidInput
from oms.events.outbox import emit_many
from oms.notifications.email import order_context, queue_email
from oms.orders.model import Order, OrderLine
from oms.returns import rules
from oms.returns.model import Refund, Return, ReturnLine
from oms.returns.policies import policy_for
from oms.returns.rules import ReturnStatus as R
from oms.returns.service import load, step

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


def _not_being_resolved(ret: Return) -> None:
    if ret.resolution is not None:
        raise Conflict(
            f"{rules.rma_number(ret.id)} is already being resolved ({ret.resolution})", code="return_being_resolved"
        )


def refund_due(session: Session, ret: Return, order: Order, policy: rules.Policy) -> rules.RefundBreakdown:
    """What the policy gives back for the units received on this return."""
    rows = session.execute(
        select(ReturnLine, OrderLine)
        .join(OrderLine, OrderLine.id == ReturnLine.order_line_id)
        .where(ReturnLine.return_id == ret.id)
    ).all()
    lines = [rules.RefundLine(ol.id, rl.received, ol.unit_price, ol.quantity) for rl, ol in rows if rl.received]
    if not lines:
        raise Conflict(
            f"nothing was received on {rules.rma_number(ret.id)}: there is nothing to refund", code="nothing_received"
        )
    # A reason taken off the policy since the return was asked for still counts, as not the shop's fault.
    offered = {r.code: r for r in policy.reasons}
    reasons = [offered.get(rl.reason, rules.Reason(rl.reason, rl.reason, False)) for rl, _ in rows if rl.received]
    return rules.compute_refund(policy, _money(order), lines, reasons)


def refund(db: Database, return_id: int, principal: Principal) -> int:
    """Refund what the policy says for the units received, never more than was paid and not yet refunded."""

    def use_case(session: Session) -> int:
        ret, order = load(session, return_id, lock=True)
        rules.check_transition(ret.status, R.REFUNDED, "refund")
        _not_being_resolved(ret)
        policy = policy_for(session, order.channel_id)
        money = _money(order)
        breakdown = refund_due(session, ret, order, policy)
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
        step(
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
    """A replacement order for the chosen products, reserved and routed like any other, paid by what
    the return would refund (so a discount or a fee counts as it would for a refund), and linked to the
    return. The return is claimed first, so a refund cannot run beside it."""
    from oms.orders.capture import create_order
    from oms.orders.queries import shipping_address
    from oms.orders.schemas import Address, Customer, LineIn, OrderCreate, PaymentIn

    def claim(session: Session) -> OrderCreate:
        ret, order = load(session, return_id, lock=True)
        rules.check_transition(ret.status, R.EXCHANGED, "exchange")
        _not_being_resolved(ret)
        policy = policy_for(session, order.channel_id)
        if not policy.exchange_allowed:
            raise Conflict("this channel's return policy does not offer exchanges", code="exchange_not_allowed")
        credit = refund_due(session, ret, order, policy).total
        products = {p.sku: p for p in session.scalars(select(Product).where(Product.sku.in_([s for s, _ in lines])))}
        unknown = sorted({s for s, _ in lines} - products.keys())
        if unknown:
            raise InvalidInput(f"unknown SKU(s): {', '.join(unknown)}", code="unknown_sku")
        foreign = sorted(s for s, p in products.items() if p.currency != order.currency)
        if foreign:
            raise InvalidInput(f"{', '.join(foreign)} not priced in {order.currency}", code="currency_mismatch")
        value = sum((products[s].price * q for s, q in lines), Decimal(0))
        if value > credit:
            raise Conflict(
                f"the replacement is worth {value}, the return credits {credit}: refund it and order instead",
                code="exchange_worth_more",
            )
        channel = session.get(Channel, order.channel_id)
        assert channel is not None
        ret.resolution = "exchange"
        return OrderCreate(
            channel=channel.code,
            external_id=f"exchange-{rules.rma_number(ret.id)}",
            customer=Customer(email=order.customer_email, name=order.customer_name, phone=order.customer_phone),
            shipping_address=Address(**shipping_address(order).model_dump()),
            lines=[LineIn(sku=s, quantity=q, unit_price=products[s].price) for s, q in lines],
            currency=order.currency,
            payment=PaymentIn(status="paid", amount=value, method="exchange", reference=rules.rma_number(ret.id)),
        )

    data = db.run(claim)
    try:
        new_order, _ = create_order(db, data, principal)
    except Exception:
        db.run(lambda session: setattr(load(session, return_id, lock=True)[0], "resolution", None))
        raise

    def use_case(session: Session) -> int:
        ret, order = load(session, return_id, lock=True)
        ret.exchange_order_id, ret.resolved_at = new_order.id, utcnow()
        step(
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
        ret, _ = load(session, return_id, lock=True)
        step(session, ret, R.CLOSED, "close", principal.actor, f"Return {rules.rma_number(ret.id)} closed")

    db.run(use_case)
