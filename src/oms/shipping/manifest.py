"""The end-of-day manifest: the sheet a driver signs when collecting one warehouse's parcels for one
carrier, and the same list as CSV for the carrier's systems. Pure rendering: the caller loads the
day's shipments and passes a ManifestData; out come CSV text or PDF bytes.

The PDF is US Letter portrait: a header repeated on every page (carrier, warehouse, day, when the
manifest was generated, "Page n of m"), the pickup address on the first page, a numbered table of
shipments that flows onto further pages with its column titles repeated, then the totals and the
driver's and shipper's signature lines after the last row. The CSV carries rows only, no totals:
a machine reads it, and a totals line would read as one more shipment.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from oms.errors import InvalidInput
from oms.money import check_amount, currency_exponent, to_currency
from oms.shipping.documents import BOLD, FONT, LEAD, PAGE_H, PAGE_W, SIZE, format_money, paginate
from oms.shipping.documents import draw_text as _text
from oms.shipping.labels import _block, _fit, _pdf_text


@dataclass(frozen=True, slots=True)
class ManifestRow:
    """One shipment handed over: its packages travel under one tracking number."""

    tracking_number: str
    order_number: str
    service_name: str
    packages: int
    weight_g: int  # all of the shipment's packages together
    ship_to_name: str
    ship_to_city: str
    ship_to_region: str | None
    ship_to_postal_code: str
    ship_to_country: str
    cost: Decimal
    currency: str

    def __post_init__(self) -> None:
        if not self.tracking_number.strip() or not self.order_number.strip():
            raise InvalidInput("a manifest row needs a tracking number and an order number")
        what = f"shipment {self.tracking_number}"
        for name, least in (("packages", 1), ("weight_g", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise InvalidInput(f"{what}: {name} must be a whole number of {least} or more, got {value!r}")
        currency_exponent(self.currency)  # refuses codes that are not ISO 4217 money
        object.__setattr__(self, "currency", self.currency.upper())
        # Fixed-point only: a float cost would print its binary rounding error.
        if isinstance(self.cost, bool) or not isinstance(self.cost, Decimal | int):
            raise InvalidInput(f"{what}: cost must be a Decimal, got {self.cost!r}", code="invalid_amount")
        cost = Decimal(self.cost)
        if not cost.is_finite() or cost < 0:
            raise InvalidInput(f"{what}: cost must be zero or more, got {cost}", code="invalid_amount")
        object.__setattr__(self, "cost", check_amount(cost, self.currency, f"{what} cost"))


@dataclass(frozen=True, slots=True, kw_only=True)
class ManifestData:
    carrier_code: str
    carrier_name: str
    warehouse_code: str
    warehouse_name: str
    warehouse_lines: Sequence[str]  # the pickup address, printed as given
    day: date
    generated_at: datetime  # aware; printed in its own time zone
    rows: Sequence[ManifestRow]  # printed in the order given

    def __post_init__(self) -> None:
        # Tuples, so a caller's list changed later cannot change a manifest already described.
        object.__setattr__(self, "warehouse_lines", tuple(self.warehouse_lines))
        object.__setattr__(self, "rows", tuple(self.rows))
        for name in ("carrier_code", "carrier_name", "warehouse_code", "warehouse_name"):
            if not getattr(self, name).strip():
                raise InvalidInput(f"a manifest needs a {name.replace('_', ' ')}")
        if isinstance(self.day, datetime) or not isinstance(self.day, date):
            raise InvalidInput(f"the manifest day must be a date, got {self.day!r}")
        if not isinstance(self.generated_at, datetime) or self.generated_at.utcoffset() is None:
            raise InvalidInput(f"generated_at must be a datetime with a time zone, got {self.generated_at!r}")
        if not all(isinstance(row, ManifestRow) for row in self.rows):
            raise InvalidInput("every manifest row must be a ManifestRow")
        seen: set[str] = set()
        for row in self.rows:
            # The driver would count one parcel twice and miss it on the truck.
            if row.tracking_number in seen:
                raise InvalidInput(f"shipment {row.tracking_number} is listed twice", code="duplicate_shipment")
            seen.add(row.tracking_number)


def total_packages(data: ManifestData) -> int:
    return sum(row.packages for row in data.rows)


def total_weight_g(data: ManifestData) -> int:
    return sum(row.weight_g for row in data.rows)


def total_cost(data: ManifestData) -> dict[str, Decimal]:
    """Per currency, in code order: costs in different currencies are never added."""
    totals: dict[str, Decimal] = {}
    for row in data.rows:
        totals[row.currency] = totals.get(row.currency, Decimal(0)) + row.cost
    return dict(sorted(totals.items()))


def _kg(weight_g: int, *, grouped: bool = False) -> str:
    kg = Decimal(weight_g).scaleb(-3)  # exact: grams are whole
    return f"{kg:,.3f}" if grouped else f"{kg:.3f}"


# --- CSV -------------------------------------------------------------------------------------------

# Carrier, warehouse and day on every row, so files concatenated on the carrier's side stay readable.
CSV_COLUMNS = (
    "manifest_date",
    "carrier",
    "warehouse",
    "tracking_number",
    "order_number",
    "service",
    "packages",
    "weight_g",
    "weight_kg",
    "ship_to_name",
    "ship_to_city",
    "ship_to_region",
    "ship_to_postal_code",
    "ship_to_country",
    "cost",
    "currency",
)


def manifest_csv(data: ManifestData) -> str:
    """RFC 4180 (CRLF line ends, fields quoted when needed): a header row, then one row per shipment.
    Values are as stored, not escaped for spreadsheets: a carrier's import reads them literally."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in data.rows:
        writer.writerow(
            (
                data.day.isoformat(),
                data.carrier_code,
                data.warehouse_code,
                row.tracking_number,
                row.order_number,
                row.service_name,
                row.packages,
                row.weight_g,
                _kg(row.weight_g),
                row.ship_to_name,
                row.ship_to_city,
                row.ship_to_region or "",
                row.ship_to_postal_code,
                row.ship_to_country,
                str(to_currency(row.cost, row.currency)),  # plain: no grouping, no currency sign
                row.currency,
            )
        )
    return buf.getvalue()


# --- PDF layout ------------------------------------------------------------------------------------

_M = 36.0  # half-inch margins, as the packing slip and invoice
_W = PAGE_W - 2 * _M
_FONT, _BOLD, _SIZE, _LEAD = FONT, BOLD, SIZE, LEAD
_ROW_PAD = 5.0
_COL_HEAD = 18.0
_GAP = 6.0
_BOTTOM = _M + 18  # the table stops here; "Continued on page n" sits below
_ADDRESS_LINES = 5
_SIGN_ROW = 30.0


@dataclass(frozen=True, slots=True)
class _Col:
    title: str
    width: float
    right: bool = False


_COLUMNS = (
    _Col("#", 24),
    _Col("Tracking number", 112),
    _Col("Order", 70),
    _Col("Service", 68),
    _Col("Ship to", 114),
    _Col("Pkgs", 30, right=True),
    _Col("Weight (kg)", 58, right=True),
    _Col("Cost", 64, right=True),
)
# The widths add up to the page between the margins (540 pt).

Cell = tuple[str, ...]  # the printed lines of one cell


def _measure(text: str, size: float, font: str = _FONT) -> float:
    return stringWidth(text, font, size)


def _cut(text: str, width: float) -> str:
    """One line that fits, shrunk no further than the table's size and cut with a visible "..."."""
    return _fit(_pdf_text(text), _SIZE, _SIZE, width, _measure)[0]


def _hard_wrap(text: str, width: float) -> Cell:
    """Identifiers are never cut: a number the driver cannot read in full is no use. Too long for
    the column, they break between characters onto further lines."""
    text = _pdf_text(text)
    lines = [""]
    for ch in text:
        if lines[-1] and _measure(lines[-1] + ch, _SIZE) > width:
            lines.append("")
        lines[-1] += ch
    return tuple(lines)


def _word_wrap(text: str, width: float, max_lines: int) -> Cell:
    lines = simpleSplit(_pdf_text(text), _FONT, _SIZE, width) or [""]
    if len(lines) > max_lines:
        lines = [*lines[: max_lines - 1], " ".join(lines[max_lines - 1 :])]
    return tuple(_cut(line, width) for line in lines)


def _place(row: ManifestRow) -> str:
    region = f", {row.ship_to_region}" if row.ship_to_region and row.ship_to_region.strip() else ""
    return f"{row.ship_to_city}{region} {row.ship_to_postal_code}, {row.ship_to_country}"


def _cells(n: int, row: ManifestRow) -> tuple[Cell, ...]:
    room = [col.width - _GAP for col in _COLUMNS]
    return (
        (str(n),),
        _hard_wrap(row.tracking_number, room[1]),
        _hard_wrap(row.order_number, room[2]),
        _word_wrap(row.service_name, room[3], 3),
        (_cut(row.ship_to_name, room[4]), *_word_wrap(_place(row), room[4], 2)),
        (str(row.packages),),
        (_kg(row.weight_g, grouped=True),),
        (format_money(row.cost, row.currency),),
    )


def _height(cells: Sequence[Cell]) -> float:
    return max(len(cell) for cell in cells) * _LEAD + _ROW_PAD


def _generated(at: datetime) -> str:
    zone = at.tzname() or at.strftime("%z")
    return f"{at:%Y-%m-%d %H:%M} {zone}"


def _totals(data: ManifestData) -> list[tuple[str, str]]:
    costs = total_cost(data)
    lines = [
        ("Shipments", str(len(data.rows))),
        ("Packages", f"{total_packages(data):,}"),
        ("Total weight", f"{_kg(total_weight_g(data), grouped=True)} kg"),
    ]
    lines += [("Total cost", format_money(amount, currency)) for currency, amount in costs.items()]
    return lines if costs else [*lines, ("Total cost", "none")]


def manifest_pdf(data: ManifestData) -> bytes:
    """The sheet the driver signs; see the module docstring for its layout."""
    facts = (
        f"{data.carrier_name} ({data.carrier_code})",
        f"Warehouse {data.warehouse_name} ({data.warehouse_code})",
        f"Date {data.day.isoformat()}",
        f"Generated {_generated(data.generated_at)}",
    )
    address = _block(data.warehouse_lines, _ADDRESS_LINES)  # lines past the room join the last
    rows = [_cells(n, row) for n, row in enumerate(data.rows, start=1)]
    totals = _totals(data)

    header_h = 4 + (len(facts) + 1) * _LEAD + 10
    pickup_h = 8 + 10 + 13 + len(address) * _LEAD + 14
    empty_h = 0.0 if rows else _LEAD + _ROW_PAD  # the "no shipments" line
    tail_h = 8 + len(totals) * 14 + 24 + 16 + 4 * _SIGN_ROW + empty_h
    table_top = PAGE_H - _M - header_h
    first_room = table_top - pickup_h - _COL_HEAD - _BOTTOM
    pages = paginate([_height(r) for r in rows], first_room, table_top - _COL_HEAD - _BOTTOM, tail_h)

    buf = io.BytesIO()
    # invariant: no timestamp or random id, so the same manifest gives the same bytes
    c = Canvas(buf, pagesize=(PAGE_W, PAGE_H), invariant=1)
    c.setTitle(f"Manifest {data.carrier_code} {data.warehouse_code} {data.day.isoformat()}")
    c.setCreator("oms")
    for page_no, indices in enumerate(pages, start=1):
        _header(c, facts, header_h, f"Page {page_no} of {len(pages)}")
        y = table_top
        if page_no == 1:
            _pickup(c, data, address, y)
            y -= pickup_h
        if indices or not rows:
            y = _table(c, rows, indices, y)
        if page_no == len(pages):
            _tail(c, data, totals, y)
        else:
            c.setFont(_FONT, 8)
            c.drawCentredString(PAGE_W / 2, _M, f"Continued on page {page_no + 1}")
        c.showPage()
    c.save()
    return buf.getvalue()


def _header(c: Canvas, facts: Sequence[str], height: float, page_text: str) -> None:
    top = PAGE_H - _M
    _text(c, _M, top - 20, "END-OF-DAY MANIFEST", _BOLD, 18, width=_W / 2)
    for i, fact in enumerate((*facts, page_text)):
        _text(c, PAGE_W - _M, top - 9 - i * _LEAD, fact, _BOLD if i == 0 else _FONT, width=_W / 2 - 10, right=True)
    c.setLineWidth(1.2)
    c.line(_M, top - height + 4, PAGE_W - _M, top - height + 4)


def _pickup(c: Canvas, data: ManifestData, address: Sequence[str], y: float) -> None:
    half = _W / 2
    _text(c, _M, y - 16, "COLLECT FROM", _BOLD, 8, width=half - 12)
    _text(c, _M, y - 29, data.warehouse_name, _BOLD, 10, width=half - 12)
    for j, line in enumerate(address):
        _text(c, _M, y - 29 - (j + 1) * _LEAD, line, width=half - 12)
    _text(c, _M + half, y - 16, "CARRIER", _BOLD, 8, width=half - 12)
    _text(c, _M + half, y - 29, data.carrier_name, _BOLD, 10, width=half - 12)
    _text(c, _M + half, y - 29 - _LEAD, f"Carrier code {data.carrier_code}", width=half - 12)


def _table(c: Canvas, rows: Sequence[Sequence[Cell]], indices: Sequence[int], y: float) -> float:
    xs = [_M + sum(col.width for col in _COLUMNS[:i]) for i in range(len(_COLUMNS))]

    def cell(i: int, y: float, text: str, font: str) -> None:
        col = _COLUMNS[i]
        # Cells arrive fitted; _text only guards the column titles.
        if col.right:
            _text(c, xs[i] + col.width, y, text, font, width=col.width - _GAP, right=True)
        else:
            _text(c, xs[i], y, text, font, width=col.width - _GAP)

    for i, col in enumerate(_COLUMNS):
        cell(i, y - 12, col.title, _BOLD)
    y -= _COL_HEAD
    c.setLineWidth(0.8)
    c.line(_M, y + 2, PAGE_W - _M, y + 2)
    c.setStrokeGray(0.75)
    c.setLineWidth(0.4)
    if not rows:
        _text(c, _M, y - 9, "No shipments for this carrier today.", width=_W)
        y -= _LEAD + _ROW_PAD
    for index in indices:
        cells = rows[index]
        # Line by line across the row, so the text reads (and extracts) one shipment at a time.
        for j in range(max(len(lines) for lines in cells)):
            for i, lines in enumerate(cells):
                if j < len(lines):
                    cell(i, y - 9 - j * _LEAD, lines[j], _FONT)
        y -= _height(rows[index])
        c.line(_M, y + 2, PAGE_W - _M, y + 2)
    c.setStrokeGray(0)
    return y


def _tail(c: Canvas, data: ManifestData, totals: Sequence[tuple[str, str]], y: float) -> None:
    y -= 8
    for label, value in totals:
        y -= 14
        _text(c, PAGE_W - _M - 130, y, label, _BOLD, width=150, right=True)
        _text(c, PAGE_W - _M, y, value, _BOLD, width=120, right=True)
    y -= 24
    half = _W / 2
    blocks = (
        (f"DRIVER ({data.carrier_name})", ("Packages counted", "Name", "Signature", "Date and time")),
        (f"SHIPPER ({data.warehouse_name})", ("Packages handed over", "Name", "Signature", "Date and time")),
    )
    c.setLineWidth(0.6)
    for k, (caption, fields) in enumerate(blocks):
        x = _M + k * half
        _text(c, x, y, caption, _BOLD, 8, width=half - 24)
        for j, field in enumerate(fields):
            line_y = y - 16 - (j + 1) * _SIGN_ROW + 10
            _text(c, x, line_y + 3, field, width=100)
            c.line(x + 105, line_y, x + half - 24, line_y)  # written on by hand
