"""Feedback API: the customer's answer (public: the signed link is the credential), the answers
and their summary for staff, and the support task list."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from oms.auth.service import Principal
from oms.db.base import utcnow
from oms.feedback import service, tasks
from oms.feedback.rules import TaskStatus
from oms.feedback.schemas import FeedbackOut, FeedbackReceiptOut, FeedbackSubmit, SummaryOut, SupportTaskOut, UtcTime
from oms.schemas import Page
from oms.web.deps import DbDep, require
from oms.web.params import MAX_ID, Cursor, Limit

router = APIRouter(tags=["feedback"])

FeedbackReader = Annotated[Principal, require("feedback:read")]
TaskWorker = Annotated[Principal, require("tasks:write")]
Token = Annotated[str, Path(max_length=200, description="The token of the link in the feedback email.")]
TaskId = Annotated[int, Path(ge=1, le=MAX_ID, description="The support task's id.")]
# The clock as a dependency, so a test can move it past a link's expiry.
Now = Annotated[datetime, Depends(utcnow)]


@router.post(
    "/feedback/{token}",
    status_code=201,
    response_model=FeedbackReceiptOut,
    responses={
        200: {"model": FeedbackReceiptOut, "description": "An earlier answer was changed."},
        404: {"description": "invalid_link: not a link oms made."},
        409: {"description": "link_expired: the link is past its date."},
    },
    summary="Answer a feedback request (no login: the link is the credential)",
)
def answer(token: Token, body: FeedbackSubmit, request: Request, db: DbDep, now: Now) -> Response:
    # No Idempotency-Key: the answer replaces any earlier one, so sending it twice changes nothing.
    receipt, created = service.submit(
        db, request.app.state.secret_key, token, body.rating, body.comment, body.items, now
    )
    return Response(receipt.model_dump_json(), status_code=201 if created else 200, media_type="application/json")


@router.get("/feedback", response_model=Page[FeedbackOut], summary="Customer feedback, newest first")
def list_feedback(
    db: DbDep,
    _: FeedbackReader,
    rating: Annotated[int | None, Query(ge=1, le=5, description="Only answers with this rating.")] = None,
    channel: Annotated[str | None, Query(max_length=64, description="Channel code.")] = None,
    since: Annotated[UtcTime | None, Query(description="Given or changed at or after this time.")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[FeedbackOut]:
    return service.list_feedback(db, rating, channel, since, limit, cursor)


@router.get("/feedback/summary", response_model=SummaryOut, summary="Scores and response rate of a period")
def summary(
    db: DbDep,
    _: FeedbackReader,
    since: Annotated[UtcTime | None, Query(description="Requests sent at or after this time.")] = None,
    until: Annotated[UtcTime | None, Query(description="Requests sent before this time.")] = None,
) -> SummaryOut:
    return service.summary(db, since, until)


@router.get("/support-tasks", response_model=Page[SupportTaskOut], summary="The support task list, oldest first")
def list_tasks(
    db: DbDep,
    _: TaskWorker,
    status: TaskStatus | None = None,
    kind: Annotated[str | None, Query(max_length=32, description="low_feedback, ...")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[SupportTaskOut]:
    return tasks.list_tasks(db, status, kind, limit, cursor)


@router.post("/support-tasks/{task_id}/close", response_model=SupportTaskOut, summary="Close a support task")
def close_task(task_id: TaskId, db: DbDep, principal: TaskWorker) -> SupportTaskOut:
    return tasks.close_task(db, task_id, principal)
