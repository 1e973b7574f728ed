"""Query parameters shared by list endpoints."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

Limit = Annotated[int, Query(ge=1, le=200, description="Page size (at most 200).")]
Cursor = Annotated[str | None, Query(max_length=200, description="next_cursor of the previous page.")]
