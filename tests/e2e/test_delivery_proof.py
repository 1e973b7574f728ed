"""Issue 4's proof: one order from pack to a customer's feedback, through the HTTP API, a real SMTP
server, a real webhook receiver and the outbox worker: pack -> rate shop -> label -> ship ->
tracking events -> delivered -> feedback email (read from the SMTP server) -> feedback submitted
through its link. The timeline, the ledger and every email are checked; bad signatures, replays,
unknown numbers and events out of order change nothing and never answer 5xx."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from oms.events.model import OutboxEvent
from oms.events.worker import Worker, default_registry
from oms.feedback.model import FeedbackResponse, SupportTask
from oms.inventory import stock
from oms.notifications import webhooks
from oms.notifications.model import EmailMessage
from tests.factories import Api
from tests.shipping_floor import BROOKLYN, as_role, build_floor, pick_and_pack, tracking_post
from tests.smtp import smtp_sink  # noqa: F401
from tests.webhook_receiver import receiver_fixture  # noqa: F401

PUBLIC_URL = "https://shop.example.test"


@pytest.fixture
def settings(settings, smtp_sink):  # type: ignore[no-untyped-def]  # noqa: F811
    return settings.model_copy(update={**smtp_sink.settings_update(), "public_url": PUBLIC_URL})


def _drain(db, settings) -> None:  # type: ignore[no-untyped-def]
    Worker(db, default_registry(db, settings)).drain()


def _text(message) -> str:  # type: ignore[no-untyped-def]
    return message.get_body(preferencelist=("plain",)).get_content()


def _event(number: str, code: str, at: datetime, key: str, **kw) -> dict:  # type: ignore[no-untyped-def, type-arg]
    return {"id": key, "tracking_number": number, "code": code, "occurred_at": at.isoformat(), **kw}


def test_one_order_from_the_packing_bench_to_the_customers_feedback(
    api: Api,
    db,  # type: ignore[no-untyped-def]
    settings,
    smtp_sink,  # noqa: F811
    webhook_receiver,
):
    floor = build_floor(api, db)
    hook = floor.ok(
        floor.post("/webhooks", {"url": webhook_receiver.url, "events": ["order.shipped", "order.delivered"]}), 201
    )
    order = floor.order([("MUG-1", 1), ("BOOK-1", 1)], shipping_address=BROOKLYN)
    number = order["number"]
    _drain(db, settings)
    [confirmation] = smtp_sink.wait_for(1)
    assert confirmation["To"] == "ada@example.com" and number in confirmation["Subject"]

    shipment_id = pick_and_pack(floor, order["id"])
    shipper = as_role(floor, db, settings, "shipper")
    choice = shipper.ok(shipper.post(f"/shipments/{shipment_id}/rates"))
    labelled = shipper.ok(shipper.post(f"/shipments/{shipment_id}/labels"), 201)
    tracking_number = labelled["tracking_number"]
    assert labelled["service"] == choice["chosen"]["service"]
    before = floor.stock("MUG-1")
    shipper.ok(shipper.post(f"/shipments/{shipment_id}/ship"))
    after = floor.stock("MUG-1")
    assert (after["on_hand"], after["reserved"]) == (before["on_hand"] - 1, before["reserved"] - 1)
    _drain(db, settings)
    shipped = smtp_sink.wait_for(2)[1]
    assert "on its way" in shipped["Subject"]
    assert tracking_number in _text(shipped) and f"{PUBLIC_URL}/track/{tracking_number}" in _text(shipped)
    [delivery] = webhook_receiver.requests
    webhooks.verify(hook["secret"], delivery.headers, delivery.body)
    body = json.loads(delivery.body)
    assert body["type"] == "order.shipped" and body["data"]["order_id"] == order["id"]
    assert body["data"]["tracking_number"] == tracking_number

    t0 = datetime.now(UTC) - timedelta(days=2)
    journey = [
        _event(tracking_number, "picked_up", t0, "c1", location="EDISON, NJ"),
        _event(tracking_number, "in_transit", t0 + timedelta(hours=4), "c2", location="SECAUCUS, NJ"),
        _event(tracking_number, "out_for_delivery", t0 + timedelta(hours=20), "c3", location="BROOKLYN, NY"),
        _event(tracking_number, "delivery_attempted", t0 + timedelta(hours=26), "c4", description="No one home"),
        _event(tracking_number, "delivered", t0 + timedelta(hours=44), "c5", location="BROOKLYN, NY"),
    ]
    assert tracking_post(floor, journey[:4]).status_code == 200
    _drain(db, settings)
    out_for_delivery, attempted = smtp_sink.wait_for(4)[2:4]
    assert "out for delivery" in out_for_delivery["Subject"] and "tried to deliver" in attempted["Subject"]
    with db.read() as session:
        [task] = session.scalars(select(SupportTask).where(SupportTask.kind == "delivery_issue")).all()
        assert task.status == "open" and "delivery attempted" in task.detail

    # What a carrier or an attacker may send: nothing here answers 5xx or changes anything twice.
    forged = floor.client.post(
        "/api/v1/carriers/oms/tracking-events",
        content=json.dumps({"events": [journey[4]]}).encode(),
        headers={"Oms-Carrier-Signature": "sha256=" + "ab" * 32},
    )
    assert forged.status_code == 401
    assert floor.ok(floor.get(f"/orders/{order['id']}"))["status"] == "shipped"
    replayed = tracking_post(floor, journey[:4])
    assert [r["result"] for r in replayed.json()["results"]] == ["duplicate"] * 4
    stray = tracking_post(floor, [_event("OMS00000077771", "delivered", t0, "x1")])
    assert stray.json()["results"][0]["result"] == "unknown_tracking_number"
    older = tracking_post(floor, [_event(tracking_number, "in_transit", t0 + timedelta(hours=1), "c1b")])
    assert older.json()["results"][0]["result"] == "out_of_order"
    garbled = tracking_post(floor, [{"id": "z", "tracking_number": tracking_number, "code": "teleported"}])
    assert garbled.status_code == 422

    assert tracking_post(floor, [journey[4]]).json()["results"][0]["result"] == "applied"
    assert floor.ok(floor.get(f"/orders/{order['id']}"))["status"] == "delivered"
    _drain(db, settings)
    delivered = smtp_sink.wait_for(5)[4]
    assert "delivered" in delivered["Subject"]
    start = re.search(rf"{re.escape(PUBLIC_URL)}(/returns/start/\S+)", _text(delivered))
    assert start and floor.client.get(start.group(1)).status_code == 200  # the return form, no login
    assert [json.loads(r.body)["type"] for r in webhook_receiver.requests] == ["order.shipped", "order.delivered"]
    assert len(smtp_sink.messages) == 5  # the feedback request waits three days

    with db.write() as session:  # three days pass
        session.execute(
            update(OutboxEvent).where(OutboxEvent.processed_at.is_(None)).values(available_at=datetime.now(UTC))
        )
    _drain(db, settings)
    feedback_mail = smtp_sink.wait_for(6)[5]
    assert "How was your order" in feedback_mail["Subject"]
    link = re.search(rf"{re.escape(PUBLIC_URL)}/feedback/(\S+)", _text(feedback_mail))
    assert link, _text(feedback_mail)
    path = f"/feedback/{link.group(1)}"
    page = floor.client.get(path)
    assert page.status_code == 200 and number in page.text
    thanks = floor.client.post(path, data={"rating": "5", "comment": "Arrived well packed"})
    assert thanks.status_code == 200
    with db.read() as session:
        [response] = session.scalars(select(FeedbackResponse)).all()
        assert response.order_id == order["id"] and response.rating == 5

    _drain(db, settings)
    assert len(smtp_sink.messages) == 6  # and never twice
    with db.read() as session:
        kinds = session.scalars(select(EmailMessage.kind).order_by(EmailMessage.id)).all()
        assert kinds == [
            "order_confirmation",
            "shipped",
            "out_for_delivery",
            "delivery_problem",
            "delivered",
            "feedback_request",
        ]
        assert set(session.scalars(select(EmailMessage.status))) == {"sent"}
        assert stock.ledger_mismatches(session) == {} and stock.bin_mismatches(session) == {}
    timeline = [e["type"] for e in floor.ok(floor.get(f"/orders/{order['id']}/events?limit=200"))["items"]]
    for step in (
        "created",
        "picking_started",
        "ready_to_pack",
        "packed",
        "rates_shopped",
        "label_created",
        "shipped",
        "tracking",
        "delivered",
    ):
        assert step in timeline, (step, timeline)
