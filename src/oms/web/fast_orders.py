"""POST /api/v1/orders on its shortest road: the hot path answered without FastAPI's generic
request machinery (route matching over every route, dependency solving, body handling), which
costs about as much CPU as the order itself (bench/README.md).

It serves only the plain case and hands everything else to the FastAPI route, which stays the
documented endpoint and the reference: a request with an Idempotency-Key, a token not in this
process's cache yet, a token without the scope, a body that does not validate (FastAPI words the
422), and any error that is not a domain error. The order is created by the same use case with
the same transaction; domain errors leave in the same shape (oms.web.errors)."""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any

from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from oms.errors import DomainError, Unauthenticated
from oms.orders import service
from oms.orders.schemas import OrderCreate
from oms.web.deps import bearer_token, cached_principal
from oms.web.errors import error_response, status_for

PATH = "/api/v1/orders"


class FastOrderCapture:
    def __init__(self, app: ASGIApp, state: Any) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != PATH:
            await self.app(scope, receive, send)
            return
        principal = self._principal(scope)
        if principal is None:
            await self.app(scope, receive, send)
            return
        body, more = await _read(receive)
        replay = _replaying(body, more, receive)
        if more is None:  # the client went away
            await self.app(scope, replay, send)
            return
        try:
            data = OrderCreate.model_validate_json(body)
        except (ValidationError, DomainError):  # FastAPI's route words the refusal
            await self.app(scope, replay, send)
            return
        try:
            # A plain executor, not anyio's thread hand-off: its cancel scopes and capacity
            # limiter cost about a tenth of the server's CPU per order (bench/README.md).
            order, created = await asyncio.get_running_loop().run_in_executor(
                self.state.capture_threads, partial(service.create_order, self.state.db, data, principal)
            )
        except DomainError as exc:
            await error_response(status_for(exc), exc.code, exc.detail, **exc.extra)(scope, replay, send)
            return
        except Exception:  # noqa: BLE001  (nothing was committed, else it is OutcomeUnknown: the route answers in full)
            await self.app(scope, replay, send)
            return
        await _answer(send, 201 if created else 200, order.model_dump_json().encode())

    def _principal(self, scope: Scope) -> Any:
        """The caller from this process's token cache when the plain road applies, else None."""
        authorization = None
        for name, value in scope["headers"]:
            if name == b"idempotency-key":
                return None
            if name == b"authorization":
                authorization = value.decode("latin-1")
        try:
            principal = cached_principal(self.state, bearer_token(authorization))
        except Unauthenticated:  # the route says why, in full
            return None
        if principal is None or "orders:write" not in principal.scopes:
            return None
        return principal


async def _read(receive: Receive) -> tuple[bytes, bool | None]:
    """The whole body; ``None`` as the flag when the client disconnected."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), False


def _replaying(body: bytes, more: bool | None, receive: Receive) -> Receive:
    """A receive() that hands the body read already to the next app, then the client's messages."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _answer(send: Send, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
