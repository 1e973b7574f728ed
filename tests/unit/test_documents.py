"""Packing slips and invoices: the PDFs are read back with pdfium's text extraction, page by page,
so every assertion is about what a person holding the paper would see."""

from __future__ import annotations

import dataclasses
import re
from datetime import date
from decimal import Decimal

import pypdfium2 as pdfium
import pytest

from oms.errors import InvalidInput
from oms.shipping.documents import (
    PAGE_H,
    PAGE_W,
    DocumentData,
    DocumentLine,
    format_money,
    invoice_pdf,
    packing_slip_pdf,
    paginate,
)

LINES = (
    DocumentLine("MUG-BLU-350", "Stoneware mug, blue, 350 ml", 2, Decimal("12.50")),
    DocumentLine("TEE-ORG-M", "Organic cotton T-shirt, size M", 1, Decimal("1234.00")),
    DocumentLine("CANDLE-06", "Soy candle", 3, Decimal("7.25")),
)
# 2 x 12.50 + 1234.00 + 3 x 7.25 = 1280.75; - 30.00 + 9.95 + 102.46 = 1363.16


def doc(**changes) -> DocumentData:
    base = DocumentData(
        order_number="SO-10042",
        order_date=date(2024, 3, 5),
        currency="USD",
        seller_name="Acme Goods Ltd",
        seller_lines=("12 Dock Road", "Newark NJ 07102", "United States"),
        bill_to_name="John Payer",
        bill_to_lines=("9 Billing Avenue", "Boston MA 02110", "United States"),
        ship_to_name="Jane Receiver",
        ship_to_lines=("100 Main Street", "Apt 4B", "Kenmore WA 98028-3912", "United States"),
        lines=LINES,
        shipping_total=Decimal("9.95"),
        tax_total=Decimal("102.46"),
        discount_total=Decimal("30.00"),
        total=Decimal("1363.16"),
        paid_amount=Decimal("1000.00"),
        package_label="Package 1 of 2",
        invoice_number="INV-2024-0007",
        notes="Leave at the back door.",
    )
    return dataclasses.replace(base, **changes)


def many_lines(n: int) -> tuple[DocumentLine, ...]:
    return tuple(DocumentLine(f"SKU-{i:04d}", f"Product number {i}", i, Decimal("1.10")) for i in range(1, n + 1))


def pages(pdf: bytes) -> list[str]:
    return [page.get_textpage().get_text_range() for page in pdfium.PdfDocument(pdf)]


def text(pdf: bytes) -> str:
    return "\n".join(pages(pdf))


def squash(s: str) -> str:
    """pdfium joins lines with CR LF and may add spaces; compare with whitespace collapsed."""
    return " ".join(s.split())


# --- invoice ---------------------------------------------------------------------------------


def test_the_invoice_shows_numbers_dates_and_all_three_parties():
    got = squash(text(invoice_pdf(doc())))
    for expected in (
        "INVOICE",
        "Invoice INV-2024-0007",
        "Invoice date 2024-03-05",
        "Order SO-10042",
        "Order date 2024-03-05",
        "SELLER",
        "Acme Goods Ltd",
        "Newark NJ 07102",
        "BILL TO",
        "John Payer",
        "9 Billing Avenue",
        "Boston MA 02110",
        "SHIP TO",
        "Jane Receiver",
        "Apt 4B",
        "Kenmore WA 98028-3912",
        "Leave at the back door.",
        "Page 1 of 1",
    ):
        assert expected in got


def test_the_invoice_shows_every_line_with_quantity_unit_price_and_amount():
    got = squash(text(invoice_pdf(doc())))
    assert "MUG-BLU-350 Stoneware mug, blue, 350 ml 2 12.50 25.00" in got
    assert "TEE-ORG-M Organic cotton T-shirt, size M 1 1,234.00 1,234.00" in got
    assert "CANDLE-06 Soy candle 3 7.25 21.75" in got


def test_the_invoice_totals_are_formatted_in_the_currency():
    got = squash(text(invoice_pdf(doc())))
    for expected in (
        "Subtotal USD 1,280.75",
        "Discount USD -30.00",
        "Shipping USD 9.95",
        "Tax USD 102.46",
        "Total USD 1,363.16",
        "Paid USD 1,000.00",
        "Balance due USD 363.16",
    ):
        assert expected in got


@pytest.mark.parametrize(
    ("currency", "price", "shipping", "formatted_total"),
    [
        ("JPY", Decimal("1200"), Decimal("500"), "Total JPY 2,900"),  # no minor unit
        ("KWD", Decimal("1.125"), Decimal("0.500"), "Total KWD 2.750"),  # three places
        ("eur", Decimal("0.10"), Decimal("0"), "Total EUR 0.20"),  # code normalised
    ],
)
def test_money_uses_the_currencys_minor_units(currency, price, shipping, formatted_total):
    data = doc(
        currency=currency,
        lines=(DocumentLine("A-1", "Thing", 2, price),),
        shipping_total=shipping,
        tax_total=Decimal(0),
        discount_total=Decimal(0),
        total=2 * price + shipping,
        paid_amount=Decimal(0),
    )
    got = squash(text(invoice_pdf(data)))
    assert formatted_total in got
    assert "Discount " + format_money(Decimal(0), currency) in got  # zero, not "-0"


def test_format_money():
    assert format_money(Decimal("1234567.5"), "USD") == "USD 1,234,567.50"
    assert format_money(Decimal("-0.00"), "USD") == "USD 0.00"
    assert format_money(Decimal("12.5"), "KWD", code=False) == "12.500"


def test_mismatched_totals_are_refused():
    with pytest.raises(InvalidInput) as err:
        invoice_pdf(doc(total=Decimal("1363.17")))
    assert err.value.code == "totals_mismatch"
    assert "1363.16" in err.value.detail


def test_an_invoice_needs_an_invoice_number():
    with pytest.raises(InvalidInput):
        invoice_pdf(doc(invoice_number=None))
    with pytest.raises(InvalidInput):
        invoice_pdf(doc(invoice_number="  "))


def test_an_invoice_with_80_lines_spans_several_pages_with_each_sku_once():
    lines = many_lines(80)
    sub = sum((line.quantity * line.unit_price for line in lines), Decimal(0))  # 3564.00
    data = doc(lines=lines, discount_total=Decimal(0), total=sub + Decimal("9.95") + Decimal("102.46"))
    pdf = invoice_pdf(data)
    texts = pages(pdf)
    count = len(texts)
    assert count >= 2

    for n, page in enumerate(texts, start=1):
        # the header repeats on every page
        flat = squash(page)
        assert f"Page {n} of {count}" in flat
        assert "Invoice INV-2024-0007" in flat
        assert "Order SO-10042" in flat
        # the table starts on every page with its column titles (the last page may hold only totals)
        if re.search(r"SKU-\d{4}", page):
            assert "SKU Item Quantity Unit price (USD) Amount (USD)" in flat
        if n < count:
            assert f"Continued on page {n + 1}" in flat
            assert "Balance due" not in flat

    skus = re.findall(r"\bSKU-\d{4}\b", text(pdf))
    assert sorted(skus) == [f"SKU-{i:04d}" for i in range(1, 81)]
    # lines run in order across the pages
    assert skus == sorted(skus)
    # the parties are on the first page only; the totals after the last line
    assert "BILL TO" in texts[0] and all("BILL TO" not in t for t in texts[1:])
    last = squash(texts[-1])
    assert f"Subtotal USD {sub:,.2f}" in last
    assert "Total USD 3,676.41" in last
    assert "SKU-0080 Product number 80 80 1.10 88.00" in squash(text(pdf))


def test_nothing_is_drawn_outside_the_page_margins():
    long_lines = (
        DocumentLine("X" * 60, "A very long product name " * 12, 1, Decimal("999999.99")),
        DocumentLine("SHORT", "Supercalifragilisticexpialidocious" * 4, 99999, Decimal("0.01")),
    )
    sub = Decimal("999999.99") + Decimal("999.99")
    data = doc(
        lines=long_lines,
        ship_to_lines=("A street name that goes on and on and on and on and on and on forever",) * 9,
        discount_total=Decimal(0),
        shipping_total=Decimal(0),
        tax_total=Decimal(0),
        total=sub,
        notes="Word " * 600,
    )
    for pdf in (invoice_pdf(data), packing_slip_pdf(data)):
        for page in pdfium.PdfDocument(pdf):
            tp = page.get_textpage()
            for i in range(tp.count_chars()):
                left, bottom, right, top = tp.get_charbox(i)
                if right > left:  # skip generated spaces and line breaks
                    assert left >= 35 and right <= PAGE_W - 35, (i, tp.get_text_range(i, 1))
                    assert bottom >= 20 and top <= PAGE_H - 35


def test_the_same_input_gives_the_same_bytes():
    assert invoice_pdf(doc()) == invoice_pdf(doc())
    assert packing_slip_pdf(doc()) == packing_slip_pdf(doc())
    assert invoice_pdf(doc()) != invoice_pdf(doc(order_number="SO-10043"))


def test_invoice_date_defaults_to_the_order_date_and_can_differ():
    got = squash(text(invoice_pdf(doc(invoice_date=date(2024, 3, 9)))))
    assert "Invoice date 2024-03-09" in got and "Order date 2024-03-05" in got


def test_pdfs_are_letter_portrait():
    for pdf in (invoice_pdf(doc()), packing_slip_pdf(doc())):
        assert pdfium.PdfDocument(pdf)[0].get_size() == pytest.approx((612.0, 792.0))


# --- packing slip ----------------------------------------------------------------------------


def test_the_packing_slip_shows_order_ship_to_package_and_lines():
    got = squash(text(packing_slip_pdf(doc())))
    for expected in (
        "PACKING SLIP",
        "Order SO-10042",
        "Order date 2024-03-05",
        "Package 1 of 2",
        "SHIP TO",
        "Jane Receiver",
        "100 Main Street",
        "Kenmore WA 98028-3912",
        "Acme Goods Ltd",
        "MUG-BLU-350 Stoneware mug, blue, 350 ml 2",
        "TEE-ORG-M Organic cotton T-shirt, size M 1",
        "CANDLE-06 Soy candle 3",
        "Total quantity 6",
        "Leave at the back door.",
        "Page 1 of 1",
    ):
        assert expected in got


def test_the_packing_slip_shows_no_prices_and_no_billing_address():
    got = text(packing_slip_pdf(doc()))
    for hidden in ("USD", "12.50", "1,234.00", "1234", "7.25", "1,363.16", "102.46", "9.95", "John Payer", "Invoice"):
        assert hidden not in got
    assert not re.search(r"\d\.\d\d", got)


def test_the_packing_slip_package_label_is_optional():
    got = squash(text(packing_slip_pdf(doc(package_label=None))))
    assert "Package" not in got and "Order SO-10042" in got


def test_the_packing_slip_does_not_check_totals():
    """One package of several: its lines need not add up to the order's total."""
    data = doc(lines=LINES[:1])
    assert b"%PDF" in packing_slip_pdf(data)
    with pytest.raises(InvalidInput):
        invoice_pdf(data)


def test_a_long_packing_slip_flows_onto_more_pages():
    texts = pages(packing_slip_pdf(doc(lines=many_lines(120))))
    assert len(texts) >= 2
    assert all(f"Page {n} of {len(texts)}" in squash(t) for n, t in enumerate(texts, start=1))
    assert sorted(re.findall(r"\bSKU-\d{4}\b", "\n".join(texts))) == [f"SKU-{i:04d}" for i in range(1, 121)]


def test_text_outside_helvetica_is_transliterated_not_dropped():
    data = doc(ship_to_name="Łukasz Żółć", lines=(DocumentLine("PL-1", "Kraków café", 1, Decimal("10.00")),))
    got = squash(text(packing_slip_pdf(data)))
    assert "Lukasz Zólc" in got
    assert "Kraków café" in got


# --- input checks ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"currency": "ZZZ"},
        {"currency": "XAU"},
        {"order_number": " "},
        {"ship_to_name": ""},
        {"lines": ()},
        {"total": Decimal("1363.165")},  # finer than a cent
        {"tax_total": Decimal("-1.00")},
        {"paid_amount": Decimal("NaN")},
        {"shipping_total": 9.95},  # float
        {"lines": (DocumentLine("A", "a", 1, Decimal("0.001")),)},
        {"order_date": "2024-03-05"},
    ],
)
def test_bad_document_data_is_refused(changes):
    with pytest.raises(InvalidInput):
        doc(**changes)


@pytest.mark.parametrize("quantity", [0, -1, True, 1.5])
def test_bad_quantities_are_refused(quantity):
    with pytest.raises(InvalidInput):
        DocumentLine("A", "a", quantity, Decimal("1.00"))


def test_the_callers_lists_are_copied():
    lines = list(LINES)
    data = doc(lines=lines)
    lines.clear()
    assert len(data.lines) == 3


# --- pagination ------------------------------------------------------------------------------


def test_paginate_fills_pages_and_keeps_the_tail_after_the_last_row():
    assert paginate([10] * 5, 30, 50, 5) == [[0, 1, 2], [3, 4]]
    assert paginate([10] * 3, 30, 50, 5) == [[0, 1, 2], []]  # no room left for the tail
    assert paginate([10] * 2, 30, 50, 10) == [[0, 1]]
