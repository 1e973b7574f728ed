"""Shipping's moves of a shipment, and how carrier tracking codes move it (pure).

    packed --buy labels--> labelled --ship--> shipped --delivered event--> delivered
                labelled --void--> packed

Tracking codes are ordered by how far along a parcel is; an event older than the one we hold is
recorded but does not move the shipment back (carriers do deliver webhooks out of order), and
nothing moves a shipment once it is delivered.
"""

from __future__ import annotations

from datetime import datetime

from oms.errors import InvalidTransition
from oms.packing.rules import ShipmentStatus as S

TRANSITIONS: dict[S, frozenset[S]] = {
    S.PACKED: frozenset({S.LABELLED}),
    S.LABELLED: frozenset({S.PACKED, S.SHIPPED}),
    S.SHIPPED: frozenset({S.DELIVERED}),
}

# What each earlier status lacks before it can ship: the 409 says which step comes first.
_NOT_YET = {
    S.PICKING: "it is still being picked",
    S.READY_TO_PACK: "it is picked but not packed",
    S.PACKING: "its packages are not all closed",
    S.PACKED: "it has no label yet (POST /shipments/{id}/labels)",
}


def check_transition(shipment_id: int, current: str, target: S, action: str) -> None:
    if target in TRANSITIONS.get(S(current), frozenset()):
        return
    why = _NOT_YET.get(S(current)) if target in (S.SHIPPED, S.LABELLED) else None
    if target == S.LABELLED and S(current) == S.LABELLED:
        why = "it already has labels (void them first)"
    raise InvalidTransition(
        f"cannot {action} shipment {shipment_id}: " + (why or f"it is {current}"),
        code=f"shipment_{current}",
        shipment_id=shipment_id,
        shipment_status=current,
    )


# Codes that mean the parcel is with the carrier (a carrier scan before our confirmation still counts).
IN_CARRIER_HANDS = frozenset({"picked_up", "in_transit", "out_for_delivery", "delivery_attempted", "delivered"})
# Codes that tell operations and the customer something went wrong.
TROUBLE = frozenset({"delayed", "exception", "delivery_attempted"})


def applies(code: str, occurred_at: datetime, latest_at: datetime | None, delivered: bool) -> tuple[bool, str | None]:
    """Whether a new event moves the shipment's tracking status; if not, why."""
    if delivered:
        return False, "the shipment is already delivered"
    if latest_at is not None and occurred_at < latest_at:
        return False, f"older than the latest event ({latest_at:%Y-%m-%d %H:%M} UTC): recorded, status kept"
    return True, None
