import pytest

from oms.auth.throttle import LoginThrottle
from oms.errors import RateLimited


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_too_many_failed_logins_are_refused_until_the_window_passes():
    clock = Clock()
    throttle = LoginThrottle(max_failures=3, window_s=60, clock=clock)
    for _ in range(3):
        throttle.check("10.0.0.1", "ada@example.com")
        throttle.failed("10.0.0.1", "Ada@Example.com")
    with pytest.raises(RateLimited) as refused:
        throttle.check("10.0.0.1", "ada@example.com")
    assert refused.value.extra["retry_after_s"] == 60
    throttle.check("10.0.0.2", "ada@example.com")  # another address is not punished
    throttle.check("10.0.0.1", "bob@example.com")
    clock.now = 61
    throttle.check("10.0.0.1", "ada@example.com")


def test_a_successful_login_clears_the_failures():
    throttle = LoginThrottle(max_failures=2, window_s=60, clock=Clock())
    throttle.failed("h", "a@example.com")
    throttle.succeeded("h", "a@example.com")
    throttle.failed("h", "a@example.com")
    throttle.check("h", "a@example.com")
