"""Tracking numbers: the format of the built-in table-rate carriers, and validators for the UPS, USPS
and FedEx numbers our customers paste in. Pure: no database, no network.

Built-in format (``make_tracking_number``)::

    PREFIX  SSSSSSSSSS  C
    2-4     10 digits   1 check digit          e.g. OMS 0000000042 2  ->  "OMS00000000422"

* ``PREFIX`` names the carrier (``CARRIER_PREFIXES``). It is 2-4 upper-case letters or digits and
  starts with a letter, so it can never be read as a numeric USPS/FedEx number or as UPS ``1Z``.
* ``S`` is the serial: a number the caller takes from a database sequence, zero-padded. Uniqueness
  comes from the sequence; the format only has to keep distinct (carrier, serial) pairs distinct,
  which it does because both are written out in full.
* ``C`` is the Luhn (mod 10) check digit over the ten serial digits. From the rightmost serial digit
  leftwards, every second digit (starting with the rightmost) is doubled and 9 is subtracted when
  the double exceeds 9; the digits are summed; ``C = (10 - sum % 10) % 10``. Why Luhn and not the
  3/1-weighted GS1 rule: both catch every single-digit error, but Luhn also catches every adjacent
  transposition except 09 <-> 90, whereas 3/1 weights miss every swap of digits that differ by 5.
* The prefix is outside the check digit; instead ``check_prefixes`` requires prefixes of equal
  length to differ in at least two places (and none to be the start of another), so one mistyped
  prefix character gives an unknown carrier, never another carrier's valid number.

External formats (``identify``) follow the published rules compiled in jkeen/tracking_number_data
(MIT; see tests/fixtures/SOURCES.md): UPS 1Z and waybill, USPS 20/22/26/30/34-digit IMpb and legacy
numbers, FedEx Express 12/34, ASTRA 32, Ground 15, 96 (22), GSN 34 and SSCC-18.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from itertools import combinations

from oms.errors import InvalidInput

SERIAL_DIGITS = 10
MAX_SERIAL = 10**SERIAL_DIGITS - 1

# Carrier code (as in oms.shipping.rates.Carrier.code) -> tracking prefix. Changing a prefix orphans
# the numbers already printed, so add new ones, never rename.
CARRIER_PREFIXES: Mapping[str, str] = {
    "oms": "OMS",  # OMS Parcel (carriers_demo)
    "metro": "MRC",  # Metro Regional Courier (carriers_demo)
}

_PREFIX = re.compile(r"[A-Z][A-Z0-9]{1,3}")


@dataclass(frozen=True)
class TrackingMatch:
    carrier: str  # our carrier code for built-in numbers; "UPS", "USPS" or "FedEx" otherwise
    kind: str  # "OMS" (built-in) or the source's type name, e.g. "USPS IMpb N"
    number: str  # normalised: no whitespace, upper case


# --- check digits ------------------------------------------------------------------------------


def _digits(payload: str) -> list[int]:
    if not payload.isascii() or not payload.isdigit():
        raise InvalidInput(f"{payload!r} is not a string of digits", code="invalid_tracking_number")
    return [int(c) for c in payload]


def luhn_check_digit(payload: str) -> int:
    """Luhn (ISO/IEC 7812-1) check digit for a string of digits; the built-in carriers' rule."""
    total = 0
    for i, d in enumerate(reversed(_digits(payload))):
        if i % 2 == 0:  # the digit next to the check digit is doubled
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return (10 - total % 10) % 10


def gs1_check_digit(payload: str) -> int:
    """GS1 / USPS / FedEx Ground mod 10: weights 3, 1, 3, ... from the rightmost digit leftwards."""
    total = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(_digits(payload))))
    return (10 - total % 10) % 10


def ups_check_digit(payload: str) -> int:
    """UPS mod 10: letters count as ``(ord(c) - 3) % 10`` (A=2, B=3 ... J=1, K=2 ...); characters at
    odd 0-based positions are doubled (no digit sum); ``(10 - sum % 10) % 10``."""
    total = 0
    for i, c in enumerate(payload):
        value = int(c) if c.isdigit() else (ord(c) - 3) % 10
        total += value * 2 if i % 2 else value
    return (10 - total % 10) % 10


def fedex_mod11_check_digit(payload: str, weights: Sequence[int]) -> int:
    """FedEx Express: the sum of digit x weight (one weight per digit) mod 11, then mod 10."""
    digits = _digits(payload)
    if len(digits) != len(weights):
        raise InvalidInput(f"{payload!r} needs {len(weights)} digits", code="invalid_tracking_number")
    return sum(d * w for d, w in zip(digits, weights, strict=True)) % 11 % 10


# --- built-in carriers ---------------------------------------------------------------------------


def check_prefixes(prefixes: Mapping[str, str]) -> None:
    """Refuse a prefix table where one typo in a prefix could yield another carrier's number."""
    for code, prefix in prefixes.items():
        if not _PREFIX.fullmatch(prefix):
            raise InvalidInput(f"carrier {code!r}: prefix {prefix!r} is not 2-4 letters/digits starting with a letter")
    for (a_code, a), (b_code, b) in combinations(prefixes.items(), 2):
        if a.startswith(b) or b.startswith(a):
            raise InvalidInput(f"prefixes of {a_code!r} ({a}) and {b_code!r} ({b}): one starts the other")
        if len(a) == len(b) and sum(x != y for x, y in zip(a, b, strict=True)) < 2:
            raise InvalidInput(f"prefixes of {a_code!r} ({a}) and {b_code!r} ({b}) differ in fewer than two places")


def make_tracking_number(carrier_code: str, serial: int, prefixes: Mapping[str, str] = CARRIER_PREFIXES) -> str:
    """The tracking number for ``serial`` (from a database sequence) of a built-in carrier."""
    prefix = prefixes.get(carrier_code)
    if prefix is None:
        raise InvalidInput(f"carrier {carrier_code!r} has no tracking prefix", code="unknown_carrier")
    if isinstance(serial, bool) or not isinstance(serial, int) or not 0 <= serial <= MAX_SERIAL:
        raise InvalidInput(f"serial {serial!r} is not between 0 and {MAX_SERIAL}", code="invalid_tracking_serial")
    body = f"{serial:0{SERIAL_DIGITS}d}"
    return f"{prefix}{body}{luhn_check_digit(body)}"


def parse_builtin(value: str, prefixes: Mapping[str, str] = CARRIER_PREFIXES) -> tuple[str, int] | None:
    """``(carrier_code, serial)`` of a valid built-in number, else None."""
    number = normalise(value)
    for code, prefix in prefixes.items():
        rest = number[len(prefix) :]
        if number.startswith(prefix) and len(rest) == SERIAL_DIGITS + 1 and rest.isascii() and rest.isdigit():
            if luhn_check_digit(rest[:-1]) == int(rest[-1]):
                return code, int(rest[:-1])
            return None
    return None


# --- carriers' published formats ------------------------------------------------------------------

# Each rule: carrier, type, a regex over the normalised number with the groups "serial" and "check",
# and the check-digit function of the serial. Order matters only where two types share a shape;
# the source's own test numbers (tests/fixtures/tracking_numbers.json) pin the outcome.
_IMPB_BODY = r"(?:9[2-5]\d{3}(?:9\d{8}(?:\d{15}|\d{11}|\d{7})|[0-8]\d{5}(?:\d{14}|\d{10})))"
_Rule = tuple[str, str, re.Pattern[str], Callable[[str], int]]


def _prepend_91(serial: str) -> int:
    # Legacy 20-digit numbers drop the "91" application identifier, but their check digit includes it.
    return gs1_check_digit(serial if serial.startswith("91") else "91" + serial)


_EXPRESS_11 = (3, 1, 7, 3, 1, 7, 3, 1, 7, 3, 1)
_EXPRESS_13 = (1, 7, 3, 1, 7, 3, 1, 7, 3, 1, 7, 3, 1)
_fedex_11 = partial(fedex_mod11_check_digit, weights=_EXPRESS_11)
_fedex_13 = partial(fedex_mod11_check_digit, weights=_EXPRESS_13)
_ROUTING = r"(?:420\d{5}(?:\d{4})?)?"  # USPS: optional "420" + destination ZIP (5 or 9 digits)
_CHECK = r"(?P<check>\d)"


def _rule(carrier: str, kind: str, pattern: str, check: Callable[[str], int]) -> _Rule:
    return carrier, kind, re.compile(pattern), check


_RULES: tuple[_Rule, ...] = (
    _rule("UPS", "UPS", rf"1Z(?P<serial>[A-Z0-9]{{15}}){_CHECK}", ups_check_digit),
    _rule("UPS", "UPS Waybill", rf"[AHJKTV](?P<serial>\d{{9}}){_CHECK}", ups_check_digit),
    _rule("USPS", "USPS 20", rf"(?P<serial>\d{{19}}){_CHECK}", gs1_check_digit),
    _rule("USPS", "USPS Legacy", rf"{_ROUTING}(?P<serial>(?:91)?\d{{19}}){_CHECK}", _prepend_91),
    _rule("USPS", "USPS IMpb", rf"{_ROUTING}(?P<serial>{_IMPB_BODY}){_CHECK}", gs1_check_digit),
    _rule("FedEx", "FedEx Express (12)", rf"(?P<serial>\d{{11}}){_CHECK}", _fedex_11),
    _rule("FedEx", "FedEx Express (34)", rf"[0-8]\d{{19}}(?P<serial>\d{{13}}){_CHECK}", _fedex_13),
    _rule("FedEx", "FedEx ASTRA (32)", rf"3\d{{15}}(?P<serial>\d{{11}}){_CHECK}\d{{4}}", _fedex_11),
    _rule("FedEx", "FedEx Ground", rf"(?P<serial>\d{{14}}){_CHECK}", gs1_check_digit),
    _rule("FedEx", "FedEx Ground (SSCC-18)", rf"\d{{2}}(?P<serial>\d{{15}}){_CHECK}", gs1_check_digit),
    _rule("FedEx", "FedEx Ground 96 (22)", rf"96\d{{5}}(?P<serial>\d{{14}}){_CHECK}", gs1_check_digit),
    _rule("FedEx", "FedEx Ground GSN", rf"96\d{{18}}(?P<serial>\d{{13}}){_CHECK}", _fedex_13),
)


def normalise(value: str) -> str:
    """Drop all whitespace (carriers print numbers in groups) and upper-case."""
    return "".join(value.split()).upper()


def identify(value: str, prefixes: Mapping[str, str] = CARRIER_PREFIXES) -> TrackingMatch | None:
    """Which carrier a tracking number belongs to, if its format and check digit are valid."""
    number = normalise(value)
    builtin = parse_builtin(number, prefixes)
    if builtin is not None:
        return TrackingMatch(builtin[0], "OMS", number)
    for carrier, kind, pattern, check in _RULES:
        m = pattern.fullmatch(number)
        if m and check(m["serial"]) == int(m["check"]):
            return TrackingMatch(carrier, kind, number)
    return None


def is_valid_tracking_number(value: str, prefixes: Mapping[str, str] = CARRIER_PREFIXES) -> bool:
    """True for a built-in carrier's number or a UPS/USPS/FedEx number whose check digit holds."""
    return identify(value, prefixes) is not None


def carrier_of(value: str, prefixes: Mapping[str, str] = CARRIER_PREFIXES) -> str | None:
    """The carrier a valid tracking number belongs to, else None."""
    match = identify(value, prefixes)
    return match.carrier if match else None
