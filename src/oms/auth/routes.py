from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from pydantic import Field
from sqlalchemy.orm import Session

from oms.auth.service import login
from oms.auth.throttle import LoginThrottle
from oms.errors import Unauthenticated
from oms.schemas import Email, Input, Output
from oms.web.deps import CurrentPrincipal, DbDep

router = APIRouter(prefix="/auth", tags=["auth"])


class LoginIn(Input):
    email: Email
    password: str = Field(min_length=1, max_length=200)


class TokenOut(Output):
    token: str
    token_type: str = "bearer"
    scopes: list[str]
    expires_at: datetime | None


class MeOut(Output):
    user_id: int
    email: str
    role: str
    scopes: list[str]


@router.post("/token", response_model=TokenOut, summary="Exchange email and password for a bearer token")
def create_login_token(body: LoginIn, request: Request, db: DbDep) -> TokenOut:
    # Public by design: this is how a person without a token gets one. Guessing is throttled.
    throttle: LoginThrottle = request.app.state.login_throttle
    client = request.client.host if request.client else "unknown"
    throttle.check(client, body.email)

    def use_case(session: Session) -> TokenOut:
        token, row = login(session, request.app.state.secret_key, body.email, body.password)
        return TokenOut(token=token, scopes=row.scopes, expires_at=row.expires_at)

    try:
        result = db.run(use_case)
    except Unauthenticated:
        throttle.failed(client, body.email)
        raise
    throttle.succeeded(client, body.email)
    return result


@router.get("/me", response_model=MeOut, summary="Who the token belongs to and what it may do")
def me(principal: CurrentPrincipal) -> MeOut:
    return MeOut(user_id=principal.user_id, email=principal.email, role=principal.role, scopes=sorted(principal.scopes))
