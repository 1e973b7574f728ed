"""Schema building blocks shared by every context."""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Generic, TypeVar

import email_validator
import pycountry
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from oms.errors import InvalidInput

T = TypeVar("T")


class Input(BaseModel):
    """Every request body: unknown fields are refused, so nobody sets a price, status or role by
    adding a field the endpoint did not ask for."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Page(Output, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


Code = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")]
Sku = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-/]*$")]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
CurrencyCode = Annotated[str, StringConstraints(min_length=3, max_length=3, to_upper=True)]
# A carrier service level a channel or an order asks for: economy, standard, express, ...
ServiceLevel = Annotated[str, StringConstraints(min_length=1, max_length=16, pattern=r"^[a-z][a-z0-9_]*$")]
Quantity = Annotated[int, Field(gt=0, le=1_000_000)]
Amount = Annotated[Decimal, Field(ge=0, max_digits=16, decimal_places=4, allow_inf_nan=False)]


_EARLIEST, _LATEST = datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)


def _instant(value: datetime) -> datetime:
    """In UTC, and within this century: a date far outside it is a typo, and at the ends of the
    calendar the conversion to UTC would overflow."""
    if not 1999 <= value.year <= 2100:  # checked before converting: years 1 and 9999 overflow
        raise ValueError("the date must fall between 2000 and 2100")
    utc = value.astimezone(UTC)
    if not _EARLIEST <= utc < _LATEST:
        raise ValueError("the date must fall between 2000 and 2100")
    return utc


# A moment with a time zone, kept in UTC (promises, carrier event times, cut-offs).
Instant = Annotated[AwareDatetime, AfterValidator(_instant)]


def _country(value: str) -> str:
    code = value.strip().upper()
    if pycountry.countries.get(alpha_2=code) is None:
        raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code")
    return code


Country = Annotated[str, StringConstraints(min_length=2, max_length=2), AfterValidator(_country)]


# The everyday address (ASCII dot-atom local part, LDH domain labels, a letter TLD) is checked by
# this pattern alone: email_validator takes about a quarter of a millisecond per address, and every
# order carries one. Anything else (international, quoted, unusual) goes to email_validator, which
# also words the refusals. tests/unit/test_email_fast_path.py checks both agree.
_ATOM = r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_PLAIN_EMAIL = re.compile(rf"({_ATOM}(?:\.{_ATOM})*)@((?:{_LABEL}\.)+(?:[a-z0-9][a-z0-9-]{{0,61}})?[a-z])")
_SPECIAL_USE = ("arpa", "invalid", "local", "localhost", "onion")  # email_validator's, less "test"


def _plain_email(value: str) -> str | None:
    lowered = value.lower()
    m = _PLAIN_EMAIL.fullmatch(lowered)
    if m is None or len(m.group(1)) > 64 or len(m.group(2)) > 253 or len(lowered) > 254:
        return None
    domain = m.group(2)
    if any(domain == d or domain.endswith("." + d) for d in _SPECIAL_USE):
        return None
    # Hyphens in a label's third and fourth places are reserved (IDNA: "xn--" Punycode and the
    # like); email_validator refuses them or decodes them, so such an address takes the long road.
    if "--" in domain and any(label[2:4] == "--" for label in domain.split(".")):
        return None
    return lowered


def normalise_email(value: str) -> str:
    """One rule for every email oms stores (users and customers), so a customer's login always
    matches the orders placed with it. Special-use test domains are accepted: shops test too."""
    plain = _plain_email(value)
    if plain is not None:
        return plain
    try:
        checked = email_validator.validate_email(value, check_deliverability=False, test_environment=True)
    except email_validator.EmailNotValidError as exc:
        raise ValueError(f"{value!r} is not an email address: {exc}") from None
    return checked.normalized.lower()


Email = Annotated[str, StringConstraints(max_length=320), AfterValidator(normalise_email)]


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": last_id}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded))["after"]
        if not isinstance(value, int) or not 0 <= value < 2**63:
            raise ValueError
        return value
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise InvalidInput("the cursor is not one this API handed out", code="invalid_cursor") from None


def encode_position(*key: str | int) -> str:
    """A cursor for a list sorted by more than its id: the sort key of the last item handed out."""
    return base64.urlsafe_b64encode(json.dumps({"after": list(key)}).encode()).decode().rstrip("=")


def decode_position(cursor: str | None, kinds: tuple[type, ...]) -> tuple[str | int, ...] | None:
    """The key encode_position wrote, checked part by part against ``kinds`` (str or int)."""
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded))["after"]
        if not isinstance(key, list) or len(key) != len(kinds):
            raise ValueError
        if not all(type(part) is kind for part, kind in zip(key, kinds, strict=True)):
            raise ValueError
        return tuple(key)
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise InvalidInput("the cursor is not one this API handed out", code="invalid_cursor") from None


def keyset(stmt, id_column, cursor: str | None, limit: int, *, newest_first: bool = False):  # type: ignore[no-untyped-def]
    """Keyset pagination by id: stable under inserts, no OFFSET scans. Fetches one extra row so
    ``page_of`` can tell whether there is a next page."""
    last = decode_cursor(cursor)
    if last is not None:
        stmt = stmt.where(id_column < last if newest_first else id_column > last)
    return stmt.order_by(id_column.desc() if newest_first else id_column).limit(limit + 1)


def page_of(items: list[T], limit: int) -> Page[T]:
    """Build a page from up to limit+1 fetched rows: the extra row only tells there is more."""
    more = len(items) > limit
    items = items[:limit]
    next_cursor = encode_cursor(getattr(items[-1], "id")) if more and items else None  # noqa: B009
    return Page[T](items=items, next_cursor=next_cursor)
