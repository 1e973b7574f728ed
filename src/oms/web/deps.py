"""FastAPI dependencies as Annotated aliases: the database, the caller, and scope checks."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.security import HTTPBearer
from starlette.concurrency import run_in_threadpool

from oms.auth.service import Principal, authenticate_token, hash_token
from oms.db import Database
from oms.errors import Forbidden, Unauthenticated

# Only documents the scheme in OpenAPI; we parse the header ourselves to answer in our error shape.
bearer_scheme = HTTPBearer(auto_error=False, description="An API token: `oms tokens create` or POST /auth/token")


# Dependencies that do not block are ``async``: FastAPI runs sync dependencies in the thread
# pool, and a thread hand-off per dependency per request is measurable on the hot path.


async def get_db(request: Request) -> Database:
    return request.app.state.db  # type: ignore[no-any-return]


DbDep = Annotated[Database, Depends(get_db)]


async def authenticate(
    request: Request,
    _doc: Annotated[object, Depends(bearer_scheme)] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> Principal:
    token = bearer_token(authorization)
    state = request.app.state
    cached = cached_principal(state, token)
    if cached is not None:
        return cached

    def lookup() -> Principal:
        with state.db.read() as session:
            return authenticate_token(session, state.secret_key, token)

    principal = await run_in_threadpool(lookup)
    state.token_cache.put(hash_token(state.secret_key, token), principal)
    return principal


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header."""
    if not authorization:
        raise Unauthenticated("send an API token: Authorization: Bearer <token>")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("the Authorization header must be 'Bearer <token>'")
    return token.strip()


def cached_principal(state: Any, token: str) -> Principal | None:
    """The caller behind ``token`` if this process verified it within OMS_TOKEN_CACHE_S."""
    return state.token_cache.get(hash_token(state.secret_key, token))  # type: ignore[no-any-return]


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]


def require(*scopes: str):  # type: ignore[no-untyped-def]
    """A dependency that admits a caller holding *any* of ``scopes`` and returns the Principal.

    Every API route declares one of these; ``tests`` walk the routes to make sure."""

    async def check(principal: CurrentPrincipal) -> Principal:
        if not principal.scopes.intersection(scopes):
            raise Forbidden(
                f"this needs the scope {' or '.join(scopes)}; your token has: {', '.join(sorted(principal.scopes))}",
                required=list(scopes),
            )
        return principal

    check.required_scopes = scopes  # type: ignore[attr-defined]
    return Depends(check)
