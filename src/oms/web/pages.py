"""What the public pages (feedback, returns, parcel tracking) share: the headers that keep a signed link in the URL
out of caches, referrers, search engines and frames, and one way to build their templates."""

from __future__ import annotations

from datetime import datetime

import jinja2

# The token in the URL is the visitor's only credential.
PUBLIC_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
    "X-Frame-Options": "DENY",
}


def long_date(value: datetime) -> str:
    return f"{value:%B} {value.day}, {value.year}"


def templates(package: str) -> jinja2.Environment:
    """The templates of ``package`` (its ``templates/`` folder), and the customer pages' shared layout
    (``web/public.html``, here in oms.web): escaped, strict, with ``date``."""
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(
            [jinja2.PackageLoader(package, "templates"), jinja2.PackageLoader("oms.web", "templates")]
        ),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["date"] = long_date
    return env
