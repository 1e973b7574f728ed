"""Signing webhook bodies, and verifying them as a receiver would."""

import base64
import hashlib
import hmac
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from oms.errors import InvalidInput
from oms.events.worker import MAX_ATTEMPTS, backoff
from oms.notifications import webhooks
from oms.notifications.webhooks import InvalidSignature, headers_for, sign, verify

SECRET = "whsec_test-secret-0123456789"
NOW = 1_800_000_000
BODY = '{"id":"d-1","type":"order.created","created_at":"2027-01-15T08:00:00+00:00","data":{"order_id":7}}'


def test_the_signature_is_the_base64_hmac_sha256_of_id_timestamp_and_body():
    expected = hmac.new(SECRET.encode(), f"d-1.{NOW}.{BODY}".encode(), hashlib.sha256).digest()
    assert sign(SECRET, "d-1", NOW, BODY) == "v1," + base64.b64encode(expected).decode()
    assert sign(SECRET, "d-1", NOW, BODY.encode()) == sign(SECRET, "d-1", NOW, BODY)


def test_a_signed_request_verifies_whatever_the_case_of_its_header_names():
    headers = headers_for(SECRET, "d-1", BODY, now=NOW)
    assert headers["Oms-Webhook-Id"] == "d-1" and headers["Oms-Webhook-Timestamp"] == str(NOW)
    verify(SECRET, headers, BODY.encode(), now=NOW + 10)
    verify(SECRET, {k.lower(): v for k, v in headers.items()}, BODY, now=NOW)


def test_a_tampered_body_is_refused():
    headers = headers_for(SECRET, "d-1", BODY, now=NOW)
    with pytest.raises(InvalidSignature, match="no signature matches"):
        verify(SECRET, headers, BODY.replace('"order_id":7', '"order_id":8'), now=NOW)


def test_another_delivery_id_is_refused_because_the_id_is_signed_too():
    headers = {**headers_for(SECRET, "d-1", BODY, now=NOW), "Oms-Webhook-Id": "d-2"}
    with pytest.raises(InvalidSignature):
        verify(SECRET, headers, BODY, now=NOW)


def test_the_wrong_secret_is_refused():
    headers = headers_for(SECRET, "d-1", BODY, now=NOW)
    with pytest.raises(InvalidSignature):
        verify("whsec_someone-else-entirely", headers, BODY, now=NOW)


def test_an_old_or_future_timestamp_is_refused_as_a_possible_replay():
    headers = headers_for(SECRET, "d-1", BODY, now=NOW)
    verify(SECRET, headers, BODY, now=NOW + 300)
    with pytest.raises(InvalidSignature, match="300 s"):
        verify(SECRET, headers, BODY, now=NOW + 301)
    with pytest.raises(InvalidSignature):
        verify(SECRET, headers, BODY, now=NOW - 301)
    verify(SECRET, headers, BODY, now=NOW + 3600, tolerance_s=3600)


def test_missing_or_malformed_headers_are_refused():
    headers = headers_for(SECRET, "d-1", BODY, now=NOW)
    for name in ("Oms-Webhook-Id", "Oms-Webhook-Timestamp", "Oms-Webhook-Signature"):
        with pytest.raises(InvalidSignature, match="missing"):
            verify(SECRET, {k: v for k, v in headers.items() if k != name}, BODY, now=NOW)
    with pytest.raises(InvalidSignature, match="not a number"):
        verify(SECRET, {**headers, "Oms-Webhook-Timestamp": "soon"}, BODY, now=NOW)
    with pytest.raises(InvalidSignature):
        verify(
            SECRET, {**headers, "Oms-Webhook-Signature": "v2," + headers["Oms-Webhook-Signature"][3:]}, BODY, now=NOW
        )


def test_one_matching_signature_among_several_is_enough_while_a_secret_is_rotated():
    headers = headers_for(SECRET, "d-1", BODY, now=NOW)
    old = sign("whsec_the-old-secret-000000", "d-1", NOW, BODY)
    rotated = {**headers, "Oms-Webhook-Signature": f"{old} {headers['Oms-Webhook-Signature']}"}
    verify(SECRET, rotated, BODY, now=NOW)


def test_the_body_carries_the_delivery_id_the_topic_the_time_and_the_payload():
    when = datetime(2027, 1, 15, 8, 0, tzinfo=UTC)
    assert webhooks.body_of("d-1", "order.created", when, {"order_id": 7}) == BODY


def test_subscriptions_take_known_topics_or_everything_and_name_the_unknown_ones():
    assert webhooks.check_events(["order.created", "stock.low", "order.created"]) == ["order.created", "stock.low"]
    assert webhooks.check_events(["order.created", "*"]) == ["*"]
    with pytest.raises(InvalidInput) as err:
        webhooks.check_events(["order.created", "order.teleported", "email.send"])
    assert err.value.extra["unknown"] == ["order.teleported", "email.send"]
    assert webhooks.wants(["*"], "order.held") and not webhooks.wants(["*"], "webhook.deliver")
    assert webhooks.wants(["order.held"], "order.held") and not webhooks.wants(["order.held"], "order.created")


@pytest.mark.parametrize("url", ["ftp://example.com/x", "example.com/hook", "http://", "https:///path", "http://a b/"])
def test_a_webhook_url_must_be_http_or_https_with_a_host(url):
    with pytest.raises(InvalidInput):
        webhooks.check_url(url)


def test_the_documented_retry_schedule_is_the_outbox_backoff():
    delays = tuple(int(backoff(n).total_seconds()) for n in range(1, MAX_ATTEMPTS))
    assert delays == webhooks.RETRY_DELAYS_S


DOC = Path(__file__).parents[2] / "docs" / "webhooks.md"


def test_the_verification_snippet_in_the_docs_accepts_what_oms_signs_and_refuses_a_tampered_body():
    code = re.search(r"```python\n(.*?)```", DOC.read_text(), flags=re.DOTALL).group(1)
    scope: dict = {}
    exec(code, scope)  # the reader's copy of the receiver, run as written
    headers = headers_for(SECRET, "d-1", BODY)
    scope["verify_oms_webhook"](SECRET, headers, BODY.encode())
    with pytest.raises(ValueError, match="bad signature"):
        scope["verify_oms_webhook"](SECRET, headers, BODY.encode().replace(b"7", b"8"))


def test_the_docs_list_exactly_the_events_on_offer():
    listed = re.findall(r"^\| `([a-z_]+\.[a-z_]+)` \|", DOC.read_text(), flags=re.MULTILINE)
    assert listed == list(webhooks.WEBHOOK_EVENTS)


def test_internal_addresses_are_found_and_refused_unless_allowed():
    from oms.errors import InvalidInput
    from oms.notifications.webhooks import check_reachable, private_address

    for url in (
        "http://127.0.0.1:8080/h",
        "http://10.1.2.3/h",
        "http://169.254.169.254/latest",
        "http://[::1]/h",
        "http://localhost/h",
        "http://192.168.0.9/h",
    ):
        assert private_address(url) is not None, url
        with pytest.raises(InvalidInput) as refused:
            check_reachable(url, may_reach_private=False)
        assert refused.value.code == "private_address"
        check_reachable(url, may_reach_private=True)
    assert private_address("https://93.184.216.34/hooks") is None
    assert private_address("https://no-such-host.invalid/hooks") is None  # does not resolve: the send fails


def test_production_keeps_webhooks_on_the_public_internet_by_default():
    from oms.config import Settings

    assert Settings(env="production", secret_key="x" * 40).webhooks_may_reach_private() is False
    assert Settings(env="development").webhooks_may_reach_private() is True
    assert Settings(env="production", secret_key="x" * 40, webhook_allow_private=True).webhooks_may_reach_private()
