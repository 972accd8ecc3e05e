"""Pacing by Anthropic's `anthropic-ratelimit-*` headers, whose reset times are RFC 3339
timestamps with whole seconds (often already past when a 429 says "0 left")."""

from __future__ import annotations

import datetime
import time

from lmwrapper.claude_wrapper import ClaudeBackend
from lmwrapper.runners.ratelimit import RateLimiter


def stamp(seconds_from_now: float) -> str:
    at = datetime.datetime.fromtimestamp(time.time() + seconds_from_now, datetime.UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")  # whole seconds, as Anthropic sends them


def headers(remaining: int, reset: str) -> dict[str, str]:
    return {"anthropic-ratelimit-requests-limit": "1000",
            "anthropic-ratelimit-requests-remaining": str(remaining),
            "anthropic-ratelimit-requests-reset": reset}


def test_a_429_whose_reset_is_already_past_does_not_stall_every_sender():
    now = [100.0]
    limiter = RateLimiter(clock=lambda: now[0], headers=ClaudeBackend.rate_limit_headers)
    limiter.observe(headers(995, stamp(59)))  # normal: 5 used, window ends in a minute
    limiter.observe(headers(0, stamp(-0.5)))  # a 429: none left, reset (rounded) just past
    wait = limiter.requests.wait_time(1, now[0])
    assert wait < 1.0  # was 1 / (5 / 59 s) ≈ 12 s per request: a trickle


def test_a_future_reset_still_paces_the_refill():
    now = [100.0]
    limiter = RateLimiter(clock=lambda: now[0], headers=ClaudeBackend.rate_limit_headers)
    limiter.observe(headers(0, stamp(30)))
    assert 0.0 < limiter.requests.wait_time(1, now[0]) < 1.0  # 1000 over ~30 s
