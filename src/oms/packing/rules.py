"""Packing states: the shipment and package statuses and the moves packing may make (pure: no
framework, no database)."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from oms.errors import InvalidTransition

if TYPE_CHECKING:
    from oms.shipping.model import Shipment


class ShipmentStatus(StrEnum):
    PICKING = "picking"
    READY_TO_PACK = "ready_to_pack"
    PACKING = "packing"  # packages planned, units being scanned in
    PACKED = "packed"
    LABELLED = "labelled"  # labels bought (oms.shipping); voiding them goes back to packed
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


class PackageStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


# The moves packing makes; packing -> packing is a new plan before any scan.
TRANSITIONS: dict[ShipmentStatus, frozenset[ShipmentStatus]] = {
    ShipmentStatus.READY_TO_PACK: frozenset({ShipmentStatus.PACKING}),
    ShipmentStatus.PACKING: frozenset({ShipmentStatus.PACKING, ShipmentStatus.PACKED}),
}


def check_transition(shipment: Shipment, target: ShipmentStatus, action: str) -> None:
    if target not in TRANSITIONS.get(ShipmentStatus(shipment.status), frozenset()):
        raise InvalidTransition(
            f"shipment {shipment.id} is {shipment.status}: cannot {action}",
            shipment_id=shipment.id,
            shipment_status=shipment.status,
        )
