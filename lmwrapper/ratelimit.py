"""Pacing requests to a provider's limits: a request bucket and a token bucket.

The buckets start unlimited and learn the account's limits from response headers:

    x-ratelimit-limit-requests: 500        x-ratelimit-limit-tokens: 200000
    x-ratelimit-remaining-requests: 499    x-ratelimit-remaining-tokens: 199000
    x-ratelimit-reset-requests: 120ms      x-ratelimit-reset-tokens: 300ms

(Anthropic's `anthropic-ratelimit-{requests,tokens}-{limit,remaining,reset}` too, where
reset is a timestamp.) A bucket refills at the rate that empties the gap to its limit by
the reset time. `Retry-After` on a 429 pauses every sender until it has passed. Workers call
`acquire(tokens)` before each request and `observe(headers)` after each response.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_MIN_RESET_S = 0.05


def parse_duration(value: str | None) -> float | None:
    """Seconds in `"6m0s"`, `"1.5s"`, `"20ms"`, `"2"` or an ISO timestamp; None if unreadable.

        >>> parse_duration("1m30s"), parse_duration("250ms"), parse_duration("3")
        (90.0, 0.25, 3.0)
    """
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    parts = _DURATION.findall(value)
    if parts and "".join(n + u for n, u in parts) == value:
        return sum(float(n) * _UNIT_S[u] for n, u in parts)
    try:  # an RFC 3339 timestamp (Anthropic's reset headers)
        return max(0.0, datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() - time.time())
    except ValueError:
        return None


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """`retry-after-ms` or `retry-after` (seconds or an HTTP date) in seconds, if present."""
    h = {k.lower(): v for k, v in headers.items()}
    if "retry-after-ms" in h:
        try:
            return max(0.0, float(h["retry-after-ms"]) / 1000)
        except ValueError:
            pass
    if "retry-after" in h:
        seconds = parse_duration(h["retry-after"])
        if seconds is not None:
            return seconds
        from email.utils import parsedate_to_datetime

        try:
            return max(0.0, parsedate_to_datetime(h["retry-after"]).timestamp() - time.time())
        except (TypeError, ValueError):
            return None
    return None


class Bucket:
    """A leaky bucket that is unlimited until a limit is observed."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self.limit: float | None = None
        self.level = 0.0  # what may be spent now
        self.rate = 0.0   # refill per second
        self._t = clock()

    def _refill(self, now: float) -> None:
        if self.limit is not None:
            self.level = min(self.limit, self.level + (now - self._t) * self.rate)
        self._t = now

    def wait_time(self, amount: float, now: float) -> float:
        """Seconds until `amount` can be spent (0: now)."""
        self._refill(now)
        if self.limit is None:
            return 0.0
        amount = min(amount, self.limit)  # a request larger than the bucket waits for a full one
        if self.level >= amount:
            return 0.0
        return (amount - self.level) / self.rate if self.rate > 0 else 1.0

    def spend(self, amount: float) -> None:
        if self.limit is not None:
            self.level -= amount

    def observe(self, limit: float | None, remaining: float | None, reset_s: float | None,
                now: float) -> None:
        if remaining is None:
            return
        self._refill(now)
        first = self.limit is None
        if limit is not None:
            self.limit = limit
        elif first:
            self.limit = max(remaining, 1.0)
        # Requests still in flight are spent locally but maybe not yet counted by the server:
        # take the lower of the two, so a response that left earlier cannot raise the level.
        self.level = remaining if first else min(self.level, remaining)
        cap = self.limit if self.limit is not None else remaining
        gap = cap - remaining
        if reset_s is not None and gap > 0:
            # A reset already past (Anthropic's whole-second timestamps often are) means the
            # window refills now, not "keep the old rate": that could be a trickle.
            self.rate = gap / max(reset_s, _MIN_RESET_S)
        elif self.rate == 0:
            self.rate = cap / 60.0  # limits are per minute


class RateLimiter:
    """Request and token buckets plus a global pause, shared by every worker thread."""

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self.requests = Bucket(clock)
        self.tokens = Bucket(clock)
        self.paused_until = 0.0
        self.waited_s = 0.0

    def acquire(self, tokens: int = 0, should_stop: Callable[[], bool] = lambda: False,
                deadline: float | None = None) -> bool:
        """Block until one request of `tokens` tokens may go. False, at once, if `should_stop`
        fires or if the wait would run past `deadline` (a time on this limiter's clock)."""
        while True:
            with self._lock:
                now = self._clock()
                wait = max(self.paused_until - now,
                           self.requests.wait_time(1, now), self.tokens.wait_time(tokens, now))
                if wait <= 0:
                    self.requests.spend(1)
                    self.tokens.spend(tokens)
                    return True
                if deadline is not None and now + wait > deadline:
                    return False
                self.waited_s += min(wait, 0.25)
            if should_stop():
                return False
            self._sleep(min(wait, 0.25))

    def pause(self, seconds: float) -> None:
        """Hold every sender for `seconds` (a 429's Retry-After)."""
        with self._lock:
            self.paused_until = max(self.paused_until, self._clock() + seconds)

    def observe(self, headers: Mapping[str, str]) -> None:
        """Learn limits from a response's headers (OpenAI or Anthropic names)."""
        h = {k.lower(): v for k, v in headers.items()}
        now = self._clock()
        with self._lock:
            for kind, bucket in (("requests", self.requests), ("tokens", self.tokens)):
                limit, remaining, reset = _read(h, kind)
                bucket.observe(limit, remaining, reset, now)


_shared: dict[tuple[str, ...], RateLimiter] = {}
_shared_lock = threading.Lock()


def shared_limiter(*scope: str) -> RateLimiter:
    """The process-wide limiter for `scope` (e.g. base URL, key fingerprint, model), so every
    model object on one account and model paces against the same limits."""
    with _shared_lock:
        if scope not in _shared:
            _shared[scope] = RateLimiter()
        return _shared[scope]


def _read(h: Mapping[str, str], kind: str) -> tuple[float | None, float | None, float | None]:
    for limit_k, remaining_k, reset_k in (
        (f"x-ratelimit-limit-{kind}", f"x-ratelimit-remaining-{kind}", f"x-ratelimit-reset-{kind}"),
        (f"anthropic-ratelimit-{kind}-limit", f"anthropic-ratelimit-{kind}-remaining",
         f"anthropic-ratelimit-{kind}-reset"),
    ):
        if remaining_k in h:
            return _num(h.get(limit_k)), _num(h.get(remaining_k)), parse_duration(h.get(reset_k))
    return None, None, None


def _num(v: str | None) -> float | None:
    try:
        return float(v) if v is not None else None
    except ValueError:
        return None
