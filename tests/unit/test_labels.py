"""Shipping labels: the PDF is printed to pixels and its barcode read back by a real decoder
(pypdfium2 renders, zxing-cpp decodes); the ZPL is read the way a printer tokenises it.

The decoder and renderer are imported unconditionally: without them these tests must fail, not skip.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pypdfium2 as pdfium
import pytest
import zxingcpp

from oms.errors import InvalidInput
from oms.shipping.labels import (
    DOTS_W,
    LabelData,
    barcode_module_pt,
    label_pdf,
    label_zpl,
    zpl_barcode_module,
)

FIXTURES = Path(__file__).parent.parent / "fixtures"

TRACKING_NUMBERS = [
    "OMSG1234567890",  # our built-in carrier's style: letters then digits
    "1Z680RA4DL08720000",  # UPS style, letters inside the digits
    "9205590303190000000000",  # USPS IMpb style, 22 digits
    "JJD0099912345678",
    "A1B2C3D4E5F6G7H8I9J0K1L2",  # alternating letters and digits: no subset C runs, widest symbol
    "7",
]


def label(**changes) -> LabelData:
    base = LabelData(
        ship_from_name="Acme Warehouse East",
        ship_from_lines=("12 Dock Road", "Newark NJ 07102", "United States"),
        ship_to_name="Jane Receiver",
        ship_to_lines=("100 Main Street", "Apt 4B", "Kenmore WA 98028-3912", "United States"),
        carrier_name="OMS Ground",
        service_name="Express",
        weight_g=2350,
        package_no=1,
        package_count=2,
        order_number="SO-10042",
        tracking_number="OMSG1234567890",
        fragile=False,
    )
    return dataclasses.replace(base, **changes)


# --- PDF helpers -----------------------------------------------------------------------------


def render(pdf: bytes, module_pt: float):
    """The page as a greyscale image at a scale giving at least 2.5 px per barcode module,
    returned with that scale."""
    scale = max(2.0, 2.5 / module_pt)
    page = pdfium.PdfDocument(pdf)[0]
    return page.render(scale=scale, grayscale=True).to_pil().convert("L"), scale


def pdf_text(pdf: bytes) -> str:
    page = pdfium.PdfDocument(pdf)[0]
    return page.get_textpage().get_text_range()


# --- PDF -------------------------------------------------------------------------------------


def test_the_pdf_is_one_page_of_4_by_6_inches():
    doc = pdfium.PdfDocument(label_pdf(label()))
    assert len(doc) == 1
    assert doc[0].get_size() == pytest.approx((288.0, 432.0))


@pytest.mark.parametrize("tracking", TRACKING_NUMBERS)
def test_a_real_decoder_reads_the_tracking_number_back_from_the_rendered_pdf(tracking):
    image, _ = render(label_pdf(label(tracking_number=tracking)), barcode_module_pt(tracking))
    results = zxingcpp.read_barcodes(image)
    assert [(r.format, r.text) for r in results] == [(zxingcpp.BarcodeFormat.Code128, tracking)]


@pytest.mark.parametrize("tracking", TRACKING_NUMBERS)
def test_the_barcode_keeps_ten_modules_of_white_on_each_side(tracking):
    module_pt = barcode_module_pt(tracking)
    image, scale = render(label_pdf(label(tracking_number=tracking)), module_pt)
    (found,) = zxingcpp.read_barcodes(image)
    pos = found.position
    row_y = (pos.top_left.y + pos.bottom_left.y) // 2
    row = [image.getpixel((x, row_y)) for x in range(image.width)]
    dark = [x for x, v in enumerate(row) if v < 128]
    module_px = module_pt * scale

    # every dark pixel on this row belongs to the barcode the decoder found ...
    assert abs(dark[0] - pos.top_left.x) <= 2 * module_px
    assert abs(dark[-1] - pos.top_right.x) <= 2 * module_px
    # ... so the white to either side of it reaches the edge of the page
    assert dark[0] >= 10 * module_px
    assert image.width - 1 - dark[-1] >= 10 * module_px
    # and the narrowest bar printed is the module width we meant (at least 10 mil)
    assert module_pt >= 0.72
    runs = [len(m.group()) for m in re.finditer(r"1+", "".join("1" if v < 128 else "0" for v in row))]
    assert min(runs) == pytest.approx(module_px, abs=1.0)


def test_the_pdf_text_carries_every_block_of_the_label():
    text = pdf_text(label_pdf(label()))
    for expected in (
        "Acme Warehouse East",
        "Newark NJ 07102",
        "Jane Receiver",
        "Kenmore WA 98028-3912",
        "OMS GROUND EXPRESS",
        "2.35 kg / 5.18 lb",
        "Package 1 of 2",
        "SO-10042",
        "OMSG1234567890",  # the human-readable line under the barcode
    ):
        assert expected in text


def test_the_pdf_says_fragile_only_when_the_package_is_fragile():
    assert "FRAGILE" in pdf_text(label_pdf(label(fragile=True)))
    assert "FRAGILE" not in pdf_text(label_pdf(label(fragile=False)))


def test_a_fragile_label_still_scans():
    image, _ = render(label_pdf(label(fragile=True)), barcode_module_pt("OMSG1234567890"))
    assert [r.text for r in zxingcpp.read_barcodes(image)] == ["OMSG1234567890"]


def test_letters_outside_the_pdf_font_lose_their_accent_rather_than_vanish():
    text = pdf_text(label_pdf(label(ship_to_name="Zoë Łukasiewicz Dvořák")))
    assert "Zoë Lukasiewicz Dvorák" in text  # á is in cp1252, ř is not


def test_an_overlong_address_line_is_cut_visibly_instead_of_running_off_the_label():
    text = pdf_text(label_pdf(label(ship_to_lines=("1 " + "Very Long Street Name " * 10,))))
    assert "1 Very Long Street Name" in text and "..." in text


def test_the_same_label_renders_to_the_same_bytes():
    assert label_pdf(label()) == label_pdf(label())


# --- input checks ----------------------------------------------------------------------------


@pytest.mark.parametrize("tracking", ["", "omsg123", "OMS G123", "OMS^XZ", "OMS>8123", "A" * 41])
def test_a_tracking_number_that_is_not_upper_case_letters_and_digits_is_refused(tracking):
    with pytest.raises(InvalidInput):
        label(tracking_number=tracking)


def test_a_package_number_beyond_the_count_is_refused():
    with pytest.raises(InvalidInput):
        label(package_no=3, package_count=2)


def test_a_tracking_number_too_long_to_scan_at_10_mil_is_refused_not_squeezed():
    with pytest.raises(InvalidInput):
        label_pdf(label(tracking_number="A1" * 20))


# --- ZPL helpers -----------------------------------------------------------------------------

# A printer treats "^" and "~" as the start of a command wherever they appear, field data included.
COMMAND = re.compile(r"([\^~])([A-Za-z0-9@]{2})([^\^~]*)")


def commands(zpl: str) -> list[tuple[str, str]]:
    """(prefix + name, parameters) for every command, in order; the name is upper-cased."""
    text = zpl.replace("\r", "").replace("\n", "")
    found = [(p + n.upper(), a) for p, n, a in COMMAND.findall(text)]
    assert "".join(p + n + a for p, n, a in COMMAND.findall(text)) == text.lstrip(), "text outside commands"
    return found


def fields(zpl: str) -> list[list[tuple[str, str]]]:
    """The commands of each field, from the one after the previous ^FS up to its own ^FS."""
    out, current = [], []
    for name, args in commands(zpl):
        if name == "^FS":
            out.append(current)
            current = []
        else:
            current.append((name, args))
    return out


def field_data(field: list[tuple[str, str]], encoding: str = "utf-8") -> str:
    """The field's ^FD (or ^FV) text with ^FH hex escapes decoded to bytes, read in the label's
    encoding (^CI28: UTF-8), as the printer would print it."""
    names = dict(field)
    data = names.get("^FD", names.get("^FV", ""))
    if "^FH" not in names:
        return data
    mark = re.escape(names["^FH"] or "_")
    raw = b"".join(
        bytes.fromhex(piece[-2:]) if re.fullmatch(mark + "[0-9A-Fa-f]{2}", piece) else piece.encode(encoding)
        for piece in re.split(f"({mark}[0-9A-Fa-f]{{2}})", data)
    )
    return raw.decode(encoding)


def barcode_fields(zpl: str) -> list[list[tuple[str, str]]]:
    return [f for f in fields(zpl) if any(name == "^BC" for name, _ in f)]


def test_the_zpl_reader_used_here_reads_a_real_carrier_label():
    # USPS Priority Mail label (tests/fixtures/SOURCES.md): one ^BC field, GS1-128 data
    sample = (FIXTURES / "zpl_example.zpl").read_text()
    assert [field_data(f) for f in barcode_fields(sample)] == [">;>842098028>89205590303190000000000"]
    printed = [field_data(f, "cp1252") for f in fields(sample)]  # the sample sets ^CI27
    assert "PRIORITY MAIL®" in printed and "KENMORE WA 98028-3912" in printed


# --- ZPL -------------------------------------------------------------------------------------


def test_the_zpl_is_one_format_from_xa_to_xz():
    zpl = label_zpl(label())
    names = [name for name, _ in commands(zpl)]
    assert zpl.startswith("^XA") and zpl.rstrip().endswith("^XZ")
    assert names.count("^XA") == 1 and names.count("^XZ") == 1


def test_the_zpl_declares_utf8_and_the_printer_state_it_relies_on():
    cmds = dict(commands(label_zpl(label())))
    assert cmds["^CI"] == "28"
    assert cmds["^PW"] == str(DOTS_W) and cmds["^LL"] == "1218"
    assert cmds["^LH"] == "0,0" and cmds["^PO"] == "N"


@pytest.mark.parametrize("tracking", TRACKING_NUMBERS)
def test_the_zpl_has_exactly_one_code128_field_carrying_the_tracking_number(tracking):
    (barcode,) = barcode_fields(label_zpl(label(tracking_number=tracking)))
    assert dict(barcode)["^FD"] == tracking


@pytest.mark.parametrize("tracking", TRACKING_NUMBERS)
def test_the_zpl_barcode_and_its_quiet_zones_fit_across_the_label(tracking):
    zpl = label_zpl(label(tracking_number=tracking))
    module = zpl_barcode_module(tracking)
    assert f"^BY{module}," in zpl and module >= 2
    (barcode,) = barcode_fields(zpl)
    x = int(dict(barcode)["^FO"].split(",")[0])
    width = (11 * len(tracking) + 35) * module  # subset B: start, data, check, stop
    assert x >= 10 * module and x + width + 10 * module <= DOTS_W


def test_the_zpl_says_fragile_only_when_the_package_is_fragile():
    def printed(zpl):
        return [field_data(f) for f in fields(zpl)]

    assert "FRAGILE" in printed(label_zpl(label(fragile=True)))
    assert not any("FRAGILE" in t for t in printed(label_zpl(label(fragile=False))))


def test_the_zpl_prints_every_block_as_text():
    printed = [field_data(f) for f in fields(label_zpl(label()))]
    for expected in ("Jane Receiver", "Kenmore WA 98028-3912", "OMS GROUND EXPRESS", "Package 1 of 2"):
        assert expected in printed
    assert "2.35 kg / 5.18 lb" in printed and "Order: SO-10042" in printed
    assert "OMSG1234567890" in printed  # human-readable line under the barcode


HOSTILE = "Eve ^XZ^XA^FO0,0~JR~DGR:X.GRF_41 ^FS_ Zoë"


def test_a_hostile_name_adds_no_command_and_prints_as_written():
    benign, hostile = label_zpl(label(ship_to_name="Jane Receiver")), label_zpl(label(ship_to_name=HOSTILE))
    # the same commands in the same order: nothing in the name became a command
    assert [name for name, _ in commands(hostile)] == [name for name, _ in commands(benign)]
    assert "~" not in hostile
    (barcode,) = barcode_fields(hostile)
    assert dict(barcode)["^FD"] == "OMSG1234567890"
    assert HOSTILE in [field_data(f) for f in fields(hostile)]


def test_hostile_text_in_every_field_is_escaped():
    zpl = label_zpl(
        label(
            ship_from_name=HOSTILE,
            ship_from_lines=(HOSTILE,),
            ship_to_lines=(HOSTILE,),
            carrier_name="^XZ",
            service_name="~JA",
            order_number="SO^1~2_3",
        )
    )
    names = [name for name, _ in commands(zpl)]
    assert names.count("^XA") == 1 and names.count("^XZ") == 1 and "~" not in zpl
    printed = [field_data(f) for f in fields(zpl)]
    assert "Order: SO^1~2_3" in printed and "^XZ ~JA" in printed


def test_control_characters_in_text_are_dropped():
    printed = [field_data(f) for f in fields(label_zpl(label(ship_to_name="Jane\nReceiver\x00")))]
    assert "JaneReceiver" in printed
