"""Promises: business days, the default ship-by, and the late / at-risk flags (pure)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from oms.shipping import promises
from oms.shipping.promises import PromiseFacts

FRIDAY = date(2026, 11, 27)
MONDAY = date(2026, 11, 30)


def test_business_days_skip_the_weekend():
    assert promises.add_business_days(FRIDAY, 1) == MONDAY
    assert promises.add_business_days(date(2026, 11, 28), 0) == MONDAY  # a Saturday moves to Monday
    assert promises.add_business_days(FRIDAY, 5) == date(2026, 12, 4)
    with pytest.raises(ValueError):
        promises.add_business_days(FRIDAY, -1)


def test_days_until_a_promise_count_business_days_from_the_next_one():
    assert promises.business_days_until(FRIDAY, FRIDAY) == 0
    assert promises.business_days_until(FRIDAY, MONDAY) == 1
    assert promises.business_days_until(date(2026, 11, 28), date(2026, 12, 2)) == 2  # Sat -> Mon, then Tue, Wed
    assert promises.business_days_until(MONDAY, FRIDAY) == -1


def test_without_a_ship_by_an_order_ships_by_the_end_of_its_handling_days():
    created = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)  # a Friday afternoon
    assert promises.ship_by(created, 1, None) == datetime(2026, 11, 30, 23, 59, 59, tzinfo=UTC)
    promised = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    assert promises.ship_by(created, 1, promised) == promised


def _facts(**kw) -> PromiseFacts:  # type: ignore[no-untyped-def]
    base = {
        "ship_by": datetime(2026, 11, 30, 23, 59, tzinfo=UTC),
        "deliver_by": None,
        "labelled": False,
        "shipped_at": None,
        "delivered_at": None,
        "estimate": None,
        "tracking_status": None,
    }
    return PromiseFacts(**{**base, **kw})


def kinds(facts: PromiseFacts, now: datetime) -> list[str]:
    return [f.kind for f in promises.flags(facts, now)]


def test_an_order_past_its_ship_by_is_late_and_one_close_to_it_without_a_label_is_at_risk():
    ship_by = datetime(2026, 11, 30, 23, 59, tzinfo=UTC)
    assert kinds(_facts(), ship_by + timedelta(minutes=1)) == ["late_to_ship"]
    assert kinds(_facts(), ship_by - timedelta(hours=5)) == ["at_risk_to_ship"]
    assert kinds(_facts(labelled=True), ship_by - timedelta(hours=5)) == []  # only waits for the truck
    assert kinds(_facts(), ship_by - timedelta(days=3)) == []
    shipped = _facts(shipped_at=ship_by + timedelta(hours=1))
    assert kinds(shipped, ship_by + timedelta(days=1)) == []


def test_delivery_is_late_after_its_date_and_at_risk_on_a_late_estimate_or_carrier_trouble():
    deliver_by = datetime(2026, 12, 3, 23, 59, tzinfo=UTC)
    shipped = {"shipped_at": datetime(2026, 11, 30, tzinfo=UTC), "deliver_by": deliver_by}
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert kinds(_facts(**shipped, estimate=date(2026, 12, 2)), now) == []
    assert kinds(_facts(**shipped, estimate=date(2026, 12, 4)), now) == ["at_risk_to_deliver"]
    assert kinds(_facts(**shipped, tracking_status="delayed"), now) == ["at_risk_to_deliver"]
    assert kinds(_facts(**shipped), deliver_by + timedelta(hours=1)) == ["late_to_deliver"]
    delivered = _facts(**shipped, delivered_at=deliver_by + timedelta(hours=1))
    assert kinds(delivered, deliver_by + timedelta(days=2)) == []
