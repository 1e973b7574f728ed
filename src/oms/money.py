"""Money rules: ISO 4217 currencies and their minor units. Pure."""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

import iso4217

from oms.errors import InvalidInput

_QUANTA = {e: Decimal(1).scaleb(-e) for e in range(5)}  # minor units: ISO 4217 exponents are 0 to 4


# Cached: an order checks and renders a dozen amounts, each asking for its currency's exponent.
# Bounded, because the codes come from clients (an unknown code raises and is not cached).
@lru_cache(maxsize=256)
def currency_exponent(code: str) -> int:
    """Minor-unit digits of an ISO 4217 currency (USD 2, JPY 0, KWD 3)."""
    try:
        exponent = iso4217.Currency(code.upper()).exponent
    except (ValueError, KeyError):
        raise InvalidInput(f"{code!r} is not an ISO 4217 currency code", code="invalid_currency") from None
    if exponent is None:  # funds and metals (XAU, XDR...) are not money a shop takes
        raise InvalidInput(f"{code!r} is not a currency orders can be priced in", code="invalid_currency")
    return exponent


def check_amount(value: Decimal, currency: str, field: str) -> Decimal:
    """Refuse amounts finer than the currency's minor unit (10.001 USD, 5.5 JPY)."""
    exponent = currency_exponent(currency)
    quantum = _QUANTA[exponent]
    if value != value.quantize(quantum):
        raise InvalidInput(
            f"{field} {value} has more decimal places than {currency} allows ({exponent})",
            code="invalid_amount",
        )
    return value.quantize(quantum)


def to_currency(value: Decimal, currency: str) -> Decimal:
    """Stored amounts keep four places; show them with the currency's own minor units."""
    return value.quantize(_QUANTA[currency_exponent(currency)])
