"""Promises: when an order must leave (ship by) and arrive (deliver by), and which orders are late or
at risk of being late. Pure: dates and facts in, flags out.

Days here are business days, Monday to Friday, as carriers count transit; public holidays are not
modelled (a retailer's calendar is the place for them, and none is configured yet).

- Ship by: the order's own ``ship_by``, or its creation plus the channel's handling days, at the end
  of that day (UTC).
- Deliver by: the order's own ``deliver_by``; without one, nothing was promised about arrival.
- Estimated delivery: the ship day plus the chosen service's transit days.

Flags (one order may carry several):

- ``late_to_ship``: not yet shipped and ship-by has passed.
- ``at_risk_to_ship``: not yet shipped, ship-by falls within ``AT_RISK_HOURS``, and it is not
  labelled yet (a labelled shipment only waits for the truck).
- ``late_to_deliver``: not delivered and deliver-by has passed.
- ``at_risk_to_deliver``: not delivered, and the estimate falls after deliver-by, or the carrier
  reported a delay, an exception or a failed attempt.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

AT_RISK_HOURS = 24
TROUBLE_CODES = frozenset({"delayed", "exception", "delivery_attempted"})


def is_business_day(day: date) -> bool:
    return day.weekday() < 5


def next_business_day(day: date) -> date:
    """``day`` itself when it is a business day, else the Monday after."""
    while not is_business_day(day):
        day += timedelta(days=1)
    return day


def add_business_days(start: date, days: int) -> date:
    """The business day ``days`` business days after ``start`` (``start`` moved to a business day first)."""
    if days < 0:
        raise ValueError("days must not be negative")
    day = next_business_day(start)
    for _ in range(days):
        day = next_business_day(day + timedelta(days=1))
    return day


def business_days_until(start: date, end: date) -> int:
    """How many business days a parcel leaving on ``start`` has to arrive by ``end`` (0: same day;
    negative when ``end`` is already behind ``start``)."""
    start = next_business_day(start)
    if end < start:
        return -1
    days, day = 0, start
    while day < end:
        day += timedelta(days=1)
        if is_business_day(day):
            days += 1
    return days


def end_of_day(day: date) -> datetime:
    return datetime.combine(day, time(23, 59, 59), tzinfo=UTC)


def ship_by(created_at: datetime, handling_days: int, promised: datetime | None) -> datetime:
    if promised is not None:
        return promised
    return end_of_day(add_business_days(created_at.astimezone(UTC).date(), handling_days))


def estimated_delivery(shipped_on: date, transit_days: int) -> date:
    return add_business_days(shipped_on, transit_days)


@dataclass(frozen=True)
class PromiseFacts:
    """What is known about one order's promise. ``labelled``/``shipped_at``/``estimate`` describe its
    latest shipment; ``tracking_status`` is the carrier's latest word on it."""

    ship_by: datetime
    deliver_by: datetime | None
    labelled: bool
    shipped_at: datetime | None
    delivered_at: datetime | None
    estimate: date | None
    tracking_status: str | None


@dataclass(frozen=True)
class Flag:
    kind: str  # late_to_ship | at_risk_to_ship | late_to_deliver | at_risk_to_deliver
    reason: str


def flags(facts: PromiseFacts, now: datetime) -> list[Flag]:
    found: list[Flag] = []
    if facts.shipped_at is None:
        if now > facts.ship_by:
            found.append(Flag("late_to_ship", f"was to ship by {facts.ship_by:%Y-%m-%d %H:%M} UTC"))
        elif not facts.labelled and facts.ship_by - now <= timedelta(hours=AT_RISK_HOURS):
            found.append(Flag("at_risk_to_ship", f"ships by {facts.ship_by:%Y-%m-%d %H:%M} UTC and has no label yet"))
    if facts.delivered_at is None and facts.deliver_by is not None:
        if now > facts.deliver_by:
            found.append(Flag("late_to_deliver", f"was to arrive by {facts.deliver_by:%Y-%m-%d}"))
        elif facts.tracking_status in TROUBLE_CODES:
            found.append(Flag("at_risk_to_deliver", f"the carrier reports {facts.tracking_status.replace('_', ' ')}"))
        elif facts.estimate is not None and facts.estimate > facts.deliver_by.astimezone(UTC).date():
            found.append(
                Flag(
                    "at_risk_to_deliver",
                    f"expected {facts.estimate:%Y-%m-%d}, promised by {facts.deliver_by:%Y-%m-%d}",
                )
            )
    return found
