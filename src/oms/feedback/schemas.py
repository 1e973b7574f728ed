"""Feedback requests and responses: the customer's answer, what staff read, the summary, tasks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

from oms.schemas import Input, Output, Sku

Rating = Annotated[int, Field(ge=1, le=5, description="1 (very poor) to 5 (excellent).")]
COMMENT_MAX = 2000
Comment = Annotated[str, StringConstraints(max_length=COMMENT_MAX)]


def _utc(value: datetime) -> datetime:
    """A time without a zone is read as UTC; one that cannot be shown in UTC is refused."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the time is out of range") from None


# A query parameter's time: ISO 8601, with or without a zone (UTC when none).
UtcTime = Annotated[datetime, AfterValidator(_utc)]


class FeedbackSubmit(Input):
    """The customer's answer. Sent again (while the link works), it replaces the earlier one."""

    rating: Rating
    comment: Comment | None = Field(default=None, description=f"At most {COMMENT_MAX} characters.")
    items: dict[Sku, Rating] = Field(
        default_factory=dict,
        max_length=200,
        description="Optional ratings of single products of the order, by SKU.",
    )


class FeedbackLineOut(Output):
    sku: str
    name: str
    quantity: int


class FeedbackFormOut(Output):
    """What the customer's page shows: the order, and their answer when they gave one."""

    order_id: int
    order_number: str
    lines: list[FeedbackLineOut]
    expires_at: datetime
    rating: int | None
    comment: str | None
    items: dict[str, int]


class FeedbackReceiptOut(Output):
    """The answer as stored, for the customer who gave it."""

    order_number: str
    rating: int
    comment: str | None
    items: dict[str, int]
    editable_until: datetime
    created_at: datetime
    updated_at: datetime


class FeedbackOut(Output):
    id: int
    order_id: int
    order_number: str
    channel: str
    rating: int
    comment: str | None
    items: dict[str, int]
    created_at: datetime
    updated_at: datetime


class ScoreOut(Output):
    ratings: int
    average: float


class ChannelScoreOut(ScoreOut):
    channel: str


class ProductScoreOut(ScoreOut):
    sku: str
    rated_directly: int = Field(
        description="How many of the ratings were given to the product itself; the others are order "
        "ratings of orders in which it was not rated on its own."
    )


class SummaryOut(Output):
    since: datetime | None
    until: datetime | None
    requests_sent: int = Field(description="Feedback requests emailed in the window.")
    responses: int = Field(description="Answers to those requests.")
    response_rate: float | None = Field(description="responses / requests_sent; null when none was sent.")
    average: float | None
    distribution: dict[int, int] = Field(description="Rating (1..5) -> responses.")
    low_scores: int = Field(description="Responses rated at or below the follow-up threshold.")
    by_channel: list[ChannelScoreOut]
    by_product: list[ProductScoreOut]


class SupportTaskOut(Output):
    id: int
    kind: str
    order_id: int | None
    order_number: str | None
    subject: str
    detail: str
    status: str
    created_at: datetime
    closed_at: datetime | None
    closed_by: str | None
