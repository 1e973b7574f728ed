"""Customer email templates: every kind renders a subject, a text and an HTML body from the context
its callers give; HTML escapes what customers typed; money reads as money."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from oms.errors import InvalidInput
from oms.notifications.rendering import KINDS, format_money, format_when, render


def order(**changes: Any) -> dict[str, Any]:
    """What ``order_context`` gives for a small order."""
    return {
        "id": 7,
        "number": "SO-000007",
        "status": "confirmed",
        "created_at": datetime(2026, 12, 1, 10, 0, tzinfo=UTC),
        "customer_name": "Ada Lovelace",
        "customer_email": "ada@example.com",
        "shipping_address": ["Ada Lovelace", "12 Atlantic Ave", "Brooklyn, NY 11201", "United States"],
        "lines": [
            {"sku": "MUG-1", "name": "Blue mug", "quantity": 2, "unit_price": Decimal("10.00"), "total": Decimal("20")},
            {"sku": "LAMP-2", "name": "Desk lamp", "quantity": 1, "unit_price": Decimal("1234.50"), "total": 0},
        ],
        "currency": "USD",
        "subtotal": Decimal("1254.50"),
        "shipping_total": Decimal("5.00"),
        "tax_total": Decimal("0.00"),
        "discount_total": Decimal("4.00"),
        "total": Decimal("1255.50"),
        **changes,
    }


TRACKING = {
    "shipment_id": 3,
    "tracking_number": "OMS00000000422",
    "tracking_url": "https://track.example.com/OMS00000000422",
    "code": "delivered",
    "at": "2026-12-04T14:05:00-05:00",
    "location": "BROOKLYN, NY, US",
    "description": "Left at front door",
}
RMA = {
    "number": "RMA-000003",
    "label_url": "https://shop.example.com/returns/3/label.pdf",
    "items": [{"sku": "MUG-1", "name": "Blue mug", "quantity": 1}],
}
EXTRA: dict[str, dict[str, Any]] = {
    "order_confirmation": {},
    "shipped": {
        "shipment": {
            "id": 3,
            "carrier": "oms",
            "carrier_name": "OMS Parcel",
            "service_name": "Ground",
            "tracking_number": "OMS00000000422",
            "tracking_url": "https://track.example.com/OMS00000000422",
            "packages": 2,
            "shipped_at": "2026-12-02T09:00:00+00:00",
        }
    },
    "out_for_delivery": {"tracking": {**TRACKING, "code": "out_for_delivery"}},
    "delivered": {"tracking": TRACKING},
    "delivery_problem": {"tracking": {**TRACKING, "code": "delayed"}},
    "feedback_request": {"link": "https://shop.example.com/feedback/abc", "expires_at": "2027-01-03"},
    "return_requested": {"rma": RMA},
    "return_approved": {"rma": RMA},
    "return_received": {"rma": RMA},
    "refund_issued": {"refund": {"amount": Decimal("10.00"), "rma_number": "RMA-000003"}},
    "exchange_created": {
        "rma": RMA,
        "exchange": {"order_number": "SO-000012", "items": [{"sku": "MUG-2", "name": "Red mug", "quantity": 1}]},
    },
}


def context(kind: str, **order_changes: Any) -> dict[str, Any]:
    return {"order": order(**order_changes), **EXTRA[kind]}


def test_the_samples_cover_every_kind():
    assert set(EXTRA) == set(KINDS)


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_a_one_line_subject_a_text_and_an_html_body_naming_the_order(kind):
    email = render(kind, context(kind))
    assert email.subject and "\n" not in email.subject
    assert email.text.startswith("Hello Ada Lovelace,\n") and email.text.endswith("\n")
    assert "\n\n\n" not in email.text
    assert "SO-000007" in email.subject + email.text
    assert email.html.startswith("<!DOCTYPE html>") and email.html.rstrip().endswith("</html>")
    assert f"<title>{email.subject}</title>" in email.html
    assert "SO-000007" in email.html


@pytest.mark.parametrize("kind", KINDS)
def test_html_escapes_what_a_customer_typed(kind):
    email = render(kind, context(kind, customer_name="<script>alert('x')</script>"))
    assert "<script>" not in email.html
    assert "&lt;script&gt;" in email.html
    assert "Hello <script>alert('x')</script>," in email.text  # plain text is not HTML: left as typed


def test_a_customer_without_a_name_is_greeted_all_the_same():
    email = render("order_confirmation", context("order_confirmation", customer_name=None))
    assert email.text.startswith("Hello there,")


def test_an_unknown_kind_is_refused():
    with pytest.raises(InvalidInput) as refused:
        render("birthday_card", context("order_confirmation"))
    assert refused.value.code == "unknown_email_kind"


def test_a_context_missing_what_the_kind_needs_is_refused():
    with pytest.raises(InvalidInput) as refused:
        render("shipped", {"order": order()})
    assert refused.value.code == "email_context_missing" and "shipment" in refused.value.detail


def test_the_confirmation_lists_lines_and_totals_in_the_order_currency():
    email = render("order_confirmation", context("order_confirmation"))
    assert "2 x Blue mug (MUG-1), $10.00 each" in email.text
    assert "Desk lamp (LAMP-2), $1,234.50 each" in email.text
    assert "Discount: -$4.00" in email.text and "Total:    $1,255.50" in email.text
    assert "Tax:" not in email.text  # no tax charged: no line for it
    assert "$1,255.50" in email.html and "Brooklyn, NY 11201" in email.html


def test_the_confirmation_words_payment_and_backorders():
    pending = render("order_confirmation", context("order_confirmation", status="pending_payment"))
    assert pending.subject == "We have received your order SO-000007"
    assert "as soon as your payment is confirmed" in pending.text
    waiting = render("order_confirmation", context("order_confirmation", status="backordered"))
    assert "waiting for new stock" in waiting.text and "waiting for new stock" in waiting.html


def test_money_is_written_in_the_currency_with_its_own_minor_units():
    assert format_money(Decimal("1234.5"), "USD") == "$1,234.50"
    assert format_money(Decimal("9.9"), "EUR") == "€9.90"
    assert format_money(Decimal("500"), "JPY") == "¥500"
    assert format_money(Decimal("1.2345"), "KWD") == "KWD 1.234"  # three minor digits
    assert format_money(Decimal("12"), "CHF") == "CHF 12.00"
    assert format_money(Decimal("-3.5"), "GBP") == "-£3.50"


def test_times_keep_the_carriers_local_zone():
    assert format_when("2026-12-04T14:05:00-05:00") == "December 4, 2026 at 2:05 PM"
    assert format_when(datetime(2026, 1, 2, 0, 30, tzinfo=UTC)) == "January 2, 2026 at 12:30 AM"


@pytest.mark.parametrize(
    ("code", "subject", "wording"),
    [
        ("delayed", "Your order SO-000007 is delayed", "running late"),
        ("delivery_attempted", "We tried to deliver your order SO-000007", "tried to deliver"),
        ("exception", "A problem with the delivery of your order SO-000007", "reported a problem"),
    ],
)
def test_a_delivery_problem_is_worded_by_what_the_carrier_reported(code, subject, wording):
    email = render("delivery_problem", {"order": order(), "tracking": {**TRACKING, "code": code}})
    assert email.subject == subject
    assert wording in email.text and wording in email.html
    assert 'The carrier says: "Left at front door" (BROOKLYN, NY, US)' in email.text


def test_the_shipped_email_links_the_tracking_page_but_never_a_script():
    email = render("shipped", context("shipped"))
    assert "Tracking number: OMS00000000422" in email.text and "Packages: 2" in email.text
    assert 'href="https://track.example.com/OMS00000000422"' in email.html
    hostile = context("shipped")
    hostile["shipment"] = {**hostile["shipment"], "tracking_url": "javascript:alert(1)"}
    email = render("shipped", hostile)
    assert "javascript:" not in email.html
    assert "OMS00000000422" in email.html


def test_a_partial_shipment_says_the_rest_follows():
    email = render("shipped", context("shipped", status="partially_shipped"))
    assert email.subject == "Part of your order SO-000007 is on its way"
    assert "when the rest is on its way" in email.text


def test_return_emails_carry_the_return_and_its_label():
    approved = render("return_approved", context("return_approved"))
    assert approved.subject == "Your return RMA-000003 is approved"
    assert "https://shop.example.com/returns/3/label.pdf" in approved.text
    assert 'href="https://shop.example.com/returns/3/label.pdf"' in approved.html
    refund = render("refund_issued", context("refund_issued"))
    assert refund.subject == "Your refund of $10.00 for order SO-000007"
    exchange = render("exchange_created", context("exchange_created"))
    assert "SO-000012" in exchange.subject and "1 x Red mug (MUG-2)" in exchange.text


def test_the_feedback_request_links_the_form_until_it_expires():
    email = render("feedback_request", context("feedback_request"))
    assert "https://shop.example.com/feedback/abc" in email.text
    assert "until January 3, 2027" in email.text
    bare = render("feedback_request", {"order": order(), "link": "https://shop.example.com/feedback/abc"})
    assert "until" not in bare.text
