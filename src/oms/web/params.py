"""Query parameters shared by list endpoints."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

Limit = Annotated[int, Query(ge=1, le=200, description="Page size (at most 200).")]
Cursor = Annotated[str | None, Query(max_length=200, description="next_cursor of the previous page.")]

# Ids are 64-bit in the database; anything larger cannot exist, so it is a 422, not a crash.
MAX_ID = 2**63 - 1
OrderId = Annotated[int, Path(ge=1, le=MAX_ID, description="The order's id.")]
