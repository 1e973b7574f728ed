"""create_app(): builds the FastAPI application. Nothing is created at import time."""

from __future__ import annotations

import logging

from fastapi import APIRouter, FastAPI

from oms import __doc__ as oms_doc
from oms.auth.routes import router as auth_router
from oms.auth.throttle import LoginThrottle
from oms.catalog.routes import router as catalog_router
from oms.channels.routes import router as channels_router
from oms.config import Settings, load_settings
from oms.db import Database
from oms.inventory.routes import inventory as inventory_router
from oms.inventory.routes import warehouses as warehouses_router
from oms.orders.routes import router as orders_router
from oms.web import errors
from oms.web.middleware import BodyLimit

API_PREFIX = "/api/v1"


def create_app(settings: Settings | None = None, db: Database | None = None) -> FastAPI:
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
    )
    app.state.settings = settings
    app.state.db = db
    app.state.secret_key = settings.resolved_secret_key()
    app.state.login_throttle = LoginThrottle()

    api = APIRouter(prefix=API_PREFIX)
    for router in (auth_router, channels_router, catalog_router, warehouses_router, inventory_router, orders_router):
        api.include_router(router)
    app.include_router(api)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    errors.install(app)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    return app
