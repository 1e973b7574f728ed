"""Rendering customer emails from templates: a subject, a plain-text body and an HTML body per kind.

Templates live in ``templates/email/``: ``<kind>.subject.txt``, ``<kind>.txt`` and ``<kind>.html``
(which extends ``base.html``). HTML is autoescaped (a customer's name is data, never markup) and
every variable must be given: a template that names a missing one fails loudly instead of
mailing a blank (``StrictUndefined``). Pure: no database, no settings.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import jinja2

from oms.errors import InvalidInput
from oms.money import to_currency

TEMPLATES = Path(__file__).parent / "templates" / "email"

# Every kind oms sends, and the context its templates need: ``order`` is ``order_context(...)``; the
# rest is described in docs/notifications.md.
KINDS: dict[str, tuple[str, ...]] = {
    "order_confirmation": ("order",),
    "shipped": ("order", "shipment"),
    "out_for_delivery": ("order", "tracking"),
    "delivered": ("order", "tracking"),
    "delivery_problem": ("order", "tracking"),  # tracking.code: delayed | delivery_attempted | exception
    "feedback_request": ("order", "link"),  # and optionally expires_at
    "return_requested": ("order", "rma"),
    "return_approved": ("order", "rma"),
    "return_received": ("order", "rma"),
    "refund_issued": ("order", "refund"),
    "exchange_created": ("order", "rma", "exchange"),
}

_BLANK_LINES = re.compile(r"\n[ \t]*(?:\n[ \t]*)+\n")
# Symbols that no other currency shares in a shop's everyday use; the rest show their ISO code.
_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def format_money(amount: Decimal | int | str, currency: str) -> str:
    """``$1,234.50``, ``€9.90``, ``¥500``, ``CHF 12.00``: the currency's own minor units, grouped
    thousands, the sign in front."""
    value = to_currency(Decimal(str(amount)), currency)
    sign = "-" if value < 0 else ""
    digits = f"{abs(value):,}"
    symbol = _SYMBOLS.get(currency.upper())
    return f"{sign}{symbol}{digits}" if symbol else f"{sign}{currency.upper()} {digits}"


def _as_datetime(value: datetime | date | str) -> datetime | date:
    # Event payloads carry times as ISO strings (they went through JSON).
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def format_date(value: datetime | date | str) -> str:
    """``December 3, 2026``."""
    d = _as_datetime(value)
    return f"{d:%B} {d.day}, {d.year}"


def format_when(value: datetime | date | str) -> str:
    """``December 3, 2026 at 2:05 PM``, in the time zone the value carries: a carrier reports the
    local time of the scan, which is what the customer expects to read."""
    d = _as_datetime(value)
    if not isinstance(d, datetime):
        return format_date(d)
    hour = d.hour % 12 or 12
    return f"{format_date(d)} at {hour}:{d:%M} {'AM' if d.hour < 12 else 'PM'}"


def is_weblink(value: object) -> bool:
    """An http(s) address: the only links an email body carries."""
    return isinstance(value, str) and value.lower().startswith(("https://", "http://"))


@functools.cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["money"] = format_money
    env.filters["date"] = format_date
    env.filters["when"] = format_when
    env.tests["weblink"] = is_weblink
    return env


def render(kind: str, context: dict[str, Any]) -> Rendered:
    """The three parts of the ``kind`` email. ``InvalidInput`` for a kind oms does not send or a
    context without the keys ``KINDS`` names; a deeper value the template needs and ``context``
    lacks raises ``jinja2.UndefinedError``."""
    if kind not in KINDS:
        raise InvalidInput(
            f"there is no email kind {kind!r}; the kinds are {', '.join(KINDS)}", code="unknown_email_kind"
        )
    missing = [name for name in KINDS[kind] if name not in context]
    if missing:
        raise InvalidInput(f"the {kind} email needs {', '.join(missing)} in its context", code="email_context_missing")
    env = _environment()
    # One line, whatever the template or the data hold: a newline in a header would end it.
    subject = " ".join(env.get_template(f"{kind}.subject.txt").render(context).split())
    parts = {**context, "subject": subject}
    # Templates stay readable with blocks and macros on lines of their own; the blank lines they
    # leave behind are folded here, so a plain-text body has at most one blank line in a row.
    text = _BLANK_LINES.sub("\n\n", env.get_template(f"{kind}.txt").render(parts)).strip() + "\n"
    html = env.get_template(f"{kind}.html").render(parts)
    return Rendered(subject=subject, text=text, html=html)
