"""Feedback rules: the signed link, follow-ups and the summary's arithmetic."""

import base64
from datetime import UTC, datetime, timedelta

import pytest

from oms.errors import InvalidInput, InvalidTransition
from oms.feedback.rules import (
    LOW_SCORE,
    Answer,
    Asked,
    InvalidLink,
    LinkExpired,
    TaskStatus,
    check_items,
    check_task_transition,
    make_token,
    needs_follow_up,
    read_token,
    summarise,
    token_expiry,
)

SECRET = "unit-test-secret"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=30)


def test_a_token_reads_back_as_its_order_until_it_expires():
    token = make_token(SECRET, 4711, LATER)
    assert read_token(SECRET, token, NOW) == 4711
    assert read_token(SECRET, token, LATER - timedelta(seconds=1)) == 4711
    assert token_expiry(token) == LATER


def test_a_token_is_short_and_safe_in_a_url_path():
    token = make_token(SECRET, 2**62, LATER)
    assert len(token) < 80
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")


def test_an_expired_token_is_told_apart_from_a_forged_one():
    token = make_token(SECRET, 7, LATER)
    with pytest.raises(LinkExpired) as expired:
        read_token(SECRET, token, LATER)
    assert expired.value.code == "link_expired"
    assert "2026-12-31" in expired.value.detail
    with pytest.raises(InvalidLink) as forged:
        read_token("another-secret", token, NOW)
    assert forged.value.code == "invalid_link"


def test_an_expired_token_with_a_bad_signature_is_invalid_not_expired():
    token = make_token("another-secret", 7, NOW - timedelta(days=1))
    with pytest.raises(InvalidLink):
        read_token(SECRET, token, NOW)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def test_changing_the_order_or_the_expiry_breaks_the_signature():
    token = make_token(SECRET, 7, LATER)
    _, signature = token.split(".")
    for payload in (f"8.{int(LATER.timestamp())}", f"7.{int(LATER.timestamp()) + 86400}"):
        with pytest.raises(InvalidLink):
            read_token(SECRET, f"{_b64(payload.encode())}.{signature}", NOW)


@pytest.mark.parametrize(
    "token",
    [
        "",
        ".",
        "abc",
        "abc.def",
        "not base64!.x",
        "é.é",
        "%00.%00",
        _b64(b"0.1") + ".AAAA",
        _b64(b"-1.99999999999") + ".AAAA",
        _b64(b"7.999999999999") + ".AAAA",
        _b64(b"\xff\xfe") + ".AAAA",
        "A" * 500,
    ],
)
def test_anything_else_is_an_invalid_link(token):
    with pytest.raises(InvalidLink):
        read_token(SECRET, token, NOW)


def test_a_signature_made_for_another_purpose_does_not_pass():
    # The same HMAC over the payload without the purpose string: what another use of the secret
    # might sign.
    import hashlib
    import hmac

    payload = _b64(f"7.{int(LATER.timestamp())}".encode())
    other = _b64(hmac.new(SECRET.encode(), payload.encode(), hashlib.sha256).digest()[:16])
    with pytest.raises(InvalidLink):
        read_token(SECRET, f"{payload}.{other}", NOW)


def test_items_can_be_rated_only_when_they_are_in_the_order():
    check_items({"MUG-1": 5}, ["MUG-1", "TEA-2"])
    check_items({}, [])
    with pytest.raises(InvalidInput) as refused:
        check_items({"MUG-1": 5, "SPOON-9": 1}, ["MUG-1"])
    assert refused.value.code == "item_not_in_order"
    assert refused.value.extra["skus"] == ["SPOON-9"]
    with pytest.raises(InvalidInput):
        check_items({"MUG-1": 6}, ["MUG-1"])


def test_a_low_score_needs_one_follow_up_per_order():
    assert LOW_SCORE == 2
    assert needs_follow_up(1, has_open_task=False)
    assert needs_follow_up(2, has_open_task=False)
    assert not needs_follow_up(3, has_open_task=False)
    assert not needs_follow_up(1, has_open_task=True)


def test_a_closed_task_cannot_be_closed_again():
    check_task_transition(1, "open", TaskStatus.CLOSED)
    with pytest.raises(InvalidTransition):
        check_task_transition(1, "closed", TaskStatus.CLOSED)


def test_the_summary_of_nothing_is_empty_not_an_error():
    s = summarise([], [])
    assert s.requests_sent == 0 and s.responses == 0
    assert s.response_rate is None and s.average is None
    assert s.distribution == {1: 0, 2: 0, 3: 0, 4: 0, 5: 0}
    assert s.low_scores == 0
    assert s.by_channel == () and s.by_product == ()


def test_requests_without_answers_give_a_zero_rate():
    s = summarise([], [Asked(1), Asked(2), Asked(3, sent=False)])
    assert s.requests_sent == 2 and s.response_rate == 0.0 and s.average is None


def test_the_summary_counts_average_rate_distribution_and_channels():
    answers = [
        Answer(1, 5, "web", skus=["MUG-1"]),
        Answer(2, 4, "web", skus=["MUG-1"]),
        Answer(3, 2, "amazon", skus=["TEA-2"]),
    ]
    s = summarise(answers, [Asked(1), Asked(2), Asked(3), Asked(4), Asked(5, sent=False), Asked(6)])
    assert s.requests_sent == 5
    assert s.responses == 3
    assert s.response_rate == 0.6
    assert s.average == 3.67  # 11 / 3, half up
    assert s.distribution == {1: 0, 2: 1, 3: 0, 4: 1, 5: 1}
    assert s.low_scores == 1
    assert [(c.key, c.ratings, c.average) for c in s.by_channel] == [("amazon", 1, 2.0), ("web", 2, 4.5)]


def test_the_rate_counts_only_sent_requests_that_were_answered():
    s = summarise([Answer(1, 3, "web"), Answer(9, 3, "web")], [Asked(1), Asked(2)])
    assert s.response_rate == 0.5


def test_a_product_takes_its_own_rating_or_else_its_orders():
    answers = [
        # Rated the mug on its own, not the tea: the tea takes the order's 4.
        Answer(1, 4, "web", {"MUG-1": 1}, ["MUG-1", "TEA-2"]),
        # Rated only the order: both products take its 2.
        Answer(2, 2, "web", {}, ["MUG-1", "TEA-2"]),
    ]
    s = summarise(answers, [Asked(1), Asked(2)])
    by_product = {p.key: p for p in s.by_product}
    assert (by_product["MUG-1"].ratings, by_product["MUG-1"].average, by_product["MUG-1"].rated_directly) == (
        2,
        1.5,
        1,
    )
    assert (by_product["TEA-2"].ratings, by_product["TEA-2"].average, by_product["TEA-2"].rated_directly) == (
        2,
        3.0,
        0,
    )


def test_averages_round_half_up_to_two_places():
    answers = [Answer(i, r, "web") for i, r in enumerate([1, 2, 2, 2, 2, 2, 2, 2], 1)]  # 15 / 8 = 1.875
    assert summarise(answers, []).average == 1.88
