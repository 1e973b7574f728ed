"""Turning a use case's result into a response, with Idempotency-Key support for creating POSTs."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Annotated

from fastapi import Header, Request, Response
from pydantic import BaseModel

from oms.auth.service import Principal
from oms.errors import OutcomeUnknown
from oms.idempotency import service as idempotency
from oms.web.errors import status_for
from oms.web.json import JSONResponse

IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="Send the same key to retry safely: the first response is replayed.",
    ),
]


def created(
    request: Request,
    principal: Principal,
    key: str | None,
    body: BaseModel,
    work: Callable[[], tuple[BaseModel, int]],
) -> JSONResponse:
    """Run ``work`` (returning the result and its status) at most once per Idempotency-Key."""

    def outcome() -> tuple[int, dict]:  # type: ignore[type-arg]
        try:
            result, status = work()
        except OutcomeUnknown as exc:
            # The work may have been done: this answer becomes the key's for good, so no retry
            # with the key can do it a second time (it gets the same 503, marked replayed).
            return status_for(exc), {**exc.extra, "error": exc.code, "detail": exc.detail}
        return status, result.model_dump(mode="json")

    if key is None:  # the common case: pydantic writes the JSON itself, no dict in between
        result, status = work()
        return Response(result.model_dump_json(), status_code=status, media_type="application/json")
    endpoint = f"{request.method} {request.url.path}"
    # The endpoint is part of the hash, so a long path cannot collide after it is cut to its column.
    digest = hashlib.sha256(f"{endpoint}\n{body.model_dump_json()}".encode()).hexdigest()
    (status, payload), replayed = idempotency.run(
        request.app.state.db,
        owner=str(principal.user_id),
        key=key,
        endpoint=endpoint[:255],
        request_hash=digest,
        work=outcome,
        lock_seconds=request.app.state.settings.idempotency_lock_s,
    )
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    return JSONResponse(payload, status_code=status, headers=headers)
