"""create_app(): builds the FastAPI application. Nothing is created at import time."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

import anyio
from fastapi import APIRouter, FastAPI

from oms import __doc__ as oms_doc
from oms.auth.routes import router as auth_router
from oms.auth.service import TokenCache
from oms.auth.throttle import LoginThrottle
from oms.catalog.routes import router as catalog_router
from oms.channels.routes import router as channels_router
from oms.config import Settings, load_settings
from oms.db import Database
from oms.events.worker import start_in_thread
from oms.feedback.pages import router as feedback_pages
from oms.feedback.routes import router as feedback_router
from oms.inventory.routes import inventory as inventory_router
from oms.inventory.routes import warehouses as warehouses_router
from oms.notifications.routes import router as emails_router
from oms.notifications.webhook_routes import router as webhooks_router
from oms.orders.routes import router as orders_router
from oms.packing.routes import router as packing_router
from oms.picking.routes import router as picking_router
from oms.returns.pages import router as returns_pages
from oms.returns.routes import router as returns_router
from oms.routing import geocode
from oms.shipping.pages import router as tracking_pages
from oms.shipping.routes import router as shipping_router
from oms.web import errors
from oms.web.fast_orders import FastOrderCapture
from oms.web.middleware import BodyLimit

API_PREFIX = "/api/v1"


def _lifespan(threads: int, run_worker: bool):  # type: ignore[no-untyped-def]
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Endpoints are sync and run in threads. A few threads per process keep the GIL from
        # thrashing under load (more requests simply queue), and stay below the connection pool.
        anyio.to_thread.current_default_thread_limiter().total_tokens = threads
        # The offline ZIP and city tables load in about a second: now, not on the first order.
        await anyio.to_thread.run_sync(geocode.preload)
        worker = start_in_thread(app.state.db, app.state.settings) if run_worker else None
        yield
        if worker is not None:
            worker.stopping.set()
        app.state.db.dispose()

    return lifespan


def create_served_app() -> FastAPI:
    """What ``oms serve`` runs: the app, with the outbox worker in a thread unless
    OMS_EMBEDDED_WORKER=false (then run ``oms worker`` beside it). Tests build ``create_app``
    and drain the outbox themselves."""
    settings = load_settings()
    return create_app(settings, run_worker=settings.embedded_worker)


def create_app(settings: Settings | None = None, db: Database | None = None, *, run_worker: bool = False) -> FastAPI:
    settings = settings or load_settings()
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    db = db or Database(
        settings.resolved_database_url(),
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        busy_s=settings.sqlite_busy_timeout_s,
    )
    app = FastAPI(
        title="oms",
        summary=(oms_doc or "").strip(),
        version="0.1.0",
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
        lifespan=_lifespan(settings.threads, run_worker),
    )
    app.state.settings = settings
    app.state.db = db
    app.state.secret_key = settings.resolved_secret_key()
    app.state.login_throttle = LoginThrottle()
    app.state.token_cache = TokenCache(ttl_s=settings.token_cache_s)
    # The threads that take orders on POST /orders' short road (oms.web.fast_orders); as many as
    # the endpoints' own, for the same reason (see _lifespan). Started on first use, and not shut
    # down with the lifespan: an app may be started again (tests do), and idle threads hold nothing.
    app.state.capture_threads = ThreadPoolExecutor(max_workers=settings.threads, thread_name_prefix="oms-capture")

    api = APIRouter(prefix=API_PREFIX)
    # Orders first: routes are matched in order, and POST /orders is the hot path.
    for router in (
        orders_router,
        auth_router,
        channels_router,
        catalog_router,
        warehouses_router,
        inventory_router,
        picking_router,
        packing_router,
        feedback_router,
        emails_router,
        shipping_router,
        returns_router,
        webhooks_router,
    ):
        api.include_router(router)
    app.include_router(api)
    # Public pages at the site root: the links in customer emails point here (not under /api/v1).
    app.include_router(feedback_pages)
    app.include_router(returns_pages)
    app.include_router(tracking_pages)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    errors.install(app)
    app.add_middleware(FastOrderCapture, state=app.state)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    return app
