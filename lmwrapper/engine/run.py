"""The predict_many pipeline: validate, key, dedupe, look up, route the misses, store, yield.

    Plan:  prompts ─► validate all (before any spend) ─► key each ─► dedupe by key
                   ─► bulk cache lookup ─► misses become Jobs (one per key: every sample
                      it lacks) ─► size limits and context window (one that cannot go is
                      refused, not sent) ─► cost check
    Run:   Jobs ─► a runner, chosen here (batch / live API / the backend's own loop), on its
                   own thread, started when `predict_many` is called; the runner cuts each
                   job into requests or batch lines (`Job.parts`)
                ─► each result stored the moment it arrives ─► yielded in input order

Planning (`lmwrapper.engine.plan`) sends nothing (`costs.uncached` and `--dry-run` stop there).
Policy lives here; a runner only turns Jobs into predictions and hands each to `emit`. A prompt whose result is
not ready blocks only the yield, never the runner, so results keep reaching the cache while
the caller is busy with earlier ones.

Stopping (Ctrl-C, `break`, an exception in the caller's loop, the iterator closed or
garbage-collected, the interpreter exiting) sends nothing new, then waits until every
request already sent has been answered and stored: it was paid for. A second Ctrl-C
abandons that wait.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import os
import sys
import threading
import time
import warnings
import weakref
from collections.abc import Iterator, Sequence
from typing import Any, Self

from lmwrapper.core import answers
from lmwrapper.core.contract import Emit, Job, Runner, ShouldStop
from lmwrapper.core.errors import CacheFileError
from lmwrapper.core.gcpause import gc_paused
from lmwrapper.core.money import format_usd
from lmwrapper.core.prompt import LmPrediction, LmPrompt
from lmwrapper.core.window import BACKGROUND_WINDOWS, CompletionWindow
from lmwrapper.core.words import counted
from lmwrapper.engine.plan import FrontDoor, Model, Plan, RunSummary, as_dicts, routes_to_batch
from lmwrapper.runners.background import BackgroundRunner
from lmwrapper.runners.batch import batch_runner
from lmwrapper.store.background_records import BackgroundRecords
from lmwrapper.store.claims import Lease
from lmwrapper.store.journal import Journal
from lmwrapper.store.rows import CacheRow
from lmwrapper.store.rows import records as decoded_records

PROGRESS_MIN_JOBS = 2
_STOP_GRACE_S = 0.1  # how long a stopping run waits quietly before it says what it waits for
_DECODE_AHEAD = 5000  # cached answers decoded per pause of the collector (~3 MB of them)


# -- routing: which runner answers the jobs ----------------------------------------------------

class _LoopRunner:
    """A backend's own loop, `backend._run(jobs, window, emit, should_stop)`, as a runner.
    How many requests it has in flight it does not say."""

    stores_results = False

    def __init__(self, backend: Model, window: CompletionWindow) -> None:
        self.backend, self.window = backend, window

    def run(self, jobs: Sequence[Job], emit: Emit, should_stop: ShouldStop) -> None:
        self.backend._run(jobs, self.window, emit, should_stop)

    def in_flight(self) -> None:
        return None


def choose_runner(lm: FrontDoor, window: CompletionWindow) -> Runner:
    """The batch engine for BATCH_ANY where the backend has a batch API (recording its steps
    in the front door's cache); the background runner for a background window (the plan
    checked the backend has one); else the backend's live runner (API backends); else its
    own loop (local models)."""
    backend = lm.backend
    if routes_to_batch(backend, window):
        runner: Runner = batch_runner(backend, lm.cache)
        return runner
    if window in BACKGROUND_WINDOWS:
        return BackgroundRunner(backend, lm.cache, backend.background_adapter(),
                                window, workers=backend.max_concurrency,
                                max_samples_per_request=backend.max_samples_per_request)
    live = backend.live_runner()
    return live if live is not None else _LoopRunner(backend, window)


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
        self._total = len(plan.prompts)
        self._ahead: collections.deque[tuple[Any, float]] = collections.deque()
        self.as_dicts = False  # hand out `to_dict(include_prompt=False)` forms (`Results.dicts`)
        self._stopping = threading.Lock()
        self._closed = False
        self._bar = _progress_bar(progress, len(plan.prompts), len({j.key for j in plan.jobs}))
        self._sendable = plan.sendable()  # what the runner gets
        if self._bar is not None:
            self._advance_bar(self.summary.cached)
        self.lm.last_run = self.summary
        self.runner: Runner | None = None
        self._threads: list[threading.Thread] = []
        self._go = threading.Event()  # set once every thread started (see start)
        self._cancelled = False
        # The store cannot take answers right now (its file is locked): send nothing new,
        # hold what arrives, go on once it is stored (see _write_loop).
        self._blocked = threading.Event()
        # key → the sample indices answered, as bits (a runner emits the parts it cut a job
        # into; 1 << 0 is a shared small int, so a million one-sample prompts cost only the
        # dict): what is left of each job is sent on after a pause
        self._emitted: dict[str, int] = {}
        self._journal: Journal | None = None  # set once the store failed: answers go there
        self._started_at = time.time()
        self._lease: Any = None
        self._interrupted = False  # the runner was told to pause: it returns with jobs left
        if not plan.prompts:
            self._finish("finished")

    def _warn_background_pending(self) -> None:
        """A run outside the background windows sends prompts whose background responses a
        run in one created and has not collected (they go on at the provider): say so, as
        each is then paid twice."""
        window = self.plan.window
        if (window in BACKGROUND_WINDOWS or self.plan.cache is None
                or not self.lm.backend.supports_background):  # no records of this model
            return
        n = BackgroundRecords(self.plan.cache).pending([j.key for j in self._sendable])
        if n:
            warnings.warn(
                f"{counted(n, 'prompt')} of this run {'has' if n == 1 else 'have'} background "
                f"responses a background run created and has not collected; this {window.value} run sends "
                "them again, and both are billed. To collect them instead, run them in "
                "CompletionWindow.BACKGROUND_2H or BACKGROUND_8H", stacklevel=4)

    def start(self) -> None:
        """Hand the jobs to a runner (chosen here) and start storing its answers."""
        if not self.plan.jobs:
            return
        if self._sendable:
            self.runner = choose_runner(self.lm, self.plan.window)
            self._warn_background_pending()
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

    def _emit(self, job: Job, preds: Sequence[LmPrediction], *, ours: bool = False) -> None:
        """`ours`: an answer the engine made (a refusal), stored here whatever the runner."""
        if len(preds) != len(job.sample_indices):
            raise RuntimeError(f"backend returned {len(preds)} samples for {len(job.sample_indices)}")
        preds = [p.evolve(prompt=job.prompt, sample_index=i)
                 for i, p in zip(job.sample_indices, preds)]
        # a runner that stored its results before emitting them (the batch engine: rows and
        # line states in one transaction) must not have them written a second time
        store = (self.plan.cache is not None and self.plan.caches(job.prompt)
                 and (ours or not (self.runner is not None and self.runner.stores_results)))
        # popped: each key is emitted once, and what is stored needs no memory after
        pj = self.plan.prompt_jsons.pop(job.key, None)
        rows = [self.plan.codec.row(job.key, p, pj) for p in preds if store and not p.error_is_transient]
        preds = [answers.finish(p) for p in preds]  # the raw answer is stored, parsed on read
        with self._cond:
            self._emitted[job.key] = self._emitted.get(job.key, 0) | _bits(job.sample_indices)
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
                    if self._journal is not None:
                        self._journal.close()
                    return
                batch, self._pending = self._pending, []
            try:
                self._store([r for _, _, rows in batch for r in rows])
            except BaseException as e:  # noqa: BLE001  (cannot store: stop spending, keep them)
                self._keep_aside(batch, e)
            self._release(batch)

    def _store(self, rows: list[CacheRow]) -> None:
        """`rows` into the cache; into the journal once the cache failed this run."""
        if self._journal is not None:
            self._journal.write(rows)
        elif self.plan.cache is not None and rows:
            self.plan.cache.put_many(rows, on_wait=self._store_waits)
            if self._blocked.is_set():
                print(f"lmwrapper: cache file {self.plan.cache.path} is free again: "
                      "answers stored, sending resumed", file=sys.stderr, flush=True)
                self._blocked.clear()

    def _store_waits(self) -> None:
        """The cache file's lock is not free: send nothing more until it is (called by the
        store on the writer thread, once per transaction that waits)."""
        if self._blocked.is_set():
            return
        self._blocked.set()
        cache = self.plan.cache
        assert cache is not None
        print(f"lmwrapper: cache file {cache.path} is locked by another process: sending "
              f"paused; the answers that arrive are held until it is free (after "
              f"{cache._lock_timeout:g} s they are handed back and kept in a journal beside it)",
              file=sys.stderr, flush=True)

    def _keep_aside(self, batch: list[_Arrived], error: BaseException) -> None:
        """The store failed (locked past the timeout, disk full, file gone): stop sending;
        this batch, every answer still to arrive and, if the file was deleted or replaced,
        what this run stored in it go to a journal the next run imports first."""
        self._stop.set()
        self._blocked.clear()
        cache = self.plan.cache
        assert cache is not None
        rows = [r for _, _, rs in batch for r in rs]
        if cache.replaced():  # what was stored went to a file nobody will open again
            rows = cache.rows_since(self._started_at) + rows
        self._journal = Journal(cache.path)
        try:
            self._journal.write(rows)
        except OSError as e:
            print(f"lmwrapper: could not keep {counted(len(rows), 'answer')} in {self._journal.path} "
                  f"({e.strerror}); they are still handed back", file=sys.stderr, flush=True)
        if isinstance(error, CacheFileError):
            error = type(error)(f"{error} This run sent nothing more; the answers it received "
                                f"are handed back and kept in {self._journal.path}, which the "
                                f"next run on this cache imports first.")
        with self._cond:
            self._error = self._error or error
            self._cond.notify_all()

    def _release(self, batch: list[_Arrived]) -> None:
        done = 0
        with self._cond:
            for job, preds, _ in batch:
                slot = self.plan.slots[job.key]
                for p in preds:
                    slot.samples[p.sample_index] = p
                    if not p.was_cached:  # was_cached: another process's answer, waited for
                        self.summary.spent_usd += p.cost_usd or 0.0
                slot.failed |= any(p.has_errors for p in preds)
                slot.left -= len(preds)
                if slot.left != 0:
                    continue  # a prompt counts once, when its last sample is in
                if all(p.was_cached for p in slot.samples.values()):
                    self.summary.cached += slot.prompts
                    self.summary.saved_usd += sum(p.cost_usd or 0.0 for p in slot.samples.values())
                elif slot.failed:
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
        self._go.wait()
        try:
            if not self._cancelled:
                for job in self.plan.jobs if self.plan.refused else ():
                    if job.key in self.plan.refused:  # answered here, never sent
                        refused = self.plan.refused_prediction(job)
                        self._emit(job, [refused] * len(job.sample_indices), ours=True)
                if self._sendable:
                    self._send(self._sendable)
        except BaseException as e:  # noqa: BLE001  (handed to the consuming thread, which re-raises it)
            self._stop.set()
            with self._cond:
                self._error = e
        finally:
            with self._cond:
                self._backend_done = True
                self._cond.notify_all()

    # -- claims: a key another live process is sending is waited for, not sent (lmwrapper.store.claims)

    def _send(self, jobs: Sequence[Job]) -> None:
        """Send the jobs this run claims; serve from the cache those another process answers.

        The batch engine claims its own lines; a run without a cache has nothing to share."""
        assert self.runner is not None
        if self.plan.cache is None or self.runner.stores_results:
            self.runner.run(jobs, self._emit, self._stop.is_set)
            return
        lease = self._lease = Lease(self.plan.cache, retry_errors=self.plan.retry_errors)
        try:
            while jobs:
                mine, held = lease.take(jobs)  # again after a pause: what others answered since
                if held:
                    self._send_and_wait(lease, mine, held)
                elif mine:  # the usual case: nobody else is on these prompts
                    self.runner.run(mine, self._emit, self._paused)
                if not self._resume():
                    break
                with self._cond:
                    jobs = self._unanswered(jobs)
        finally:
            lease.close(release=self._journal is None)

    def _unanswered(self, jobs: Sequence[Job]) -> list[Job]:
        """What is left of `jobs` once the parts emitted so far are taken out."""
        left = []
        for j in jobs:
            done = self._emitted.get(j.key, 0)
            rest = tuple(i for i in j.sample_indices if not done >> i & 1)
            if rest:
                left.append(j if len(rest) == len(j.sample_indices) else
                            Job(j.key, j.prompt, rest, j.window))
        return left

    def _paused(self) -> bool:
        """Send nothing new: stopping, the store cannot take answers, or this run's claims
        lapsed while it was paused (Ctrl-Z, a laptop asleep): they are taken again first."""
        if self._stop.is_set():
            return True
        if self._blocked.is_set() or self._lease.lapsed():
            self._interrupted = True
            return True
        return False

    def _resume(self) -> bool:
        """After the runner returned: whether to go on with the jobs not answered yet (the
        store took what was held, or the claims are to be taken again), not stop."""
        if not self._interrupted:
            return False
        self._interrupted = False
        while self._blocked.is_set() and not self._stop.is_set():
            self._stop.wait(0.1)  # the writer decides: stored (go on) or kept aside (stop)
        return not self._stop.is_set()

    def _send_and_wait(self, lease: Any, mine: list[Job], held: list[Job]) -> None:
        """Send `mine` (on a thread, one batch at a time) while polling `held`: each held job is
        served when its answer is stored, or sent here once its claim lapses."""
        assert self.runner is not None
        runner, failed = self.runner, []

        def send(batch: list[Job]) -> None:
            try:
                runner.run(batch, self._emit, self._paused)
            except BaseException as e:  # noqa: BLE001  (re-raised on the backend thread)
                failed.append(e)
                self._stop.set()

        sender: threading.Thread | None = None
        queue = mine
        try:
            while not self._paused():
                if queue and (sender is None or not sender.is_alive()):
                    sender = threading.Thread(target=send, args=(queue,), name="lmwrapper-send",
                                              daemon=True)
                    queue = []
                    sender.start()
                if not held and not queue:
                    break
                self._stop.wait(lease.poll_s)
                if held:
                    ready, rows, taken, held = lease.poll(held)
                    queue = queue + taken
                    for job in ready:
                        self._emit_cached(job, rows[job.key])
        finally:
            if sender is not None:
                sender.join()
        if failed:
            raise failed[0]

    def _emit_cached(self, job: Job, rows: tuple[tuple[int, str, bytes | None, bool], ...]) -> None:
        """A job another process answered: its stored rows, released as cached predictions."""
        samples: dict[int, LmPrediction] = {}
        self.plan.decode_rows(samples, job.prompt, rows, self.plan.retry_errors)
        self.plan.prompt_jsons.pop(job.key, None)
        preds = [samples[i] for i in job.sample_indices]
        with self._cond:
            self._emitted[job.key] = self._emitted.get(job.key, 0) | _bits(job.sample_indices)
            self._pending.append((job, preds, []))
            self._cond.notify_all()

    # -- the caller's side ------------------------------------------------------------------

    def next_result(self) -> LmPrediction | list[LmPrediction]:
        """The next prediction in input order (blocks until it is stored). Cached ones are
        decoded when they are reached, a few hundred at a time (`_decode_ahead`)."""
        i, ahead = self._next, self._ahead
        if ahead and not self._closed:  # the usual cached answer: decoded already
            answer, saved = ahead.popleft()
            self.summary.saved_usd += saved
            self._next = i = i + 1
            if i == self._total:
                self._finish("finished")
            return answer  # type: ignore[no-any-return]
        plan = self.plan
        if i >= len(plan.prompts) or self._closed:
            raise StopIteration
        ahead = self._decode_ahead(i)
        if ahead:
            answer, saved = ahead.popleft()
            self.summary.saved_usd += saved
        else:
            p = plan.prompts[i]
            answer = _as_answer(p, self._wait_for(plan.keys[i], p.samples_needed))
            if self.as_dicts:
                answer = as_dicts(answer)
        self._next = i + 1
        if self._next == len(plan.prompts):
            self._finish("finished")
        return answer

    def _decode_ahead(self, i: int) -> collections.deque[tuple[Any, float]]:
        """The answers (and what each cost when made) of the run of cached prompts from `i`
        on, at most `_DECODE_AHEAD` of them, in input order; empty when prompt `i` is not
        cached. The collector is paused meanwhile (`gc_paused`: it would scan the caller's
        heap every few hundred predictions), never while the caller's code runs."""
        plan, ahead = self.plan, self._ahead
        cached, keys, prompts = plan.cached, plan.keys, plan.prompts
        answer = plan.answer_dict if self.as_dicts else plan.answer
        with gc_paused():
            found = []
            get = cached.get
            for key in keys[i : i + _DECODE_AHEAD]:
                rows = get(key)
                if rows is None:
                    break
                found.append(rows)
            # the first row of each, decoded by one parse (None: each decoded alone)
            records = decoded_records([rows[0][1] for rows in found])
            for j, rows in enumerate(found, i):
                try:
                    ahead.append(answer(prompts[j], rows,
                                        records[j - i] if records is not None else None))
                except Exception:
                    if not ahead:
                        raise
                    break  # raised when prompt j is reached, not before
        return ahead

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
        n = self.runner.in_flight() if self.runner is not None else 0
        if n is None:  # a backend's own loop does not say
            return "the requests already sent"
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

    def dicts(self) -> Iterator[dict[str, Any] | list[dict[str, Any]]]:
        """The same answers, in the same order, each as `to_dict(include_prompt=False)` (a
        list of them where `num_completions` asks for a list): what `lmwrapper run` writes.
        A cached answer is made from its stored row without building an `LmPrediction`
        (lists where a prediction holds tuples: the same JSON). Ask before taking any answer;
        the run stops as these results do, when this iterator is closed or dropped."""
        if self._run._next:
            raise RuntimeError("dicts(): answers were already taken as predictions; call "
                               "dicts() before the first next()")
        self._run.as_dicts = True
        return _Dicts(self)

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


class _Dicts(Iterator["dict[str, Any] | list[dict[str, Any]]"]):
    """`Results.dicts()`: holds the results, so the run goes on while this is iterated."""

    def __init__(self, results: Results) -> None:
        self._results = results
        self._run = results._run

    def __iter__(self) -> _Dicts:
        return self

    def __next__(self) -> dict[str, Any] | list[dict[str, Any]]:
        try:  # as Results.__next__ (the run's answers are dicts now: Run.as_dicts)
            answer: Any = self._run.next_result()
        except StopIteration:
            raise
        except BaseException:
            self._run.stop()
            raise
        return answer  # type: ignore[no-any-return]

    def close(self) -> None:
        self._results.close()


def _bits(indices: Sequence[int]) -> int:
    """Sample indices as the bits of one int: (0, 2) → 0b101."""
    bits = 0
    for i in indices:
        bits |= 1 << i
    return bits


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




def _progress_bar(progress: bool | None, total: int, jobs: int) -> Any:
    if progress is None:
        env = os.environ.get("LMWRAPPER_PROGRESS")
        progress = env != "0" if env else (jobs >= PROGRESS_MIN_JOBS and sys.stderr.isatty())
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="lmwrapper", unit="prompt", dynamic_ncols=True)
