"""Shipping labels: one package's 4x6 inch label as a PDF (laser printers, previews) and as ZPL II
(203 dpi thermal printers). Pure rendering: the caller loads the shipment and passes a LabelData.

Both renderings carry the same blocks, top to bottom: ship-from with weight and "Package n of m",
ship-to (large), carrier and service with the FRAGILE mark, the tracking number as Code 128 with
the number in text under it, and the order reference.
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from reportlab.graphics.barcode.code128 import Code128
from reportlab.lib.units import inch
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from oms.errors import InvalidInput

# Carrier tracking numbers are upper-case letters and digits. Holding to that keeps the barcode
# data free of characters that Code 128 subset B or ZPL's ^BC would read as commands (">", "^").
_TRACKING = re.compile(r"[A-Z0-9]{1,40}")
_GRAMS_PER_LB = 453.59237


@dataclass(frozen=True, slots=True, kw_only=True)
class LabelData:
    """What goes on one package's label. Address lines are printed as given, in order."""

    ship_from_name: str
    ship_from_lines: Sequence[str]
    ship_to_name: str
    ship_to_lines: Sequence[str]
    carrier_name: str
    service_name: str
    weight_g: int
    package_no: int
    package_count: int
    order_number: str
    tracking_number: str
    fragile: bool = False

    def __post_init__(self) -> None:
        # Tuples, so a caller's list changed later cannot change a label already described.
        object.__setattr__(self, "ship_from_lines", tuple(self.ship_from_lines))
        object.__setattr__(self, "ship_to_lines", tuple(self.ship_to_lines))
        if not _TRACKING.fullmatch(self.tracking_number):
            raise InvalidInput(
                f"tracking number {self.tracking_number!r} must be 1-40 upper-case letters and digits",
                code="invalid_tracking_number",
            )
        if not 1 <= self.package_no <= self.package_count:
            raise InvalidInput(f"package {self.package_no} of {self.package_count} does not exist")
        if self.weight_g <= 0:
            raise InvalidInput(f"weight must be positive, got {self.weight_g} g")
        if not self.order_number.strip() or not self.ship_to_name.strip():
            raise InvalidInput("a label needs an order number and a recipient")


def weight_text(weight_g: int) -> str:
    """Both units: carriers bill in either, and staff check the scale against either."""
    return f"{weight_g / 1000:.2f} kg / {weight_g / _GRAMS_PER_LB:.2f} lb"


def package_text(data: LabelData) -> str:
    return f"Package {data.package_no} of {data.package_count}"


def _fit(
    text: str, size: float, min_size: float, max_width: float, measure: Callable[[str, float], float]
) -> tuple[str, float]:
    """Shrink the font until the text fits; at the smallest size, cut it and mark the cut.
    Overflowing the label would hide the end of an address line; a visible cut does not."""
    while size > min_size and measure(text, size) > max_width:
        size = max(min_size, size - 1)
    if measure(text, size) <= max_width:
        return text, size
    while text and measure(text + "...", size) > max_width:
        text = text[:-1]
    return text.rstrip() + "...", size


def _block(lines: Sequence[str], room: int) -> list[str]:
    """At most ``room`` lines; any beyond are joined onto the last, so nothing is silently lost."""
    lines = [line for line in lines if line.strip()]
    if len(lines) <= room:
        return lines
    return [*lines[: room - 1], ", ".join(lines[room - 1 :])]


# --- PDF ------------------------------------------------------------------------------------

PAGE_W, PAGE_H = 4 * inch, 6 * inch  # 288 x 432 pt
_M = 9.0  # 1/8 in margin: printers do not reach the edge of the stock
_FONT, _BOLD = "Helvetica", "Helvetica-Bold"
# Code 128 module width: 20 mil is generous for any scanner; below 10 mil handhelds start to
# miss, so a number too long for 10 mil across the label is refused rather than printed.
_MODULE_MAX = 0.020 * inch
_MODULE_MIN = 0.010 * inch
_QUIET_MODULES = 10  # ISO/IEC 15417 asks for at least 10 modules of white on each side
_BAR_HEIGHT = 1.0 * inch


# Latin letters with a stroke have no Unicode decomposition to strip an accent from.
_STROKED = str.maketrans("ŁłĐđĦħıŦŧ", "LlDdHhiTt")


def _pdf_text(text: str) -> str:
    """Helvetica (a PDF base font) covers cp1252 only. Other characters lose their accents if
    they have one, else become "?", instead of printing as blanks nobody notices."""
    out = []
    for ch in unicodedata.normalize("NFC", text):
        if unicodedata.category(ch) == "Cc":
            continue
        try:
            ch.encode("cp1252")
            out.append(ch)
        except UnicodeEncodeError:
            base = "".join(
                c for c in unicodedata.normalize("NFKD", ch.translate(_STROKED)) if not unicodedata.combining(c)
            )
            try:
                out.append(base.encode("cp1252").decode("cp1252") or "?")
            except UnicodeEncodeError:
                out.append("?")
    return "".join(out)


def barcode_module_pt(tracking_number: str) -> float:
    """The module (narrowest bar) width, in points, that the PDF label uses for this number:
    as wide as possible up to 20 mil, with the bars and both quiet zones inside the margins."""
    modules = Code128(tracking_number, barWidth=1, quiet=0).width
    module = min(_MODULE_MAX, (PAGE_W - 2 * _M) / (modules + 2 * _QUIET_MODULES))
    if module < _MODULE_MIN:
        raise InvalidInput(f"tracking number {tracking_number!r} is too long to print scannably on a 4x6 label")
    return module


def _line(c: Canvas, x: float, y: float, text: str, font: str, size: float, max_width: float) -> None:
    text, size = _fit(_pdf_text(text), size, 6, max_width, lambda t, s: stringWidth(t, font, s))
    c.setFont(font, size)
    c.drawString(x, y, text)


def label_pdf(data: LabelData) -> bytes:
    """One 4x6 inch page. Coordinates below are measured from the top edge (``top``) because
    that is how the label reads; reportlab's origin is the bottom-left corner."""
    buf = io.BytesIO()
    # invariant: no timestamp or random id, so the same label gives the same bytes
    c = Canvas(buf, pagesize=(PAGE_W, PAGE_H), invariant=1)
    c.setTitle(f"Label {data.tracking_number}")
    c.setCreator("oms")
    width = PAGE_W - 2 * _M

    def top(y: float) -> float:
        return PAGE_H - y

    def rule(y: float, thickness: float = 1.5) -> None:
        c.setLineWidth(thickness)
        c.line(_M, top(y), PAGE_W - _M, top(y))

    # ship-from (small, left) beside weight and package count (right)
    left_w, right_x = 165.0, _M + 172
    _line(c, _M, top(_M + 8), "FROM:", _BOLD, 7, left_w)
    y = _M + 17
    for text in (data.ship_from_name, *_block(data.ship_from_lines, 4)):
        _line(c, _M, top(y), text, _FONT, 8, left_w)
        y += 9.5
    _line(c, right_x, top(_M + 12), package_text(data), _BOLD, 11, PAGE_W - _M - right_x)
    _line(c, right_x, top(_M + 28), weight_text(data.weight_g), _FONT, 8, PAGE_W - _M - right_x)
    rule(76)

    # ship-to: the block the carrier's sorters read, so the largest text
    _line(c, _M, top(88), "SHIP TO:", _BOLD, 8, width)
    _line(c, _M + 14, top(108), data.ship_to_name, _BOLD, 16, width - 14)
    y = 126.0
    for text in _block(data.ship_to_lines, 5):
        _line(c, _M + 14, top(y), text, _FONT, 13, width - 14)
        y += 15
    rule(206)

    # carrier and service, with the FRAGILE mark reversed out of a black box on the right
    service_w = width
    if data.fragile:
        box_w, box_h = 92.0, 26.0
        c.rect(PAGE_W - _M - box_w, top(213 + box_h), box_w, box_h, stroke=0, fill=1)
        c.setFillColorRGB(1, 1, 1)
        c.setFont(_BOLD, 16)
        c.drawCentredString(PAGE_W - _M - box_w / 2, top(232), "FRAGILE")
        c.setFillColorRGB(0, 0, 0)
        service_w -= box_w + 6
    _line(c, _M, top(232), f"{data.carrier_name} {data.service_name}".upper(), _BOLD, 16, service_w)
    rule(246, 3)

    # tracking barcode, centred; nothing else is drawn in its rows, so the quiet zones hold
    _line(c, _M, top(258), "TRACKING #", _BOLD, 8, width)
    module = barcode_module_pt(data.tracking_number)
    bars = Code128(data.tracking_number, barWidth=module, barHeight=_BAR_HEIGHT, quiet=0)
    bars.drawOn(c, (PAGE_W - bars.width) / 2, top(266 + _BAR_HEIGHT))
    c.setFont(_BOLD, 13)
    c.drawCentredString(PAGE_W / 2, top(266 + _BAR_HEIGHT + 17), data.tracking_number)
    rule(368, 3)

    _line(c, _M, top(388), f"Order: {data.order_number}", _BOLD, 13, width)
    c.showPage()
    c.save()
    return buf.getvalue()


# --- ZPL II ---------------------------------------------------------------------------------

DOTS_W, DOTS_H = 812, 1218  # 4x6 in at 203 dpi (8 dots/mm)
_ZM = 24  # margin in dots (3 mm)
# ZPL font 0 is proportional and printers do not report its metrics; 0.6 x height per character
# over-estimates ordinary text, so a line judged to fit does fit.
_ZPL_CHAR_W = 0.6


def _zpl_text(text: str) -> str:
    """Field data for a ^FH_ field. "^" and "~" start commands anywhere in the stream, even inside
    ^FD, and "_" is ^FH's own escape introducer, so all three are written as _XX hex bytes. Control
    characters are dropped. Everything else passes through as UTF-8 (the label sets ^CI28)."""
    out = []
    for ch in text:
        if ch in "^~_":
            out.append(f"_{ord(ch):02X}")
        elif unicodedata.category(ch) != "Cc":
            out.append(ch)
    return "".join(out)


def _zpl_field(x: int, y: int, text: str, height: int, max_width: int) -> str:
    text, height = _fit(text, height, 18, max_width, lambda t, h: len(t) * h * _ZPL_CHAR_W)
    h = int(height)
    return f"^FO{x},{y}^A0N,{h},{h}^FH_^FD{_zpl_text(text)}^FS"


def zpl_barcode_module(tracking_number: str) -> int:
    """Module width in dots for the ZPL barcode. ^BC in mode N encodes our data (letters and
    digits, no ">") in subset B, 11 modules per character plus start, check digit and stop
    (35), so the symbol's width is known before printing and it can be centred."""
    modules = 11 * len(tracking_number) + 35 + 2 * _QUIET_MODULES
    for dots in (4, 3, 2):  # 2 dots at 203 dpi is 9.8 mil, the smallest we accept
        if modules * dots <= DOTS_W - 2 * _ZM:
            return dots
    raise InvalidInput(f"tracking number {tracking_number!r} is too long to print scannably on a 4x6 label")


def label_zpl(data: LabelData) -> str:
    """One ZPL II format, ^XA ... ^XZ, one command or field per line. The label sets the printer
    state it depends on (width, length, home, orientation, encoding) because that state outlives
    a format: a previous job's ^POI or ^LH would otherwise rotate or shift this one."""
    width = DOTS_W - 2 * _ZM
    out = ["^XA", f"^PW{DOTS_W}", f"^LL{DOTS_H}", "^LH0,0", "^PON", "^LRN", "^FWN", "^CI28"]

    def rule(y: int, thickness: int = 4) -> None:
        out.append(f"^FO{_ZM},{y}^GB{width},{thickness},{thickness}^FS")

    out.append(_zpl_field(_ZM, _ZM, "FROM:", 20, 470))
    y = _ZM + 26
    for text in (data.ship_from_name, *_block(data.ship_from_lines, 4)):
        out.append(_zpl_field(_ZM, y, text, 24, 470))
        y += 28
    out.append(_zpl_field(510, _ZM, package_text(data), 30, DOTS_W - _ZM - 510))
    out.append(_zpl_field(510, _ZM + 44, weight_text(data.weight_g), 22, DOTS_W - _ZM - 510))
    rule(214)

    out.append(_zpl_field(_ZM, 234, "SHIP TO:", 24, width))
    out.append(_zpl_field(_ZM + 40, 270, data.ship_to_name, 48, width - 40))
    y = 328
    for text in _block(data.ship_to_lines, 5):
        out.append(_zpl_field(_ZM + 40, y, text, 40, width - 40))
        y += 46
    rule(580)

    service_w = width
    if data.fragile:
        # a filled box with the word printed in reverse (^FR), as the Labelary sample does
        out.append(f"^FO{DOTS_W - _ZM - 260},600^GB260,70,70^FS")
        out.append(f"^FO{DOTS_W - _ZM - 240},612^FR^A0N,50,50^FDFRAGILE^FS")
        service_w -= 280
    out.append(_zpl_field(_ZM, 612, f"{data.carrier_name} {data.service_name}".upper(), 50, service_w))
    rule(690, 8)

    out.append(_zpl_field(_ZM, 716, "TRACKING #", 24, width))
    module = zpl_barcode_module(data.tracking_number)
    bars_w = (11 * len(data.tracking_number) + 35) * module
    out.append(f"^BY{module},3,200")
    # mode N, no printed interpretation line: the number is printed below as ordinary text
    out.append(f"^FO{(DOTS_W - bars_w) // 2},750^BCN,200,N,N,N,N^FD{data.tracking_number}^FS")
    out.append(f"^FO0,965^FB{DOTS_W},1,0,C^A0N,40,40^FD{data.tracking_number}^FS")
    rule(1030, 8)

    out.append(_zpl_field(_ZM, 1060, f"Order: {data.order_number}", 40, width))
    out.append("^XZ")
    return "\n".join(out) + "\n"
