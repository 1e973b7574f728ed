"""A JSON response rendered with orjson (FastAPI's ORJSONResponse is deprecated; we still need a
response class for bodies we build ourselves: errors and idempotent replays)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)
