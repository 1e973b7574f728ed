"""Issue 5's proof through the HTTP API, a real SMTP server and the outbox worker: a delivered order
with three lines; the customer returns two (order number and email, no login); one is restocked
and fills a waiting backorder, one is written off; the refund is the policy's amount; the emails
arrived; a second request for the same units is refused."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from oms.events.worker import Worker, default_registry
from oms.inventory import stock
from oms.inventory.model import StockMovement
from oms.notifications.model import EmailMessage
from tests.factories import Api, make_token, order_body
from tests.shipping_floor import as_role, build_floor, deliver, tracking_post
from tests.smtp import smtp_sink  # noqa: F401


@pytest.fixture
def settings(settings, smtp_sink):  # type: ignore[no-untyped-def]  # noqa: F811
    return settings.model_copy(update=smtp_sink.settings_update())


def _drain(db, settings) -> None:  # type: ignore[no-untyped-def]
    Worker(db, default_registry(db, settings)).drain()


def test_two_of_three_lines_come_back_one_restocked_into_a_backorder_one_written_off_and_refunded(
    api: Api,
    db,  # type: ignore[no-untyped-def]
    settings,
    smtp_sink,  # noqa: F811
):
    floor = build_floor(api, db)
    floor.ok(floor.patch("/products/BOOK-1", {"allow_backorder": True}))
    floor.ok(
        floor.put(
            "/return-policies",
            {
                "channel": "web",
                "window_days": 30,
                "restocking_fee_pct": "10",
                "return_shipping_paid_by": "customer",
                "return_shipping_fee": "5.00",
            },
        )
    )
    order = floor.order([("MUG-1", 1), ("BOOK-1", 1), ("LAMP-1", 1)])  # 3 x 10.00, paid 30.00
    deliver(floor, db, settings, order["id"])
    assert floor.ok(floor.get(f"/orders/{order['id']}"))["status"] == "delivered"
    waiting = floor.order([("BOOK-1", floor.stock("BOOK-1")["available"] + 1)])  # one unit short: backordered
    assert waiting["status"] == "backordered"
    _drain(db, settings)
    before_emails = len(smtp_sink.messages)

    # The customer, on the public page: order number and email, then two of the three lines.
    found = floor.client.post(
        "/returns", data={"number": order["number"], "email": "ada@example.com"}, follow_redirects=False
    )
    assert found.status_code == 303
    form = {
        "quantity:BOOK-1": "1",
        "reason:BOOK-1": "changed_mind",
        "quantity:MUG-1": "1",
        "reason:MUG-1": "too_small",
        "comment": "Not what I expected",
    }
    confirmed = floor.client.post(found.headers["location"], data=form)
    assert confirmed.status_code == 200 and "RMA-" in confirmed.text, confirmed.text
    [ret] = floor.ok(floor.get(f"/returns?order_id={order['id']}"))["items"]
    assert ret["status"] == "requested" and ret["requested_by"] == "customer:ada@example.com"
    assert {(ln["sku"], ln["reason"]) for ln in ret["lines"]} == {("BOOK-1", "changed_mind"), ("MUG-1", "too_small")}
    # The same units again, through the API without a login: refused, saying why.
    body = {
        "order_number": order["number"],
        "email": "ada@example.com",
        "lines": [{"sku": "BOOK-1", "quantity": 1, "reason": "changed_mind"}],
    }
    again = floor.client.post("/api/v1/returns", json=body)
    assert again.status_code == 409 and again.json()["error"] == "too_many"
    wrong = floor.client.post("/api/v1/returns", json={**body, "email": "eve@example.com"})
    assert wrong.status_code == 404 and wrong.json()["error"] == "order_not_found"
    third = floor.client.post(
        "/api/v1/returns", json={**body, "lines": [{"sku": "LAMP-1", "quantity": 1, "reason": "too_large"}]}
    )
    assert third.status_code == 201  # the third line is still returnable: the API path works without a login
    floor.ok(floor.post(f"/returns/{third.json()['id']}/reject", {"reason": "changed their mind on the phone"}))

    support = as_role(floor, db, settings, "support")
    unlabelled = support.get(f"/returns/{ret['id']}/label.pdf")  # requested, not approved: no label yet
    assert (unlabelled.status_code, unlabelled.json()["error"]) == (404, "no_label")
    approved = support.ok(support.post(f"/returns/{ret['id']}/approve"))
    assert approved["status"] == "label_sent" and approved["tracking_number"]
    label = support.client.get(approved["label_url"], headers={"Authorization": f"Bearer {support.token}"})
    assert label.status_code == 200 and label.content.startswith(b"%PDF")
    zpl = support.client.get(
        f"/api/v1/returns/{ret['id']}/label.zpl", headers={"Authorization": f"Bearer {support.token}"}
    )
    assert zpl.text.startswith("^XA") and approved["tracking_number"] in zpl.text
    scan = {
        "id": "r1",
        "tracking_number": approved["tracking_number"],
        "code": "picked_up",
        "occurred_at": datetime.now(UTC).isoformat(),
    }
    assert tracking_post(floor, [scan], carrier=approved["carrier"]).json()["results"][0]["result"] == "applied"
    assert support.ok(support.get(f"/returns/{ret['id']}"))["status"] == "in_transit"

    packer = as_role(floor, db, settings, "packer")
    wrong_rma = packer.post(f"/returns/{ret['id']}/receive", {"warehouse": "NJ1", "rma": "RMA-999999", "items": []})
    assert wrong_rma.status_code == 422
    received = packer.ok(
        packer.post(
            f"/returns/{ret['id']}/receive",
            {"warehouse": "NJ1", "rma": ret["rma"], "items": [{"item": "BOOK-1"}, {"item": "MUG-1"}]},
        )
    )
    assert received["status"] == "received"
    too_early = support.post(f"/returns/{ret['id']}/refund")
    assert too_early.status_code == 409  # refund before inspection
    inspected = packer.ok(
        packer.post(
            f"/returns/{ret['id']}/inspect",
            {
                "units": [
                    {"sku": "BOOK-1", "grade": "like_new"},
                    {"sku": "MUG-1", "grade": "damaged", "note": "cracked"},
                ]
            },
        )
    )
    by_sku = {ln["sku"]: ln for ln in inspected["lines"]}
    assert by_sku["BOOK-1"]["restocked"] == 1 and by_sku["MUG-1"]["written_off"] == 1
    assert floor.ok(floor.get(f"/orders/{waiting['id']}"))["status"] == "confirmed"  # the backorder filled
    with db.read() as session:
        kinds = session.scalars(select(StockMovement.kind).where(StockMovement.reference == ret["rma"])).all()
        assert sorted(kinds) == ["return", "write_off"]
        assert stock.ledger_mismatches(session) == {} and stock.bin_mismatches(session) == {}

    refunded = support.ok(support.post(f"/returns/{ret['id']}/refund"))
    # 2 x 10.00 returned, no discount, tax or shipping on the order; the customer's reasons are not
    # the shop's fault: 10% restocking fee (2.00) and the 5.00 return label.
    assert Decimal(refunded["refund_total"]) == Decimal("13.00")
    paid = floor.ok(floor.get(f"/orders/{order['id']}"))
    assert paid["payment_status"] == "partially_refunded"
    assert support.post(f"/returns/{ret['id']}/refund").status_code == 409
    support.ok(support.post(f"/returns/{ret['id']}/close"))

    _drain(db, settings)
    arrived = smtp_sink.wait_for(before_emails + 3)[before_emails:]
    subjects = [m["Subject"] for m in arrived]
    assert any("approved" in s for s in subjects) and any("received" in s for s in subjects)
    assert any("refund" in s.lower() and "13.00" in s for s in subjects)
    with db.read() as session:
        sent = session.scalars(select(EmailMessage.kind).where(EmailMessage.order_id == order["id"])).all()
        assert {"return_requested", "return_approved", "return_received", "refund_issued"} <= set(sent)
    timeline = [e["type"] for e in floor.ok(floor.get(f"/orders/{order['id']}/events?limit=200"))["items"]]
    for step in (
        "return_requested",
        "return_approved",
        "return_label_sent",
        "return_in_transit",
        "return_received",
        "return_inspected",
        "return_refunded",
        "return_closed",
    ):
        assert step in timeline, (step, timeline)
    report = support.ok(support.get("/returns/report"))
    assert {r["key"] for r in report["by_reason"]} == {"changed_mind", "too_small"}  # the rejected one not counted
    assert report["refunded"] == 1 and report["average_days_to_refund"] is not None


def test_an_exchange_sends_a_replacement_order_linked_to_the_return(api: Api, db, settings):  # type: ignore[no-untyped-def]
    floor = build_floor(api, db)
    order = floor.order([("BOOK-1", 1), ("LAMP-1", 1)])
    deliver(floor, db, settings, order["id"])
    support = as_role(floor, db, settings, "support")
    ret = support.ok(
        support.post(
            "/returns", {"order_id": order["id"], "lines": [{"sku": "LAMP-1", "quantity": 1, "reason": "damaged"}]}
        ),
        201,
    )
    support.ok(support.post(f"/returns/{ret['id']}/approve", {"label": False}))
    support.ok(
        support.post(
            f"/returns/{ret['id']}/receive", {"warehouse": "NJ1", "rma": ret["rma"], "items": [{"item": "LAMP-1"}]}
        )
    )
    support.ok(support.post(f"/returns/{ret['id']}/inspect", {"units": [{"sku": "LAMP-1", "grade": "damaged"}]}))
    worth_more = support.post(f"/returns/{ret['id']}/exchange", {"lines": [{"sku": "LAMP-1", "quantity": 2}]})
    assert worth_more.status_code == 409
    done = support.ok(support.post(f"/returns/{ret['id']}/exchange", {"lines": [{"sku": "LAMP-1", "quantity": 1}]}))
    assert done["status"] == "exchanged" and done["exchange_order_id"]
    replacement = support.ok(support.get(f"/orders/{done['exchange_order_id']}"))
    assert replacement["status"] == "confirmed" and replacement["payment_status"] == "paid"
    assert replacement["lines"][0]["reserved"] == 1
    assert support.ok(support.get(f"/orders/{order['id']}"))["payment_status"] == "paid"  # nothing refunded


def test_returns_are_refused_outside_the_policy_and_by_role(api: Api, db, settings):  # type: ignore[no-untyped-def]
    floor = build_floor(api, db)
    floor.ok(floor.put("/return-policies", {"window_days": 1, "non_returnable_skus": ["LAMP-1"]}))
    order = floor.order([("BOOK-1", 1), ("LAMP-1", 1)])
    undelivered = floor.client.post(
        "/api/v1/returns",
        json={
            "order_number": order["number"],
            "email": "ada@example.com",
            "lines": [{"sku": "BOOK-1", "quantity": 1, "reason": "changed_mind"}],
        },
    )
    assert undelivered.status_code == 409 and undelivered.json()["error"] == "not_delivered"
    deliver(floor, db, settings, order["id"])  # delivered two days ago: outside a one-day window
    support = as_role(floor, db, settings, "support")
    late = support.post(
        "/returns",
        {
            "order_id": order["id"],
            "lines": [
                {"sku": "BOOK-1", "quantity": 1, "reason": "changed_mind"},
                {"sku": "LAMP-1", "quantity": 1, "reason": "nope"},
            ],
        },
    )
    assert late.status_code == 409
    codes = {r["code"] for r in late.json()["refusals"]}
    assert {"outside_window", "not_returnable", "unknown_reason"} <= codes
    picker = as_role(floor, db, settings, "picker")
    assert picker.put("/return-policies", {"window_days": 90}).status_code == 403
    assert (
        picker.post(
            "/returns", {"order_id": order["id"], "lines": [{"sku": "BOOK-1", "quantity": 1, "reason": "x"}]}
        ).status_code
        == 403
    )
    assert picker.get("/returns/report").status_code == 403
    policies = floor.ok(floor.get("/return-policies"))["items"]
    assert policies[0]["channel"] is None and policies[0]["window_days"] == 1


def test_a_return_cannot_be_gamed_or_stuck(api: Api, db, settings):  # type: ignore[no-untyped-def]
    floor = build_floor(api, db)
    # 10.00 items with 5.00 off the order: a replacement is credited what a refund would give, not list price.
    order = floor.order(
        [("MUG-1", 1), ("LAMP-1", 1)], discount_total="5.00", payment={"status": "paid", "amount": "15.00"}
    )
    deliver(floor, db, settings, order["id"])
    support = as_role(floor, db, settings, "support")
    huge = support.post(
        "/returns", {"order_id": 2**63, "lines": [{"sku": "MUG-1", "quantity": 1, "reason": "damaged"}]}
    )
    assert huge.status_code == 422
    asked = {"order_id": order["id"], "lines": [{"sku": "MUG-1", "quantity": 1, "reason": "damaged"}]}
    first = support.ok(support.post("/returns", asked), 201)
    support.ok(support.post(f"/returns/{first['id']}/reject", {"reason": "photo shows no damage"}))
    support.ok(support.post(f"/returns/{first['id']}/close"))
    second = support.ok(support.post("/returns", asked), 201)  # a rejected return holds no units, closed or not
    support.ok(support.post(f"/returns/{second['id']}/approve", {"label": False}))
    empty = support.post(f"/returns/{second['id']}/receive", {"warehouse": "NJ1", "rma": second["rma"], "items": []})
    assert empty.status_code == 422 and empty.json()["error"] == "nothing_scanned"
    support.ok(
        support.post(
            f"/returns/{second['id']}/receive", {"warehouse": "NJ1", "rma": second["rma"], "items": [{"item": "MUG-1"}]}
        )
    )
    support.ok(support.post(f"/returns/{second['id']}/inspect", {"units": [{"sku": "MUG-1", "grade": "damaged"}]}))
    upgrade = support.post(f"/returns/{second['id']}/exchange", {"lines": [{"sku": "LAMP-1", "quantity": 1}]})
    assert upgrade.status_code == 409 and upgrade.json()["error"] == "exchange_worth_more"  # credit 7.50, lamp 10.00
    refunded = support.ok(support.post(f"/returns/{second['id']}/refund"))
    assert Decimal(refunded["refund_total"]) == Decimal("7.50")  # 10.00 less its half of the 5.00 discount
    # A customer sees their own returns only; another's is as absent as one that does not exist.
    customer = Api(floor.client, make_token(db, settings.resolved_secret_key(), "customer", email="eve@example.com"))
    assert customer.get(f"/returns/{second['id']}").status_code == 404
    assert customer.get("/returns/999999").status_code == 404
    assert customer.ok(customer.get("/returns"))["items"] == []


def test_a_product_ordered_on_two_lines_is_returned_across_them(api: Api, db, settings):  # type: ignore[no-untyped-def]
    floor = build_floor(api, db)
    body = order_body([("BOOK-1", 1), ("BOOK-1", 2)])  # a marketplace splits lines by promotion
    order = floor.ok(floor.post("/orders", body), 201)
    deliver(floor, db, settings, order["id"])
    page = floor.client.post(
        "/returns", data={"number": order["number"], "email": "ada@example.com"}, follow_redirects=True
    )
    assert page.text.count('name="quantity:BOOK-1"') == 1  # one row per product on the customer's form
    support = as_role(floor, db, settings, "support")
    asked = {"order_id": order["id"], "lines": [{"sku": "BOOK-1", "quantity": 3, "reason": "damaged"}]}
    ret = support.ok(support.post("/returns", asked), 201)
    assert sorted(ln["quantity"] for ln in ret["lines"]) == [1, 2]
    assert (
        support.post(
            "/returns", {**asked, "lines": [{"sku": "BOOK-1", "quantity": 1, "reason": "damaged"}]}
        ).status_code
        == 409
    )
    support.ok(support.post(f"/returns/{ret['id']}/approve", {"label": False}))
    support.ok(
        support.post(
            f"/returns/{ret['id']}/receive",
            {"warehouse": "NJ1", "rma": ret["rma"], "items": [{"item": "BOOK-1", "quantity": 3}]},
        )
    )
    units = [
        {"sku": "BOOK-1", "grade": "new"},
        {"sku": "BOOK-1", "grade": "damaged"},
        {"sku": "BOOK-1", "grade": "used"},
    ]
    done = support.ok(support.post(f"/returns/{ret['id']}/inspect", {"units": units}))
    assert sum(ln["restocked"] + ln["written_off"] + ln["quarantined"] for ln in done["lines"]) == 3
    refunded = support.ok(support.post(f"/returns/{ret['id']}/refund"))
    assert Decimal(refunded["refund_total"]) == Decimal("30.00")
