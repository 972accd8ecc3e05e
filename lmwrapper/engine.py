"""The predict_many pipeline: validate, key, dedupe, look up, route the misses, store, yield.

    Plan:  prompts ─► validate all (before any spend) ─► key each ─► dedupe by key
                   ─► bulk cache lookup ─► misses become Jobs (at most the backend's
                      `max_samples_per_request` samples each) ─► cost check
    Run:   Jobs ─► a runner, chosen here (batch / live API / the backend's own loop), on its
                   own thread, started when `predict_many` is called
                ─► each result stored the moment it arrives ─► yielded in input order

Planning sends nothing (`costs.uncached` and `--dry-run` stop there). Policy lives here; a
runner only turns Jobs into predictions and hands each to `emit`. A prompt whose result is
not ready blocks only the yield, never the runner, so results keep reaching the cache while
the caller is busy with earlier ones.

Stopping (Ctrl-C, `break`, an exception in the caller's loop, the iterator closed or
garbage-collected, the interpreter exiting) sends nothing new, then waits until every
request already sent has been answered and stored: it was paid for. A second Ctrl-C
abandons that wait.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import json
import os
import sys
import threading
import weakref
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self

from lmwrapper import structured
from lmwrapper.backend import NO_CACHE_PREFIX, Emit, Job, Runner, ShouldStop
from lmwrapper.batch_config import CompletionWindow
from lmwrapper.costs import format_usd
from lmwrapper.errors import CostLimitExceededError
from lmwrapper.sqlcache import CacheRow, SqlCache, canonical_json, key_of
from lmwrapper.structs import LmPrediction, LmPrompt

if TYPE_CHECKING:
    from lmwrapper.abstract_predictor import LmPredictor

PROGRESS_MIN_JOBS = 2
BARE_STRING_MAX_TOKENS = 100  # what a bare string prompt asks for, as in the seed library
_NO_CACHE = NO_CACHE_PREFIX  # slot-id prefix of prompts that neither read nor write the cache
_STOP_GRACE_S = 0.1  # how long a stopping run waits quietly before it says what it waits for


@dataclass
class RunSummary:
    """What a `predict_many` did, counted in prompts; `saved_usd` is what the cached answers
    cost when they were made. Live: `lm.last_run` is this object from the start of the run.

    `state` is "running", "finished" (every prediction yielded) or "stopped early".
    """

    prompts: int = 0
    cached: int = 0
    new: int = 0
    failed: int = 0
    spent_usd: float = 0.0
    saved_usd: float = 0.0
    state: str = "running"

    @property
    def answered(self) -> int:
        return self.cached + self.new + self.failed

    def __str__(self) -> str:
        text = (f"{self.prompts} prompts: {self.cached} cached, {self.new} new, {self.failed} failed; "
                f"spent {format_usd(self.spent_usd)}, saved {format_usd(self.saved_usd)} by the cache")
        if self.state == "finished":
            return text
        left = self.prompts - self.answered
        return f"{text}; {self.state}: {left} of {self.prompts} prompts not answered"


@dataclass
class _Slot:
    samples: dict[int, LmPrediction] = field(default_factory=dict)
    prompts: int = 0  # how many input prompts share this key (for progress)
    # Samples this run sends for the key, not answered yet: its prompts count as new or
    # failed once, when the last arrives, however many jobs (or runner lines) carry them.
    left: int = 0
    failed: bool = False  # one of the samples that arrived is an error


def as_prompt(p: LmPrompt | str) -> LmPrompt:
    """An `LmPrompt` as is; a bare string is `LmPrompt(text, max_tokens=100)` (the seed's meaning)."""
    if isinstance(p, LmPrompt):
        return p
    if isinstance(p, str):
        return LmPrompt(p, max_tokens=BARE_STRING_MAX_TOKENS)
    hint = (": a chat is LmPrompt([...turns]); several prompts go to predict_many"
            if isinstance(p, (list, tuple)) else "")
    raise TypeError(f"expected an LmPrompt or a str; got {type(p).__name__}{hint}")


def as_prompts(prompts: Iterable[LmPrompt | str]) -> list[LmPrompt]:
    if isinstance(prompts, (str, bytes, bytearray, LmPrompt)):
        raise TypeError(
            f"predict_many takes a list of prompts; got a single {type(prompts).__name__}, which "
            "would be sent one character at a time. Write predict_many([prompt]) or predict(prompt)")
    return [as_prompt(p) for p in prompts]


class Plan:
    """What a `predict_many` would do, worked out without sending anything: the prompts,
    their keys, what the cache already has (`slots`) and the `jobs` still to run."""

    def __init__(self, lm: LmPredictor, prompts: Iterable[LmPrompt | str], window: CompletionWindow,
                 *, max_cost_usd: float | None = None, retry_errors: bool = False) -> None:
        self.lm = lm
        self.window = window
        self.prompts = as_prompts(prompts)
        for p in self.prompts:
            lm.validate_prompt(p)
        ident = lm.identity_json()
        with _gc_paused():
            canonical = [canonical_json(p) for p in self.prompts]
            # A prompt with caching off gets a slot of its own: it must neither be served a
            # cached twin's answer nor decide whether that twin's answer is stored.
            self.keys = [k if self.caches(p) else _NO_CACHE + k
                         for p, c in zip(self.prompts, canonical) for k in (key_of(c, ident),)]
        self.cache: SqlCache | None = lm.cache if any(self.caches(p) for p in self.prompts) else None
        self.summary = RunSummary(prompts=len(self.prompts))
        self.slots: dict[str, _Slot] = {}
        # what every row of this predictor shares: stored in columns, not in each record
        self.defaults = lm.record_defaults()
        with _gc_paused():
            self.jobs = self._lookup(retry_errors)
        # The encoding the key was hashed from is the prompt the `prompts` table stores: kept
        # for the misses the engine will store (a batch runner stores its own), so a new
        # result's prompt is not encoded a second time.
        self.prompt_jsons: dict[str, str] = {}
        if self.jobs and not routes_to_batch(lm, window):
            missing = {j.key for j in self.jobs}
            self.prompt_jsons = {k: c for k, c in zip(self.keys, canonical) if k in missing}
        self._check_cost(max_cost_usd)
        self._count_cached()

    def caches(self, p: LmPrompt) -> bool:
        return self.lm.cache_default if p.cache is None else p.cache

    def _lookup(self, retry_errors: bool) -> list[Job]:
        need: dict[str, int] = {}
        first: dict[str, LmPrompt] = {}
        cached_keys: list[str] = []
        slots = self.slots
        for key, p in zip(self.keys, self.prompts):
            n = p.samples_needed
            if key in slots:
                slots[key].prompts += 1
                need[key] = max(need[key], n)
            else:
                slots[key] = _Slot(prompts=1)
                need[key], first[key] = n, p
            if not key.startswith(_NO_CACHE):
                cached_keys.append(key)
        rows = self.cache.get_many(list(dict.fromkeys(cached_keys))) if self.cache else {}
        per_request = self.lm.max_samples_per_request
        decode, from_record = _DECODER.raw_decode, LmPrediction.from_cache_record
        jobs: list[Job] = []
        for key, n in need.items():
            samples = slots[key].samples
            for idx, value, blob, is_error in rows.get(key, ()):
                if is_error and retry_errors:
                    continue  # sent again; its answer replaces the error row
                internals = self.lm.blob_to_internals(blob) if blob is not None else None
                samples[idx] = from_record(decode(value)[0], first[key], internals, self.defaults)
                if first[key].response_format is not None:  # parsed on read, never stored
                    samples[idx] = structured.finish(samples[idx])
            # all there: exactly 0..n-1 (fast); else a gap, such as a failed sample's error
            # row skipped by retry_errors, is missing even when later samples are cached
            if len(samples) < n or max(samples) >= n:
                missing = [i for i in range(n) if i not in samples]
                slots[key].left = len(missing)
                if missing:
                    jobs.extend(Job(key, first[key], part) for part in _split(missing, per_request))
        return jobs

    def uncached(self) -> tuple[list[LmPrompt], list[int]]:
        """The prompts still to send, one per key, and how many samples each lacks (a prompt
        may be split into several jobs: this is what a person counts)."""
        todo: dict[str, tuple[LmPrompt, int]] = {}
        for j in self.jobs:
            _, n = todo.get(j.key, (j.prompt, 0))
            todo[j.key] = (j.prompt, n + len(j.sample_indices))
        return [p for p, _ in todo.values()], [n for _, n in todo.values()]

    def _check_cost(self, max_cost_usd: float | None) -> None:
        if max_cost_usd is None or not self.jobs:
            return
        todo, samples = self.uncached()
        est = self.lm.estimate_cost(todo, self.window, samples=samples)
        if not est.priced:
            raise CostLimitExceededError(
                f"cannot bound the cost of {self.lm.model_name()}: pass "
                "input_usd_per_mtok/output_usd_per_mtok, or drop max_cost_usd")
        if est.total_usd > max_cost_usd:
            raise CostLimitExceededError(
                f"this run could cost up to ${est.total_usd:.4f} for {len(todo)} uncached "
                f"prompts, above max_cost_usd=${max_cost_usd:.4f}. Lower max_tokens, send fewer "
                "prompts, use CompletionWindow.BATCH_ANY where the model has a batch price, or "
                "raise the limit.")

    def _count_cached(self) -> None:
        for key, p in zip(self.keys, self.prompts):
            samples = self.slots[key].samples
            if samples and all(i in samples for i in range(p.samples_needed)):
                self.summary.cached += 1
                self.summary.saved_usd += sum(s.cost_usd or 0.0 for s in samples.values())


# -- routing: which runner answers the jobs ----------------------------------------------------

class _LoopRunner:
    """A backend's own loop, `lm._run(jobs, window, emit, should_stop)`, as a runner. How many
    requests it has in flight it does not say (it has no `in_flight`)."""

    def __init__(self, lm: LmPredictor, window: CompletionWindow) -> None:
        self.lm, self.window = lm, window

    def run(self, jobs: Sequence[Job], emit: Emit, should_stop: ShouldStop) -> None:
        self.lm._run(jobs, self.window, emit, should_stop)


def routes_to_batch(lm: LmPredictor, window: CompletionWindow) -> bool:
    """Whether `choose_runner` picks the batch engine (which stores its own results)."""
    return window is CompletionWindow.BATCH_ANY and lm.supports_batch


def choose_runner(lm: LmPredictor, window: CompletionWindow) -> Runner | _LoopRunner:
    """The batch engine for BATCH_ANY where the backend has a batch API; else the backend's
    live runner (API backends); else its own loop (local models)."""
    if routes_to_batch(lm, window):
        from lmwrapper.batching import batch_runner  # loaded only on this path

        runner: Runner = batch_runner(lm, lm.cache)
        return runner
    live = lm.live_runner()
    return live if live is not None else _LoopRunner(lm, window)


# -- running ------------------------------------------------------------------------------------

_Arrived = tuple[Job, list[LmPrediction], list[CacheRow]]


class Run:
    """One predict_many call: `start()` it (predict_many does), iterate it with `Results`."""

    def __init__(self, plan: Plan, progress: bool | None) -> None:
        self.plan = plan
        self.lm = plan.lm
        self.summary = plan.summary
        self._cond = threading.Condition()
        self._error: BaseException | None = None
        self._stop = threading.Event()
        self._pending: list[_Arrived] = []
        self._backend_done = False
        self._finished = not plan.jobs  # the writer has stored everything it will get
        self._next = 0
        self._stopping = threading.Lock()
        self._closed = False
        self._bar = _progress_bar(progress, len(plan.prompts), len({j.key for j in plan.jobs}))
        if self._bar is not None:
            self._advance_bar(self.summary.cached)
        self.lm.last_run = self.summary
        self.runner: Runner | _LoopRunner | None = None
        self._threads: list[threading.Thread] = []
        self._go = threading.Event()  # set once every thread started (see start)
        self._cancelled = False
        if not plan.prompts:
            self._finish("finished")

    def start(self) -> None:
        """Hand the jobs to a runner (chosen here) and start storing its answers."""
        if not self.plan.jobs:
            return
        self.runner = choose_runner(self.lm, self.plan.window)
        self._threads = [
            threading.Thread(target=self._run_backend, name="lmwrapper-run", daemon=True),
            threading.Thread(target=self._write_loop, name="lmwrapper-store", daemon=True)]
        _LIVE_RUNS.add(self)  # before anything is sent: stopped at exit whatever happens next
        try:
            for t in self._threads:
                t.start()
        except BaseException:  # Ctrl-C while starting: whether a thread runs is unknowable
            # here, so the threads wait for `_go` and, cancelled, leave before sending anything
            self._cancelled = True
            self._go.set()
            self._threads = []
            self.stop()
            raise
        self._go.set()

    # -- results arriving: the runner's threads call _emit; one writer thread stores them --

    def _emit(self, job: Job, preds: Sequence[LmPrediction]) -> None:
        if len(preds) != len(job.sample_indices):
            raise RuntimeError(f"backend returned {len(preds)} samples for {len(job.sample_indices)}")
        preds = [p.evolve(prompt=job.prompt, sample_index=i)
                 for i, p in zip(job.sample_indices, preds)]
        # a runner that stored its results before emitting them (the batch engine: rows and
        # line states in one transaction) must not have them written a second time
        store = (self.plan.cache is not None and self.plan.caches(job.prompt)
                 and not getattr(self.runner, "stores_results", False))
        # popped: each key is emitted once, and what is stored needs no memory after
        pj = self.plan.prompt_jsons.pop(job.key, None)
        rows = [self.lm.cache_row(job.key, p, pj) for p in preds if store and not p.error_is_transient]
        preds = [structured.finish(p) for p in preds]  # the raw answer is stored, parsed on read
        with self._cond:
            self._pending.append((job, preds, rows))
            self._cond.notify_all()

    def _write_loop(self) -> None:
        """Store what has arrived, all of it in one transaction, then release it to the caller.

        A result waits here only while the previous transaction commits, so a crash loses at
        most what arrived in that instant, and nothing is shown before it is stored."""
        self._go.wait()
        if self._cancelled:
            return
        while True:
            with self._cond:
                while not self._pending and not self._backend_done:
                    self._cond.wait(timeout=0.5)
                if not self._pending:
                    self._finished = True
                    self._cond.notify_all()
                    return
                batch, self._pending = self._pending, []
            try:
                if self.plan.cache is not None:
                    self.plan.cache.put_many(r for _, _, rows in batch for r in rows)
            except BaseException as e:  # cannot store: stop spending, tell the caller
                self._stop.set()
                with self._cond:
                    self._error = self._error or e
                    self._finished = True
                    self._cond.notify_all()
                return
            self._release(batch)

    def _release(self, batch: list[_Arrived]) -> None:
        done = 0
        with self._cond:
            for job, preds, _ in batch:
                slot = self.plan.slots[job.key]
                for p in preds:
                    slot.samples[p.sample_index] = p
                    self.summary.spent_usd += p.cost_usd or 0.0
                slot.failed |= any(p.has_errors for p in preds)
                slot.left -= len(preds)
                if slot.left != 0:
                    continue  # a prompt counts once, when its last sample is in
                if slot.failed:
                    self.summary.failed += slot.prompts
                else:
                    self.summary.new += slot.prompts
                done += slot.prompts
            self._cond.notify_all()
        if self._bar is not None:
            self._advance_bar(done)

    def _advance_bar(self, done: int) -> None:
        """Counters first, then the step: `update` draws the frame, which must show this
        step's counters (set after it, they showed one step late)."""
        s = self.summary
        self._bar.set_postfix(cached=s.cached, new=s.new, failed=s.failed,
                              spent=format_usd(s.spent_usd), refresh=False)
        self._bar.update(done)

    def _run_backend(self) -> None:
        assert self.runner is not None
        self._go.wait()
        try:
            if not self._cancelled:
                self.runner.run(self.plan.jobs, self._emit, self._stop.is_set)
        except BaseException as e:  # handed to the consuming thread, which re-raises it
            self._stop.set()
            with self._cond:
                self._error = e
        finally:
            with self._cond:
                self._backend_done = True
                self._cond.notify_all()

    # -- the caller's side ------------------------------------------------------------------

    def next_result(self) -> LmPrediction | list[LmPrediction]:
        """The next prediction in input order (blocks until it is stored)."""
        i = self._next
        if i >= len(self.plan.prompts) or self._closed:
            raise StopIteration
        key, p = self.plan.keys[i], self.plan.prompts[i]
        samples = self._wait_for(key, p.samples_needed)
        self._next = i + 1
        if self._next == len(self.plan.prompts):
            self._finish("finished")
        return _as_answer(p, samples)

    def _wait_for(self, key: str, n: int) -> list[LmPrediction]:
        samples = self.plan.slots[key].samples
        if len(samples) >= n and all(i in samples for i in range(n)):  # the common, cached case
            return [samples[i] for i in range(n)]
        with self._cond:
            while not all(i in samples for i in range(n)):
                if self._error is not None:
                    raise self._error
                if self._finished:
                    raise RuntimeError("the backend finished without answering every prompt")
                self._cond.wait(timeout=0.5)
            return [samples[i] for i in range(n)]

    def stop(self) -> None:
        """Send nothing new; wait until what was sent is answered and stored. Idempotent."""
        with self._stopping:
            if self._closed:
                return
            self._closed = True
        self._stop.set()
        if threading.current_thread() in self._threads:  # a finalizer run by our own thread:
            self._finish("stopped early")  # it cannot wait for itself; exit still waits
            return
        try:
            self._wait_for_threads()
        finally:
            self._finish("stopped early")
            _LIVE_RUNS.discard(self)

    def _wait_for_threads(self) -> None:
        if not self._threads:
            return
        backend = self._threads[0]
        backend.join(timeout=_STOP_GRACE_S)
        waiting = self._in_flight_text()
        if backend.is_alive() and waiting and self.summary.state != "finished":
            print(f"lmwrapper: stopping; waiting for {waiting} to be answered and stored "
                  "(Ctrl-C again to abandon them)", file=sys.stderr, flush=True)
        for t in self._threads:  # joined in slices: a second Ctrl-C gets through
            while t.is_alive():
                t.join(timeout=0.5)

    def _in_flight_text(self) -> str:
        """What a stopping run waits for, in words; "" when the runner says nothing is in flight."""
        count = getattr(self.runner, "in_flight", None)
        if count is None:  # a backend's own loop does not say
            return "the requests already sent"
        n = count()
        return f"{n} request{'s' if n != 1 else ''} already sent" if n else ""

    def _finish(self, state: str) -> None:
        if self.summary.state == "running":
            self.summary.state = state
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class Results(Iterator["LmPrediction | list[LmPrediction]"]):
    """The iterator `predict_many` returns: predictions in input order.

    Leaving it early — `break`, an exception, Ctrl-C, `close()`, or dropping it — stops the
    run: nothing new is sent, and what was already sent is stored before control returns.
    """

    def __init__(self, run: Run) -> None:
        self._run = run

    def __iter__(self) -> Results:
        return self

    def __next__(self) -> LmPrediction | list[LmPrediction]:
        try:
            return self._run.next_result()
        except StopIteration:
            raise
        except BaseException:  # Ctrl-C while waiting, a storage or backend failure
            self._run.stop()
            raise

    def close(self) -> None:
        self._run.stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self._run.stop()

    @property
    def summary(self) -> RunSummary:
        return self._run.summary


def _as_answer(p: LmPrompt, samples: list[LmPrediction]) -> LmPrediction | list[LmPrediction]:
    """The shape `p` asked for, each prediction labelled with `p` itself (a twin that differs
    only in metadata or num_completions shares the samples, not the label)."""
    if p.num_completions is None:
        s = samples[0]
        return s if s.prompt is p else s.evolve(prompt=p)
    if p.temperature == 0.0:
        samples = samples[:1] * p.num_completions
    else:
        samples = samples[: p.num_completions]
    return [s if s.prompt is p else s.evolve(prompt=p) for s in samples]


# Runs with threads still going: stopped (what was sent is stored) when the interpreter exits.
_LIVE_RUNS: weakref.WeakSet[Run] = weakref.WeakSet()


@atexit.register
def _stop_live_runs() -> None:
    for run in list(_LIVE_RUNS):
        run.stop()


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while building 100,000s of acyclic objects (keys, cached
    predictions): its repeated full scans cost ~20 % of serving a cached run."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


_DECODER = json.JSONDecoder()


def _split(indices: list[int], most: int | None) -> list[list[int]]:
    """`indices` in runs of at most `most` (None: one run): one job per request.

    >>> _split([0, 1, 3, 4, 5], 2)
    [[0, 1], [3, 4], [5]]
    """
    if most is None or len(indices) <= most:
        return [indices]
    return [indices[i : i + most] for i in range(0, len(indices), most)]


def _progress_bar(progress: bool | None, total: int, jobs: int) -> Any:
    if progress is None:
        env = os.environ.get("LMWRAPPER_PROGRESS")
        progress = env != "0" if env else (jobs >= PROGRESS_MIN_JOBS and sys.stderr.isatty())
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="lmwrapper", unit="prompt", dynamic_ncols=True)
