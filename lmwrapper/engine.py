"""The predict_many pipeline: validate, key, dedupe, look up, run the misses, store, yield.

    prompts ─► validate all (before any spend) ─► key each ─► dedupe by key
            ─► bulk cache lookup ─► misses become Jobs ─► the backend's runner (own thread)
            ─► each result stored the moment it arrives ─► yielded in input order

Policy lives here; a backend (`LmPredictor._run`) only turns Jobs into predictions and
hands each to `emit`. A prompt whose result is not ready blocks only the yield, never the
runner, so results keep reaching the cache while the caller is busy with earlier ones.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import sys
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lmwrapper import structured
from lmwrapper.backend import Job
from lmwrapper.batch_config import CompletionWindow
from lmwrapper.errors import CostLimitExceededError
from lmwrapper.sqlcache import CacheRow, SqlCache, prompt_key
from lmwrapper.structs import LmPrediction, LmPrompt

if TYPE_CHECKING:
    from lmwrapper.abstract_predictor import LmPredictor

PROGRESS_MIN_JOBS = 2
_NO_CACHE = "nocache:"  # slot-id prefix of prompts that neither read nor write the cache


@dataclass
class RunSummary:
    """What the last `predict_many` did, counted in prompts; `saved_usd` is what the cached
    answers cost when they were made."""

    prompts: int = 0
    cached: int = 0
    new: int = 0
    failed: int = 0
    spent_usd: float = 0.0
    saved_usd: float = 0.0

    def __str__(self) -> str:
        return (f"{self.prompts} prompts: {self.cached} cached, {self.new} new, {self.failed} failed; "
                f"spent ${self.spent_usd:.4f}, saved ${self.saved_usd:.4f} by the cache")


@dataclass
class _Slot:
    samples: dict[int, LmPrediction] = field(default_factory=dict)
    prompts: int = 0  # how many input prompts share this key (for progress)


def as_prompt(p: LmPrompt | str) -> LmPrompt:
    if isinstance(p, LmPrompt):
        return p
    if isinstance(p, str):
        return LmPrompt(p)
    raise TypeError(f"expected an LmPrompt or a str; got {type(p).__name__}")


class Run:
    """One predict_many call. Iterate it for results in input order."""

    def __init__(
        self,
        lm: LmPredictor,
        prompts: Iterable[LmPrompt | str],
        window: CompletionWindow,
        progress: bool | None,
        max_cost_usd: float | None,
    ) -> None:
        self.lm = lm
        self.prompts = [as_prompt(p) for p in prompts]
        self.window = window
        for p in self.prompts:
            lm.validate_prompt(p)
        ident = lm.identity_json()
        with _gc_paused():
            # A prompt with caching off gets a slot of its own: it must neither be served a
            # cached twin's answer nor decide whether that twin's answer is stored.
            self.keys = [k if self._caches(p) else _NO_CACHE + k
                         for p in self.prompts for k in (prompt_key(p.canonical(), ident),)]
        self.cache: SqlCache | None = lm.cache if any(self._caches(p) for p in self.prompts) else None
        self.summary = RunSummary(prompts=len(self.prompts))
        self._cond = threading.Condition()
        self._slots: dict[str, _Slot] = {}
        self._error: BaseException | None = None
        self._stop = threading.Event()
        self._pending: list[tuple[Job, list[LmPrediction], list[CacheRow]]] = []
        self._backend_done = False
        # what every row of this predictor shares: stored in columns, not in each record
        self._defaults = lm.record_defaults()
        self._finished = True
        with _gc_paused():
            self.jobs = self._lookup()
        self._check_cost(max_cost_usd)
        self._bar = _progress_bar(progress, len(self.prompts), len(self.jobs))
        self._count_cached()

    def _caches(self, p: LmPrompt) -> bool:
        return self.lm.cache_default if p.cache is None else p.cache

    def _lookup(self) -> list[Job]:
        need: dict[str, int] = {}
        first: dict[str, LmPrompt] = {}
        cached_keys: list[str] = []
        slots = self._slots
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
        decode, from_record = _DECODER.raw_decode, LmPrediction.from_cache_record
        jobs = []
        for key, n in need.items():
            samples = slots[key].samples
            for idx, value, blob, _ in rows.get(key, ()):
                internals = self.lm.blob_to_internals(blob) if blob is not None else None
                samples[idx] = from_record(decode(value)[0], first[key], internals, self._defaults)
                if first[key].response_format is not None:  # parsed on read, never stored
                    samples[idx] = structured.finish(samples[idx])
            if len(samples) < n:
                missing = [i for i in range(n) if i not in samples]
                if missing:
                    jobs.append(Job(key, first[key], missing))
        return jobs

    def _check_cost(self, max_cost_usd: float | None) -> None:
        if max_cost_usd is None or not self.jobs:
            return
        bound = self.lm.estimate_cost([j.prompt for j in self.jobs], self.window,
                                      samples=[len(j.sample_indices) for j in self.jobs]).total_usd
        if bound > max_cost_usd:
            raise CostLimitExceededError(
                f"this run could cost up to ${bound:.4f} for {len(self.jobs)} uncached prompts, "
                f"above max_cost_usd=${max_cost_usd:.4f}. Lower max_tokens, send fewer prompts, "
                "use CompletionWindow.BATCH_ANY where the model has a batch price, or raise the limit."
            )

    def _count_cached(self) -> None:
        for key, p in zip(self.keys, self.prompts):
            samples = self._slots[key].samples
            if samples and all(i in samples for i in range(p.samples_needed)):
                self.summary.cached += 1
                self.summary.saved_usd += sum(s.cost_usd or 0.0 for s in samples.values())
        if self._bar is not None:
            self._bar.update(self.summary.cached)
            self._refresh_bar()

    # -- results arriving: the backend's threads call _emit; one writer thread stores them --

    def _emit(self, job: Job, preds: Sequence[LmPrediction]) -> None:
        if len(preds) != len(job.sample_indices):
            raise RuntimeError(f"backend returned {len(preds)} samples for {len(job.sample_indices)}")
        preds = [p.evolve(prompt=job.prompt, sample_index=i)
                 for i, p in zip(job.sample_indices, preds)]
        store = self.cache is not None and self._caches(job.prompt)
        rows = [self.lm.cache_row(job.key, p) for p in preds if store and not p.error_is_transient]
        preds = [structured.finish(p) for p in preds]  # the raw answer is stored, parsed on read
        with self._cond:
            self._pending.append((job, preds, rows))
            self._cond.notify_all()

    def _write_loop(self) -> None:
        """Store what has arrived, all of it in one transaction, then release it to the caller.

        A result waits here only while the previous transaction commits, so a crash loses at
        most what arrived in that instant, and nothing is shown before it is stored."""
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
                if self.cache is not None:
                    self.cache.put_many(r for _, _, rows in batch for r in rows)
            except BaseException as e:  # cannot store: stop spending, tell the caller
                self._stop.set()
                with self._cond:
                    self._error = self._error or e
                    self._finished = True
                    self._cond.notify_all()
                return
            self._release(batch)

    def _release(self, batch: list[tuple[Job, list[LmPrediction], list[CacheRow]]]) -> None:
        done = 0
        with self._cond:
            for job, preds, _ in batch:
                slot = self._slots[job.key]
                for p in preds:
                    slot.samples[p.sample_index] = p
                    self.summary.spent_usd += p.cost_usd or 0.0
                if any(p.has_errors for p in preds):
                    self.summary.failed += slot.prompts
                else:
                    self.summary.new += slot.prompts
                done += slot.prompts
            self._cond.notify_all()
        if self._bar is not None:
            self._bar.update(done)
            self._refresh_bar()

    def _refresh_bar(self) -> None:
        s = self.summary
        self._bar.set_postfix(cached=s.cached, new=s.new, failed=s.failed, refresh=False)

    def _run_backend(self) -> None:
        try:
            self.lm._run(self.jobs, self.window, self._emit, self._stop.is_set)
        except BaseException as e:  # handed to the consuming thread, which re-raises it
            with self._cond:
                self._error = e
        finally:
            with self._cond:
                self._backend_done = True
                self._cond.notify_all()

    def __iter__(self) -> Iterator[LmPrediction | list[LmPrediction]]:
        threads = []
        if self.jobs:
            self._finished = False
            threads = [threading.Thread(target=self._run_backend, name="lmwrapper-run", daemon=True),
                       threading.Thread(target=self._write_loop, name="lmwrapper-store", daemon=True)]
            for t in threads:
                t.start()
        try:
            for key, p in zip(self.keys, self.prompts):
                samples = self._wait_for(key, p.samples_needed)
                if p.num_completions is None:
                    yield samples[0]
                elif p.temperature == 0.0:
                    yield [samples[0]] * p.num_completions
                else:
                    yield samples[: p.num_completions]
        finally:
            self._stop.set()
            for t in threads:
                t.join(timeout=30)
            if self._bar is not None:
                self._bar.close()
            self.lm.last_run = self.summary

    def _wait_for(self, key: str, n: int) -> list[LmPrediction]:
        samples = self._slots[key].samples
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


def _progress_bar(progress: bool | None, total: int, jobs: int) -> Any:
    if progress is None:
        env = os.environ.get("LMWRAPPER_PROGRESS")
        progress = env != "0" if env else (jobs >= PROGRESS_MIN_JOBS and sys.stderr.isatty())
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="lmwrapper", unit="prompt", dynamic_ncols=True)
