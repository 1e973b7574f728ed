"""Return policies as data: one per channel, falling back to the default row, falling back to the
defaults of oms.returns.rules.Policy."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from oms.auth.service import Principal
from oms.channels.model import Channel
from oms.db import Database
from oms.db.base import utcnow
from oms.errors import NotFound
from oms.returns import rules
from oms.returns.model import ReturnPolicy
from oms.returns.schemas import PolicyOut, PolicyPut


def _policy(config: dict[str, Any]) -> rules.Policy:
    reasons = config.get("reasons")
    return rules.Policy(
        window_days=config["window_days"],
        non_returnable_skus=frozenset(config["non_returnable_skus"]),
        reasons=tuple(rules.Reason(r["code"], r["label"], r["shop_at_fault"]) for r in reasons)
        if reasons
        else rules.DEFAULT_REASONS,
        return_shipping_paid_by=config["return_shipping_paid_by"],
        return_shipping_fee=Decimal(config["return_shipping_fee"]),
        restocking_fee_pct=Decimal(config["restocking_fee_pct"]),
        refund_shipping=config["refund_shipping"],
        refund_method=config["refund_method"],
        exchange_allowed=config["exchange_allowed"],
    )


def policy_for(session: Session, channel_id: int | None) -> rules.Policy:
    rows = {
        r.channel_id: r
        for r in session.scalars(
            select(ReturnPolicy).where((ReturnPolicy.channel_id == channel_id) | ReturnPolicy.channel_id.is_(None))
        )
    }
    row = rows.get(channel_id) or rows.get(None)
    return _policy(row.config) if row is not None else rules.Policy()


def _out(channel: str | None, policy: rules.Policy, updated_at: Any) -> PolicyOut:
    return PolicyOut(
        channel=channel,
        window_days=policy.window_days,
        non_returnable_skus=sorted(policy.non_returnable_skus),
        reasons=[{"code": r.code, "label": r.label, "shop_at_fault": r.shop_at_fault} for r in policy.reasons],
        return_shipping_paid_by=policy.return_shipping_paid_by,
        return_shipping_fee=policy.return_shipping_fee,
        restocking_fee_pct=policy.restocking_fee_pct,
        refund_shipping=policy.refund_shipping,
        refund_method=policy.refund_method,
        exchange_allowed=policy.exchange_allowed,
        updated_at=updated_at,
    )


def list_policies(db: Database) -> list[PolicyOut]:
    """The default first (as stored, or the built-in one), then each channel's own."""
    with db.read() as session:
        rows = session.execute(
            select(ReturnPolicy, Channel.code).outerjoin(Channel, Channel.id == ReturnPolicy.channel_id)
        ).all()
        default = next((r for r, code in rows if r.channel_id is None), None)
        out = [
            _out(None, _policy(default.config) if default else rules.Policy(), default.updated_at if default else None)
        ]
        out += [
            _out(code, _policy(r.config), r.updated_at) for r, code in sorted(rows, key=lambda x: x[1] or "") if code
        ]
        return out


def put_policy(db: Database, data: PolicyPut, principal: Principal) -> PolicyOut:
    config = data.model_dump(mode="json", exclude={"channel"})
    policy = _policy(config)  # every check the rules make (unique reasons, ...) before anything is stored

    def use_case(session: Session) -> PolicyOut:
        channel_id = None
        if data.channel is not None:
            channel_id = session.scalar(select(Channel.id).where(Channel.code == data.channel))
            if channel_id is None:
                raise NotFound(f"no channel with code {data.channel!r}")
        row = session.scalar(
            select(ReturnPolicy).where(
                ReturnPolicy.channel_id == channel_id if channel_id is not None else ReturnPolicy.channel_id.is_(None)
            )
        )
        if row is None:
            row = ReturnPolicy(channel_id=channel_id)
            session.add(row)
        row.config = config
        row.updated_by = principal.actor
        row.updated_at = utcnow()
        session.flush()
        return _out(data.channel, policy, row.updated_at)

    return db.run(use_case)
