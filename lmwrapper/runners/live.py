"""The ASAP runner for live HTTP APIs: many requests in flight, paced, retried, any provider.

    runner = LiveRunner(send, error_prediction=lm.error_prediction, max_concurrency=16,
                        max_samples_per_request=1)
    runner.run(jobs, emit, should_stop)   # each job cut into requests of at most 1 sample

`send(job)` makes ONE attempt for a job and returns its predictions, or raises:
`TransientProviderError` / `RateLimitError` (retried, honouring `retry_after`),
`BadResponseError` (a billed 200 we could not read: retried at most
`retry.max_bad_response_retries` times), `PermanentProviderError` / `RejectedRequestError`
(answered as an error prediction, no retry; but a `RejectedRequestError` before any request
of a run was answered is retried once, and refused again stops the run), or a `ConfigurationError` such as
`MissingApiKeyError` or `ModelNotFoundError` (stops the run and is re-raised).

Up to `max_concurrency` worker threads take jobs from a queue ordered by when each may go
next; a job waiting out its backoff does not hold a thread. Before each attempt a worker
takes a request and the job's tokens from the shared `RateLimiter`; a 429 with Retry-After
pauses every worker. A job is tried at most `1 + retry.max_retries` times and not after
`retry.max_elapsed_s` since its first attempt; then its last error becomes its answer
(transient: not cached). When `should_stop()` turns true no new attempt starts; attempts
already in flight finish and are emitted, so what arrived is in the cache; `in_flight()`
says how many that is. A `LiveRunner` is a `lmwrapper.core.contract.Runner`.

With `async_sender` (a factory of an object with `async send(job)` and `async aclose()`),
the same policy runs on one asyncio event loop instead of threads: a task per attempt, at
most `max_concurrency` at once. That is what keeps hundreds of requests in flight cheap
(benchmarks/bench_live.py): a thread per request costs ~3 ms of CPU per request on 2 cores.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from lmwrapper.core.contract import Emit, Job, Runner, cut
from lmwrapper.core.errors import (
    BadResponseError,
    ProviderError,
    RateLimitError,
    RejectedRequestError,
    TransientProviderError,
)
from lmwrapper.core.gcpause import gc_frozen
from lmwrapper.core.prompt import LmPrediction, LmPrompt
from lmwrapper.runners.ratelimit import RateLimiter


class AsyncSender(Protocol):
    """One attempt at a job on an event loop (made inside the loop, closed when it ends).
    One that resends a request by itself (`lmwrapper.runners.lean`: once, when the server had
    closed its pooled connection) says how often in an int attribute `resent`, which goes
    into the run's stats."""

    async def send(self, job: Job) -> Sequence[LmPrediction]: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class RetryPolicy:
    """How failed attempts are retried: exponential backoff with jitter, bounded in count and time."""

    max_retries: int = 8
    max_elapsed_s: float = 600.0
    initial_backoff_s: float = 1.0
    max_backoff_s: float = 60.0
    retry_rate_limits: bool = True
    # A 200 we could not read (malformed, too few choices) was billed: retrying it like a
    # free 5xx could pay 8 times for nothing, so it gets this many retries, not max_retries.
    max_bad_response_retries: int = 1

    def should_retry(self, error: ProviderError, attempts: int, elapsed_s: float,
                     bad_responses: int = 0) -> bool:
        """Whether to try again after `attempts` attempts, `bad_responses` of them billed
        answers we could not read."""
        if not error.retryable or attempts > self.max_retries or elapsed_s >= self.max_elapsed_s:
            return False
        if isinstance(error, BadResponseError) and bad_responses > self.max_bad_response_retries:
            return False
        return self.retry_rate_limits or not isinstance(error, RateLimitError)

    def delay(self, error: ProviderError, attempts: int, rng: random.Random) -> float:
        """Seconds before attempt `attempts + 1`: the server's Retry-After when it gave one (a
        little jitter on top, so waiting workers do not return in lockstep), else "equal
        jitter" exponential backoff (half fixed, half random). A wait past `max_elapsed_s`
        means giving up (the runner checks)."""
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None and retry_after >= 0:
            return retry_after + rng.uniform(0, 0.1 * retry_after + 0.01)
        cap = min(self.max_backoff_s, self.initial_backoff_s * 2 ** (attempts - 1))
        return cap / 2 + rng.uniform(0, cap / 2)


DEFAULT_RETRY = RetryPolicy()


@dataclass
class RunnerStats:
    """What the runner did; `attempts[key]` is how many requests a prompt's jobs made (a
    prompt's samples may be several jobs, each retried on its own). `resent`: requests the
    transport sent a second time within one attempt because the server had closed their
    pooled connection while it was idle (not in `requests`; never more than one per attempt)."""

    requests: int = 0
    resent: int = 0
    answered: int = 0  # attempts the provider answered (not with an error)
    retries: int = 0
    rate_limited: int = 0
    failed: int = 0
    attempts: dict[str, int] = field(default_factory=dict)


@dataclass(order=True)
class _Item:
    ready_at: float
    seq: int
    job: Job = field(compare=False)
    attempts: int = field(default=0, compare=False)
    bad_responses: int = field(default=0, compare=False)
    first_sent: float | None = field(default=None, compare=False)
    last_error: ProviderError | None = field(default=None, compare=False)


class LiveRunner:
    """Runs jobs through `send` with bounded concurrency, pacing and retries."""

    stores_results = False  # the engine stores what it emits

    def __init__(
        self,
        send: Callable[[Job], Sequence[LmPrediction]],
        *,
        error_prediction: Callable[[LmPrompt, ProviderError], LmPrediction],
        max_concurrency: int = 8,
        retry: RetryPolicy = DEFAULT_RETRY,
        limiter: RateLimiter | None = None,
        tokens_for: Callable[[Job], int] = lambda job: 0,
        clock: Callable[[], float] = time.monotonic,
        seed: int | None = None,
        async_sender: Callable[[], AsyncSender] | None = None,
        max_samples_per_request: int | None = None,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError(f"max_concurrency must be >= 1; got {max_concurrency}")
        self._send = send
        self._async_sender = async_sender
        self._most = max_samples_per_request  # a job's samples per request (None: all)
        self._error_prediction = error_prediction
        self.max_concurrency = max_concurrency
        self.retry = retry
        self.limiter = limiter or RateLimiter(clock=clock)
        self._tokens_for = tokens_for
        self._clock = clock
        self._rng = random.Random(seed)
        self.stats = RunnerStats()
        self._cond = threading.Condition()
        self._sending = 0

    def in_flight(self) -> int:
        """Requests sent and not answered yet (what a stopping run still waits for)."""
        with self._cond:
            return self._sending

    def run(self, jobs: Sequence[Job], emit: Emit, should_stop: Callable[[], bool]) -> None:
        """Answer every job through `emit` (from worker threads), each cut into requests of
        at most `max_samples_per_request` samples, sent and retried on their own; returns
        when all are done."""
        jobs = cut(jobs, self._most)
        self._heap = [_Item(0.0, i, job) for i, job in enumerate(jobs)]
        self._n_jobs = len(jobs)
        self._seq = itertools.count(len(jobs))
        self._in_flight = 0  # items taken by a worker (waiting for the limiter, or sent)
        self._fatal: BaseException | None = None
        self._emit = emit
        self._should_stop = lambda: should_stop() or self._fatal is not None
        # One job (a `predict` call) goes through `send` and the SDK's pooled connections:
        # a fresh event loop would open a fresh connection (a TLS handshake) for each call.
        if self._async_sender is not None and len(jobs) > 1:
            self._run_loop()
        else:
            self._run_threads(len(jobs))
        if self._fatal is not None:
            raise self._fatal

    def _run_threads(self, n_jobs: int) -> None:
        workers = [threading.Thread(target=self._worker, name=f"lmwrapper-live-{i}", daemon=True)
                   for i in range(min(self.max_concurrency, n_jobs))]
        for w in workers:
            w.start()
        for w in workers:
            w.join()

    def _worker(self) -> None:
        try:
            while (item := self._next()) is not None:
                try:
                    self._attempt(item)
                finally:
                    with self._cond:
                        self._in_flight -= 1
                        self._cond.notify_all()
        except BaseException as e:  # noqa: BLE001 — a ConfigurationError or a bug: re-raised in run
            with self._cond:
                if self._fatal is None:
                    self._fatal = e
                self._cond.notify_all()

    def _next(self) -> _Item | None:
        """The next item whose backoff is over; None when all work is done or we must stop."""
        with self._cond:
            while True:
                if self._should_stop() or (not self._heap and self._in_flight == 0):
                    return None
                if self._heap:
                    wait = self._heap[0].ready_at - self._clock()
                    if wait <= 0:
                        self._in_flight += 1
                        return heapq.heappop(self._heap)
                else:
                    wait = 0.1  # an attempt in flight may come back to be retried
                self._cond.wait(min(max(wait, 0.001), 0.1))

    def _attempt(self, item: _Item) -> None:
        tokens = self._tokens_for(item.job)
        if not self.limiter.acquire(tokens, self._should_stop, self._deadline(item), track=True):
            self._refused(item)
            return
        self._started(item)
        try:  # counted as in flight until its answer is emitted (or it is queued again)
            try:
                preds = self._send(item.job)
            except ProviderError as e:
                self._failed(item, e)
                return
            self._answered()
            self._emit(item.job, preds)
        finally:
            self._ended(tokens)

    def _answered(self) -> None:
        with self._cond:
            self.stats.answered += 1

    def _deadline(self, item: _Item) -> float:
        return (item.first_sent or self._clock()) + self.retry.max_elapsed_s

    def _refused(self, item: _Item) -> None:
        """The limiter gave no room: stopping, or none within the job's retry time."""
        if self._should_stop():
            self._requeue(item, 0.0)  # stopping: not sent, so not answered
        else:
            self._give_up(item, item.last_error or RateLimitError(
                "rate limited: the provider's limits leave no room for this request within "
                f"max_retry_time_s={self.retry.max_elapsed_s:g}; rerun later"))

    def _started(self, item: _Item) -> None:
        item.first_sent = item.first_sent if item.first_sent is not None else self._clock()
        item.attempts += 1
        with self._cond:
            self.stats.requests += 1
            key = item.job.key
            self.stats.attempts[key] = self.stats.attempts.get(key, 0) + 1
            self._sending += 1

    def _ended(self, tokens: int, *, defer: bool = False) -> None:
        self.limiter.finished(tokens, defer=defer)
        with self._cond:
            self._sending -= 1

    # -- the same policy on an event loop ------------------------------------------------------

    def _run_loop(self) -> None:
        # asyncio.run needs a thread with no running loop (a notebook's main thread has one).
        # The heap that exists now is left out of the run's collections (`gc_frozen`).
        with gc_frozen():
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                asyncio.run(self._dispatch())
                return
            t = threading.Thread(target=lambda: asyncio.run(self._dispatch()),
                                 name="lmwrapper-live-loop")
            t.start()
            t.join()

    async def _dispatch(self) -> None:
        """Start an attempt for each ready item while a slot is free; wait for the rest."""
        assert self._async_sender is not None
        sender = self._async_sender()
        self._wake = asyncio.Event()
        slots = asyncio.Semaphore(self.max_concurrency)
        tasks: set[asyncio.Task[None]] = set()
        try:
            while (item := await self._next_async()) is not None:
                await slots.acquire()
                if self._should_stop():
                    slots.release()
                    self._requeue(item, 0.0)
                    with self._cond:
                        self._in_flight -= 1
                    continue
                task = asyncio.create_task(self._attempt_async(item, sender, slots))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        except BaseException as e:  # noqa: BLE001 — a bug: stop everyone, re-raised in run
            self._fatal = self._fatal or e
        finally:
            await asyncio.gather(*tasks, return_exceptions=True)
            self.limiter.flush()
            self.stats.resent += getattr(sender, "resent", 0)
            await sender.aclose()

    async def _next_async(self) -> _Item | None:
        while True:
            with self._cond:
                if self._should_stop() or (not self._heap and self._in_flight == 0):
                    return None
                wait = self._heap[0].ready_at - self._clock() if self._heap else 0.1
                if wait <= 0:
                    self._in_flight += 1
                    return heapq.heappop(self._heap)
            self._wake.clear()  # one thread: nothing can set it between the check and here
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), min(max(wait, 0.001), 0.1))

    async def _attempt_async(self, item: _Item, sender: AsyncSender,
                             slots: asyncio.Semaphore) -> None:
        try:
            tokens = self._tokens_for(item.job)
            if not await self._acquire_async(tokens, self._deadline(item)):
                self._refused(item)
                return
            self._started(item)
            try:
                try:
                    preds = await sender.send(item.job)
                except ProviderError as e:
                    self._failed(item, e)
                    return
                self._answered()
                self._emit(item.job, preds)
            finally:  # the limiter's shared file is written with the next decision
                self._ended(tokens, defer=True)
        except BaseException as e:  # noqa: BLE001 — a ConfigurationError or a bug: re-raised in run
            self._fatal = self._fatal or e
        finally:
            with self._cond:
                self._in_flight -= 1
            slots.release()
            self._wake.set()

    async def _acquire_async(self, tokens: int, deadline: float) -> bool:
        """`limiter.acquire` without blocking the loop."""
        while (wait := self.limiter.try_acquire(tokens, track=True)) > 0:
            if self._should_stop() or self._clock() + wait > deadline:
                return False
            self.limiter.waited_s += min(wait, 0.25)
            await asyncio.sleep(min(wait, 0.25))
        return True

    def _failed(self, item: _Item, error: ProviderError) -> None:
        if isinstance(error, RejectedRequestError) and self._run_refused(item, error):
            return
        item.last_error = error
        item.bad_responses += isinstance(error, BadResponseError)
        if isinstance(error, RateLimitError):
            with self._cond:
                self.stats.rate_limited += 1
            if error.retry_after:
                self.limiter.pause(error.retry_after)
        elapsed = self._clock() - (item.first_sent or self._clock())
        if self.retry.should_retry(error, item.attempts, elapsed, item.bad_responses):
            delay = self.retry.delay(error, item.attempts, self._rng)
            if elapsed + delay < self.retry.max_elapsed_s:
                with self._cond:
                    self.stats.retries += 1
                self._requeue(item, delay)
                return
        self._give_up(item, error)

    def _run_refused(self, item: _Item, error: RejectedRequestError) -> bool:
        """A refusal that is not the prompt's (a 400 for the request we built, a gateway's
        policy) before any request of this run was answered: retried once, and refused again
        it stops the run with the provider's message, instead of sending every other prompt
        to be refused the same way (DESIGN.md: "a refusal that is ours stops the run after
        one retry"). Once some request was answered, or for a run of one prompt, it is that
        prompt's: answered as an error (not cached), as before."""
        with self._cond:
            if self.stats.answered or self._n_jobs <= 1:  # one prompt: its error is its answer
                return False
            if item.attempts <= 1:
                self.stats.retries += 1
                item.last_error = error
            elif self._fatal is None:
                self._fatal = RejectedRequestError(
                    f"{error} (refused again on a retry, before any request of this run was "
                    "answered: the run stops here instead of sending every prompt to be refused)",
                    status_code=error.status_code, code=error.code)
        with self._cond:  # first in line: its retry decides before other prompts are sent
            item.ready_at = float("-inf")
            item.seq = next(self._seq)
            heapq.heappush(self._heap, item)
            self._cond.notify_all()
        return True

    def _give_up(self, item: _Item, error: ProviderError) -> None:
        with self._cond:
            self.stats.failed += 1
        n = len(item.job.sample_indices)
        self._emit(item.job, [self._error_prediction(item.job.prompt, _final(error, item))] * n)

    def _requeue(self, item: _Item, delay: float) -> None:
        with self._cond:
            item.ready_at = self._clock() + delay
            item.seq = next(self._seq)
            heapq.heappush(self._heap, item)
            self._cond.notify_all()


def _final(error: ProviderError, item: _Item) -> ProviderError:
    """The error a prompt is answered with, saying how often it was tried."""
    if not error.retryable or item.attempts <= 1:
        return error
    cls = type(error) if isinstance(error, TransientProviderError) else TransientProviderError
    return cls(f"{error} (gave up after {item.attempts} attempts)", status_code=error.status_code,
               code=error.code)


if TYPE_CHECKING:
    def _a_live_runner_is_a_runner(runner: LiveRunner) -> Runner:
        return runner  # mypy proves LiveRunner satisfies lmwrapper.core.contract.Runner
