"""Request/token buckets fed by headers, and Retry-After parsing (clock under test control)."""

import pytest

from lmwrapper.runners.ratelimit import RateLimiter, parse_duration, retry_after_seconds


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t

    def sleep(self, s):
        self.t += s


@pytest.mark.parametrize("text,seconds", [
    ("6m0s", 360.0), ("1.5s", 1.5), ("20ms", 0.02), ("2", 2.0), ("1h2m3s", 3723.0),
    ("garbage", None), (None, None),
])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == (pytest.approx(seconds) if seconds is not None else None)


def test_retry_after_prefers_milliseconds():
    assert retry_after_seconds({"Retry-After": "2", "retry-after-ms": "150"}) == 0.15
    assert retry_after_seconds({"retry-after": "3"}) == 3.0
    assert retry_after_seconds({}) is None


def test_unlimited_until_headers_arrive():
    clock = Clock()
    rl = RateLimiter(clock=clock, sleep=clock.sleep)
    for _ in range(1000):
        rl.acquire(10_000)
    assert clock.t == 1000.0


def test_request_bucket_paces_at_the_observed_rate():
    clock = Clock()
    rl = RateLimiter(clock=clock, sleep=clock.sleep)
    # 60 requests per minute, 10 left, the gap of 50 refills in 50 s: one per second
    rl.observe({"x-ratelimit-limit-requests": "60", "x-ratelimit-remaining-requests": "10",
                "x-ratelimit-reset-requests": "50s"})
    for _ in range(10):
        rl.acquire()
    assert clock.t == 1000.0  # the 10 remaining go at once
    for _ in range(5):
        rl.acquire()
    assert clock.t == pytest.approx(1005.0, abs=0.3)  # then one per second


def test_token_bucket_waits_for_room():
    clock = Clock()
    rl = RateLimiter(clock=clock, sleep=clock.sleep)
    rl.observe({"x-ratelimit-limit-tokens": "1000", "x-ratelimit-remaining-tokens": "100",
                "x-ratelimit-reset-tokens": "9s"})  # 900 missing, back in 9 s: 100 tokens/s
    rl.acquire(100)
    rl.acquire(300)
    assert clock.t == pytest.approx(1003.0, abs=0.3)


def test_a_stale_header_cannot_raise_the_level():
    clock = Clock()
    rl = RateLimiter(clock=clock, sleep=clock.sleep)
    rl.observe({"x-ratelimit-limit-requests": "100", "x-ratelimit-remaining-requests": "5",
                "x-ratelimit-reset-requests": "60s"})
    rl.observe({"x-ratelimit-limit-requests": "100", "x-ratelimit-remaining-requests": "90",
                "x-ratelimit-reset-requests": "6s"})
    assert rl.requests.level == 5


def test_pause_holds_everyone():
    clock = Clock()
    rl = RateLimiter(clock=clock, sleep=clock.sleep)
    rl.pause(2.5)
    rl.acquire()
    assert clock.t == pytest.approx(1002.5, abs=0.3)


def test_anthropic_headers():
    from lmwrapper.claude_wrapper import ClaudeBackend  # its header names

    clock = Clock()
    rl = RateLimiter(clock=clock, sleep=clock.sleep, headers=ClaudeBackend.rate_limit_headers)
    rl.observe({"anthropic-ratelimit-requests-limit": "50",
                "anthropic-ratelimit-requests-remaining": "0",
                "anthropic-ratelimit-requests-reset": "2000-01-01T00:00:00Z"})
    assert rl.requests.limit == 50 and rl.requests.level == 0


def test_acquire_gives_up_when_told_to_stop():
    clock = Clock()
    rl = RateLimiter(clock=clock, sleep=clock.sleep)
    rl.pause(100)
    assert rl.acquire(should_stop=lambda: True) is False


def test_acquire_refuses_a_wait_past_the_deadline():
    clock = Clock()
    rl = RateLimiter(clock=clock, sleep=clock.sleep)
    rl.pause(10)
    assert rl.acquire(deadline=clock() + 5) is False and clock.t == 1000.0
    assert rl.acquire(deadline=clock() + 11) is True and clock.t == pytest.approx(1010.0, abs=0.3)
