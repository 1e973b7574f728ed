"""The fast path of oms.schemas.normalise_email accepts an address only if email_validator does,
and normalises it the same way."""

from __future__ import annotations

import email_validator
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from oms.schemas import _plain_email, normalise_email

LOCAL = st.text(alphabet="abcXYZ019._+-!#$%&'*/=?^`{|}~\"(),:;<>[\\] é", min_size=0, max_size=70)
DOMAIN = st.text(alphabet="abcxyzXN019-._é", min_size=0, max_size=70)
TLDS = st.sampled_from(["com", "test", "localhost", "local", "onion", "c1", "1c", "co.uk", "x-y", "", "-", "arpa"])


def _reference(value: str) -> str | None:
    try:
        return email_validator.validate_email(
            value, check_deliverability=False, test_environment=True
        ).normalized.lower()
    except email_validator.EmailNotValidError:
        return None


@settings(max_examples=3000, deadline=None)
@given(LOCAL, DOMAIN, TLDS)
@example("0", "00--0", "com")  # reserved hyphens in a label's third and fourth places
@example("a", "shop", "xn--p1ai")
def test_the_fast_path_never_accepts_what_email_validator_refuses(local, domain, tld):
    value = f"{local}@{domain}.{tld}" if tld else f"{local}@{domain}"
    fast = _plain_email(value)
    if fast is not None:
        assert fast == _reference(value), value


@pytest.mark.parametrize(
    "value",
    ["Shopper12@Example.com", "a.b@c.co.uk", "o'brien+tag@shop.example", "x@foo.test", "x@a.1c", "a" * 64 + "@x.com"],
)
def test_everyday_addresses_take_the_fast_path_and_agree(value):
    assert _plain_email(value) is not None and normalise_email(value) == _reference(value)


@pytest.mark.parametrize(
    "value", ["a..b@c.com", "a@b", "a@localhost", "x@-a.com", "é@x.com", "x@a.c1", "a" * 65 + "@x.com"]
)
def test_everything_else_goes_to_email_validator(value):
    assert _plain_email(value) is None
