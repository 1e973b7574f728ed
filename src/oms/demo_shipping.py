"""The demo's shipping desk: the built-in carriers with their rate cards, and the packed shipments
of the Newark wave rate-shopped, labelled and shipped, one of them followed by the carrier to the
customer's door, and the day's manifest closed. Everything goes through the services the API
calls; the tracking events go through the same code as the signed carrier webhook."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from oms.auth.service import Principal
from oms.db import Database
from oms.db.base import utcnow
from oms.shipping import confirm, labelling, manifest_service, tracking_events
from oms.shipping import service as shipping
from oms.shipping.carriers import seed_demo_carriers
from oms.shipping.model import Shipment
from oms.shipping.schemas import LabelCreate, ManifestCreate, TrackingEventIn

# Published in the README so the demo's tracking webhook can be tried with curl; never use a
# known secret for a real carrier.
DEMO_CARRIER_SECRET = "demo-carrier-webhook-secret"
DEMO_PUBLIC_URL = "http://127.0.0.1:8000"


def seed_return_policies(db: Database, manager: Principal, say: Callable[[str], None]) -> None:
    """A 30-day default; the marketplace's own rules are stricter: 14 days, the customer pays 5.95 for
    the return label, a 10% restocking fee, store credit."""
    from decimal import Decimal

    from oms.returns.policies import put_policy
    from oms.returns.schemas import PolicyPut

    put_policy(db, PolicyPut(window_days=30), manager)
    put_policy(
        db,
        PolicyPut(
            channel="marketplace",
            window_days=14,
            return_shipping_paid_by="customer",
            return_shipping_fee=Decimal("5.95"),
            restocking_fee_pct=Decimal("10"),
            refund_method="store_credit",
            non_returnable_skus=[],
        ),
        manager,
    )
    say("return policies: 30 days by default, 14 on the marketplace")


def seed_shipping(db: Database, shipper: Principal, packed: list[int], say: Callable[[str], None]) -> None:
    with db.write() as session:
        seed_demo_carriers(session, DEMO_CARRIER_SECRET)
    say("2 carriers (OMS Parcel, Metro Regional Courier) with their rate cards")
    shipped: list[int] = []
    for n, shipment_id in enumerate(packed):
        shipping.shop_rates(db, shipment_id, shipper)
        labelling.buy_labels(db, shipment_id, LabelCreate(), shipper)
        if n < len(packed) - 1:  # the last one stays labelled, waiting for the truck
            confirm.ship(db, shipment_id, shipper, DEMO_PUBLIC_URL)
            shipped.append(shipment_id)
    if not shipped:
        return
    with db.read() as session:
        first = session.get(Shipment, shipped[0])
        assert first is not None and first.tracking_number and first.carrier
        number, carrier = first.tracking_number, first.carrier
    start = utcnow() - timedelta(hours=30)
    journey = [
        ("picked_up", 0, "NEWARK, NJ, US"),
        ("in_transit", 6, "SECAUCUS, NJ, US"),
        ("out_for_delivery", 24, "BROOKLYN, NY, US"),
        ("delivered", 28, "BROOKLYN, NY, US"),
    ]
    events = [
        TrackingEventIn(
            id=f"demo-{number}-{i}",
            tracking_number=number,
            code=code,
            occurred_at=start + timedelta(hours=h),
            location=where,
            description=code.replace("_", " ").capitalize(),
        )
        for i, (code, h, where) in enumerate(journey)
    ]
    tracking_events.record_events(db, carrier, events, DEMO_PUBLIC_URL)
    carriers_used = set()
    with db.read() as session:
        for sid in shipped:
            s = session.get(Shipment, sid)
            assert s is not None and s.carrier
            carriers_used.add(s.carrier)
    for code in sorted(carriers_used):
        manifest_service.close_manifest(db, ManifestCreate(carrier=code, warehouse="NJ-EWR"), shipper)
    say(f"{len(shipped)} shipment(s) shipped, one delivered; {len(packed) - len(shipped)} labelled; manifest closed")
