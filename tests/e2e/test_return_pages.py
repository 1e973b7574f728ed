"""The customer's return pages (no login): find the order by number and email, choose the items and
reasons, get an RMA, and follow the return to its label once support approves it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from oms.db.base import utcnow
from oms.feedback.rules import make_token
from oms.returns import service
from oms.returns.pages import START_PURPOSE
from tests.factories import Api
from tests.shipping_floor import as_role, build_floor, deliver


@pytest.fixture
def floor(api: Api, db) -> Api:  # type: ignore[no-untyped-def]
    return build_floor(api, db)


def _delivered_order(floor: Api, db, settings, lines=(("MUG-1", 1), ("BOOK-1", 1))) -> dict:  # type: ignore[no-untyped-def, type-arg]
    order = floor.order(list(lines))
    deliver(floor, db, settings, order["id"], ago=timedelta(hours=1))
    return order


def _start_path(client, number: str, email: str = "ada@example.com") -> str:  # type: ignore[no-untyped-def]
    found = client.post("/returns", data={"number": number, "email": email}, follow_redirects=False)
    assert found.status_code == 303, found.text
    return found.headers["location"]


def _private(response) -> None:  # type: ignore[no-untyped-def]
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"


def test_a_customer_finds_the_order_asks_for_a_return_and_follows_it_to_the_label(floor, db, settings, app):  # type: ignore[no-untyped-def]
    order = _delivered_order(floor, db, settings)
    web = floor.client  # no token: what the customer's browser sends

    form = web.get("/returns")
    assert form.status_code == 200 and 'name="number"' in form.text and 'name="email"' in form.text
    _private(form)

    wrong_email = web.post("/returns", data={"number": order["number"], "email": "eve@example.com"})
    wrong_number = web.post("/returns", data={"number": "SO-999999", "email": "ada@example.com"})
    assert wrong_email.status_code == wrong_number.status_code == 404
    assert "We could not find an order with that number and email address" in wrong_email.text
    assert wrong_email.text.count("<li>") == wrong_number.text.count("<li>") == 1  # one neutral message
    empty = web.post("/returns", data={"number": " ", "email": "not an email"})
    assert empty.status_code == 422 and "Enter your order number" in empty.text

    path = _start_path(web, order["number"], " Ada@Example.com ")
    assert path.startswith("/returns/start/")
    start = web.get(path)
    assert start.status_code == 200, start.text
    _private(start)
    assert order["number"] in start.text and "Product MUG-1" in start.text and "Product BOOK-1" in start.text
    assert 'name="quantity:MUG-1"' in start.text and 'name="reason:BOOK-1"' in start.text
    assert '<option value="damaged">Arrived damaged</option>' in start.text
    assert "within 30 days of delivery" in start.text and "prepaid return label" in start.text
    assert "Refunds go back to the way you paid" in start.text

    # Odd input is answered with a message, never a 5xx, and asks for nothing.
    odd_forms = [
        ({}, 422, "Choose at least one item"),
        ({"quantity:MUG-1": "0", "quantity:BOOK-1": ""}, 422, "Choose at least one item"),
        ({"quantity:MUG-1": "²", "reason:MUG-1": "damaged"}, 422, "must be a whole number"),
        ({"quantity:MUG-1": "-1", "reason:MUG-1": "damaged"}, 422, "must be a whole number"),
        ({"quantity:MUG-1": "9" * 5000, "reason:MUG-1": "damaged"}, 422, "must be a whole number"),
        ({"quantity:MUG-1": "1.5", "reason:MUG-1": "damaged"}, 422, "must be a whole number"),
        ({"quantity:MUG-1": "9999999", "reason:MUG-1": "damaged"}, 422, "must be a whole number"),
        ({"quantity:MUG-1": "0" * 5000 + "1", "reason:MUG-1": "damaged"}, 422, "must be a whole number"),
        ({"quantity:MUG-1": "1e3", "reason:MUG-1": "damaged"}, 422, "must be a whole number"),
        ({"quantity:MUG-1": "1"}, 422, "Choose why you are returning Product MUG-1"),
        ({"quantity:MUG-1": "1", "reason:MUG-1": "bored"}, 422, "Choose why you are returning Product MUG-1"),
        ({"quantity:NOPE-9": "1", "reason:NOPE-9": "damaged"}, 422, "Not on this order: &#39;NOPE-9&#39;"),
        ({"quantity:<b>x</b>": "1"}, 422, "Not on this order: &#39;&lt;b&gt;x&lt;/b&gt;&#39;"),
        ({"quantity:MUG-1": "1", "reason:MUG-1": "damaged", "comment": "x" * 5000}, 422, "The comment is too long"),
        ({"quantity:MUG-1": "999999", "reason:MUG-1": "damaged"}, 409, "at most 1 may still be returned"),
        ({"quantity:LAMP-1": "1", "reason:LAMP-1": "damaged"}, 422, "Not on this order"),
    ]
    for fields, status, message in odd_forms:
        answer = web.post(path, data=fields)
        assert answer.status_code == status, (fields, answer.status_code, answer.text[:300])
        assert message in answer.text, (fields, answer.text)
        assert "<b>x</b>" not in answer.text
    twice = web.post(
        path,
        content=b"quantity%3AMUG-1=1&quantity%3AMUG-1=1&reason%3AMUG-1=damaged",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert twice.status_code == 422 and "sent twice" in twice.text
    not_a_form = web.post(path, json={"lines": [{"sku": "MUG-1", "quantity": 1}]})
    assert not_a_form.status_code == 422
    assert floor.ok(floor.get("/returns"))["items"] == []

    chosen = {
        "quantity:MUG-1": "1",
        "reason:MUG-1": "damaged",
        "quantity:BOOK-1": "1",
        "reason:BOOK-1": "changed_mind",
        "comment": "The mug's handle came off <sadly>\x00",
    }
    done = web.post(path, data=chosen)
    assert done.status_code == 200, done.text
    _private(done)
    rma = re.search(r"RMA-\d{6}", done.text)
    assert rma, done.text
    assert "Arrived damaged" in done.text and "Changed my mind" in done.text
    assert "&lt;sadly&gt;" in done.text and "we email you a return label" in done.text
    [ret] = floor.ok(floor.get("/returns"))["items"]
    assert ret["rma"] == rma.group(0) and ret["status"] == "requested" and ret["order_id"] == order["id"]
    assert ret["requested_by"] == "customer:ada@example.com"
    assert ret["comment"] == "The mug's handle came off <sadly>"
    assert sorted((ln["sku"], ln["quantity"], ln["reason"]) for ln in ret["lines"]) == [
        ("BOOK-1", 1, "changed_mind"),
        ("MUG-1", 1, "damaged"),
    ]

    again = web.post(path, data=chosen)
    assert again.status_code == 409
    assert "No more units of Product MUG-1 (MUG-1) can be returned" in again.text
    assert "1 already on other returns" in again.text
    assert len(floor.ok(floor.get("/returns"))["items"]) == 1
    revisit = web.get(path)
    assert "Nothing on this order can be returned" in revisit.text and "Already on a return." in revisit.text
    assert rma.group(0) in revisit.text  # the return asked for, with a link to follow it

    # The confirmation links to the return's own page; the label does not exist before approval.
    status_link = re.search(r'href="(/returns/[^"/]+)"', done.text)
    assert status_link, done.text
    requested = web.get(status_link.group(1))
    assert requested.status_code == 200 and "we will look at your request" in requested.text
    no_label = web.get(status_link.group(1) + "/label.pdf")
    assert no_label.status_code == 404 and "There is no return label" in no_label.text

    support = as_role(floor, db, settings, "support")
    approved = support.ok(support.post(f"/returns/{ret['id']}/approve"))
    assert approved["status"] == "label_sent" and approved["tracking_number"]
    token = make_token(settings.resolved_secret_key(), ret["id"], utcnow() + timedelta(days=30), service.LINK_PURPOSE)
    page = web.get(f"/returns/{token}")
    assert page.status_code == 200, page.text
    _private(page)
    assert rma.group(0) in page.text and "print the return label" in page.text
    assert approved["tracking_number"] in page.text and f'href="/returns/{token}/label.pdf"' in page.text
    label = web.get(f"/returns/{token}/label.pdf")
    assert label.status_code == 200 and label.headers["content-type"] == "application/pdf"
    assert label.content.startswith(b"%PDF")
    _private(label)

    # Links: tampered, made for another page, or past their date.
    tampered = path[:-2] + ("AA" if not path.endswith("AA") else "BB")
    for bad in (tampered, "/returns/start/nonsense", f"/returns/{token[:-1]}", f"/returns/{path.rsplit('/', 1)[1]}"):
        problem = web.get(bad)
        assert problem.status_code == 404 and "This return link does not work" in problem.text, bad
        assert web.post(bad, data=chosen).status_code in (404, 405)
    assert web.get(f"/returns/{token[:-1]}/label.pdf").status_code == 404
    app.dependency_overrides[utcnow] = lambda: datetime.now(UTC) + timedelta(days=2)
    try:
        expired = web.get(path)
        assert expired.status_code == 410 and "This return link has expired" in expired.text
        assert 'href="/returns"' in expired.text
        assert web.post(path, data=chosen).status_code == 410
    finally:
        app.dependency_overrides.clear()


def test_the_form_says_why_nothing_can_be_returned_and_shows_the_policy_in_words(floor, db, settings, app):  # type: ignore[no-untyped-def]
    policy = {
        "window_days": 14,
        "non_returnable_skus": ["BOOK-1"],
        "return_shipping_paid_by": "customer",
        "return_shipping_fee": "4.50",
        "restocking_fee_pct": "10",
        "refund_method": "store_credit",
        "exchange_allowed": False,
    }
    floor.ok(floor.put("/return-policies", policy))
    web = floor.client

    waiting = floor.order([("MUG-1", 1)])
    page = web.get(_start_path(web, waiting["number"]))
    assert page.status_code == 200
    assert "Nothing on this order can be returned" in page.text
    assert "The order has not been delivered yet." in page.text and 'name="quantity:MUG-1"' not in page.text
    refused = web.post(_start_path(web, waiting["number"]), data={"quantity:MUG-1": "1", "reason:MUG-1": "damaged"})
    assert refused.status_code == 409 and "has not been delivered yet" in refused.text

    order = _delivered_order(floor, db, settings)
    path = _start_path(web, order["number"])
    page = web.get(path)
    assert 'name="quantity:MUG-1"' in page.text and 'name="quantity:BOOK-1"' not in page.text
    assert "This item cannot be returned." in page.text
    assert "within 14 days of delivery; for this order the last day is" in page.text
    assert "it costs 4.50 USD, taken off your refund" in page.text
    assert "A restocking fee of 10% of the returned items&#39; value" in page.text
    assert "“Arrived damaged”" in page.text  # the fees are waived when it is the shop's fault
    assert "Refunds are given as store credit." in page.text and "replacement" not in page.text
    book = web.post(path, data={"quantity:BOOK-1": "1", "reason:BOOK-1": "changed_mind"})
    assert book.status_code == 409 and "Product BOOK-1 (BOOK-1) cannot be returned" in book.text

    app.dependency_overrides[utcnow] = lambda: datetime.now(UTC) + timedelta(days=15)
    try:
        late = web.get(_start_path(web, order["number"]))
        assert "Nothing on this order can be returned" in late.text
        assert "Returns are accepted for 14 days after delivery" in late.text
    finally:
        app.dependency_overrides.clear()


def test_guessing_orders_is_throttled_like_passwords(floor, db, settings):  # type: ignore[no-untyped-def]
    order = _delivered_order(floor, db, settings)
    web = floor.client
    for n in range(5):
        guess = web.post("/returns", data={"number": f"SO-00009{n}", "email": "ada@example.com"})
        assert guess.status_code == 404
    blocked = web.post("/returns", data={"number": order["number"], "email": "ada@example.com"})
    assert blocked.status_code == 429 and "Too many tries" in blocked.text
    assert int(blocked.headers["retry-after"]) > 0
    other = web.post("/returns", data={"number": order["number"], "email": "eve@example.com"}, follow_redirects=False)
    assert other.status_code == 404  # another email address has its own budget
    start = make_token(settings.resolved_secret_key(), order["id"], utcnow() + timedelta(days=7), START_PURPOSE)
    assert web.get(f"/returns/start/{start}").status_code == 200  # the link in an email still opens the form
