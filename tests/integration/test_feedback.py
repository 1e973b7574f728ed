"""Feedback tied to delivery: the request waits after delivery, the email carries a signed link,
the customer answers on a public page (and may change the answer), low scores open a support task."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from oms.db.base import utcnow
from oms.events.model import OutboxEvent
from oms.events.outbox import emit
from oms.events.worker import Registry, Worker
from oms.feedback import rules, service
from oms.feedback.model import FeedbackRequest, FeedbackResponse, SupportTask
from oms.notifications import email
from oms.notifications.model import EmailMessage
from tests.conftest import SECRET
from tests.factories import make_token
from tests.smtp import smtp_sink  # noqa: F401

LINK = re.compile(r"https?://[^\s\"<>]+/feedback/([A-Za-z0-9_.\-]+)")


@pytest.fixture
def order(api):
    api.warehouse("NJ1")
    api.product("MUG-1", name="Enamel mug")
    api.product("TEA-2", name="Breakfast tea")
    api.product("SPOON-9")
    api.channel("web")
    api.receive("NJ1", "MUG-1", 10)
    api.receive("NJ1", "TEA-2", 10)
    return api.order([("MUG-1", 1), ("TEA-2", 2)])


def _deliver(db, order_id, delivered_at):
    with db.write() as s:
        emit(s, "order.delivered", {"order_id": order_id, "delivered_at": delivered_at.isoformat()})


def _request(db, order_id):
    with db.read() as s:
        return s.scalar(select(FeedbackRequest).where(FeedbackRequest.order_id == order_id))


def _response(db, order_id):
    with db.read() as s:
        return s.scalar(select(FeedbackResponse).where(FeedbackResponse.order_id == order_id))


def _tasks(db, order_id):
    with db.read() as s:
        return list(s.scalars(select(SupportTask).where(SupportTask.order_id == order_id).order_by(SupportTask.id)))


def _pending(db, topic):
    with db.read() as s:
        return list(
            s.scalars(select(OutboxEvent).where(OutboxEvent.topic == topic, OutboxEvent.processed_at.is_(None)))
        )


def _feedback_emails(db):
    with db.read() as s:
        return s.scalar(select(func.count()).where(EmailMessage.kind == "feedback_request"))


def _requested(db, settings, order_id, delivered_at=None):
    """A request and its link, without the worker: as if delivered ``delivered_at`` (default now)."""
    service.request_feedback(db, settings, order_id, delivered_at or utcnow())
    request = _request(db, order_id)
    return request, rules.make_token(SECRET, order_id, request.expires_at)


@pytest.fixture
def mail(settings, smtp_sink):  # noqa: F811
    """Settings that send to the SMTP sink, and the sink."""
    return settings.model_copy(update=smtp_sink.settings_update()), smtp_sink


def test_a_delivered_order_is_asked_for_feedback_days_later_and_the_answer_opens_a_follow_up(api, db, order, mail):
    settings, sink = mail
    registry = Registry()
    service.register(registry, db, settings)
    email.register(registry, db, settings)
    worker = Worker(db, registry)
    worker.drain()
    sink.wait_for(1)  # the order confirmation

    delivered_at = utcnow() - timedelta(hours=1)
    _deliver(db, order["id"], delivered_at)
    worker.drain()
    request = _request(db, order["id"])
    assert request.due_at == delivered_at + timedelta(days=settings.feedback_delay_days)
    assert request.expires_at == (request.due_at + timedelta(days=settings.feedback_link_days)).replace(microsecond=0)
    assert request.sent_at is None

    # feedback.due waits for its time: draining again sends nothing.
    [due] = _pending(db, "feedback.due")
    assert due.payload == {"order_id": order["id"]} and due.available_at == request.due_at
    worker.drain()
    assert _feedback_emails(db) == 0 and len(sink.messages) == 1

    with db.write() as s:  # the days pass
        s.execute(update(OutboxEvent).where(OutboxEvent.id == due.id).values(available_at=utcnow()))
    worker.drain()
    message = sink.wait_for(2)[1]
    assert message["To"] == "ada@example.com"
    assert order["number"] in message["Subject"]
    text = message.get_body(preferencelist=("plain",)).get_content()
    token = LINK.search(text).group(1)
    assert f"{settings.public_url}/feedback/{token}" in text
    assert _request(db, order["id"]).sent_at is not None

    # The link opens the form, with the order's number and its lines.
    page = api.client.get(f"/feedback/{token}")
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert order["number"] in page.text and "Enamel mug" in page.text and "Breakfast tea" in page.text
    assert page.headers["Cache-Control"] == "no-store" and page.headers["Referrer-Policy"] == "no-referrer"

    sent = api.client.post(f"/feedback/{token}", data={"rating": "2", "comment": "The box was <crushed>"})
    assert sent.status_code == 200, sent.text
    assert "Thank you" in sent.text and "2 out of 5" in sent.text
    stored = _response(db, order["id"])
    assert (stored.rating, stored.comment, stored.item_ratings) == (2, "The box was <crushed>", {})
    [task] = _tasks(db, order["id"])
    assert (task.kind, task.status) == ("low_feedback", "open")
    assert order["number"] in task.subject and "The box was <crushed>" in task.detail

    # Changed to a 5 with a rating for the mug: the same response, still one task.
    again = api.client.post(f"/feedback/{token}", data={"rating": "5", "item:MUG-1": "4", "item:TEA-2": ""})
    assert again.status_code == 200 and "updated" in again.text
    stored = _response(db, order["id"])
    assert (stored.rating, stored.comment, stored.item_ratings) == (5, None, {"MUG-1": 4})
    assert len(_tasks(db, order["id"])) == 1
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(FeedbackResponse)) == 1

    # The form shows the answer given, escaped.
    page = api.client.get(f"/feedback/{token}").text
    assert 'name="rating" value="5" checked' in page
    assert 'name="item:MUG-1" value="4" checked' in page
    assert "<crushed>" not in page

    # Past the link's date it is refused, on the page and the API.
    api.client.app.dependency_overrides[utcnow] = lambda: request.expires_at + timedelta(seconds=1)
    try:
        assert api.client.get(f"/feedback/{token}").status_code == 410
        late = api.client.post(f"/feedback/{token}", data={"rating": "1"})
        assert late.status_code == 410 and "expired" in late.text
        json_late = api.client.post(f"/api/v1/feedback/{token}", json={"rating": 1})
        assert json_late.status_code == 409 and json_late.json()["error"] == "link_expired"
    finally:
        api.client.app.dependency_overrides.clear()
    assert _response(db, order["id"]).rating == 5

    worker.drain()
    assert _feedback_emails(db) == 1 and len(sink.messages) == 2  # nothing sent twice


def test_a_delivery_reported_twice_asks_once(db, settings, order):
    registry = Registry()
    service.register(registry, db, settings)
    for _ in range(2):
        _deliver(db, order["id"], utcnow())
    Worker(db, registry).drain()
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(FeedbackRequest)) == 1
    assert len(_pending(db, "feedback.due")) == 1


def test_a_request_whose_link_expired_before_it_was_due_is_not_sent(db, settings, order):
    request, _ = _requested(db, settings, order["id"])
    assert not service.send_request(db, settings, SECRET, order["id"], now=request.expires_at)
    assert _request(db, order["id"]).sent_at is None and _feedback_emails(db) == 0
    assert service.send_request(db, settings, SECRET, order["id"], now=request.due_at)
    assert not service.send_request(db, settings, SECRET, order["id"], now=request.due_at)  # once
    assert _feedback_emails(db) == 1


def test_the_json_api_takes_an_answer_and_refuses_what_does_not_belong(api, db, settings, order):
    _, token = _requested(db, settings, order["id"])
    client = api.client
    foreign = client.post(f"/api/v1/feedback/{token}", json={"rating": 4, "items": {"SPOON-9": 5}})
    assert foreign.status_code == 422 and foreign.json()["error"] == "item_not_in_order"
    assert foreign.json()["skus"] == ["SPOON-9"]
    unknown = client.post(f"/api/v1/feedback/{token}", json={"rating": 4, "order_id": 1})
    assert unknown.status_code == 422
    assert client.post(f"/api/v1/feedback/{token}", json={"rating": 6}).status_code == 422
    long = client.post(f"/api/v1/feedback/{token}", json={"rating": 3, "comment": "x" * 2001})
    assert long.status_code == 422
    tampered = client.post(f"/api/v1/feedback/{token[:-2]}AA", json={"rating": 4})
    assert tampered.status_code == 404 and tampered.json()["error"] == "invalid_link"
    assert _response(db, order["id"]) is None

    first = client.post(f"/api/v1/feedback/{token}", json={"rating": 4, "items": {"TEA-2": 5}, "comment": " Good "})
    assert first.status_code == 201, first.text
    assert first.json()["order_number"] == order["number"]
    assert (first.json()["comment"], first.json()["items"]) == ("Good", {"TEA-2": 5})
    changed = client.post(f"/api/v1/feedback/{token}", json={"rating": 1})
    assert changed.status_code == 200 and changed.json()["rating"] == 1
    assert [t.status for t in _tasks(db, order["id"])] == ["open"]
    client.post(f"/api/v1/feedback/{token}", json={"rating": 2})  # still low, task still open: no second
    assert len(_tasks(db, order["id"])) == 1

    # Once the task is closed, a score lowered again opens a new one.
    task_id = _tasks(db, order["id"])[0].id
    api.ok(api.post(f"/support-tasks/{task_id}/close"))
    client.post(f"/api/v1/feedback/{token}", json={"rating": 5})
    assert len(_tasks(db, order["id"])) == 1
    client.post(f"/api/v1/feedback/{token}", json={"rating": 1})
    assert [t.status for t in _tasks(db, order["id"])] == ["closed", "open"]


def test_the_form_page_says_what_is_wrong_and_keeps_what_was_typed(api, db, settings, order):
    _, token = _requested(db, settings, order["id"])
    missing = api.client.post(f"/feedback/{token}", data={"comment": "Lovely tea"})
    assert missing.status_code == 422
    assert "Choose a rating" in missing.text and "Lovely tea" in missing.text
    foreign = api.client.post(f"/feedback/{token}", data={"rating": "4", "item:SPOON-9": "5"})
    assert foreign.status_code == 422 and "SPOON-9" in foreign.text
    odd = api.client.post(f"/feedback/{token}", data={"rating": "4", "item:MUG-1": "lots"})
    assert odd.status_code == 422 and "not one of 1 to 5" in odd.text
    uploaded = api.client.post(f"/feedback/{token}", data={"rating": "4"}, files={"f": ("a.txt", b"x")})
    assert uploaded.status_code == 400  # the form takes no files
    assert _response(db, order["id"]) is None
    multipart = api.client.post(f"/feedback/{token}", files={"rating": (None, "3")})
    assert multipart.status_code == 200 and _response(db, order["id"]).rating == 3
    bad = api.client.get("/feedback/not-a-link")
    assert bad.status_code == 404 and "does not work" in bad.text
    assert api.client.post("/feedback/not-a-link", data={"rating": "3"}).status_code == 404


def test_staff_read_the_answers_and_their_summary(api, db, settings, order):
    orders = [order, api.order([("MUG-1", 1)]), api.order([("TEA-2", 1)])]
    tokens = {}
    for o in orders:
        request, tokens[o["id"]] = _requested(db, settings, o["id"], utcnow() - timedelta(days=5))
        assert service.send_request(db, settings, SECRET, o["id"], now=request.due_at)
    client = api.client
    client.post(f"/api/v1/feedback/{tokens[orders[0]['id']]}", json={"rating": 5, "items": {"MUG-1": 3}})
    client.post(f"/api/v1/feedback/{tokens[orders[1]['id']]}", json={"rating": 2, "comment": "Chipped"})

    s = api.ok(api.get("/feedback/summary"))
    assert (s["requests_sent"], s["responses"], s["response_rate"]) == (3, 2, 0.6667)
    assert s["average"] == 3.5 and s["low_scores"] == 1
    assert s["distribution"] == {"1": 0, "2": 1, "3": 0, "4": 0, "5": 1}
    assert s["by_channel"] == [{"channel": "web", "ratings": 2, "average": 3.5}]
    # MUG-1: rated 3 on its own in the first order, 2 by its order in the second; TEA-2: 5 by its order.
    assert s["by_product"] == [
        {"sku": "MUG-1", "ratings": 2, "average": 2.5, "rated_directly": 1},
        {"sku": "TEA-2", "ratings": 1, "average": 5.0, "rated_directly": 0},
    ]
    later = (utcnow() + timedelta(days=1)).isoformat()
    empty = api.ok(api.get("/feedback/summary", params={"since": later}))
    assert (empty["requests_sent"], empty["response_rate"], empty["average"]) == (0, None, None)
    assert api.get("/feedback/summary", params={"since": later, "until": later}).status_code == 422

    listed = api.ok(api.get("/feedback"))["items"]
    assert [f["order_number"] for f in listed] == [orders[1]["number"], orders[0]["number"]]  # newest first
    assert listed[0]["comment"] == "Chipped" and listed[1]["items"] == {"MUG-1": 3}
    assert [f["rating"] for f in api.ok(api.get("/feedback", params={"rating": 2}))["items"]] == [2]
    assert api.ok(api.get("/feedback", params={"channel": "store"}))["items"] == []
    assert api.ok(api.get("/feedback", params={"since": later}))["items"] == []
    page = api.ok(api.get("/feedback", params={"limit": 1}))
    assert len(page["items"]) == 1 and page["next_cursor"]

    [task] = api.ok(api.get("/support-tasks", params={"status": "open"}))["items"]
    assert task["kind"] == "low_feedback" and task["order_number"] == orders[1]["number"]
    closed = api.ok(api.post(f"/support-tasks/{task['id']}/close"))
    assert closed["status"] == "closed" and closed["closed_by"].startswith("admin")
    assert api.post(f"/support-tasks/{task['id']}/close").status_code == 409
    assert api.post("/support-tasks/999999/close").status_code == 404
    assert api.ok(api.get("/support-tasks", params={"status": "open"}))["items"] == []


def test_only_staff_with_the_scopes_read_feedback_and_work_tasks(api, db, order):
    customer = api.as_token(make_token(db, SECRET, "customer", email="ada@example.com"))
    assert customer.get("/feedback").status_code == 403
    assert customer.get("/feedback/summary").status_code == 403
    assert customer.get("/support-tasks").status_code == 403
    picker = api.as_token(make_token(db, SECRET, "picker"))
    assert picker.get("/feedback").status_code == 403
    assert picker.post("/support-tasks/1/close").status_code == 403
    support = api.as_token(make_token(db, SECRET, "support"))
    assert support.get("/feedback").status_code == 200
    assert support.get("/support-tasks").status_code == 200
    assert api.client.get("/api/v1/feedback").status_code == 401
