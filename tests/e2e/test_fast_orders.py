"""POST /orders' short road (oms.web.fast_orders): the plain case is answered without the FastAPI
route, with the same answer; everything else is handed to the route untouched."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from oms.web.fast_orders import PATH, FastOrderCapture
from tests.factories import order_body


class Downstream:
    """Stands in for the FastAPI app: records what it was handed."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        body, more = b"", True
        while more:
            message = await receive()
            body, more = body + message["body"], message.get("more_body", False)
        self.bodies.append(body)
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})


def _post(app: Any, token: str, body: dict[str, Any], *headers: tuple[bytes, bytes]) -> tuple[Downstream, int, Any]:
    downstream = Downstream()
    fast = FastOrderCapture(downstream, app.state)
    raw = orjson.dumps(body)
    scope = {
        "type": "http",
        "method": "POST",
        "path": PATH,
        "headers": [(b"authorization", f"Bearer {token}".encode()), (b"content-type", b"application/json"), *headers],
    }
    chunks = [raw[:10], raw[10:]]  # sent in two parts, as a client may
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": chunks.pop(0), "more_body": bool(chunks)}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(fast(scope, receive, send))
    return downstream, sent[0]["status"], orjson.loads(sent[1]["body"])


def test_the_plain_case_is_answered_on_the_short_road_with_the_routes_answer(app, api):
    api.warehouse("NJ1")
    api.product("MUG-1")
    api.channel("web")
    api.receive("NJ1", "MUG-1", 5)
    through_route = api.order([("MUG-1", 1)])  # also puts the token in this process's cache

    downstream, status, order = _post(app, api.token, order_body([("MUG-1", 2)]))
    assert downstream.bodies == [] and status == 201
    assert order.keys() == through_route.keys() and order["lines"][0]["reserved"] == 2
    assert api.stock("MUG-1")["reserved"] == 3

    downstream, status, error = _post(app, api.token, order_body([("NOPE-1", 1)]))
    assert downstream.bodies == [] and (status, error["error"]) == (422, "unknown_sku")
    downstream, status, error = _post(app, api.token, order_body([("MUG-1", 50)]))
    assert downstream.bodies == [] and (status, error["error"]) == (409, "insufficient_stock")


def test_everything_else_goes_to_the_route_with_the_body_intact(app, api):
    api.warehouse("NJ1")
    api.product("MUG-1")
    api.channel("web")
    api.receive("NJ1", "MUG-1", 5)
    body = order_body([("MUG-1", 1)])
    downstream, _, _ = _post(app, "oms_not_a_cached_token", body)  # unknown to the cache: the route decides
    assert downstream.bodies == [orjson.dumps(body)]
    api.order([("MUG-1", 1)])  # caches the token
    downstream, _, _ = _post(app, api.token, body, (b"idempotency-key", b"k-1"))
    assert downstream.bodies == [orjson.dumps(body)]
    downstream, _, _ = _post(app, api.token, {**body, "surprise": True})  # FastAPI words the 422
    assert len(downstream.bodies) == 1
    downstream, _, _ = _post(app, api.token, {**body, "currency": "XYZ"})  # a domain error in validation
    assert len(downstream.bodies) == 1
    assert api.stock("MUG-1")["reserved"] == 1
