"""Feedback use cases: asking a delivered order for feedback, taking the answer, reading the
answers and their summary (the support tasks that low scores open are in ``oms.feedback.tasks``).

The road of one order: ``order.delivered`` -> ``request_feedback`` stores the request and emits
``feedback.due`` to wait until ``due_at`` -> ``send_request`` queues the email with a signed link
-> the customer answers (``submit``), and may change the answer until the link expires; a low score
opens one support task for a person to follow up.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from oms.channels.model import Channel
from oms.config import Settings
from oms.db import Database
from oms.db.base import utcnow
from oms.db.locks import lock_in_key_order
from oms.errors import InvalidInput
from oms.events.outbox import emit
from oms.events.worker import Registry
from oms.feedback import rules, tasks
from oms.feedback.model import FeedbackRequest, FeedbackResponse
from oms.feedback.rules import LOW_FEEDBACK, InvalidLink
from oms.feedback.schemas import (
    ChannelScoreOut,
    FeedbackFormOut,
    FeedbackLineOut,
    FeedbackOut,
    FeedbackReceiptOut,
    ProductScoreOut,
    SummaryOut,
)
from oms.notifications.email import order_context, queue_email
from oms.orders.model import Order, OrderLine
from oms.orders.queries import order_number
from oms.orders.timeline import record
from oms.schemas import Page, keyset, page_of

log = logging.getLogger("oms.feedback")

ACTOR = "oms"  # the timeline's actor for what the system does on its own


# --- asking ----------------------------------------------------------------------------------------


def _instant(value: Any) -> datetime | None:
    """A time from an event payload (ISO text after JSON), in UTC; None when unreadable."""
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except (TypeError, ValueError):
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def request_feedback(db: Database, settings: Settings, order_id: int, delivered_at: datetime) -> bool:
    """Store the feedback request of a delivered order, once, and emit ``feedback.due`` to wait
    until it is due. False when the order already has one (the event came again) or is gone."""

    def use_case(session: Session) -> bool:
        if session.scalar(select(FeedbackRequest.id).where(FeedbackRequest.order_id == order_id)):
            return False
        if session.get(Order, order_id) is None:
            return False
        due_at = delivered_at + timedelta(days=settings.feedback_delay_days)
        # Whole seconds: the link carries its expiry in seconds, and both must say the same.
        expires_at = (due_at + timedelta(days=settings.feedback_link_days)).replace(microsecond=0)
        session.add(FeedbackRequest(order_id=order_id, due_at=due_at, expires_at=expires_at, created_at=utcnow()))
        # A second worker racing on the same event fails here on the unique order_id and its
        # event is retried; the retry finds this row and stops above.
        session.flush()
        emit(session, "feedback.due", {"order_id": order_id}, available_at=due_at)
        return True

    return db.run(use_case)


def link_for(settings: Settings, secret: str, order_id: int, expires_at: datetime) -> str:
    return f"{settings.public_url.rstrip('/')}/feedback/{rules.make_token(secret, order_id, expires_at)}"


def send_request(db: Database, settings: Settings, secret: str, order_id: int, now: datetime | None = None) -> bool:
    """Queue the feedback email of a request that is due. Once: a request already sent is left
    alone (and the email's dedupe key guards a crash between the two). A link that would already
    have expired (the worker was stopped for weeks) is not sent. True when an email was queued."""

    def use_case(session: Session) -> bool:
        request = session.scalar(
            lock_in_key_order(
                session, select(FeedbackRequest).where(FeedbackRequest.order_id == order_id), FeedbackRequest.id
            )
        )
        if request is None or request.sent_at is not None:
            return False
        moment = now or utcnow()
        if moment >= request.expires_at:
            log.warning("feedback request of order %s not sent: its link expired on %s", order_id, request.expires_at)
            return False
        order = session.get(Order, order_id)
        if order is None:
            return False
        link = link_for(settings, secret, order_id, request.expires_at)
        queue_email(
            session,
            kind="feedback_request",
            to=order.customer_email,
            context={
                "order": order_context(session, order_id),
                "link": link,
                "expires_at": request.expires_at.date().isoformat(),
            },
            dedupe_key=f"feedback_request:{order_id}",
            order_id=order_id,
        )
        request.sent_at = moment
        record(session, [(order_id, ACTOR, "feedback_requested", "Feedback requested by email", None)])
        return True

    return db.run(use_case)


def register(registry: Registry, db: Database, settings: Settings) -> None:
    """Subscribe the feedback handlers: ``order.delivered`` {order_id, delivered_at} and
    ``feedback.due`` {order_id}."""
    secret = settings.resolved_secret_key()

    def on_delivered(event_id: int, topic: str, payload: dict[str, Any]) -> None:
        delivered_at = _instant(payload.get("delivered_at"))
        if delivered_at is None:
            log.warning(
                "event %s: delivered_at %r unreadable, counting from now", event_id, payload.get("delivered_at")
            )
            delivered_at = utcnow()
        request_feedback(db, settings, int(payload["order_id"]), delivered_at)

    def on_due(event_id: int, topic: str, payload: dict[str, Any]) -> None:
        send_request(db, settings, secret, int(payload["order_id"]))

    registry.subscribe("order.delivered", "feedback.request", on_delivered)
    registry.subscribe("feedback.due", "feedback.send", on_due)


# --- answering -------------------------------------------------------------------------------------


def _request_for(session: Session, order_id: int, *, lock: bool = False) -> FeedbackRequest:
    stmt = select(FeedbackRequest).where(FeedbackRequest.order_id == order_id)
    request = session.scalar(lock_in_key_order(session, stmt, FeedbackRequest.id) if lock else stmt)
    if request is None:  # signed by us, but the order (and its request) is gone
        raise InvalidLink("this feedback link is not valid: check that it was copied in full")
    return request


def _lines(session: Session, order_id: int) -> list[OrderLine]:
    return list(session.scalars(select(OrderLine).where(OrderLine.order_id == order_id).order_by(OrderLine.line_no)))


def feedback_form(db: Database, secret: str, token: str, now: datetime) -> FeedbackFormOut:
    """What the customer's page shows for ``token``: the order's lines, and the answer they gave."""
    order_id = rules.read_token(secret, token, now)
    with db.read() as session:
        request = _request_for(session, order_id)
        response = session.scalar(select(FeedbackResponse).where(FeedbackResponse.order_id == order_id))
        return FeedbackFormOut(
            order_id=order_id,
            order_number=order_number(order_id),
            lines=[FeedbackLineOut(sku=ln.sku, name=ln.name, quantity=ln.quantity) for ln in _lines(session, order_id)],
            expires_at=request.expires_at,
            rating=response.rating if response else None,
            comment=response.comment if response else None,
            items=dict(response.item_ratings) if response else {},
        )


def submit(
    db: Database,
    secret: str,
    token: str,
    rating: int,
    comment: str | None,
    items: dict[str, int],
    now: datetime,
) -> tuple[FeedbackReceiptOut, bool]:
    """Store the customer's answer for the order behind ``token``, or change it (the link still
    works). Returns the answer and whether it is new. ``InvalidLink`` / ``LinkExpired`` for a bad
    link, ``InvalidInput`` for a rating outside 1..5 or an item that is not in the order."""
    if rating not in rules.RATINGS:
        raise InvalidInput("the rating is 1 to 5", code="validation_error")
    order_id = rules.read_token(secret, token, now)
    comment = (comment or "").strip() or None

    def use_case(session: Session) -> tuple[FeedbackReceiptOut, bool]:
        # The request row is the per-order lock: two answers sent at once take turns, so there is
        # one response and at most one open follow-up task.
        request = _request_for(session, order_id, lock=True)
        order = session.get(Order, order_id)
        assert order is not None  # the request cascades with its order
        rules.check_items(items, [ln.sku for ln in _lines(session, order_id)])
        response = session.scalar(select(FeedbackResponse).where(FeedbackResponse.order_id == order_id))
        created = response is None
        if response is None:
            response = FeedbackResponse(order_id=order_id, channel_id=order.channel_id, created_at=now)
            session.add(response)
        previous = None if created else response.rating
        response.rating = rating
        response.comment = comment
        response.item_ratings = dict(items)
        response.updated_at = now
        session.flush()
        task = None
        if rules.needs_follow_up(rating, tasks.has_open_task(session, order_id, LOW_FEEDBACK)):
            number = order_number(order_id)
            task = tasks.open_task(
                session,
                LOW_FEEDBACK,
                order_id,
                f"Low feedback ({rating}/5) on order {number}",
                f"{order.customer_name or order.customer_email} <{order.customer_email}> rated order {number} "
                f"{rating} out of 5." + (f"\n\nTheir comment:\n{comment}" if comment else "\n\nNo comment."),
            )
        emit(
            session,
            "feedback.received",
            {"order_id": order_id, "rating": rating, "previous_rating": previous, "low": rating <= rules.LOW_SCORE},
        )
        message = f"Feedback {'received' if created else 'changed'}: {rating}/5"
        data = {"rating": rating, "previous_rating": previous, "support_task_id": task.id if task else None}
        record(session, [(order_id, order.customer_email, "feedback_received", message, data)])
        return (
            FeedbackReceiptOut(
                order_number=order_number(order_id),
                rating=response.rating,
                comment=response.comment,
                items=dict(response.item_ratings),
                editable_until=request.expires_at,
                created_at=response.created_at,
                updated_at=response.updated_at,
            ),
            created,
        )

    return db.run(use_case)


# --- reading -----------------------------------------------------------------------------------------


def list_feedback(
    db: Database,
    rating: int | None,
    channel: str | None,
    since: datetime | None,
    limit: int,
    cursor: str | None,
) -> Page[FeedbackOut]:
    """Answers, newest first. ``since`` keeps those given or changed since then."""
    stmt = select(FeedbackResponse, Channel.code).join(Channel, Channel.id == FeedbackResponse.channel_id)
    if rating is not None:
        stmt = stmt.where(FeedbackResponse.rating == rating)
    if channel is not None:
        stmt = stmt.where(Channel.code == channel)
    if since is not None:
        stmt = stmt.where(FeedbackResponse.updated_at >= since)
    with db.read() as session:
        rows = session.execute(keyset(stmt, FeedbackResponse.id, cursor, limit, newest_first=True)).all()
        return page_of(
            [
                FeedbackOut(
                    id=r.id,
                    order_id=r.order_id,
                    order_number=order_number(r.order_id),
                    channel=code,
                    rating=r.rating,
                    comment=r.comment,
                    items=dict(r.item_ratings),
                    created_at=r.created_at,
                    updated_at=r.updated_at,
                )
                for r, code in rows
            ],
            limit,
        )


def summary(db: Database, since: datetime | None, until: datetime | None) -> SummaryOut:
    """The figures of the requests *sent* in [since, until) and of the answers to them (whenever
    they came): a cohort, so the response rate is a true fraction and a window's figures do not
    move once its requests' links have expired."""
    if since is not None and until is not None and since >= until:
        raise InvalidInput("since must be before until", code="invalid_window")
    sent = select(FeedbackRequest.order_id).where(FeedbackRequest.sent_at.is_not(None))
    if since is not None:
        sent = sent.where(FeedbackRequest.sent_at >= since)
    if until is not None:
        sent = sent.where(FeedbackRequest.sent_at < until)
    with db.read() as session:
        asked = [rules.Asked(order_id) for order_id in session.scalars(sent)]
        answers = session.execute(
            select(FeedbackResponse.order_id, FeedbackResponse.rating, FeedbackResponse.item_ratings, Channel.code)
            .join(Channel, Channel.id == FeedbackResponse.channel_id)
            .where(FeedbackResponse.order_id.in_(sent))
        ).all()
        skus: dict[int, list[str]] = defaultdict(list)
        for order_id, sku in session.execute(
            select(OrderLine.order_id, OrderLine.sku)
            .where(OrderLine.order_id.in_(select(FeedbackResponse.order_id).where(FeedbackResponse.order_id.in_(sent))))
            .order_by(OrderLine.order_id, OrderLine.line_no)
        ):
            skus[order_id].append(sku)
    result = rules.summarise(
        [rules.Answer(oid, rating, code, dict(items or {}), skus[oid]) for oid, rating, items, code in answers],
        asked,
    )
    return SummaryOut(
        since=since,
        until=until,
        requests_sent=result.requests_sent,
        responses=result.responses,
        response_rate=result.response_rate,
        average=result.average,
        distribution=result.distribution,
        low_scores=result.low_scores,
        by_channel=[ChannelScoreOut(channel=s.key, ratings=s.ratings, average=s.average) for s in result.by_channel],
        by_product=[
            ProductScoreOut(sku=s.key, ratings=s.ratings, average=s.average, rated_directly=s.rated_directly)
            for s in result.by_product
        ],
    )
