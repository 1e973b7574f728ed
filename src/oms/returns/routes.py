"""Returns API: policies, asking for a return (staff with a token, customers with order number and
email), approving, receiving, inspecting, refunding or exchanging, and the returns report."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from oms.auth.service import Principal
from oms.auth.throttle import LoginThrottle
from oms.db import Database
from oms.errors import Forbidden, InvalidInput, NotFound
from oms.returns import policies, receiving, resolution, service, views
from oms.returns.schemas import (
    ApproveIn,
    ExchangeIn,
    InspectIn,
    PolicyOut,
    PolicyPut,
    ReceiveIn,
    RejectIn,
    ReturnCreate,
    ReturnOut,
    ReturnsReport,
)
from oms.schemas import Page
from oms.web.deps import DbDep, authenticate, require
from oms.web.params import MAX_ID, Cursor, Limit

router = APIRouter(tags=["returns"])

PolicyReader = Annotated[Principal, require("products:read")]
PolicyWriter = Annotated[Principal, require("returns:policy")]
Staff = Annotated[Principal, require("returns:write")]
Receiver = Annotated[Principal, require("returns:receive", "returns:write")]
Reader = Annotated[Principal, require("returns:write", "orders:read_own")]
ReturnId = Annotated[int, Path(ge=1, le=MAX_ID, description="The return's id.")]


def _out(request: Request, return_id: int) -> ReturnOut:
    return views.get_return(request.app.state.db, return_id)


@router.get("/return-policies", response_model=Page[PolicyOut], summary="The default policy, then each channel's")
def list_policies(db: DbDep, _: PolicyReader) -> Page[PolicyOut]:
    return Page[PolicyOut](items=policies.list_policies(db))  # one per channel at most: one page


@router.put("/return-policies", response_model=PolicyOut, summary="Set the default policy, or a channel's")
def put_policy(body: PolicyPut, db: DbDep, principal: PolicyWriter) -> PolicyOut:
    return policies.put_policy(db, body, principal)


@router.post(
    "/returns",
    status_code=201,
    response_model=ReturnOut,
    summary="Ask for a return: staff (token, order_id) or the customer (order_number and email, no token)",
    openapi_extra={"security": [{}, {"HTTPBearer": []}]},
)
async def create_return(
    body: ReturnCreate, request: Request, authorization: Annotated[str | None, Header()] = None
) -> ReturnOut:
    db = request.app.state.db
    if authorization is not None:
        principal = await authenticate(request, None, authorization)
        if "returns:write" not in principal.scopes:
            raise Forbidden("opening a return for a customer needs the scope returns:write", required=["returns:write"])
        if body.order_id is None:
            raise InvalidInput("staff name the order by order_id", code="order_id_required")
        order_id, actor = body.order_id, principal.actor
    else:
        if body.order_number is None or body.email is None:
            raise InvalidInput("without a token, send order_number and email", code="order_number_required")
        # Guessing order numbers and emails is throttled like guessing passwords.
        throttle: LoginThrottle = request.app.state.login_throttle
        client = request.client.host if request.client else "unknown"
        throttle.check(client, f"returns:{body.email}")
        try:
            order_id = await run_in_threadpool(service.customer_order, db, body.order_number, body.email)
        except NotFound:
            throttle.failed(client, f"returns:{body.email}")
            raise
        actor = f"customer:{body.email}"
    return_id = await run_in_threadpool(service.request_return, db, body, actor, order_id=order_id)
    return await run_in_threadpool(_out, request, return_id)


@router.get("/returns", response_model=Page[ReturnOut], summary="Returns, newest first (customers: their own)")
def list_returns(
    db: DbDep,
    principal: Reader,
    status: Annotated[str | None, Query(max_length=16)] = None,
    order_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[ReturnOut]:
    email = None if "returns:write" in principal.scopes else principal.email
    return views.list_returns(db, status, order_id, email, limit, cursor)


@router.get(
    "/returns/report", response_model=ReturnsReport, summary="Return rate by product and reason, days to refund"
)
def report(db: DbDep, _: Staff) -> ReturnsReport:
    return views.report(db)


@router.get("/returns/{return_id}", response_model=ReturnOut, summary="One return (customers: their own)")
def get_return(return_id: ReturnId, db: DbDep, principal: Reader) -> ReturnOut:
    service.check_customer(db, return_id, principal)
    return views.get_return(db, return_id)


@router.get("/returns/{return_id}/label.pdf", response_class=Response, summary="The return label")
def label(return_id: ReturnId, db: DbDep, principal: Reader) -> Response:
    return _label(db, return_id, principal, "pdf", "application/pdf")


@router.get("/returns/{return_id}/label.zpl", response_class=Response, summary="The return label as ZPL II")
def label_zpl(return_id: ReturnId, db: DbDep, principal: Reader) -> Response:
    return _label(db, return_id, principal, "zpl", "application/zpl")


def _label(db: Database, return_id: int, principal: Principal, fmt: str, media_type: str) -> Response:
    service.check_customer(db, return_id, principal)
    _, content = views.label_of(db, return_id, fmt)
    if content is None:
        raise NotFound(f"return {return_id} has no label", code="no_label")
    return Response(content, media_type=media_type)


@router.post("/returns/{return_id}/approve", response_model=ReturnOut, summary="Approve (and send a return label)")
def approve(
    return_id: ReturnId, request: Request, db: DbDep, principal: Staff, body: ApproveIn | None = None
) -> ReturnOut:
    state = request.app.state
    service.approve(db, return_id, body or ApproveIn(), principal, state.settings.public_url, state.secret_key)
    return views.get_return(db, return_id)


@router.post("/returns/{return_id}/reject", response_model=ReturnOut, summary="Reject, saying why")
def reject(return_id: ReturnId, body: RejectIn, db: DbDep, principal: Staff) -> ReturnOut:
    service.reject(db, return_id, body.reason, principal)
    return views.get_return(db, return_id)


@router.post("/returns/{return_id}/receive", response_model=ReturnOut, summary="Scan the RMA and the items in")
def receive(return_id: ReturnId, body: ReceiveIn, db: DbDep, principal: Receiver) -> ReturnOut:
    receiving.receive(db, return_id, body, principal)
    return views.get_return(db, return_id)


@router.post(
    "/returns/{return_id}/inspect", response_model=ReturnOut, summary="Grade each unit: restock, quarantine, write off"
)
def inspect(return_id: ReturnId, body: InspectIn, db: DbDep, principal: Receiver) -> ReturnOut:
    receiving.inspect(db, return_id, body, principal)
    return views.get_return(db, return_id)


@router.post("/returns/{return_id}/refund", response_model=ReturnOut, summary="Refund what the policy says")
def refund(return_id: ReturnId, db: DbDep, principal: Staff) -> ReturnOut:
    resolution.refund(db, return_id, principal)
    return views.get_return(db, return_id)


@router.post("/returns/{return_id}/exchange", response_model=ReturnOut, summary="Send replacements instead")
def exchange(return_id: ReturnId, body: ExchangeIn, db: DbDep, principal: Staff) -> ReturnOut:
    resolution.exchange(db, return_id, [(ln.sku, ln.quantity) for ln in body.lines], principal)
    return views.get_return(db, return_id)


@router.post("/returns/{return_id}/close", response_model=ReturnOut, summary="Close a resolved or rejected return")
def close(return_id: ReturnId, db: DbDep, principal: Staff) -> ReturnOut:
    resolution.close(db, return_id, principal)
    return views.get_return(db, return_id)
