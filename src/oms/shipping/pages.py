"""The public tracking page the shipping email links to (``/track/{number}``). No login: it shows
the parcel's status, service, estimate and scans, and nothing about the customer or the order."""

from __future__ import annotations

import functools
from typing import Annotated

import jinja2
from fastapi import APIRouter, Path
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from oms.shipping import tracking
from oms.shipping.model import Shipment, TrackingEvent
from oms.web.deps import DbDep
from oms.web.pages import templates

router = APIRouter(include_in_schema=False)
_STATUS = {
    "labelled": "Label created: waiting for the carrier",
    "shipped": "On its way",
    "delivered": "Delivered",
}


@functools.cache
def _template() -> jinja2.Template:
    return templates("oms.shipping").get_template("shipping/track.html")


@router.get("/track/{number}", response_class=HTMLResponse)
def track(number: Annotated[str, Path(max_length=60)], db: DbDep) -> HTMLResponse:
    number = tracking.normalise(number)
    with db.read() as session:
        shipment = session.scalar(select(Shipment).where(Shipment.tracking_number == number))
        events = (
            session.scalars(
                select(TrackingEvent)
                .where(TrackingEvent.shipment_id == shipment.id, TrackingEvent.applied)
                .order_by(TrackingEvent.occurred_at.desc(), TrackingEvent.id.desc())
            ).all()
            if shipment is not None
            else []
        )
    if shipment is None or shipment.status not in _STATUS:
        return HTMLResponse(_template().render(found=False, number=number), status_code=404)
    status = _STATUS[shipment.status]
    if shipment.status == "shipped" and shipment.tracking_status:
        status = shipment.tracking_status.replace("_", " ").capitalize()
    html = _template().render(
        found=True,
        number=number,
        status=status,
        service=shipment.service_name or "",
        estimate=shipment.estimated_delivery.isoformat()
        if shipment.estimated_delivery and not shipment.delivered_at
        else None,
        events=[
            {
                "what": e.code.replace("_", " ").capitalize(),
                "location": e.location,
                "when": f"{e.occurred_at:%Y-%m-%d %H:%M} UTC",
            }
            for e in events
        ],
    )
    return HTMLResponse(html, headers={"Cache-Control": "no-store", "X-Robots-Tag": "noindex"})
