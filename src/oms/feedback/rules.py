"""Feedback rules (pure: no framework, no database): the signed link a customer follows, when a
score asks for a follow-up, and the arithmetic of the summary."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from oms.errors import Conflict, InvalidInput, InvalidTransition, NotFound

RATINGS = range(1, 6)
# A rating at or below this asks a person to follow up (a support task).
LOW_SCORE = 2
LOW_FEEDBACK = "low_feedback"  # the support task kind

# --- the link ------------------------------------------------------------------------------------

# Binds a signature to this use: the same secret signs other things (token hashes), and a
# signature made for one of them must never pass as a feedback link.
PURPOSE = b"oms.feedback-link.v1"
_PAYLOAD = re.compile(r"^([1-9][0-9]{0,18})\.([0-9]{1,12})$")
_B64 = re.compile(r"^[A-Za-z0-9_-]+$")


class InvalidLink(NotFound):
    """Not a link oms made: mistyped, cut short or tampered with. A 404: there is nothing there."""

    code = "invalid_link"


class LinkExpired(Conflict):
    """A genuine link past its date. Pages answer 410 Gone; the JSON API answers 409."""

    code = "link_expired"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    if not _B64.match(text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# HMAC-SHA256 cut to 128 bits (RFC 2104 allows truncation to half the output): a forger has one
# chance in 2**128 per try, and the link stays short enough for email programs not to break it.
SIGNATURE_BYTES = 16


def _signature(secret: str, payload: str, purpose: bytes = PURPOSE) -> bytes:
    mac = hmac.new(secret.encode(), purpose + b"\n" + payload.encode(), hashlib.sha256)
    return mac.digest()[:SIGNATURE_BYTES]


def make_token(secret: str, order_id: int, expires_at: datetime, purpose: bytes = PURPOSE) -> str:
    """``<payload>.<signature>``, both base64url without padding: the payload is
    ``<order id>.<expiry, whole seconds since the epoch>``, the signature HMAC-SHA256 of it with the
    purpose above, truncated. About 45 characters, safe in a URL path as is. Nothing secret is inside: the
    order id is readable, only the signature cannot be forged. Other links (returns) pass their own
    ``purpose`` (and id), so a link made for one page never opens another."""
    if order_id < 1:
        raise ValueError("an order id is positive")
    if expires_at.tzinfo is None:
        raise ValueError("expires_at must be timezone-aware")
    payload = _b64(f"{order_id}.{int(expires_at.timestamp())}".encode())
    return f"{payload}.{_b64(_signature(secret, payload, purpose))}"


def token_expiry(token: str) -> datetime | None:
    """When ``token`` says it expires, unverified (for wording a page), or None if unreadable."""
    try:
        return _parse(token)[2]
    except (ValueError, binascii.Error, OverflowError, OSError):
        return None


def _parse(token: str) -> tuple[str, int, datetime, bytes]:
    payload, sep, signature = token.partition(".")
    if not sep or len(token) > 200:
        raise ValueError("not a link token")
    match = _PAYLOAD.match(_unb64(payload).decode("ascii"))
    if match is None:
        raise ValueError("not a link token")
    expires_at = datetime.fromtimestamp(int(match.group(2)), UTC)
    return payload, int(match.group(1)), expires_at, _unb64(signature)


def read_token(secret: str, token: str, now: datetime, purpose: bytes = PURPOSE, what: str = "feedback") -> int:
    """The order id a link was made for. ``InvalidLink`` for anything oms did not sign (checked
    first, so an expiry is only ever reported for a genuine link), ``LinkExpired`` once ``now`` has
    reached its expiry."""
    try:
        payload, order_id, expires_at, signature = _parse(token)
    except (ValueError, UnicodeDecodeError, binascii.Error, OverflowError, OSError):
        raise InvalidLink(f"this {what} link is not valid: check that it was copied in full") from None
    if not hmac.compare_digest(signature, _signature(secret, payload, purpose)):
        raise InvalidLink(f"this {what} link is not valid: check that it was copied in full")
    if now >= expires_at:
        raise LinkExpired(f"this {what} link expired on {expires_at:%Y-%m-%d}", expired_at=expires_at.isoformat())
    return order_id


# --- answers and follow-ups ------------------------------------------------------------------------


def check_items(item_ratings: Mapping[str, int], order_skus: Iterable[str]) -> None:
    """Items may be rated only when they are in the order."""
    foreign = sorted(set(item_ratings) - set(order_skus))
    if foreign:
        raise InvalidInput(
            f"not in this order, so it cannot be rated: {', '.join(foreign)}", code="item_not_in_order", skus=foreign
        )
    bad = sorted(sku for sku, r in item_ratings.items() if r not in RATINGS)
    if bad:
        raise InvalidInput(f"ratings are 1 to 5: {', '.join(bad)}", code="validation_error", skus=bad)


def needs_follow_up(rating: int, has_open_task: bool) -> bool:
    """A low score gets one open task per order: a second low answer (an edit) while one is open
    adds nothing, and raising the score leaves the open task for a person to close."""
    return rating <= LOW_SCORE and not has_open_task


class TaskStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


TASK_TRANSITIONS: dict[TaskStatus, frozenset[TaskStatus]] = {
    TaskStatus.OPEN: frozenset({TaskStatus.CLOSED}),
    TaskStatus.CLOSED: frozenset(),
}


def check_task_transition(task_id: int, current: str, target: TaskStatus) -> None:
    if target not in TASK_TRANSITIONS[TaskStatus(current)]:
        raise InvalidTransition(f"support task {task_id} is already {current}", task_id=task_id, status=current)


# --- the summary -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """One order's feedback as the summary needs it."""

    order_id: int
    rating: int
    channel: str
    item_ratings: Mapping[str, int] = field(default_factory=dict)
    skus: Sequence[str] = ()  # every product in the order


@dataclass(frozen=True)
class Asked:
    """One feedback request; ``sent`` when its email went out."""

    order_id: int
    sent: bool = True


@dataclass(frozen=True)
class Score:
    key: str  # a channel code or a SKU
    ratings: int
    average: float
    rated_directly: int = 0  # products: how many of the ratings were given to the item itself


@dataclass(frozen=True)
class Summary:
    requests_sent: int
    responses: int
    response_rate: float | None  # answered requests / requests sent; None when none was sent
    average: float | None
    distribution: dict[int, int]  # rating -> responses, every rating 1..5 present
    low_scores: int
    by_channel: tuple[Score, ...]
    by_product: tuple[Score, ...]


def _mean(total: int, n: int) -> float:
    return float((Decimal(total) / Decimal(n)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def summarise(responses: Sequence[Answer], requests: Sequence[Asked]) -> Summary:
    """Average, response rate, distribution, and scores by channel and by product.

    The response rate counts the sent requests that were answered, so it stays between 0 and 1
    whatever else is passed. Averages are over every response given, rounded half up to 2 places.

    By product: a product's rating is the rating given to that item; when the customer rated only
    the order, the order's rating counts for every product in it (``rated_directly`` tells how many
    ratings were given to the item itself). An order rating is the customer's word on everything
    they received, and without it most products would have no figure at all: most customers rate
    only the order.
    """
    sent = {r.order_id for r in requests if r.sent}
    answered = {a.order_id for a in responses} & sent
    distribution = {r: 0 for r in RATINGS}
    distribution.update(Counter(a.rating for a in responses))
    channels: dict[str, list[int]] = defaultdict(list)
    products: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # [ratings, total, direct]
    for a in responses:
        channels[a.channel].append(a.rating)
        for sku in dict.fromkeys([*a.skus, *a.item_ratings]):  # each product once, in order
            score = products[sku]
            direct = a.item_ratings.get(sku)
            score[0] += 1
            score[1] += direct if direct is not None else a.rating
            score[2] += direct is not None
    return Summary(
        requests_sent=len(sent),
        responses=len(responses),
        response_rate=round(len(answered) / len(sent), 4) if sent else None,
        average=_mean(sum(a.rating for a in responses), len(responses)) if responses else None,
        distribution=distribution,
        low_scores=sum(n for r, n in distribution.items() if r <= LOW_SCORE),
        by_channel=tuple(Score(code, len(rs), _mean(sum(rs), len(rs))) for code, rs in sorted(channels.items())),
        by_product=tuple(
            Score(sku, n, _mean(total, n), direct) for sku, (n, total, direct) in sorted(products.items())
        ),
    )
