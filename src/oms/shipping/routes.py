"""Shipping API: carriers, rate shopping, labels, documents, confirming shipments, the carrier
tracking webhook, end-of-day manifests and late orders."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from oms.auth.service import Principal
from oms.errors import NotFound
from oms.schemas import Page
from oms.shipping import carriers, confirm, labelling, manifest, manifest_service, queries, service, tracking_events
from oms.shipping.schemas import (
    CarrierOut,
    CarrierPut,
    LabelCreate,
    LateOrderOut,
    ManifestCreate,
    ManifestOut,
    RateChoiceOut,
    ShippingOut,
    TrackingEventOut,
    TrackingWebhookIn,
    TrackingWebhookOut,
    VoidCreate,
)
from oms.web.deps import DbDep, require
from oms.web.params import MAX_ID, Cursor, Limit
from oms.web.responses import IdempotencyKeyHeader, created

router = APIRouter(tags=["shipping"])

Reader = Annotated[Principal, require("shipping:read")]
Shipper = Annotated[Principal, require("shipping:write")]
CarrierAdmin = Annotated[Principal, require("carriers:write")]
ShipmentId = Annotated[int, Path(ge=1, le=MAX_ID, description="The shipment's id.")]
ManifestId = Annotated[int, Path(ge=1, le=MAX_ID, description="The manifest's id.")]
CarrierCode = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")]


def _public_url(request: Request) -> str:
    return request.app.state.settings.public_url


def _file(content: bytes | str, media_type: str, filename: str) -> Response:
    return Response(
        content=content,
        media_type=media_type,
        headers={"Content-Disposition": f'inline; filename="{filename}"'},
    )


# --- carriers ------------------------------------------------------------------------------------


@router.get("/carriers", response_model=Page[CarrierOut], summary="Carriers and their services")
def list_carriers(db: DbDep, _: Reader) -> Page[CarrierOut]:
    return Page[CarrierOut](items=carriers.list_carriers(db))  # a handful: always one page


@router.get("/carriers/{code}", response_model=CarrierOut, summary="One carrier with its rate card")
def get_carrier(code: CarrierCode, db: DbDep, _: Reader) -> CarrierOut:
    return carriers.read_carrier(db, code)


@router.put(
    "/carriers/{code}",
    response_model=CarrierOut,
    responses={201: {"model": CarrierOut}},
    summary="Create or replace a carrier: services, zones, rates, surcharges, transit days",
)
def put_carrier(code: CarrierCode, body: CarrierPut, db: DbDep, response: Response, _: CarrierAdmin) -> CarrierOut:
    out, was_created = carriers.put_carrier(db, code, body)
    response.status_code = 201 if was_created else 200
    return out


@router.post(
    "/carriers/{code}/tracking-events",
    response_model=TrackingWebhookOut,
    summary="The carrier's tracking webhook (signed: Oms-Carrier-Signature, no token)",
    openapi_extra={"security": []},
)
async def tracking_webhook(code: CarrierCode, request: Request) -> TrackingWebhookOut:
    db = request.app.state.db
    body = await request.body()
    # The signature is checked over the raw bytes before anything reads them as JSON.
    await run_in_threadpool(
        tracking_events.verify_signature, db, code, request.headers.get(tracking_events.SIGNATURE_HEADER), body
    )
    try:
        data = TrackingWebhookIn.model_validate_json(body)
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from None
    results = await run_in_threadpool(tracking_events.record_events, db, code, data.events, _public_url(request))
    return TrackingWebhookOut(received=len(results), results=results)


# --- one shipment --------------------------------------------------------------------------------


@router.get("/shipments/{shipment_id}/shipping", response_model=ShippingOut, summary="Carrier, labels, tracking")
def get_shipping(shipment_id: ShipmentId, request: Request, db: DbDep, _: Reader) -> ShippingOut:
    return queries.read_shipping(db, shipment_id, _public_url(request))


@router.post(
    "/shipments/{shipment_id}/rates",
    response_model=RateChoiceOut,
    summary="Rate-shop: the cheapest service meeting the promise, with the alternatives (stored)",
)
def shop_rates(shipment_id: ShipmentId, db: DbDep, principal: Shipper) -> RateChoiceOut:
    return service.shop_rates(db, shipment_id, principal)


@router.get("/shipments/{shipment_id}/rates", response_model=RateChoiceOut, summary="The stored rate-shop choice")
def get_rates(shipment_id: ShipmentId, request: Request, db: DbDep, _: Reader) -> RateChoiceOut:
    out = queries.read_shipping(db, shipment_id, _public_url(request))
    if out.rate_choice is None:
        raise NotFound(f"shipment {shipment_id} has not been rate-shopped", code="no_rates")
    return service.choice_out(shipment_id, out.rate_choice)


@router.post(
    "/shipments/{shipment_id}/labels",
    status_code=201,
    response_model=ShippingOut,
    summary="Buy the labels (the rate-shop choice, or carrier + service)",
)
def buy_labels(
    shipment_id: ShipmentId,
    request: Request,
    db: DbDep,
    principal: Shipper,
    body: LabelCreate | None = None,
    key: IdempotencyKeyHeader = None,
):
    data = body or LabelCreate()

    def work() -> tuple[ShippingOut, int]:
        _, status = labelling.buy_labels(db, shipment_id, data, principal)
        return queries.read_shipping(db, shipment_id, _public_url(request)), status

    return created(request, principal, key, data, work)


@router.post("/shipments/{shipment_id}/void", response_model=ShippingOut, summary="Void unused labels")
def void_labels(
    shipment_id: ShipmentId, request: Request, db: DbDep, principal: Shipper, body: VoidCreate | None = None
) -> ShippingOut:
    labelling.void_labels(db, shipment_id, (body or VoidCreate()).reason, principal)
    return queries.read_shipping(db, shipment_id, _public_url(request))


@router.post(
    "/shipments/{shipment_id}/ship",
    response_model=ShippingOut,
    summary="Confirm the shipment: stock leaves, the order ships, the customer is told",
)
def ship(shipment_id: ShipmentId, request: Request, db: DbDep, principal: Shipper) -> ShippingOut:
    confirm.ship(db, shipment_id, principal, _public_url(request))
    return queries.read_shipping(db, shipment_id, _public_url(request))


@router.get("/shipments/{shipment_id}/tracking", response_model=Page[TrackingEventOut], summary="Carrier events")
def tracking(shipment_id: ShipmentId, db: DbDep, _: Reader) -> Page[TrackingEventOut]:
    return Page[TrackingEventOut](items=queries.tracking_history(db, shipment_id))  # one parcel's: one page


@router.get("/shipments/{shipment_id}/label.pdf", response_class=Response, summary="Labels, 4x6 in, one page each")
def label_pdf(shipment_id: ShipmentId, db: DbDep, _: Reader) -> Response:
    content, number = queries.label_pdf(db, shipment_id)
    return _file(content, "application/pdf", f"label-{number}.pdf")


@router.get("/shipments/{shipment_id}/label.zpl", response_class=Response, summary="Labels as ZPL II (203 dpi)")
def label_zpl(shipment_id: ShipmentId, db: DbDep, _: Reader) -> Response:
    content, number = queries.label_zpl(db, shipment_id)
    return _file(content, "application/zpl", f"label-{number}.zpl")


@router.get("/shipments/{shipment_id}/packing-slip.pdf", response_class=Response, summary="Packing slip")
def packing_slip(shipment_id: ShipmentId, request: Request, db: DbDep, _: Reader) -> Response:
    content, number = queries.packing_slip(db, shipment_id, request.app.state.settings.company_name)
    return _file(content, "application/pdf", f"packing-slip-{number}-{shipment_id}.pdf")


@router.get("/shipments/{shipment_id}/invoice.pdf", response_class=Response, summary="The order's invoice")
def invoice(shipment_id: ShipmentId, request: Request, db: DbDep, _: Reader) -> Response:
    content, number = queries.invoice(db, shipment_id, request.app.state.settings.company_name)
    return _file(content, "application/pdf", f"invoice-{number}.pdf")


# --- manifests -----------------------------------------------------------------------------------


@router.post("/manifests", status_code=201, response_model=ManifestOut, summary="Close the day for a carrier")
def close_manifest(
    body: ManifestCreate, request: Request, db: DbDep, principal: Shipper, key: IdempotencyKeyHeader = None
):
    return created(request, principal, key, body, lambda: (manifest_service.close_manifest(db, body, principal), 201))


@router.get("/manifests", response_model=Page[ManifestOut], summary="Manifests, newest first")
def list_manifests(db: DbDep, _: Reader, limit: Limit = 50, cursor: Cursor = None) -> Page[ManifestOut]:
    return manifest_service.list_manifests(db, limit, cursor)


@router.get("/manifests/{manifest_id}.pdf", response_class=Response, summary="The manifest for the driver to sign")
def manifest_pdf(manifest_id: ManifestId, db: DbDep, _: Reader) -> Response:
    data = manifest_service.manifest_data(db, manifest_id)
    return _file(manifest.manifest_pdf(data), "application/pdf", f"manifest-{manifest_id}.pdf")


@router.get("/manifests/{manifest_id}.csv", response_class=Response, summary="The manifest as CSV")
def manifest_csv(manifest_id: ManifestId, db: DbDep, _: Reader) -> Response:
    data = manifest_service.manifest_data(db, manifest_id)
    return _file(manifest.manifest_csv(data), "text/csv; charset=utf-8", f"manifest-{manifest_id}.csv")


@router.get("/manifests/{manifest_id}", response_model=ManifestOut, summary="One manifest")
def get_manifest(manifest_id: ManifestId, db: DbDep, _: Reader) -> ManifestOut:
    return manifest_service.read_manifest(db, manifest_id)


# --- promises ------------------------------------------------------------------------------------


@router.get("/late-orders", response_model=Page[LateOrderOut], summary="Orders late or at risk of being late")
def late_orders(
    db: DbDep,
    _: Reader,
    flag: Literal["late_to_ship", "at_risk_to_ship", "late_to_deliver", "at_risk_to_deliver"] | None = None,
    channel: Annotated[str | None, Query(max_length=64)] = None,
    limit: Limit = 200,
    cursor: Cursor = None,
) -> Page[LateOrderOut]:
    """The most overdue first (by ship-by date), ``limit`` at a time."""
    return queries.late_orders_page(db, flag, channel, limit, cursor)
