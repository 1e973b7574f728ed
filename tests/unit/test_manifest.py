"""End-of-day manifests: the CSV reads back as the rows it was made from; the PDF, read back with
pdfium's text extraction page by page, shows what the driver signs for."""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pypdfium2 as pdfium
import pytest

from oms.errors import InvalidInput
from oms.shipping.documents import PAGE_H, PAGE_W
from oms.shipping.manifest import (
    CSV_COLUMNS,
    ManifestData,
    ManifestRow,
    manifest_csv,
    manifest_pdf,
    total_cost,
)
from oms.shipping.tracking import make_tracking_number

LOUISVILLE = ZoneInfo("America/Kentucky/Louisville")


def row(n: int = 1, **changes) -> ManifestRow:
    base = ManifestRow(
        tracking_number=make_tracking_number("oms", n),
        order_number=f"SO-{10000 + n}",
        service_name="OMS Ground",
        packages=1 + n % 3,
        weight_g=250 * n + 1,
        ship_to_name=f"Customer {n}",
        ship_to_city="Lexington",
        ship_to_region="KY",
        ship_to_postal_code="40507",
        ship_to_country="US",
        cost=Decimal("9.48") + n,
        currency="USD",
    )
    return dataclasses.replace(base, **changes)


def manifest(rows=(), **changes) -> ManifestData:
    base = ManifestData(
        carrier_code="oms",
        carrier_name="OMS Parcel",
        warehouse_code="LOU1",
        warehouse_name="Louisville DC",
        warehouse_lines=("1200 Distribution Way", "Louisville KY 40202", "US"),
        day=date(2024, 3, 5),
        generated_at=datetime(2024, 3, 5, 17, 42, tzinfo=LOUISVILLE),
        rows=tuple(rows),
    )
    return dataclasses.replace(base, **changes)


def many(n: int) -> tuple[ManifestRow, ...]:
    return tuple(row(i) for i in range(1, n + 1))


def pages(pdf: bytes) -> list[str]:
    return [page.get_textpage().get_text_range() for page in pdfium.PdfDocument(pdf)]


def squash(s: str) -> str:
    """pdfium joins lines with CR LF and may add spaces; compare with whitespace collapsed."""
    return " ".join(s.split())


# --- CSV -------------------------------------------------------------------------------------------


def test_the_csv_reads_back_as_the_rows_it_was_made_from():
    rows = (
        *many(5),
        row(6, ship_to_name='Ann "Annie" O\'Neil, Jr.', ship_to_city="Saint-Jérôme", ship_to_region=None),
        row(7, service_name="Line one\nline two", cost=Decimal("0"), currency="jpy"),
    )
    data = manifest(rows)
    parsed = list(csv.DictReader(io.StringIO(manifest_csv(data), newline="")))
    assert len(parsed) == len(rows)
    for got, want in zip(parsed, data.rows, strict=True):
        back = ManifestRow(
            tracking_number=got["tracking_number"],
            order_number=got["order_number"],
            service_name=got["service"],
            packages=int(got["packages"]),
            weight_g=int(got["weight_g"]),
            ship_to_name=got["ship_to_name"],
            ship_to_city=got["ship_to_city"],
            ship_to_region=got["ship_to_region"] or None,
            ship_to_postal_code=got["ship_to_postal_code"],
            ship_to_country=got["ship_to_country"],
            cost=Decimal(got["cost"]),
            currency=got["currency"],
        )
        assert back == want
        assert Decimal(got["weight_kg"]) * 1000 == want.weight_g
        assert (got["manifest_date"], got["carrier"], got["warehouse"]) == ("2024-03-05", "oms", "LOU1")


def test_the_csv_is_a_header_and_one_crlf_line_per_shipment_with_plain_numbers():
    text = manifest_csv(manifest((row(1, weight_g=1250, cost=Decimal("1234.5")),)))
    lines = text.split("\r\n")
    assert lines[0] == ",".join(CSV_COLUMNS)
    assert lines[1] == (
        "2024-03-05,oms,LOU1,OMS00000000018,SO-10001,OMS Ground,2,1250,1.250,"
        "Customer 1,Lexington,KY,40507,US,1234.50,USD"
    )
    assert lines[2:] == [""]  # nothing after the last row: no totals


def test_an_empty_manifest_is_a_header_alone():
    assert manifest_csv(manifest()) == ",".join(CSV_COLUMNS) + "\r\n"


# --- PDF -------------------------------------------------------------------------------------------


def test_one_shipment_on_one_page_with_header_row_totals_and_signature_lines():
    [page] = pages(manifest_pdf(manifest((row(1, weight_g=1250, packages=2, cost=Decimal("11.48")),))))
    got = squash(page)
    for expected in (
        "END-OF-DAY MANIFEST",
        "OMS Parcel (oms)",
        "Warehouse Louisville DC (LOU1)",
        "Date 2024-03-05",
        "Generated 2024-03-05 17:42 EST",
        "Page 1 of 1",
        "COLLECT FROM",
        "1200 Distribution Way",
        "Louisville KY 40202",
        "CARRIER",
        "# Tracking number Order Service Ship to Pkgs Weight (kg) Cost",
        "1 OMS00000000018 SO-10001 OMS Ground Customer 1 2 1.250 USD 11.48 Lexington, KY 40507, US",
        "Shipments 1",
        "Packages 2",
        "Total weight 1.250 kg",
        "Total cost USD 11.48",
        "DRIVER (OMS Parcel)",
        "SHIPPER (Louisville DC)",
        "Packages counted",
        "Signature",
        "Date and time",
    ):
        assert expected in got, expected
    assert "Continued" not in got


def test_an_empty_manifest_still_prints_one_page_to_sign():
    [page] = pages(manifest_pdf(manifest()))
    got = squash(page)
    for expected in (
        "Page 1 of 1",
        "No shipments for this carrier today.",
        "Shipments 0",
        "Packages 0",
        "Total weight 0.000 kg",
        "Total cost none",
        "DRIVER (OMS Parcel)",
        "SHIPPER (Louisville DC)",
    ):
        assert expected in got, expected


def test_120_shipments_run_over_pages_with_every_tracking_number_once_and_totals_at_the_end():
    rows = many(120)
    texts = pages(manifest_pdf(manifest(rows)))
    count = len(texts)
    assert count >= 3
    for n, page in enumerate(texts, start=1):
        flat = squash(page)
        assert f"Page {n} of {count}" in flat
        assert "OMS Parcel (oms)" in flat and "Date 2024-03-05" in flat
        if re.search(r"OMS\d{11}", page):
            assert "# Tracking number Order Service Ship to Pkgs Weight (kg) Cost" in flat
        if n < count:
            assert f"Continued on page {n + 1}" in flat
            assert "Total cost" not in flat and "SHIPPER" not in flat

    tracking = re.findall(r"\bOMS\d{11}\b", "\n".join(texts))
    assert tracking == [r.tracking_number for r in rows]  # each once, in order
    assert "COLLECT FROM" in texts[0] and all("COLLECT FROM" not in t for t in texts[1:])

    last = squash(texts[-1])
    packages = sum(r.packages for r in rows)
    weight_g = sum(r.weight_g for r in rows)
    cost = sum((r.cost for r in rows), Decimal(0))
    assert (packages, weight_g, cost) == (240, 1815120, Decimal("8397.60"))
    assert "Shipments 120" in last
    assert "Packages 240" in last
    assert "Total weight 1,815.120 kg" in last
    assert "Total cost USD 8,397.60" in last
    assert "DRIVER (OMS Parcel)" in last and "SHIPPER (Louisville DC)" in last


def test_costs_in_different_currencies_are_totalled_apart():
    rows = (row(1, cost=Decimal("10.00")), row(2, cost=Decimal("1200"), currency="JPY"), row(3, cost=Decimal("5.25")))
    assert total_cost(manifest(rows)) == {"JPY": Decimal("1200"), "USD": Decimal("15.25")}
    got = squash("\n".join(pages(manifest_pdf(manifest(rows)))))
    assert "Total cost JPY 1,200" in got and "Total cost USD 15.25" in got


def test_long_identifiers_wrap_instead_of_being_cut():
    usps = "9400111899223344556677889900112233"  # a 34-digit IMpb number
    got = pages(manifest_pdf(manifest((row(1, tracking_number=usps, ship_to_name="N" * 200),))))[0]
    lines = got.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("1 94"))
    # every digit is there: the number breaks onto the row's second line
    assert lines[first].split()[1] + lines[first + 1].split()[0] == usps
    assert "..." in got  # a name too long is cut visibly instead


def test_nothing_is_drawn_outside_the_page_margins():
    rows = (
        row(1, ship_to_name="A very long customer name " * 10, service_name="Express " * 20, ship_to_city="X" * 300),
        row(2, tracking_number="1Z" + "9" * 38, order_number="O" * 80, cost=Decimal("99999999.99"), packages=9999),
        *many(40)[2:],
    )
    data = manifest(rows, warehouse_lines=("A street that goes on and on " * 8,) * 9, warehouse_name="W" * 300)
    for page in pdfium.PdfDocument(manifest_pdf(data)):
        tp = page.get_textpage()
        for i in range(tp.count_chars()):
            left, bottom, right, top = tp.get_charbox(i)
            if right > left:  # skip generated spaces and line breaks
                assert left >= 35 and right <= PAGE_W - 35, (i, tp.get_text_range(i, 1))
                assert bottom >= 20 and top <= PAGE_H - 35


def test_the_manifest_is_letter_portrait_and_the_same_input_gives_the_same_bytes():
    pdf = manifest_pdf(manifest(many(3)))
    assert pdfium.PdfDocument(pdf)[0].get_size() == pytest.approx((612.0, 792.0))
    assert pdf == manifest_pdf(manifest(many(3)))
    assert pdf != manifest_pdf(manifest(many(3), day=date(2024, 3, 6)))


def test_generated_at_prints_in_its_own_time_zone():
    for at, expected in (
        (datetime(2024, 3, 5, 22, 42, tzinfo=UTC), "Generated 2024-03-05 22:42 UTC"),
        (datetime(2024, 3, 5, 17, 42, tzinfo=timezone(timedelta(hours=-5))), "Generated 2024-03-05 17:42 UTC-05:00"),
    ):
        assert expected in squash(pages(manifest_pdf(manifest(generated_at=at)))[0])


def test_text_outside_helvetica_is_transliterated_not_dropped():
    got = squash(pages(manifest_pdf(manifest((row(1, ship_to_name="Łukasz Żółć", ship_to_city="Kraków"),))))[0])
    assert "Lukasz Zólc" in got and "Kraków" in got


# --- input checks ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"tracking_number": " "},
        {"order_number": ""},
        {"packages": 0},
        {"packages": True},
        {"weight_g": 0},
        {"weight_g": 1.5},
        {"cost": 9.95},  # float
        {"cost": Decimal("-1.00")},
        {"cost": Decimal("NaN")},
        {"cost": Decimal("1.005")},  # finer than a cent
        {"currency": "ZZZ"},
    ],
)
def test_bad_rows_are_refused(changes):
    with pytest.raises(InvalidInput):
        row(1, **changes)


@pytest.mark.parametrize(
    "changes",
    [
        {"carrier_code": ""},
        {"warehouse_name": " "},
        {"day": datetime(2024, 3, 5, 12, 0, tzinfo=UTC)},
        {"day": "2024-03-05"},
        {"generated_at": datetime(2024, 3, 5, 17, 42)},  # naive
        {"rows": (row(1), row(1))},  # the same shipment twice
        {"rows": ({"tracking_number": "X"},)},
    ],
)
def test_bad_manifests_are_refused(changes):
    with pytest.raises(InvalidInput):
        manifest(**changes)


def test_the_callers_lists_are_copied():
    rows = list(many(3))
    data = manifest(rows)
    rows.clear()
    assert len(data.rows) == 3
