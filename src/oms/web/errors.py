"""The one place that maps errors to HTTP. Every error leaves as
``{"error": "<snake_case_code>", "detail": "<what and why>", ...extra}``."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DataError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from oms import errors
from oms.web.json import JSONResponse

log = logging.getLogger("oms.web")

STATUS_BY_ERROR: dict[type[errors.DomainError], int] = {
    errors.Unauthenticated: 401,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.AlreadyExists: 409,
    errors.InsufficientStock: 409,
    errors.InvalidTransition: 409,
    errors.Conflict: 409,
    errors.InvalidInput: 422,
    errors.RateLimited: 429,
    errors.OutcomeUnknown: 503,
}

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    503: "unavailable",
}


def error_response(status: int, code: str, detail: str, /, **extra: Any) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if status == 429 and "retry_after_s" in extra:
        headers = {"Retry-After": str(extra["retry_after_s"])}
    # The contract's two fields win over an extra field of the same name.
    return JSONResponse({**extra, "error": code, "detail": detail}, status_code=status, headers=headers)


def status_for(exc: errors.DomainError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]  # type: ignore[index]
    return 400


def _describe(err: dict[str, Any]) -> dict[str, Any]:
    loc = [str(p) for p in err.get("loc", ()) if p != "body"]
    return {"field": ".".join(loc), "message": err.get("msg", ""), "type": err.get("type", "")}


def install(app: FastAPI) -> None:
    @app.exception_handler(errors.DomainError)
    async def _domain(_: Request, exc: errors.DomainError) -> JSONResponse:
        return error_response(status_for(exc), exc.code, exc.detail, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [_describe(e) for e in exc.errors()]
        if any(p["type"] == "json_invalid" for p in problems):
            return error_response(400, "malformed_json", "the request body is not valid JSON")
        first = problems[0] if problems else {"field": "", "message": "invalid request"}
        where = f"{first['field']}: " if first["field"] else ""
        return error_response(422, "validation_error", f"{where}{first['message']}", errors=problems)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        detail = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        return error_response(exc.status_code, code, detail)

    # Last resorts for what the schemas did not catch: a value the database cannot store, or a
    # uniqueness race lost to a concurrent request. Both are the client's to fix or retry.
    @app.exception_handler(DataError)
    async def _data(_: Request, exc: DataError) -> JSONResponse:
        log.info("database refused a value: %s", exc.orig)
        return error_response(422, "value_out_of_range", "a value in the request is too large or too long to store")

    @app.exception_handler(IntegrityError)
    async def _integrity(_: Request, exc: IntegrityError) -> JSONResponse:
        log.info("integrity conflict: %s", exc.orig)
        return error_response(409, "conflict", "the request conflicts with a change made at the same moment; retry")

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return error_response(500, "internal_error", "something went wrong on our side; it has been logged")
