"""Packing slips and invoices as PDF. Pure rendering: the caller loads the order (for a packing
slip, only the lines in that package) and passes a DocumentData; out come PDF bytes.

Both documents are US Letter portrait and share one layout: a header repeated on every page (title,
numbers, dates, "Page n of m"), the parties on the first page, a table of lines that flows onto
further pages with its column titles repeated, then a closing block after the last line (the
invoice's totals, the packing slip's quantity) and the notes. The packing slip carries no prices and
no billing address: it travels in the box, often as a gift.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from reportlab.lib.pagesizes import LETTER
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from oms.errors import InvalidInput
from oms.money import check_amount, currency_exponent
from oms.shipping.labels import _block, _fit, _pdf_text

# Fixed-point amounts only: a float price would print its binary rounding error.
_MONEY_TYPES = (Decimal, int)


def _amount(value: object, currency: str, what: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, _MONEY_TYPES):
        raise InvalidInput(f"{what} must be a Decimal, got {value!r}", code="invalid_amount")
    amount = Decimal(value)
    if not amount.is_finite() or amount < 0:
        raise InvalidInput(f"{what} must be a finite amount of zero or more, got {amount}", code="invalid_amount")
    return check_amount(amount, currency, what)


@dataclass(frozen=True, slots=True)
class DocumentLine:
    sku: str
    name: str
    quantity: int
    unit_price: Decimal

    def __post_init__(self) -> None:
        if not self.sku.strip():
            raise InvalidInput("a document line needs a SKU")
        if isinstance(self.quantity, bool) or not isinstance(self.quantity, int) or self.quantity < 1:
            raise InvalidInput(
                f"line {self.sku!r}: quantity must be a whole number of 1 or more, got {self.quantity!r}"
            )

    @property
    def line_total(self) -> Decimal:
        return self.quantity * self.unit_price


@dataclass(frozen=True, slots=True, kw_only=True)
class DocumentData:
    """What a packing slip or invoice shows. Address lines are printed as given, in order. Amounts
    are Decimals in ``currency`` with no more places than its minor unit; the totals are checked
    against the lines only by ``invoice_pdf`` (a packing slip may cover one package of several)."""

    order_number: str
    order_date: date
    currency: str
    seller_name: str
    seller_lines: Sequence[str]
    bill_to_name: str
    bill_to_lines: Sequence[str]
    ship_to_name: str
    ship_to_lines: Sequence[str]
    lines: Sequence[DocumentLine]
    shipping_total: Decimal
    tax_total: Decimal
    discount_total: Decimal
    total: Decimal
    paid_amount: Decimal
    package_label: str | None = None  # printed as given, e.g. "Package 1 of 2"
    invoice_number: str | None = None
    notes: str | None = None
    invoice_date: date | None = None  # the day the invoice is issued; the order date if not given

    def __post_init__(self) -> None:
        # Tuples, so a caller's list changed later cannot change a document already described.
        for name in ("seller_lines", "bill_to_lines", "ship_to_lines", "lines"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        currency_exponent(self.currency)  # refuses codes that are not ISO 4217 money
        object.__setattr__(self, "currency", self.currency.upper())
        if not self.order_number.strip() or not self.ship_to_name.strip():
            raise InvalidInput("a document needs an order number and a recipient")
        if not isinstance(self.order_date, date):
            raise InvalidInput(f"order date must be a date, got {self.order_date!r}")
        if not self.lines or not all(isinstance(line, DocumentLine) for line in self.lines):
            raise InvalidInput("a document needs at least one line, each a DocumentLine")
        for line in self.lines:
            _amount(line.unit_price, self.currency, f"line {line.sku!r} unit price")
        for name in ("shipping_total", "tax_total", "discount_total", "total", "paid_amount"):
            object.__setattr__(self, name, _amount(getattr(self, name), self.currency, name.replace("_", " ")))


def subtotal(data: DocumentData) -> Decimal:
    return sum((line.line_total for line in data.lines), Decimal(0))


def check_totals(data: DocumentData) -> None:
    """The order's own rule (oms.orders.rules.compute_total): lines - discount + shipping + tax."""
    expected = subtotal(data) - data.discount_total + data.shipping_total + data.tax_total
    if expected != data.total:
        raise InvalidInput(
            f"total {data.total} does not equal subtotal {subtotal(data)} - discount {data.discount_total}"
            f" + shipping {data.shipping_total} + tax {data.tax_total} = {expected}",
            code="totals_mismatch",
        )


def format_money(value: Decimal, currency: str, *, code: bool = True) -> str:
    """Grouped thousands and the currency's minor units: USD 1,234.50, JPY 1,200, KWD 12.345."""
    exponent = currency_exponent(currency)
    value = value.quantize(Decimal(1).scaleb(-exponent))
    if value == 0:
        value = abs(value)  # no "-0.00"
    text = f"{value:,.{exponent}f}"
    return f"{currency.upper()} {text}" if code else text


# --- layout ---------------------------------------------------------------------------------

PAGE_W, PAGE_H = LETTER  # 612 x 792 pt, portrait
_M = 36.0  # half-inch margins: every office printer reaches that far
_W = PAGE_W - 2 * _M
# Shared with the manifest (oms.shipping.manifest), so every document oms prints looks alike.
FONT, BOLD = "Helvetica", "Helvetica-Bold"
SIZE, LEAD = 9.0, 11.0
_FONT, _BOLD, _SIZE, _LEAD = FONT, BOLD, SIZE, LEAD
_ROW_PAD = 5.0
_COL_HEAD = 18.0
_GAP = 6.0  # between table columns
_BOTTOM = _M + 18  # the table stops here; the footer sits below
_NAME_LINES = 3  # a product name wraps onto at most this many lines, then is cut with "..."
_NOTE_LINES = 12


@dataclass(frozen=True, slots=True)
class _Col:
    title: str
    width: float
    right: bool = False
    wraps: bool = False


Row = tuple[tuple[str, ...], ...]  # one tuple of printed lines per column


def _wrap(text: str, width: float, max_lines: int) -> tuple[str, ...]:
    """Word-wrapped lines; the remainder of a text longer than ``max_lines`` goes onto the last
    line, which is cut with a visible "..." like any line too wide for its column."""
    lines = simpleSplit(_pdf_text(text), _FONT, _SIZE, width) or [""]
    if len(lines) > max_lines:
        lines = [*lines[: max_lines - 1], " ".join(lines[max_lines - 1 :])]
    return tuple(_fit(line, _SIZE, _SIZE, width, lambda t, s: stringWidth(t, _FONT, s))[0] for line in lines)


def _row_height(row: Row) -> float:
    return max(len(cell) for cell in row) * _LEAD + _ROW_PAD


def paginate(heights: Sequence[float], first_room: float, next_room: float, tail: float) -> list[list[int]]:
    """Row indices per page. Rows fill the first page's room, then each further page's; the tail
    (totals, notes) follows the last row, on a page of its own if it does not fit after it."""
    pages: list[list[int]] = [[]]
    room = first_room
    for i, height in enumerate(heights):
        if height > room and pages[-1]:
            pages.append([])
            room = next_room
        pages[-1].append(i)
        room -= height
    if tail > room:
        pages.append([])
    return pages


def draw_text(
    c: Canvas,
    x: float,
    y: float,
    text: str,
    font: str = _FONT,
    size: float = _SIZE,
    *,
    width: float,
    right: bool = False,
) -> None:
    """One line that never leaves its box: shrunk down to 6 pt, then cut with "..."."""
    text, size = _fit(_pdf_text(text), size, min(size, 6), width, lambda t, s: stringWidth(t, font, s))
    c.setFont(font, size)
    if right:
        c.drawRightString(x, y, text)
    else:
        c.drawString(x, y, text)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Layout:
    title: str
    pdf_title: str
    facts: tuple[str, ...]  # right of the title on every page
    parties: tuple[tuple[str, str, tuple[str, ...]], ...]  # (caption, name, lines), first page only
    columns: tuple[_Col, ...]
    rows: tuple[Row, ...]
    tail: tuple[tuple[str, str, bool], ...]  # (label, value, bold) under the table, right-aligned
    notes: tuple[str, ...]


def _cell_lines(col: _Col, text: str) -> tuple[str, ...]:
    return _wrap(text, col.width - _GAP, _NAME_LINES) if col.wraps else (text,)


def _render(layout: _Layout) -> bytes:
    header_h = max(28.0, 4 + (len(layout.facts) + 1) * _LEAD) + 10
    party_lines = max(len(lines) for _, _, lines in layout.parties)
    parties_h = 8 + 10 + 13 + party_lines * _LEAD + 14
    tail_h = len(layout.tail) * 14 + 10 + (18 + len(layout.notes) * _LEAD if layout.notes else 0)
    table_top = PAGE_H - _M - header_h
    first_room = table_top - parties_h - _COL_HEAD - _BOTTOM
    pages = paginate([_row_height(r) for r in layout.rows], first_room, table_top - _COL_HEAD - _BOTTOM, tail_h)

    buf = io.BytesIO()
    # invariant: no timestamp or random id, so the same document gives the same bytes
    c = Canvas(buf, pagesize=(PAGE_W, PAGE_H), invariant=1)
    c.setTitle(layout.pdf_title)
    c.setCreator("oms")
    for page_no, indices in enumerate(pages, start=1):
        _header(c, layout, header_h, f"Page {page_no} of {len(pages)}")
        y = table_top
        if page_no == 1:
            _parties(c, layout, y)
            y -= parties_h
        if indices:
            y = _table(c, layout, y, indices)
        if page_no == len(pages):
            _tail(c, layout, y)
        else:
            c.setFont(_FONT, 8)
            c.drawCentredString(PAGE_W / 2, _M, f"Continued on page {page_no + 1}")
        c.showPage()
    c.save()
    return buf.getvalue()


def _header(c: Canvas, layout: _Layout, height: float, page_text: str) -> None:
    top = PAGE_H - _M
    draw_text(c, _M, top - 20, layout.title, _BOLD, 20, width=_W / 2)
    for i, fact in enumerate((*layout.facts, page_text)):
        font = _BOLD if i == 0 else _FONT
        draw_text(c, PAGE_W - _M, top - 9 - i * _LEAD, fact, font, _SIZE, width=_W / 2 - 10, right=True)
    c.setLineWidth(1.2)
    c.line(_M, top - height + 4, PAGE_W - _M, top - height + 4)


def _parties(c: Canvas, layout: _Layout, y: float) -> None:
    width = _W / len(layout.parties)
    for i, (caption, name, lines) in enumerate(layout.parties):
        x = _M + i * width
        draw_text(c, x, y - 16, caption, _BOLD, 8, width=width - 12)
        draw_text(c, x, y - 29, name, _BOLD, 10, width=width - 12)
        for j, line in enumerate(lines):
            draw_text(c, x, y - 29 - (j + 1) * _LEAD, line, width=width - 12)


def _table(c: Canvas, layout: _Layout, y: float, indices: Sequence[int]) -> float:
    xs = [_M + sum(col.width for col in layout.columns[:i]) for i in range(len(layout.columns))]

    def cell(i: int, y: float, text: str, font: str) -> None:
        col = layout.columns[i]
        if col.right:
            draw_text(c, xs[i] + col.width, y, text, font, _SIZE, width=col.width - _GAP, right=True)
        else:
            draw_text(c, xs[i], y, text, font, _SIZE, width=col.width - _GAP)

    for i, col in enumerate(layout.columns):
        cell(i, y - 12, col.title, _BOLD)
    y -= _COL_HEAD
    c.setLineWidth(0.8)
    c.line(_M, y + 2, PAGE_W - _M, y + 2)
    c.setStrokeGray(0.75)
    c.setLineWidth(0.4)
    for index in indices:
        row = layout.rows[index]
        for i, lines in enumerate(row):
            for j, line in enumerate(lines):
                cell(i, y - 9 - j * _LEAD, line, _FONT)
        y -= _row_height(row)
        c.line(_M, y + 2, PAGE_W - _M, y + 2)
    c.setStrokeGray(0)
    return y


def _tail(c: Canvas, layout: _Layout, y: float) -> None:
    y -= 8
    for label, value, bold in layout.tail:
        y -= 14
        font = _BOLD if bold else _FONT
        draw_text(c, PAGE_W - _M - 130, y, label, font, _SIZE, width=150, right=True)
        draw_text(c, PAGE_W - _M, y, value, font, _SIZE, width=120, right=True)
    if layout.notes:
        y -= 22
        draw_text(c, _M, y, "Notes", _BOLD, 8, width=_W)
        for line in layout.notes:
            y -= _LEAD
            draw_text(c, _M, y, line, width=_W)


def _notes(notes: str | None) -> tuple[str, ...]:
    if not notes or not notes.strip():
        return ()
    lines: list[str] = []
    for paragraph in notes.strip().splitlines():
        lines.extend(simpleSplit(_pdf_text(paragraph), _FONT, _SIZE, _W) or [""])
    if len(lines) > _NOTE_LINES:
        lines = [*lines[: _NOTE_LINES - 1], " ".join(lines[_NOTE_LINES - 1 :])]  # cut with "..." when drawn
    return tuple(lines)


def _party(caption: str, name: str, lines: Sequence[str]) -> tuple[str, str, tuple[str, ...]]:
    return caption, name, tuple(_block(lines, 6))


def _rows(columns: Sequence[_Col], values: Sequence[Sequence[str]]) -> tuple[Row, ...]:
    return tuple(tuple(_cell_lines(col, text) for col, text in zip(columns, row, strict=True)) for row in values)


# --- the two documents ----------------------------------------------------------------------


def packing_slip_pdf(data: DocumentData) -> bytes:
    """Order number and date, package n of m if given, ship-to and the seller as return address,
    then SKU / item / quantity for each line. No prices."""
    columns = (_Col("SKU", 130), _Col("Item", 340, wraps=True), _Col("Quantity", 70, right=True))
    facts = (f"Order {data.order_number}", f"Order date {data.order_date.isoformat()}")
    if data.package_label and data.package_label.strip():
        facts += (data.package_label,)
    units = sum(line.quantity for line in data.lines)
    layout = _Layout(
        title="PACKING SLIP",
        pdf_title=f"Packing slip {data.order_number}",
        facts=facts,
        parties=(
            _party("SHIP TO", data.ship_to_name, data.ship_to_lines),
            _party("FROM", data.seller_name, data.seller_lines),
        ),
        columns=columns,
        rows=_rows(columns, [(line.sku, line.name, str(line.quantity)) for line in data.lines]),
        tail=(("Total quantity", str(units), True),),
        notes=_notes(data.notes),
    )
    return _render(layout)


def invoice_pdf(data: DocumentData) -> bytes:
    """Invoice number and date, seller, bill-to and ship-to, each line's quantity, unit price and
    amount, then subtotal, discount, shipping, tax, total, paid and balance due. Refuses totals that
    do not add up: an invoice is a claim for money and must be right or not exist."""
    if not data.invoice_number or not data.invoice_number.strip():
        raise InvalidInput("an invoice needs an invoice number", code="missing_invoice_number")
    check_totals(data)
    cur = data.currency
    columns = (
        _Col("SKU", 110),
        _Col("Item", 210, wraps=True),
        _Col("Quantity", 60, right=True),
        _Col(f"Unit price ({cur})", 80, right=True),
        _Col(f"Amount ({cur})", 80, right=True),
    )
    rows = [
        (
            line.sku,
            line.name,
            str(line.quantity),
            format_money(line.unit_price, cur, code=False),
            format_money(line.line_total, cur, code=False),
        )
        for line in data.lines
    ]
    issued = data.invoice_date or data.order_date

    def money(value: Decimal) -> str:
        return format_money(value, cur)

    layout = _Layout(
        title="INVOICE",
        pdf_title=f"Invoice {data.invoice_number}",
        facts=(
            f"Invoice {data.invoice_number}",
            f"Invoice date {issued.isoformat()}",
            f"Order {data.order_number}",
            f"Order date {data.order_date.isoformat()}",
        ),
        parties=(
            _party("SELLER", data.seller_name, data.seller_lines),
            _party("BILL TO", data.bill_to_name, data.bill_to_lines),
            _party("SHIP TO", data.ship_to_name, data.ship_to_lines),
        ),
        columns=columns,
        rows=_rows(columns, rows),
        tail=(
            ("Subtotal", money(subtotal(data)), False),
            ("Discount", money(-data.discount_total), False),
            ("Shipping", money(data.shipping_total), False),
            ("Tax", money(data.tax_total), False),
            ("Total", money(data.total), True),
            ("Paid", money(data.paid_amount), False),
            ("Balance due", money(data.total - data.paid_amount), True),
        ),
        notes=_notes(data.notes),
    )
    return _render(layout)
