"""Customer emails API: what was sent (or not, and why), and re-sending."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel

from oms.auth.service import Principal
from oms.notifications import email
from oms.notifications.model import EmailStatus
from oms.notifications.schemas import EmailDetailOut, EmailOut
from oms.schemas import Page
from oms.web.deps import DbDep, require
from oms.web.params import MAX_ID, Cursor, Limit
from oms.web.responses import IdempotencyKeyHeader, created

router = APIRouter(tags=["emails"])

Reader = Annotated[Principal, require("emails:read")]
Writer = Annotated[Principal, require("emails:write")]
EmailId = Annotated[int, Path(ge=1, le=MAX_ID, description="The email's id.")]


class _NoBody(BaseModel):
    """What an Idempotency-Key is matched against for a POST without a body (the path is hashed too)."""


@router.get("/emails", response_model=Page[EmailOut], summary="Customer emails, newest first")
def list_emails(
    db: DbDep,
    _: Reader,
    status: EmailStatus | None = None,
    order_id: Annotated[int | None, Query(ge=1, le=MAX_ID, description="Only this order's emails.")] = None,
    to: Annotated[str | None, Query(max_length=320, description="Only emails to this address.")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[EmailOut]:
    return email.list_emails(db, status=status, order_id=order_id, to=to, limit=limit, cursor=cursor)


@router.get("/emails/{email_id}", response_model=EmailDetailOut, summary="One email, with its text and HTML")
def get_email(email_id: EmailId, db: DbDep, _: Reader) -> EmailDetailOut:
    return email.get_email(db, email_id)


@router.post(
    "/emails/{email_id}/resend",
    status_code=202,
    response_model=EmailDetailOut,
    summary="Send the email again (queued: the worker sends it)",
)
def resend(email_id: EmailId, request: Request, db: DbDep, principal: Writer, key: IdempotencyKeyHeader = None):
    # An Idempotency-Key makes a retried request one re-send, not two.
    return created(request, principal, key, _NoBody(), lambda: (email.resend(db, email_id, principal.actor), 202))
