"""Catalogue rules. Pure."""

from __future__ import annotations

from stdnum import ean
from stdnum.exceptions import ValidationError


def normalise_gtin(value: str) -> str:
    """Validate a GTIN-8/12/13/14 (GS1 mod-10 check digit) and return its digits.

    Spaces and hyphens are accepted as separators (as printed under barcodes); an all-zero code
    passes the arithmetic but is no real product, so it is refused."""
    try:
        digits = ean.validate(value)  # strips separators, checks length, digits and check digit
    except ValidationError as exc:
        raise ValueError(f"{value!r} is not a valid GTIN-8/12/13/14: {exc}") from None
    if len(digits) not in (8, 12, 13, 14):
        raise ValueError(f"{value!r} is not a GTIN-8/12/13/14")
    if set(digits) == {"0"}:
        raise ValueError(f"{value!r} is all zeros, which no product carries")
    return digits
