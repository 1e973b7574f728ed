"""Customer email end to end: events queue rendered emails, the outbox worker sends them through a
real SMTP server, failures are kept and retried, a person can re-send, nothing goes out twice."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy import select, update

from oms.db.base import utcnow
from oms.events.model import OutboxEvent
from oms.events.outbox import emit
from oms.events.worker import Registry, Worker
from oms.notifications import customer_emails
from oms.notifications.email import order_context, queue_email, register, send_email
from oms.notifications.model import EmailMessage
from tests.factories import make_token
from tests.smtp import smtp_sink  # noqa: F401


@pytest.fixture
def mail_settings(settings, smtp_sink):  # noqa: F811
    return settings.model_copy(update={**smtp_sink.settings_update(), "mail_from": "Tea & Mugs <orders@shop.test>"})


def worker(db, settings) -> Worker:
    registry = Registry()
    register(registry, db, settings)
    return Worker(db, registry)


def place_order(api) -> dict:
    api.warehouse("NJ1")
    api.product("MUG-1", name="Blue mug")
    api.channel("web")
    api.receive("NJ1", "MUG-1", 10)
    return api.order([("MUG-1", 2)])


def emails(db) -> list[EmailMessage]:
    with db.read() as s:
        return list(s.scalars(select(EmailMessage).order_by(EmailMessage.id)))


def make_due(db) -> None:
    """Time passes: every event waiting on its backoff is due now."""
    with db.write() as s:
        s.execute(
            update(OutboxEvent)
            .where(OutboxEvent.processed_at.is_(None))
            .values(available_at=utcnow() - timedelta(seconds=1))
        )


def shipped_payload(order_id: int, shipment_id: int = 5) -> dict:
    return {
        "order_id": order_id,
        "shipment_id": shipment_id,
        "carrier": "oms",
        "carrier_name": "OMS Parcel",
        "service_name": "Ground",
        "tracking_number": "OMS00000000422",
        "tracking_url": "https://track.example.com/OMS00000000422",
        "packages": 1,
        "shipped_at": "2026-12-02T09:00:00+00:00",
    }


def tracking_payload(order_id: int, event_id: int, code: str) -> dict:
    return {
        "order_id": order_id,
        "shipment_id": 5,
        "tracking_event_id": event_id,
        "tracking_number": "OMS00000000422",
        "tracking_url": "https://track.example.com/OMS00000000422",
        "code": code,
        "at": "2026-12-04T14:05:00-05:00",
        "location": "BROOKLYN, NY, US",
        "description": "Scanned",
    }


def test_an_order_confirmation_arrives_with_its_headers_and_both_parts(api, db, mail_settings, smtp_sink):  # noqa: F811
    order = place_order(api)
    assert worker(db, mail_settings).drain() >= 2  # order.created, then email.send
    (message,) = smtp_sink.wait_for(1)
    (row,) = emails(db)
    assert row.kind == "order_confirmation" and row.status == "sent" and row.attempts == 1
    assert row.sent_at is not None and row.last_error is None
    assert message["To"] == "ada@example.com"
    assert message["From"] == "Tea & Mugs <orders@shop.test>"
    assert message["Subject"] == f"Your order {order['number']} is confirmed" == row.subject
    assert message["Message-ID"] == row.message_id
    assert row.message_id.startswith(f"<oms-email-{row.id}.") and row.message_id.endswith("@shop.test>")
    assert message["Date"] and message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")  # CRLF on the wire
    html = message.get_body(("html",)).get_content()
    assert "2 x Blue mug (MUG-1), $10.00 each" in text and "Total:    $20.00" in text
    assert text == row.text_body
    assert "Blue mug" in html and "Tea &amp; Mugs" not in html  # the shop name is only in From
    assert smtp_sink.envelopes == [("orders@shop.test", ["ada@example.com"])]


def test_the_same_event_handled_twice_sends_one_email(api, db, mail_settings, smtp_sink):  # noqa: F811
    order = place_order(api)
    payload = {"order_id": order["id"], "channel": "web", "status": "confirmed"}
    first = customer_emails.on_order_created(db, payload)
    assert first is not None
    assert customer_emails.on_order_created(db, payload) is None  # already queued: nothing new
    with db.write() as s:  # the event delivered again, as a crash between effect and record would
        emit(s, "order.created", payload)
    w = worker(db, mail_settings)
    w.drain()
    send_email(db, mail_settings, first)  # and the send handler run again for the same email
    assert len(smtp_sink.wait_for(1)) == 1
    assert [e.kind for e in emails(db)] == ["order_confirmation"]
    make_due(db)
    w.drain()
    assert len(smtp_sink.messages) == 1


def test_while_one_worker_sends_an_email_no_other_does_until_its_lease_runs_out(api, db, mail_settings, smtp_sink):  # noqa: F811
    from oms.notifications.email import _claim

    order = place_order(api)
    email_id = customer_emails.on_order_created(db, {"order_id": order["id"], "channel": "web", "status": "confirmed"})
    assert email_id is not None
    assert _claim(db, mail_settings, email_id) is not None  # worker A starts talking to the server
    assert [e.status for e in emails(db)] == ["sending"]
    send_email(db, mail_settings, email_id)  # worker B (a re-send racing a retry): leaves it to A
    assert smtp_sink.messages == []
    with db.write() as s:  # A died mid-send: its lease runs out
        s.execute(update(EmailMessage).values(sending_until=utcnow() - timedelta(seconds=1)))
    send_email(db, mail_settings, email_id)
    assert len(smtp_sink.wait_for(1)) == 1 and [e.status for e in emails(db)] == ["sent"]


def test_a_refusing_server_leaves_the_email_failed_and_retried_until_a_resend_gets_it_out(
    api,
    db,
    mail_settings,
    smtp_sink,  # noqa: F811
):
    order = place_order(api)
    smtp_sink.refuse()  # 451: try later
    w = worker(db, mail_settings)
    w.drain()
    assert smtp_sink.messages == []
    listed = api.ok(api.get("/emails", params={"status": "failed"}))["items"]
    assert [(e["kind"], e["order_number"], e["attempts"]) for e in listed] == [
        ("order_confirmation", order["number"], 1)
    ]
    assert "451 4.3.0 Try again later" in listed[0]["last_error"]
    with db.read() as s:  # the outbox keeps the send event for a retry with backoff
        pending = s.scalars(select(OutboxEvent).where(OutboxEvent.processed_at.is_(None))).all()
    assert [(e.topic, e.attempts) for e in pending] == [("email.send", 1)]
    assert "451" in pending[0].last_error

    make_due(db)
    w.drain()  # still refused: a second attempt, still failed
    assert api.ok(api.get(f"/emails/{listed[0]['id']}"))["attempts"] == 2

    smtp_sink.accept()
    resent = api.ok(api.post(f"/emails/{listed[0]['id']}/resend"), 202)
    assert resent["status"] == "queued" and resent["resent_count"] == 1
    w.drain()
    (message,) = smtp_sink.wait_for(1)
    after = api.ok(api.get(f"/emails/{listed[0]['id']}"))
    assert after["status"] == "sent" and after["attempts"] == 3 and after["last_error"] is None
    assert message["Message-ID"] == after["message_id"] == listed[0]["message_id"]  # retries keep it
    make_due(db)
    w.drain()  # the original event's retry finds it sent
    assert len(smtp_sink.messages) == 1
    timeline = api.ok(api.get(f"/orders/{order['id']}/events", params={"limit": 200}))["items"]
    (entry,) = [e for e in timeline if e["type"] == "email_resent"]
    assert entry["message"] == f"Email re-sent to ada@example.com: Your order {order['number']} is confirmed"


def test_a_server_that_is_down_is_a_failure_with_the_reason(api, db, mail_settings, smtp_sink):  # noqa: F811
    place_order(api)
    smtp_sink.stop()
    worker(db, mail_settings).drain()
    (row,) = emails(db)
    assert row.status == "failed" and "cannot talk to SMTP server 127.0.0.1" in row.last_error
    smtp_sink.start()
    make_due(db)
    worker(db, mail_settings).drain()
    assert len(smtp_sink.wait_for(1)) == 1
    assert emails(db)[0].status == "sent"


def test_a_recipient_refused_for_good_is_not_retried(api, db, mail_settings, smtp_sink):  # noqa: F811
    place_order(api)
    smtp_sink.refuse("550 5.1.1 No such user", at="RCPT")
    worker(db, mail_settings).drain()
    (row,) = emails(db)
    assert row.status == "failed" and "550 5.1.1 No such user" in row.last_error
    with db.read() as s:
        assert s.scalar(select(OutboxEvent.id).where(OutboxEvent.processed_at.is_(None))) is None


def test_without_an_smtp_host_the_email_is_kept_unsent_and_can_be_sent_later(api, db, settings, smtp_sink):  # noqa: F811
    place_order(api)
    assert settings.smtp_host is None
    worker(db, settings).drain()
    (row,) = emails(db)
    assert (row.status, row.last_error, row.attempts) == ("unsent", "OMS_SMTP_HOST is not set", 0)
    with db.read() as s:  # nothing to retry
        assert s.scalar(select(OutboxEvent.id).where(OutboxEvent.processed_at.is_(None))) is None
    api.ok(api.post(f"/emails/{row.id}/resend"), 202)
    worker(db, settings.model_copy(update=smtp_sink.settings_update())).drain()
    assert len(smtp_sink.wait_for(1)) == 1
    assert emails(db)[0].status == "sent"


def test_a_resend_of_a_sent_email_sends_it_again_under_a_new_message_id(api, db, mail_settings, smtp_sink):  # noqa: F811
    place_order(api)
    w = worker(db, mail_settings)
    w.drain()
    (first,) = smtp_sink.wait_for(1)
    (row,) = emails(db)
    key = {"Idempotency-Key": "resend-1"}
    api.ok(api.post(f"/emails/{row.id}/resend", headers=key), 202)
    api.ok(api.post(f"/emails/{row.id}/resend", headers=key), 202)  # a retried request: one re-send
    w.drain()
    second = smtp_sink.wait_for(2)[1]
    assert second["Subject"] == first["Subject"] and second["Message-ID"] != first["Message-ID"]
    (row,) = emails(db)
    assert (row.status, row.resent_count, row.message_id) == ("sent", 1, second["Message-ID"])


def test_the_smtp_login_is_used_when_a_user_is_set(api, db, mail_settings, smtp_sink):  # noqa: F811
    place_order(api)
    settings = mail_settings.model_copy(update={"smtp_username": "shop", "smtp_password": SecretStr("s3cret")})
    worker(db, settings).drain()
    smtp_sink.wait_for(1)
    assert smtp_sink.logins == [("shop", "s3cret")]


def test_shipping_and_tracking_events_become_the_right_emails(api, db, mail_settings, smtp_sink):  # noqa: F811
    order = place_order(api)
    oid = order["id"]
    with db.write() as s:
        emit(s, "shipment.shipped", shipped_payload(oid))
        for event_id, code in enumerate(
            ["label_created", "in_transit", "out_for_delivery", "delayed", "delivery_attempted", "exception"], 1
        ):
            emit(s, "shipment.tracking", tracking_payload(oid, event_id, code))
        emit(s, "shipment.tracking", tracking_payload(oid, 7, "delivered"))
        emit(s, "shipment.tracking", tracking_payload(oid, 7, "delivered"))  # the same event again
    worker(db, mail_settings).drain()
    smtp_sink.wait_for(7)
    page = api.ok(api.get("/emails", params={"order_id": oid}))
    assert [e["kind"] for e in page["items"]] == [  # newest first
        "delivered",
        "delivery_problem",
        "delivery_problem",
        "delivery_problem",
        "out_for_delivery",
        "shipped",
        "order_confirmation",
    ]
    subjects = {m["Subject"] for m in smtp_sink.messages}
    number = order["number"]
    assert {
        f"Your order {number} is on its way",
        f"Your order {number} is out for delivery",
        f"Your order {number} is delayed",
        f"We tried to deliver your order {number}",
        f"A problem with the delivery of your order {number}",
        f"Your order {number} has been delivered",
    } <= subjects
    assert len(smtp_sink.messages) == 7
    with db.read() as s:
        keys = set(s.scalars(select(EmailMessage.dedupe_key)))
    assert {"shipped:5", "tracking:3", "tracking:7", f"order_confirmation:{oid}"} <= keys


def test_events_for_an_order_that_does_not_exist_send_nothing(db, mail_settings, smtp_sink):  # noqa: F811
    assert customer_emails.on_shipment_shipped(db, shipped_payload(999_999)) is None
    assert emails(db) == []


def test_emails_are_listed_newest_first_filtered_and_paged(api, db, settings):
    order = place_order(api)
    with db.write() as s:
        context = {"order": order_context(s, order["id"])}
        for n in range(3):
            queue_email(
                s, kind="order_confirmation", to="Bob@Example.com", context=context, dedupe_key=f"t:{n}", order_id=None
            )
    worker(db, settings).drain()  # no SMTP host: all unsent
    first = api.ok(api.get("/emails", params={"limit": 2}))
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = api.ok(api.get("/emails", params={"limit": 2, "cursor": first["next_cursor"]}))
    ids = [e["id"] for e in first["items"] + rest["items"]]
    assert ids == sorted(ids, reverse=True) and len(ids) == 4
    assert "text_body" not in first["items"][0]
    to_bob = api.ok(api.get("/emails", params={"to": "bob@example.com"}))["items"]
    assert len(to_bob) == 0  # kept as given: "Bob@Example.com"
    to_bob = api.ok(api.get("/emails", params={"to": "Bob@Example.com"}))["items"]
    assert len(to_bob) == 3 and all(e["order_id"] is None for e in to_bob)
    assert [e["to"] for e in api.ok(api.get("/emails", params={"order_id": order["id"]}))["items"]] == [
        "ada@example.com"
    ]
    assert api.ok(api.get("/emails", params={"status": "sent"}))["items"] == []
    one = api.ok(api.get(f"/emails/{ids[0]}"))
    assert one["text_body"].startswith("Hello Ada Lovelace,") and one["html_body"].startswith("<!DOCTYPE html>")


def test_unknown_emails_are_404_and_scopes_are_enforced(api, db, settings):
    assert api.get("/emails/424242").json()["error"] == "email_not_found"
    assert api.post("/emails/424242/resend").status_code == 404
    assert api.get("/emails", params={"status": "lost"}).status_code == 422
    picker = api.as_token(make_token(db, settings.resolved_secret_key(), "picker"))
    assert picker.get("/emails").status_code == 403
    support = api.as_token(make_token(db, settings.resolved_secret_key(), "support"))
    assert support.ok(support.get("/emails"))["items"] == []
    reader = api.as_token(make_token(db, settings.resolved_secret_key(), "support", scopes=["emails:read"]))
    assert reader.post("/emails/1/resend").status_code == 403
