"""Tracking numbers: the built-in carriers' format and Luhn check digit (every single-digit error and
every adjacent transposition but 09/90 caught), and the UPS/USPS/FedEx validators against the real
published test numbers in tests/fixtures/tracking_numbers.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from oms.errors import InvalidInput
from oms.shipping import carriers_demo as demo
from oms.shipping.tracking import (
    CARRIER_PREFIXES,
    MAX_SERIAL,
    check_prefixes,
    fedex_mod11_check_digit,
    gs1_check_digit,
    identify,
    is_valid_tracking_number,
    luhn_check_digit,
    make_tracking_number,
    parse_builtin,
    ups_check_digit,
)

SAMPLES = json.loads((Path(__file__).parents[1] / "fixtures" / "tracking_numbers.json").read_text())["numbers"]
serials = st.integers(0, MAX_SERIAL)
carriers = st.sampled_from(sorted(CARRIER_PREFIXES))


# --- the built-in format ------------------------------------------------------------------------------


def test_a_built_in_number_is_prefix_ten_serial_digits_and_a_luhn_check_digit():
    assert make_tracking_number("oms", 42) == "OMS00000000422"
    assert make_tracking_number("metro", 7_992_739_871) == "MRC79927398713"  # the Luhn textbook example


def test_a_built_in_number_names_its_carrier_and_serial():
    number = make_tracking_number("metro", 123_456)
    assert identify(number).carrier == "metro"
    assert parse_builtin(number) == ("metro", 123_456)
    assert identify(" mrc 0000 1234 56 " + number[-1]).carrier == "metro"  # spaces and case forgiven


def test_refuses_unknown_carriers_and_serials_outside_the_range():
    with pytest.raises(InvalidInput, match="no tracking prefix"):
        make_tracking_number("ups", 1)
    for serial in (-1, MAX_SERIAL + 1, True):
        with pytest.raises(InvalidInput, match="serial"):
            make_tracking_number("oms", serial)


def test_numbers_are_unique_over_100k_serials_per_carrier():
    numbers = {make_tracking_number(c, s) for c in CARRIER_PREFIXES for s in range(100_000)}
    assert len(numbers) == 100_000 * len(CARRIER_PREFIXES)
    assert all(is_valid_tracking_number(n) for n in list(numbers)[::997])


@given(carriers, serials)
def test_every_made_number_validates_and_round_trips(carrier, serial):
    number = make_tracking_number(carrier, serial)
    assert is_valid_tracking_number(number)
    assert parse_builtin(number) == (carrier, serial)


@given(carriers, serials, st.data())
def test_the_check_digit_catches_every_single_digit_error(carrier, serial, data):
    number = make_tracking_number(carrier, serial)
    digits_from = len(CARRIER_PREFIXES[carrier])
    pos = data.draw(st.integers(digits_from, len(number) - 1))
    wrong = data.draw(st.sampled_from([d for d in "0123456789" if d != number[pos]]))
    assert not is_valid_tracking_number(number[:pos] + wrong + number[pos + 1 :])


def test_the_check_digit_catches_every_single_digit_error_exhaustively_for_one_number():
    number = make_tracking_number("oms", 1_234_567_890)
    for pos in range(3, len(number)):
        for d in "0123456789":
            if d != number[pos]:
                assert not is_valid_tracking_number(number[:pos] + d + number[pos + 1 :])


@given(carriers, serials, st.data())
def test_the_check_digit_catches_adjacent_transpositions_except_09_and_90(carrier, serial, data):
    number = make_tracking_number(carrier, serial)
    pos = data.draw(st.integers(len(CARRIER_PREFIXES[carrier]), len(number) - 2))
    a, b = number[pos], number[pos + 1]
    swapped = number[:pos] + b + a + number[pos + 2 :]
    if a == b:
        assert swapped == number
    elif {a, b} == {"0", "9"}:
        assert is_valid_tracking_number(swapped)  # Luhn's one known blind spot, documented
    else:
        assert not is_valid_tracking_number(swapped)


def test_luhn_catches_88_of_the_90_adjacent_transpositions_of_distinct_digits():
    caught = 0
    for a in range(10):
        for b in range(10):
            if a != b:
                caught += luhn_check_digit(f"5{a}{b}3") != luhn_check_digit(f"5{b}{a}3")
    assert caught == 88


def test_a_mistyped_prefix_is_an_unknown_carrier_not_another_carriers_number():
    number = make_tracking_number("oms", 5)
    for pos in range(3):
        for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789":
            if c != number[pos]:
                typo = number[:pos] + c + number[pos + 1 :]
                assert parse_builtin(typo) is None


def test_prefix_tables_where_one_typo_reaches_another_carrier_are_refused():
    check_prefixes(CARRIER_PREFIXES)
    with pytest.raises(InvalidInput, match="fewer than two places"):
        check_prefixes({"a": "OMS", "b": "OMX"})
    with pytest.raises(InvalidInput, match="one starts the other"):
        check_prefixes({"a": "OM", "b": "OMX"})
    for bad in ("1Z", "A", "ABCDE", "om"):
        with pytest.raises(InvalidInput, match="not 2-4"):
            check_prefixes({"a": bad})


def test_every_demo_carrier_has_a_tracking_prefix():
    assert {c.code for c in demo.DEMO_CARRIERS} <= set(CARRIER_PREFIXES)


# --- check-digit helpers ------------------------------------------------------------------------------


def test_check_digit_helpers_on_textbook_values():
    assert luhn_check_digit("7992739871") == 3  # ISO/IEC 7812 worked example
    assert gs1_check_digit("400638133393") == 1  # GS1 GTIN-13 4006381333931
    assert ups_check_digit("5R8939035756712") == 7  # 1Z5R89390357567127
    assert fedex_mod11_check_digit("98657878885", (3, 1, 7, 3, 1, 7, 3, 1, 7, 3, 1)) == 5  # 986578788855


def test_check_digit_helpers_refuse_non_digits():
    with pytest.raises(InvalidInput):
        luhn_check_digit("12a4")


# --- real carriers' published numbers -------------------------------------------------------------------


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: f"{s['type']}:{s['number'].strip()}")
def test_real_sample_numbers_are_classified_as_their_source_says(sample):
    match = identify(sample["number"])
    assert (match is not None) == sample["valid"]
    if match is not None:
        assert match.carrier == sample["carrier"]


def test_the_samples_cover_ups_usps_and_fedex_both_valid_and_invalid():
    seen = {(s["carrier"], s["valid"]) for s in SAMPLES}
    assert seen == {(c, v) for c in ("UPS", "USPS", "FedEx") for v in (True, False)}


def test_anonymised_label_numbers_fail_their_check_digit():
    # From the ZPL samples (see zpl_notes.md): their check digits should be 4 and 2, not 0.
    assert not is_valid_tracking_number("9205590303190000000000")
    assert not is_valid_tracking_number("1Z680RA4DL08720000")
    assert is_valid_tracking_number("9205590303190000000004")
    assert is_valid_tracking_number("1Z680RA4DL08720002")


def test_a_shopify_style_short_number_is_not_valid():
    assert not is_valid_tracking_number("1Z2345")
    assert identify("") is None
