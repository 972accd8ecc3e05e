"""Pacing requests to a provider's limits: a request bucket and a token bucket.

The buckets start unlimited and learn the account's limits from response headers:

    x-ratelimit-limit-requests: 500        x-ratelimit-limit-tokens: 200000
    x-ratelimit-remaining-requests: 499    x-ratelimit-remaining-tokens: 199000
    x-ratelimit-reset-requests: 120ms      x-ratelimit-reset-tokens: 300ms

(the common convention, OpenAI's; a provider that names them otherwise gives its own
`LimitHeaders`, as Anthropic does in `providers/anthropic/`; reset may also be a timestamp.) A bucket refills at the rate that empties the gap to its limit by
the reset time. `Retry-After` on a 429 pauses every sender until it has passed. Workers call
`acquire(tokens)` before each request and `observe(headers)` after each response.

Limits belong to the account, not the process: `shared_limiter(base_url, key fingerprint,
model)` keeps the buckets of one scope in a 96-byte file (`SharedState`) that every process
on the machine locks, reads, updates and writes back around each decision, so four
processes pace like one instead of meeting through 429s. The file holds numbers only (no
key: its name is a hash of the scope) and lives in `$LMWRAPPER_RATELIMIT_DIR`, by default a
per-user folder in the system temp dir: local disk, where `flock` works (unlike NFS).
`LMWRAPPER_RATELIMIT_DIR=none` keeps each process's buckets to itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import mmap
import os
import re
import struct
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_MIN_RESET_S = 0.05


@dataclass(frozen=True)
class LimitHeaders:
    """The names of one provider's rate-limit headers; `{kind}` is "requests" or "tokens"."""

    limit: str
    remaining: str
    reset: str


# The common names (OpenAI's; many OpenAI-compatible servers send them too).
X_RATELIMIT = LimitHeaders("x-ratelimit-limit-{kind}", "x-ratelimit-remaining-{kind}",
                           "x-ratelimit-reset-{kind}")


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
        return max(0.0, datetime.fromisoformat(value).timestamp() - time.time())
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
                now: float, in_flight: float = 0.0) -> None:
        """Learn from a response; `in_flight`: other requests granted and not answered yet,
        which the server may have counted or not (we assume not: safer)."""
        if remaining is None:
            return
        self._refill(now)
        # A limit unlike the known one: another account or server (or new limits) behind the
        # same scope, e.g. a state file left by an earlier run; start from what it says.
        first = self.limit is None or (limit is not None and limit != self.limit)
        if limit is not None:
            self.limit = limit
        elif first:
            self.limit = max(remaining, 1.0)
        # Requests still in flight are spent locally but maybe not yet counted by the server:
        # take the lower of the two, so a response that left earlier cannot raise the level,
        # and count the requests in flight as spent, or they would be granted twice.
        available = remaining - in_flight
        self.level = available if first else min(self.level, available)
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
                 sleep: Callable[[float], None] = time.sleep,
                 shared: SharedState | None = None,
                 headers: Sequence[LimitHeaders] = (X_RATELIMIT,)) -> None:
        self._clock = clock
        self.header_names = tuple(headers)  # which headers `observe` reads
        self._sleep = sleep
        self._lock = threading.Lock()
        self.requests = Bucket(clock)
        self.tokens = Bucket(clock)
        self.paused_until = 0.0
        self.in_flight = 0.0  # requests granted with track=True and not finished() yet
        self.in_flight_tokens = 0.0  # and their tokens
        self.in_flight_t = clock()  # when in_flight last changed
        self.waited_s = 0.0
        self.shared = shared
        # requests `finished(defer=True)` and not yet taken off `in_flight` (see `finished`)
        self._done, self._done_tokens = 0, 0.0

    @contextlib.contextmanager
    def _state(self) -> Iterator[None]:
        """Hold the buckets: this process's threads through the lock, other processes through
        the shared file (loaded before, stored after, so every decision sees theirs)."""
        with self._lock:
            if self.shared is None:
                self._settle()
                yield
                return
            with self.shared.locked() as held:
                if held:
                    self.shared.load(self)
                self._settle()
                yield
                if held:
                    self.shared.store(self)

    def _settle(self) -> None:
        """Take the deferred finished requests off the in-flight counts (holding the state)."""
        if self._done:
            self.in_flight = max(0.0, self.in_flight - self._done)
            self.in_flight_tokens = max(0.0, self.in_flight_tokens - self._done_tokens)
            self.in_flight_t = self._clock()
            self._done, self._done_tokens = 0, 0.0

    def try_acquire(self, tokens: int = 0, track: bool = False) -> float:
        """Take one request of `tokens` tokens if it may go now (returns 0.0); else take
        nothing and return the seconds to wait before asking again (for an event loop).
        `track=True` counts the request as in flight until `finished(tokens)` is called."""
        with self._state():
            now = self._clock()
            wait = max(self.paused_until - now,
                       self.requests.wait_time(1, now), self.tokens.wait_time(tokens, now))
            if wait <= 0:
                self.requests.spend(1)
                self.tokens.spend(tokens)
                if track:
                    self.in_flight, self.in_flight_t = self.in_flight + 1, now
                    self.in_flight_tokens += tokens
                return 0.0
            return wait

    def finished(self, tokens: int = 0, *, defer: bool = False) -> None:
        """A request of `tokens` granted with `track=True` was answered (or failed).

        `defer=True` (the event loop's): counted now, written to the shared file with the
        next decision (the next request's `try_acquire`, an `observe`, or `flush()`), so that
        a busy loop locks the file once per request instead of twice. The in-flight counts
        are read only by `observe`, which settles them first; another process sees them
        late by the requests finished since this one's last decision."""
        if defer:
            with self._lock:
                self._done += 1
                self._done_tokens += tokens
            return
        with self._state():
            self.in_flight, self.in_flight_t = max(0.0, self.in_flight - 1), self._clock()
            self.in_flight_tokens = max(0.0, self.in_flight_tokens - tokens)

    def flush(self) -> None:
        """Write the deferred `finished` requests to the shared file now (a run's end)."""
        with self._lock:
            pending = self._done
        if pending:
            with self._state():
                pass

    def acquire(self, tokens: int = 0, should_stop: Callable[[], bool] = lambda: False,
                deadline: float | None = None, track: bool = False) -> bool:
        """Block until one request of `tokens` tokens may go. False, at once, if `should_stop`
        fires or if the wait would run past `deadline` (a time on this limiter's clock)."""
        while True:
            wait = self.try_acquire(tokens, track)
            if wait <= 0:
                return True
            if deadline is not None and self._clock() + wait > deadline:
                return False
            self.waited_s += min(wait, 0.25)
            if should_stop():
                return False
            self._sleep(min(wait, 0.25))

    def pause(self, seconds: float) -> None:
        """Hold every sender for `seconds` (a 429's Retry-After)."""
        with self._state():
            self.paused_until = max(self.paused_until, self._clock() + seconds)

    def observe(self, headers: Mapping[str, str]) -> None:
        """Learn limits from a response's headers (named as `header_names` say)."""
        h = {k.lower(): v for k, v in headers.items()}
        read = [_read(h, kind, self.header_names) for kind in ("requests", "tokens")]
        if all(r[1] is None for r in read):
            return  # no rate-limit headers: nothing to learn, no file to lock
        with self._state():
            now = self._clock()
            # The response being observed is itself still counted in flight: not the others.
            # Which request this is, we do not know: take the others' share of the tokens.
            others = max(self.in_flight - 1, 0.0)
            tokens = self.in_flight_tokens * others / self.in_flight if self.in_flight else 0.0
            self.requests.observe(*read[0], now, in_flight=others)
            self.tokens.observe(*read[1], now, in_flight=tokens)


class SharedState:
    """A limiter's buckets in a small file that processes on one machine share.

    Twelve doubles: (limit, level, rate, time) for requests, then for tokens, then
    paused_until, requests and tokens in flight and when they last changed; a NaN limit is "not learned
    yet". Times are `time.monotonic()`, one clock for every process on the machine (a file
    from before a reboot has times in the future and is ignored). An
    exclusive `flock` is held only while one decision is made (microseconds), and a process
    killed while holding it releases it with its fd; one stopped while holding it is waited
    for `LOCK_WAIT_S` at most (`locked`). A process killed with requests in
    flight leaves them counted: after `STALE_IN_FLIGHT_S` without a request starting or
    ending anywhere, the count is taken to be 0.
    """

    _FORMAT = struct.Struct("<12d")
    STALE_IN_FLIGHT_S = 30.0
    LOCK_WAIT_S = 2.0  # the longest one decision waits for another process's lock

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        self._alone_until = 0.0  # until then, the lock is only tried (its holder is stopped)
        # The file mapped into memory, made under the lock on first use: loading and storing
        # are memory reads and writes, not system calls (each of which hands the GIL to the
        # run's other threads and waits to get it back: a busy run's largest cost per request)
        self._map: mmap.mmap | None = None

    def _view(self) -> mmap.mmap:
        """The mapped file (called holding the lock); a new file is first given a record
        that says nothing is learned (as a version that reads the file with `pread` expects)."""
        if self._map is None:
            if os.fstat(self._fd).st_size < self._FORMAT.size:
                os.pwrite(self._fd, self._FORMAT.pack(math.nan, 0, 0, 0, math.nan, 0, 0, 0,
                                                      0, 0, 0, 0), 0)
            self._map = mmap.mmap(self._fd, self._FORMAT.size)
        return self._map

    @contextlib.contextmanager
    def locked(self) -> Iterator[bool]:
        """Hold the file's lock for one decision: True. False when another process has held
        it for `LOCK_WAIT_S` — stopped while holding it (Ctrl-Z, SIGSTOP, a debugger), for a
        decision takes microseconds: then this process decides from its own buckets alone,
        trying the lock once per decision (never waiting) for the next `LOCK_WAIT_S`, so a
        stopped process slows the others by one wait, not forever (flock has no timeout)."""
        import fcntl

        deadline, delay = None, 0.0005
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                now = time.monotonic()
                if deadline is None:
                    if now < self._alone_until:
                        yield False
                        return
                    deadline = now + self.LOCK_WAIT_S
                elif now >= deadline:
                    self._alone_until = now + self.LOCK_WAIT_S
                    yield False
                    return
                time.sleep(delay)  # polled: a blocking flock could wait forever
                delay = min(delay * 2, 0.02)
        try:
            yield True
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def load(self, limiter: RateLimiter) -> None:
        """Replace `limiter`'s buckets by the file's (a new, empty file leaves them as they are)."""
        v = self._FORMAT.unpack_from(self._view(), 0)
        if not any(v[3:12:4]):  # never stored: nothing learned, nothing in flight
            return
        if max(v[3], v[7], v[11]) > time.monotonic() + 1.0:  # last-touched times
            return  # written before a reboot (monotonic time restarted): stale, start afresh
        for bucket, (limit, level, rate, t) in ((limiter.requests, v[0:4]), (limiter.tokens, v[4:8])):
            bucket.limit = None if math.isnan(limit) else limit
            bucket.level, bucket.rate, bucket._t = level, rate, t
        limiter.paused_until = v[8]
        stale = time.monotonic() - v[11] > self.STALE_IN_FLIGHT_S
        limiter.in_flight, limiter.in_flight_tokens = (0.0, 0.0) if stale else (v[9], v[10])
        limiter.in_flight_t = v[11]

    def store(self, limiter: RateLimiter) -> None:
        values: list[float] = []
        for b in (limiter.requests, limiter.tokens):
            values += [math.nan if b.limit is None else b.limit, b.level, b.rate, b._t]
        values += [limiter.paused_until, limiter.in_flight, limiter.in_flight_tokens,
                   limiter.in_flight_t]
        self._FORMAT.pack_into(self._view(), 0, *values)

    def close(self) -> None:
        if self._map is not None:
            self._map.close()
        os.close(self._fd)


_shared: dict[tuple[str, ...], RateLimiter] = {}
_shared_lock = threading.Lock()


def shared_dir() -> Path | None:
    """Where shared buckets live: `$LMWRAPPER_RATELIMIT_DIR` ("none": not shared), else a
    per-user folder in the temp dir. None also where `fcntl` does not exist (Windows)."""
    setting = os.environ.get("LMWRAPPER_RATELIMIT_DIR", "").strip()
    if setting.lower() == "none":
        return None
    try:
        import fcntl  # noqa: F401
    except ImportError:
        return None
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return Path(setting) if setting else Path(tempfile.gettempdir()) / f"lmwrapper-ratelimit-{uid}"


def shared_limiter(*scope: str, headers: Sequence[LimitHeaders] = (X_RATELIMIT,)) -> RateLimiter:
    """The limiter for `scope` (e.g. base URL, key fingerprint, model): one per process, and
    its buckets shared with every other process on this machine (see `SharedState`), so
    every model object on one account and model paces against the same limits. `headers`:
    the names its provider gives its rate-limit headers."""
    with _shared_lock:
        if scope not in _shared:
            _shared[scope] = RateLimiter(shared=_open_shared(scope), headers=headers)
        return _shared[scope]


def _open_shared(scope: tuple[str, ...]) -> SharedState | None:
    folder = shared_dir()
    if folder is None:
        return None
    name = hashlib.sha256("\0".join(scope).encode()).hexdigest()[:32]
    try:
        return SharedState(folder / f"{name}.bucket")
    except OSError:  # an unwritable temp dir must not stop a run: pace this process alone
        return None


def _read(h: Mapping[str, str], kind: str, names: Sequence[LimitHeaders]
          ) -> tuple[float | None, float | None, float | None]:
    for n in names:
        limit_k, remaining_k, reset_k = (n.limit.format(kind=kind), n.remaining.format(kind=kind),
                                         n.reset.format(kind=kind))
        if remaining_k in h:
            return _num(h.get(limit_k)), _num(h.get(remaining_k)), parse_duration(h.get(reset_k))
    return None, None, None


def _num(v: str | None) -> float | None:
    try:
        return float(v) if v is not None else None
    except ValueError:
        return None
