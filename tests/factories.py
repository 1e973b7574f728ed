"""Small factories: an API client with a token, and helpers that build a business through it."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from oms.app import create_app
from oms.auth.service import TokenCache, create_token, create_user
from oms.auth.throttle import LoginThrottle
from oms.config import Settings
from oms.db import Database

_seq = itertools.count(1)


def gtin13(seed: int) -> str:
    """A valid EAN-13 in the '200' in-store range, for test products."""
    body = f"200{seed:09d}"
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


def make_token(db: Database, secret: str, role: str, scopes: list[str] | None = None, email: str | None = None) -> str:
    with db.write() as session:
        user = create_user(session, email or f"{role}{next(_seq)}@example.com", role, "correct horse battery")
        token, _ = create_token(session, secret, user, scopes)
    return token


class Api:
    """A TestClient bound to one bearer token, with helpers for common set-up."""

    def __init__(self, client: TestClient, token: str) -> None:
        self.client = client
        self.token = token

    def as_token(self, token: str) -> Api:
        return Api(self.client, token)

    def _headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **(extra or {})}

    def get(self, path: str, **kw: Any):  # type: ignore[no-untyped-def]
        return self.client.get(f"/api/v1{path}", headers=self._headers(kw.pop("headers", None)), **kw)

    def post(self, path: str, json: Any = None, **kw: Any):  # type: ignore[no-untyped-def]
        return self.client.post(f"/api/v1{path}", json=json, headers=self._headers(kw.pop("headers", None)), **kw)

    def patch(self, path: str, json: Any = None, **kw: Any):  # type: ignore[no-untyped-def]
        return self.client.patch(f"/api/v1{path}", json=json, headers=self._headers(kw.pop("headers", None)), **kw)

    def put(self, path: str, json: Any = None, **kw: Any):  # type: ignore[no-untyped-def]
        return self.client.put(f"/api/v1{path}", json=json, headers=self._headers(kw.pop("headers", None)), **kw)

    def ok(self, response, status: int = 200):  # type: ignore[no-untyped-def]
        assert response.status_code == status, response.text
        return response.json()

    # -- building a business -------------------------------------------------------------------
    def warehouse(self, code: str, **kw: Any) -> dict[str, Any]:
        body = {
            "code": code,
            "name": f"Warehouse {code}",
            "kind": "warehouse",
            "address": {
                "line1": "1 Dock Road",
                "city": "Newark",
                "region": "NJ",
                "postal_code": "07105",
                "country": "US",
            },
            **kw,
        }
        return self.ok(self.post("/warehouses", body), 201)

    def product(self, sku: str, **kw: Any) -> dict[str, Any]:
        body = {
            "sku": sku,
            "name": f"Product {sku}",
            "price": "10.00",
            "weight_g": 500,
            "length_mm": 200,
            "width_mm": 100,
            "height_mm": 50,
            **kw,
        }
        return self.ok(self.post("/products", body), 201)

    def channel(self, code: str = "web", warehouses: list[str] | None = None, **kw: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"code": code, "name": f"Channel {code}", "kind": "web", **kw}
        if warehouses is not None:
            body["warehouses"] = warehouses
        return self.ok(self.post("/channels", body), 201)

    def receive(self, warehouse: str, sku: str, quantity: int, **kw: Any) -> dict[str, Any]:
        return self.ok(
            self.post(
                "/inventory/receipts", {"warehouse": warehouse, "lines": [{"sku": sku, "quantity": quantity}], **kw}
            ),
            201,
        )

    def stock(self, sku: str) -> dict[str, Any]:
        return self.ok(self.get(f"/inventory/{sku}"))

    def order(self, lines: list[tuple[str, int]], channel: str = "web", status: int | None = 201, **kw: Any):  # type: ignore[no-untyped-def]
        response = self.post("/orders", order_body(lines, channel, **kw), headers=kw.pop("headers", None))
        if status is None:
            return response
        return self.ok(response, status)


def order_body(lines: list[tuple[str, int]], channel: str = "web", price: str = "10.00", **kw: Any) -> dict[str, Any]:
    kw.pop("headers", None)
    body: dict[str, Any] = {
        "channel": channel,
        "customer": {"email": "ada@example.com", "name": "Ada Lovelace"},
        "shipping_address": {
            "name": "Ada Lovelace",
            "line1": "12 Atlantic Ave",
            "city": "Brooklyn",
            "region": "NY",
            "postal_code": "11201",
            "country": "US",
        },
        "lines": [{"sku": s, "quantity": q, "unit_price": price} for s, q in lines],
        "currency": "USD",
        "payment": {"status": "paid", "amount": str(sum(Decimal(price) * q for _, q in lines))},
    }
    body.update(kw)
    return body


# create_app builds the validators of every route (about a second for oms's routes). A test process
# builds one app per shape and gives each test the state create_app would: its database, settings,
# secret, a fresh login throttle and token cache. What create_app reads from the settings beyond
# that state (the body limit, the thread count) is the shape.
_apps: dict[tuple[int, int], FastAPI] = {}


def app_for(settings: Settings, db: Database) -> FastAPI:
    key = (settings.max_body_bytes, settings.threads)
    application = _apps.get(key)
    if application is None:
        application = _apps[key] = create_app(settings, db)
    state = application.state
    state.settings = settings
    state.db = db
    state.secret_key = settings.resolved_secret_key()
    state.login_throttle = LoginThrottle()
    state.token_cache = TokenCache(ttl_s=settings.token_cache_s)
    return application


@pytest.fixture
def app(settings: Settings, db: Database):  # type: ignore[no-untyped-def]
    return app_for(settings, db)


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def api(client: TestClient, db: Database, settings: Settings) -> Api:
    return Api(client, make_token(db, settings.resolved_secret_key(), "admin"))
