"""Planning a `predict_many`: validate, key, dedupe, look up; the misses become Jobs.

    prompts ─► validate all (before any spend) ─► key each ─► dedupe by key
            ─► bulk cache lookup ─► misses become Jobs (at most the backend's
               `max_samples_per_request` samples each) ─► cost check

A `Plan` sends nothing (`costs.uncached` and `--dry-run` stop here); `lmwrapper.engine.run` runs
it. Kept apart from the running so each reads on its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from lmwrapper.core import answers
from lmwrapper.core.contract import NO_CACHE_PREFIX, Backend, Emit, Job, Runner, ShouldStop
from lmwrapper.core.errors import CostLimitExceededError
from lmwrapper.core.gcpause import gc_paused
from lmwrapper.core.money import format_usd
from lmwrapper.core.prompt import LmPrediction, LmPrompt
from lmwrapper.core.window import CompletionWindow
from lmwrapper.store.db import SqlCache
from lmwrapper.store.keys import canonical_json, key_of
from lmwrapper.store.rows import RowCodec, StoredSample

if TYPE_CHECKING:
    from collections.abc import Sequence

    from lmwrapper.core.money import CostEstimate

BARE_STRING_MAX_TOKENS = 100  # what a bare string prompt asks for, as in the seed library
_NO_CACHE = NO_CACHE_PREFIX  # slot-id prefix of prompts that neither read nor write the cache

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
    # As `lmwrapper run --dry-run` counts them: distinct prompts (a repeated one is sent once)
    # and how many of those the cache lacked when the run started.
    unique: int = 0
    to_send: int = 0

    @property
    def answered(self) -> int:
        return self.cached + self.new + self.failed

    @property
    def unique_cached(self) -> int:
        """Distinct prompts the cache answered: the dry run's "cached"."""
        return self.unique - self.to_send

    def __str__(self) -> str:
        counted = (f" ({self.unique} unique, {self.to_send} to send)"
                   if self.unique != self.prompts else "")
        text = (f"{self.prompts} prompts{counted}: {self.cached} cached, {self.new} new, {self.failed} failed; "
                f"spent {format_usd(self.spent_usd)}, saved {format_usd(self.saved_usd)} by the cache")
        if self.state == "finished":
            return text
        left = self.prompts - self.answered
        return f"{text}; {self.state}: {left} of {self.prompts} prompts not answered"


class Model(Backend, Protocol):
    """The model as the plan and the run see it: every `LmPredictor` is one
    (`engine/predictor.py`, the front door, which imports the plan and the run)."""

    last_run: RunSummary | None  # set at the start of each run

    @property
    def cache(self) -> SqlCache: ...

    @property
    def cache_default(self) -> bool: ...

    @property
    def max_samples_per_request(self) -> int | None: ...

    def validate_prompt(self, prompt: LmPrompt) -> None: ...

    def row_codec(self) -> RowCodec: ...

    def live_runner(self) -> Runner | None: ...

    def _run(self, jobs: Sequence[Job], window: CompletionWindow, emit: Emit,
             should_stop: ShouldStop) -> None: ...


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


def _not_utf8(canonical: list[str]) -> ValueError:
    """The error for a prompt holding a lone surrogate (e.g. "\\ud800" from a broken decode):
    no provider, tokenizer or cache can take it, so it is refused before anything is sent."""
    for i, c in enumerate(canonical):
        try:
            c.encode()
        except UnicodeEncodeError as e:
            bad = c[e.start:e.end].encode("unicode_escape").decode()
            return ValueError(
                f"prompt {i}: its text holds {bad}, a lone surrogate that is not valid Unicode "
                "text (usually a broken decode upstream). Fix: clean it, e.g. "
                "text.encode('utf-8', 'replace').decode()")
    return ValueError("a prompt's text is not valid Unicode")


def as_prompts(prompts: Iterable[LmPrompt | str]) -> list[LmPrompt]:
    if isinstance(prompts, (str, bytes, bytearray, LmPrompt)):
        raise TypeError(
            f"predict_many takes a list of prompts; got a single {type(prompts).__name__}, which "
            "would be sent one character at a time. Write predict_many([prompt]) or predict(prompt)")
    return [as_prompt(p) for p in prompts]


def unique_prompts(prompts: Iterable[LmPrompt | str], samples: Sequence[int] | None = None,
                   cache_default: bool = True) -> tuple[list[LmPrompt], list[int]]:
    """The prompts an estimate prices, each as often as `predict_many` sends it: a repeated
    prompt once (its key is one slot), with the most samples any copy asks for.

    >>> unique_prompts(["a", "b", "a"])[1]
    [1, 1]

    With `samples`, the prompts were planned already (`Plan.uncached`) and are taken as is.
    """
    listed = as_prompts(prompts)
    if samples is not None:
        return listed, list(samples)
    slot: dict[tuple[bool, str], int] = {}
    out: list[LmPrompt] = []
    counts: list[int] = []
    for p in listed:
        # a prompt with caching off never shares a cached twin's slot (as in Plan)
        key = (cache_default if p.cache is None else p.cache, canonical_json(p))
        if key in slot:
            counts[slot[key]] = max(counts[slot[key]], p.samples_needed)
            continue
        slot[key] = len(out)
        out.append(p)
        counts.append(p.samples_needed)
    return out, counts


class Plan:
    """What a `predict_many` would do, worked out without sending anything: the prompts,
    their keys, what the cache already has (`slots`) and the `jobs` still to run."""

    def __init__(self, lm: Model, prompts: Iterable[LmPrompt | str], window: CompletionWindow,
                 *, max_cost_usd: float | None = None, retry_errors: bool = False) -> None:
        self.lm = lm
        self.window = window
        self.retry_errors = retry_errors
        self.prompts = as_prompts(prompts)
        for p in self.prompts:
            lm.validate_prompt(p)
        ident = lm.identity_json()
        with gc_paused():
            canonical = [canonical_json(p) for p in self.prompts]
            # A prompt with caching off gets a slot of its own: it must neither be served a
            # cached twin's answer nor decide whether that twin's answer is stored.
            try:
                self.keys = [k if self.caches(p) else _NO_CACHE + k
                             for p, c in zip(self.prompts, canonical) for k in (key_of(c, ident),)]
            except UnicodeEncodeError:
                raise _not_utf8(canonical) from None
        self.cache: SqlCache | None = lm.cache if any(self.caches(p) for p in self.prompts) else None
        self.summary = RunSummary(prompts=len(self.prompts))
        self.slots: dict[str, _Slot] = {}
        self.codec: RowCodec = lm.row_codec()  # how a cached row becomes a prediction and back
        with gc_paused():
            self.jobs = self._lookup(retry_errors)
        # The encoding the key was hashed from is the prompt the `prompts` table stores: kept
        # for the misses the engine will store (a batch runner stores its own), so a new
        # result's prompt is not encoded a second time.
        self.prompt_jsons: dict[str, str] = {}
        if self.jobs and not routes_to_batch(lm, window):
            missing = {j.key for j in self.jobs}
            self.prompt_jsons = {k: c for k, c in zip(self.keys, canonical) if k in missing}
        self.summary.unique = len(self.slots)  # as the dry run counts: a repeated prompt once
        self.summary.to_send = len({j.key for j in self.jobs})
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
        decode_into = self.codec.decode_into  # `decode_rows`, inlined: once per cached key
        jobs: list[Job] = []
        for key, n in need.items():
            samples = slots[key].samples
            if key in rows:
                prompt = first[key]
                decode_into(samples, prompt, rows[key], retry_errors)
                if prompt.response_format is not None:
                    _finish(samples, rows[key])
            # all there: exactly 0..n-1 (fast); else a gap, such as a failed sample's error
            # row skipped by retry_errors, is missing even when later samples are cached
            if len(samples) < n or max(samples) >= n:
                missing = [i for i in range(n) if i not in samples]
                slots[key].left = len(missing)
                if missing:
                    jobs.extend(Job(key, first[key], tuple(part))
                                for part in _split(missing, per_request))
        return jobs

    def decode_rows(self, samples: dict[int, LmPrediction], prompt: LmPrompt,
                    rows: Sequence[StoredSample], retry_errors: bool) -> None:
        """Cached `rows` of `prompt`'s key into `samples` (marked `was_cached`); error rows
        left out when `retry_errors` (sent again: the answer replaces the error row)."""
        self.codec.decode_into(samples, prompt, rows, retry_errors)
        if prompt.response_format is not None:
            _finish(samples, rows)

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
                f"this run could cost up to {format_usd(est.total_usd)} for {len(todo)} uncached "
                f"prompts, above max_cost_usd={format_usd(max_cost_usd)}. Lower max_tokens, send fewer "
                "prompts, use CompletionWindow.BATCH_ANY where the model has a batch price, or "
                "raise the limit.")

    def _count_cached(self) -> None:
        for key, p in zip(self.keys, self.prompts):
            samples = self.slots[key].samples
            if samples and all(i in samples for i in range(p.samples_needed)):
                self.summary.cached += 1
                self.summary.saved_usd += sum(s.cost_usd or 0.0 for s in samples.values())


def uncached(lm: Model, prompts: Sequence[LmPrompt | str],
             window: CompletionWindow = CompletionWindow.ASAP) -> tuple[list[LmPrompt], list[int]]:
    """The prompts (and sample counts) a `predict_many` would send; nothing is sent or started
    (the engine's planning step alone: validate, key, dedupe, look up)."""
    return Plan(lm, prompts, window).uncached()


def estimate_run(lm: Model, prompts: Sequence[LmPrompt | str],
                 window: CompletionWindow = CompletionWindow.ASAP) -> CostEstimate:
    """What a `predict_many(prompts, window)` would cost at most, cached answers excluded."""
    todo, samples = uncached(lm, prompts, window)
    return lm.estimate_cost(todo, window, samples=samples)

def routes_to_batch(lm: Model, window: CompletionWindow) -> bool:
    """Whether `choose_runner` picks the batch engine (which stores its own results)."""
    return window is CompletionWindow.BATCH_ANY and lm.supports_batch


def _finish(samples: dict[int, LmPrediction], rows: Sequence[StoredSample]) -> None:
    """Parse the answers just decoded from `rows` (a JSON response format is parsed on read,
    never stored)."""
    for idx, *_ in rows:
        if idx in samples:
            samples[idx] = answers.finish(samples[idx])


def _split(indices: list[int], most: int | None) -> list[list[int]]:
    """`indices` in runs of at most `most` (None: one run): one job per request.

    >>> _split([0, 1, 3, 4, 5], 2)
    [[0, 1], [3, 4], [5]]
    """
    if most is None or len(indices) <= most:
        return [indices]
    return [indices[i : i + most] for i in range(0, len(indices), most)]
