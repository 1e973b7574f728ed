"""Outbound webhooks, end to end against a real HTTP receiver: subscribing, fan-out, signed
delivery, retries with backoff, the delivery log and redelivery."""

import json
import socket
from datetime import timedelta

from sqlalchemy import select, update

from oms.db.base import utcnow
from oms.events.model import OutboxEvent
from oms.events.worker import MAX_ATTEMPTS, Registry, Worker
from oms.notifications import webhook_service
from oms.notifications.webhook_model import WebhookDelivery
from oms.notifications.webhooks import verify
from tests.conftest import SECRET
from tests.factories import make_token
from tests.webhook_receiver import receiver_fixture  # noqa: F401


def _worker(db, settings):
    registry = Registry()
    webhook_service.register(registry, db, settings)
    return Worker(db, registry)


def _business(api):
    api.warehouse("NJ1")
    api.product("MUG-1")
    api.channel("web")
    api.receive("NJ1", "MUG-1", 50)


def _subscribe(api, url, events, **kw):
    return api.ok(api.post("/webhooks", {"url": url, "events": events, **kw}), 201)


def _deliveries(api, webhook_id, **params):
    return api.ok(api.get(f"/webhooks/{webhook_id}/deliveries", params=params))["items"]


def _time_passes(db, topic="webhook.deliver"):
    """Make the events waiting out their backoff due now, instead of sleeping through it."""
    with db.write() as s:
        s.execute(
            update(OutboxEvent)
            .where(OutboxEvent.topic == topic, OutboxEvent.processed_at.is_(None))
            .values(available_at=utcnow() - timedelta(seconds=1))
        )


def _deliver_events(db):
    with db.read() as s:
        return list(s.scalars(select(OutboxEvent).where(OutboxEvent.topic == "webhook.deliver")))


def test_a_subscriber_gets_one_signed_post_for_the_event_it_chose(api, db, settings, webhook_receiver):
    _business(api)
    hook = _subscribe(api, webhook_receiver.url, ["order.created"], description="the ERP")
    _subscribe(api, webhook_receiver.url + "/held", ["order.held"])
    order = api.order([("MUG-1", 2)])

    _worker(db, settings).drain()

    assert len(webhook_receiver.requests) == 1
    sent = webhook_receiver.requests[0]
    assert (sent.method, sent.path) == ("POST", "/hooks")
    verify(hook["secret"], sent.headers, sent.body)
    body = json.loads(sent.body)
    assert body["type"] == "order.created"
    assert body["data"]["order_id"] == order["id"]
    assert body["id"] == sent.headers["Oms-Webhook-Id"]
    assert sent.headers["Content-Type"] == "application/json"

    [delivery] = _deliveries(api, hook["id"])
    assert delivery["status"] == "succeeded" and delivery["attempts"] == 1
    assert delivery["delivery_id"] == body["id"] and delivery["body"] == body
    assert [(a["status_code"], a["error"]) for a in delivery["attempt_log"]] == [(200, None)]
    assert delivery["delivered_at"] is not None


def test_draining_again_or_fanning_an_event_out_twice_still_makes_one_delivery(api, db, settings, webhook_receiver):
    _business(api)
    hook = _subscribe(api, webhook_receiver.url, ["*"])
    api.order([("MUG-1", 1)])
    worker = _worker(db, settings)
    worker.drain()
    assert worker.drain() == 0
    with db.read() as s:
        event = s.scalars(select(OutboxEvent).where(OutboxEvent.topic == "order.created")).one()
    # The outbox delivers at least once: a fan-out repeated after a crash adds nothing.
    webhook_service.fan_out(db, event.id, event.topic, event.payload)
    worker.drain()

    assert len(_deliveries(api, hook["id"])) == 1
    assert len(_deliver_events(db)) == 1
    assert [json.loads(r.body)["type"] for r in webhook_receiver.requests] == ["order.created"]


def test_a_failing_receiver_gets_the_same_delivery_again_after_the_backoff(api, db, settings, webhook_receiver):
    _business(api)
    hook = _subscribe(api, webhook_receiver.url, ["order.created"])
    api.order([("MUG-1", 1)])
    webhook_receiver.fail_next(1)
    worker = _worker(db, settings)
    worker.drain()

    [delivery] = _deliveries(api, hook["id"])
    assert delivery["status"] == "pending" and delivery["attempts"] == 1
    assert delivery["last_status_code"] == 500 and "receiver says no" in delivery["last_error"]
    [event] = _deliver_events(db)
    assert event.processed_at is None and event.attempts == 1 and "500" in event.last_error
    assert worker.drain() == 0  # backing off: not due yet

    _time_passes(db)
    worker.drain()

    [delivery] = _deliveries(api, hook["id"])
    assert delivery["status"] == "succeeded" and delivery["attempts"] == 2
    assert [a["status_code"] for a in delivery["attempt_log"]] == [500, 200]
    first, second = webhook_receiver.requests
    assert first.body == second.body
    assert first.headers["Oms-Webhook-Id"] == second.headers["Oms-Webhook-Id"]
    verify(hook["secret"], second.headers, second.body)
    assert _deliveries(api, hook["id"], status="pending") == []


def test_a_receiver_that_does_not_answer_in_time_counts_as_a_failure(api, db, settings, webhook_receiver):
    _business(api)
    hook = _subscribe(api, webhook_receiver.url, ["order.created"])
    api.order([("MUG-1", 1)])
    webhook_receiver.hang_next(1, 3.0)
    _worker(db, settings.model_copy(update={"webhook_timeout_s": 0.3})).drain()

    [delivery] = _deliveries(api, hook["id"])
    assert delivery["status"] == "pending"
    [attempt] = delivery["attempt_log"]
    assert attempt["status_code"] is None and "timed out" in attempt["error"]
    assert attempt["duration_ms"] < 2500


def test_a_refused_connection_is_logged_as_the_attempt_error(api, db, settings):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    _business(api)
    hook = _subscribe(api, f"http://127.0.0.1:{port}/hooks", ["order.created"])
    api.order([("MUG-1", 1)])
    _worker(db, settings).drain()

    [delivery] = _deliveries(api, hook["id"])
    assert delivery["status"] == "pending" and delivery["last_status_code"] is None
    assert delivery["attempt_log"][0]["error"].startswith("ConnectError")


def test_after_the_last_attempt_a_delivery_is_failed_and_can_be_redelivered(api, db, settings, webhook_receiver):
    _business(api)
    hook = _subscribe(api, webhook_receiver.url, ["order.created"])
    api.order([("MUG-1", 1)])
    webhook_receiver.fail_next(100, status=503)
    worker = _worker(db, settings)
    worker.drain()
    with db.write() as s:  # skip ahead to the last attempt the outbox allows
        s.execute(
            update(OutboxEvent)
            .where(OutboxEvent.topic == "webhook.deliver")
            .values(attempts=MAX_ATTEMPTS - 1, available_at=utcnow())
        )
    worker.drain()

    [delivery] = _deliveries(api, hook["id"], status="failed")
    assert delivery["attempts"] == 2 and delivery["last_status_code"] == 503
    [event] = _deliver_events(db)
    assert event.processed_at is not None and event.last_error.startswith("gave up")

    webhook_receiver.fail_next(0)
    path = f"/webhooks/{hook['id']}/deliveries/{delivery['delivery_id']}/redeliver"
    requeued = api.ok(api.post(path), 202)
    assert requeued["status"] == "pending"
    again = api.post(path)
    assert again.status_code == 409 and again.json()["error"] == "delivery_pending"
    worker.drain()

    [delivery] = _deliveries(api, hook["id"])
    assert delivery["status"] == "succeeded"
    assert [a["status_code"] for a in delivery["attempt_log"]] == [503, 503, 200]
    assert len({r.headers["Oms-Webhook-Id"] for r in webhook_receiver.requests}) == 1
    # A succeeded delivery can be sent once more too (the receiver lost it, say).
    api.ok(api.post(path), 202)
    worker.drain()
    assert len(webhook_receiver.requests) == 4
    assert api.post(f"/webhooks/{hook['id']}/deliveries/not-a-delivery/redeliver").status_code == 404


def test_a_deactivated_subscription_gets_nothing_and_a_deleted_one_loses_its_log(api, db, settings, webhook_receiver):
    _business(api)
    hook = _subscribe(api, webhook_receiver.url, ["order.created"])
    api.order([("MUG-1", 1)])
    webhook_receiver.fail_next(1)
    worker = _worker(db, settings)
    worker.drain()
    assert api.ok(api.patch(f"/webhooks/{hook['id']}", {"is_active": False}))["is_active"] is False
    _time_passes(db)
    worker.drain()
    api.order([("MUG-1", 1)])  # not fanned out to an inactive subscription
    worker.drain()

    assert len(webhook_receiver.requests) == 1
    [delivery] = _deliveries(api, hook["id"])
    assert delivery["status"] == "failed" and "inactive" in delivery["last_error"]
    redeliver = api.post(f"/webhooks/{hook['id']}/deliveries/{delivery['delivery_id']}/redeliver")
    assert redeliver.status_code == 409 and redeliver.json()["error"] == "webhook_inactive"

    assert (
        api.client.delete(
            f"/api/v1/webhooks/{hook['id']}", headers={"Authorization": f"Bearer {api.token}"}
        ).status_code
        == 204
    )
    assert api.get(f"/webhooks/{hook['id']}").status_code == 404
    assert api.get(f"/webhooks/{hook['id']}/deliveries").status_code == 404
    with db.read() as s:
        assert s.scalars(select(WebhookDelivery)).all() == []


def test_subscriptions_are_listed_read_and_changed_without_ever_showing_the_secret_again(api, webhook_receiver):
    created = _subscribe(api, webhook_receiver.url, ["order.created", "stock.low"], description="ERP")
    assert created["secret"].startswith("whsec_") and created["created_by"].startswith("admin")
    chosen = _subscribe(api, webhook_receiver.url, ["*"], secret="a-secret-of-my-own-choosing")
    assert chosen["secret"] == "a-secret-of-my-own-choosing" and chosen["events"] == ["*"]

    got = api.ok(api.get(f"/webhooks/{created['id']}"))
    assert "secret" not in got and got["events"] == ["order.created", "stock.low"]
    page = api.ok(api.get("/webhooks", params={"limit": 1}))
    assert [h["id"] for h in page["items"]] == [created["id"]] and "secret" not in page["items"][0]
    rest = api.ok(api.get("/webhooks", params={"cursor": page["next_cursor"]}))
    assert [h["id"] for h in rest["items"]] == [chosen["id"]]

    changed = api.ok(
        api.patch(f"/webhooks/{created['id']}", {"events": ["order.shipped"], "url": "https://erp.example.com/in"})
    )
    assert changed["events"] == ["order.shipped"] and changed["url"] == "https://erp.example.com/in"
    assert changed["description"] == "ERP"
    assert api.patch(f"/webhooks/{created['id']}", {"secret": "x" * 20}).status_code == 422
    assert api.patch(f"/webhooks/{created['id']}", {"url": None}).status_code == 422
    assert api.get("/webhooks/999999").status_code == 404


def test_an_idempotency_key_replays_the_subscription_it_created(api, webhook_receiver):
    body = {"url": webhook_receiver.url, "events": ["order.created"]}
    first = api.ok(api.post("/webhooks", body, headers={"Idempotency-Key": "hook-1"}), 201)
    again = api.post("/webhooks", body, headers={"Idempotency-Key": "hook-1"})
    assert again.status_code == 201 and again.json() == first
    assert len(api.ok(api.get("/webhooks"))["items"]) == 1


def test_unknown_events_and_urls_that_are_not_http_are_refused(api):
    response = api.post("/webhooks", {"url": "https://erp.example.com/in", "events": ["order.created", "order.lost"]})
    assert response.status_code == 422
    assert response.json()["error"] == "unknown_event" and response.json()["unknown"] == ["order.lost"]
    internal = api.post("/webhooks", {"url": "https://erp.example.com/in", "events": ["webhook.deliver"]})
    assert internal.status_code == 422 and internal.json()["unknown"] == ["webhook.deliver"]
    for url in ("ftp://erp.example.com/in", "erp.example.com/in", "http:///in"):
        refused = api.post("/webhooks", {"url": url, "events": ["*"]})
        assert refused.status_code == 422 and refused.json()["error"] == "invalid_url", url
    extra = api.post("/webhooks", {"url": "https://erp.example.com/in", "events": ["*"], "status": "succeeded"})
    assert extra.status_code == 422
    assert api.post("/webhooks", {"url": "https://erp.example.com/in", "events": []}).status_code == 422
    assert api.ok(api.get("/webhooks"))["items"] == []


def test_the_event_catalogue_lists_public_topics_only(api):
    names = [e["name"] for e in api.ok(api.get("/webhook-events"))]
    assert "order.created" in names and "stock.low" in names and "shipment.tracking" in names
    assert not {"webhook.deliver", "email.send", "feedback.due", "stock.received"} & set(names)


def test_customers_and_pickers_cannot_touch_webhooks(api, db):
    hook = _subscribe(api, "https://erp.example.com/in", ["*"])
    for role in ("customer", "picker"):
        other = api.as_token(make_token(db, SECRET, role))
        assert other.get("/webhooks").status_code == 403
        assert other.get(f"/webhooks/{hook['id']}").status_code == 403
        assert other.get(f"/webhooks/{hook['id']}/deliveries").status_code == 403
        assert other.get("/webhook-events").status_code == 403
        assert other.post("/webhooks", {"url": "https://evil.example.com", "events": ["*"]}).status_code == 403
        assert other.patch(f"/webhooks/{hook['id']}", {"is_active": False}).status_code == 403
        assert (
            other.client.delete(
                f"/api/v1/webhooks/{hook['id']}", headers={"Authorization": f"Bearer {other.token}"}
            ).status_code
            == 403
        )
    assert api.ok(api.get(f"/webhooks/{hook['id']}"))["is_active"] is True


def test_receivers_inside_the_network_are_refused_when_the_settings_say_so(db, settings):
    from fastapi.testclient import TestClient

    from tests.factories import Api, app_for

    closed = settings.model_copy(update={"webhook_allow_private": False})
    with TestClient(app_for(closed, db), raise_server_exceptions=False) as client:
        admin = Api(client, make_token(db, closed.resolved_secret_key(), "admin"))
        for url in ("http://127.0.0.1:9/hooks", "http://169.254.169.254/latest/meta-data"):
            refused = admin.post("/webhooks", {"url": url, "events": ["order.created"]})
            assert refused.status_code == 422 and refused.json()["error"] == "private_address", refused.text
