"""Planning a `predict_many`: validate, key, dedupe, look up; the misses become Jobs.

    prompts ─► validate all (before any spend) ─► key each ─► dedupe by key
            ─► bulk cache lookup ─► misses become Jobs (one per key: every sample it
               lacks; the runner cuts them into requests) ─► size limits (too large to
               send or store: that prompt's RequestTooLargeError) ─► context-window check
                      (engine/context.py: one that cannot fit is refused, not sent)
                   ─► cost check

A `Plan` sends nothing (`costs.uncached` and `--dry-run` stop here); `lmwrapper.engine.run` runs
it. Kept apart from the running so each reads on its own.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, Self, SupportsIndex

from lmwrapper.core import answers
from lmwrapper.core.contract import NO_CACHE_PREFIX, Backend, Emit, Job, Runner, ShouldStop
from lmwrapper.core.errors import (
    CostLimitExceededError,
    PermanentProviderError,
    ProviderError,
    RequestTooLargeError,
)
from lmwrapper.core.gcpause import gc_paused
from lmwrapper.core.limits import SizeLimit
from lmwrapper.core.limits import refusal as size_refusal
from lmwrapper.core.money import format_usd
from lmwrapper.core.prompt import LmPrediction, LmPrompt
from lmwrapper.core.window import CompletionWindow
from lmwrapper.core.words import counted
from lmwrapper.engine.context import refusal
from lmwrapper.runners.background import BackgroundAdapter
from lmwrapper.store.db import SqlCache
from lmwrapper.store.keys import canonical_json, keys_of
from lmwrapper.store.rows import RowCodec, StoredSample

if TYPE_CHECKING:
    from collections.abc import Sequence

    from lmwrapper.core.context import ContextNeed
    from lmwrapper.core.money import CostEstimate

BARE_STRING_MAX_TOKENS = 100  # what a bare string prompt asks for, as in the seed library
_NO_CACHE = NO_CACHE_PREFIX  # slot-id prefix of prompts that neither read nor write the cache

@dataclass
class RunSummary:
    """What a `predict_many` did, counted in prompts; `saved_usd` is what the cached answers
    handed out so far cost when they were made (a cached row is decoded when its prompt is
    handed out). Live: `lm.last_run` is this object from the start of the run.

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
    # Of the distinct prompts the cache lacked, those refused before sending (over the
    # model's context window, or too large to send or store): each is its prompt's error,
    # not among `to_send`.
    refused: int = 0

    @property
    def answered(self) -> int:
        return self.cached + self.new + self.failed

    @property
    def unique_cached(self) -> int:
        """Distinct prompts the cache answered: the dry run's "cached" (neither to send nor
        refused)."""
        return self.unique - self.to_send - self.refused

    def __str__(self) -> str:
        extra = (f" ({self.unique} unique, {self.to_send} to send)"
                   if self.unique != self.prompts else "")
        if self.refused:
            extra += f" ({self.refused} refused before sending)"
        text = (f"{counted(self.prompts, 'prompt')}{extra}: {self.cached} cached, {self.new} new, {self.failed} failed; "
                f"spent {format_usd(self.spent_usd)}, saved {format_usd(self.saved_usd)} by the cache")
        if self.state == "finished":
            return text
        left = self.prompts - self.answered
        return f"{text}; {self.state}: {left} of {counted(self.prompts, 'prompt')} not answered"


class Model(Backend, Protocol):
    """The model — a front door's backend (`engine/backend.py: LmBackend`) — as the plan and
    the run ask it."""

    def validate_prompt(self, prompt: LmPrompt) -> None: ...

    def context_need(self, prompt: LmPrompt) -> ContextNeed | None: ...

    def size_limits(self, batch: bool) -> tuple[SizeLimit, ...]: ...

    def row_codec(self) -> RowCodec: ...

    def live_runner(self) -> Runner | None: ...

    @property
    def max_samples_per_request(self) -> int | None:
        """Samples one request may ask for (None: all); the runner cuts jobs to it."""
        ...

    @property
    def max_concurrency(self) -> int:
        """Requests (or background responses) in flight at once."""
        ...

    @property
    def supports_background(self) -> bool:
        """Whether it has a background mode (`background_adapter`)."""
        ...

    def background_adapter(self) -> BackgroundAdapter: ...

    def _run(self, jobs: Sequence[Job], window: CompletionWindow, emit: Emit,
             should_stop: ShouldStop) -> None: ...


class FrontDoor(Protocol):
    """The front door (`engine/predictor.py: LmPredictor`, which imports the plan and the
    run) as they see it: its cache, its caching default, the run it reports, its backend."""

    last_run: RunSummary | None  # set at the start of each run

    @property
    def cache(self) -> SqlCache: ...

    @property
    def cache_default(self) -> bool: ...

    @property
    def backend(self) -> Model: ...


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


class InvalidPromptError(ValueError):
    """A prompt the model cannot take, with its position in the list (`checked_prompts`)."""

    def __init__(self, index: int, error: ValueError) -> None:
        super().__init__(str(error))
        self.index = index


class CheckedPrompts(list[LmPrompt]):
    """Prompts each validated by `backend` (made by `checked_prompts`): a plan of them for
    that backend does not validate them again (1.5 µs a prompt, a million times over in a
    cached `lmwrapper run`, which validates first to name the bad line).

    A list, so a caller may still change it; whatever puts a prompt in (an item set, an
    append, an insert, an extend) drops the mark (`backend` None), and a plan validates
    the whole list again. Taking prompts out, or reordering them, keeps it."""

    def __init__(self, prompts: Iterable[LmPrompt], backend: object) -> None:
        super().__init__(prompts)
        self.backend: object = backend

    def _unchecked(self) -> None:
        self.backend = None

    def __setitem__(self, index: Any, value: Any) -> None:
        self._unchecked()
        super().__setitem__(index, value)

    def __iadd__(self, other: Iterable[LmPrompt]) -> Self:  # type: ignore[override,misc]
        self._unchecked()
        return super().__iadd__(other)

    def append(self, value: LmPrompt) -> None:
        self._unchecked()
        super().append(value)

    def extend(self, values: Iterable[LmPrompt]) -> None:
        self._unchecked()
        super().extend(values)

    def insert(self, index: SupportsIndex, value: LmPrompt) -> None:
        self._unchecked()
        super().insert(index, value)


def checked_prompts(backend: Model, prompts: Sequence[LmPrompt]) -> CheckedPrompts:
    """`prompts`, each validated by `backend`; the first it refuses raises
    `InvalidPromptError` (a ValueError with the model's message) naming its index."""
    validate = backend.validate_prompt
    for i, p in enumerate(prompts):
        try:
            validate(p)
        except ValueError as e:
            raise InvalidPromptError(i, e) from None
    return CheckedPrompts(prompts, backend)


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
    their keys, what the cache already has and the `jobs` still to run.

    A key whose every sample is stored is in `cached`, its rows as read, decoded only when
    its prompt is handed out (`answer`); every other key has a `_Slot` in `slots`, where its
    samples arrive. Per prompt: one canonical encoding and one hash; per distinct key: one
    row read per stored sample (the bulk lookup, `SqlCache.get_many`).
    """

    def __init__(self, lm: FrontDoor, prompts: Iterable[LmPrompt | str], window: CompletionWindow,
                 *, max_cost_usd: float | None = None, retry_errors: bool = False) -> None:
        self.lm = lm
        self.backend = model = lm.backend
        self.window = window
        self.retry_errors = retry_errors
        checked = isinstance(prompts, CheckedPrompts) and prompts.backend is model
        self.prompts = (list(prompts) if checked and isinstance(prompts, CheckedPrompts)
                        else as_prompts(prompts))  # checked: LmPrompts already
        model.check_window(window)  # a window the model is not sold in: refused before any spend
        if not checked:
            validate = model.validate_prompt
            for p in self.prompts:
                validate(p)
        with gc_paused():
            canonical = [canonical_json(p) for p in self.prompts]
            try:
                self.keys = keys_of(canonical, model.identity_json())
            except UnicodeEncodeError:
                raise _not_utf8(canonical) from None
            # A prompt with caching off gets a slot of its own: it must neither be served a
            # cached twin's answer nor decide whether that twin's answer is stored.
            default = lm.cache_default
            off = [i for i, p in enumerate(self.prompts)
                   if not (default if p.cache is None else p.cache)]
            for i in off:
                self.keys[i] = _NO_CACHE + self.keys[i]
        self.cache: SqlCache | None = lm.cache if len(off) < len(self.prompts) else None
        self.summary = RunSummary(prompts=len(self.prompts))
        self.slots: dict[str, _Slot] = {}
        self.cached: dict[str, tuple[StoredSample, ...]] = {}
        self.codec: RowCodec = model.row_codec()  # how a cached row becomes a prediction and back
        with gc_paused():
            self.jobs = self._lookup(retry_errors, bool(off))
        # Keys refused before sending, each with the error its prompt is answered with (by
        # the run, never sent): too large to send or store (`_refuse_too_large`; checked
        # first, so a huge prompt is never tokenized), or over the context window
        # (`_refuse_over_window`).
        self.refused: dict[str, ProviderError] = {}
        if self.jobs:
            self._refuse_too_large(canonical)
            self._refuse_over_window()
        # The encoding the key was hashed from is the prompt the `prompts` table stores: kept
        # for the misses the engine will store (a batch runner stores its own), so a new
        # result's prompt is not encoded a second time.
        self.prompt_jsons: dict[str, str] = {}
        if self.jobs and not routes_to_batch(model, window):
            missing = {j.key for j in self.jobs if j.key not in self.refused}
            self.prompt_jsons = {k: c for k, c in zip(self.keys, canonical) if k in missing}
        # as the dry run counts: a repeated prompt once (each distinct key is either fully
        # cached or has a slot for what is missing)
        self.summary.unique = len(self.slots) + len(self.cached)
        self.summary.refused = len(self.refused)
        self.summary.to_send = len({j.key for j in self.jobs}) - len(self.refused)
        self._check_cost(max_cost_usd)
        self._count_cached()

    def caches(self, p: LmPrompt) -> bool:
        return self.lm.cache_default if p.cache is None else p.cache

    def _refuse_over_window(self) -> None:
        """Refuse each key to send whose prompt cannot fit the context window: the prompt's
        own error (a `PermanentProviderError`, so cached)."""
        need, name = self.backend.context_need, self.backend.model_name()
        for job in self.jobs:
            if job.key in self.refused:
                continue
            why = refusal(need(job.prompt), name)
            if why is not None:
                self.refused[job.key] = PermanentProviderError(why)

    def sendable(self) -> list[Job]:
        """The jobs a runner is given: all but the refused (answered by the run itself)."""
        if not self.refused:
            return self.jobs
        return [j for j in self.jobs if j.key not in self.refused]

    def refused_prediction(self, job: Job) -> LmPrediction:
        """The error a refused job is answered with (stored only if it is the prompt's own,
        as any error is)."""
        return self.backend.error_prediction(job.prompt, self.refused[job.key])

    def _lookup(self, retry_errors: bool, some_off: bool) -> list[Job]:
        """Dedupe, one bulk lookup, then per distinct key: all there (`cached`), or a slot
        with what is there and jobs for the rest."""
        first = dict(zip(self.keys, self.prompts))  # each key's prompt, in input order ...
        if len(first) < len(self.keys):  # ... where no key comes twice; else its first prompt
            first = {}
            for key, p in zip(self.keys, self.prompts):
                if key not in first:
                    first[key] = p
        need: dict[str, int] = {}  # twins: a key needs the most samples any of its prompts does
        twins: Counter[str] = Counter()  # and counts them all (for progress)
        if len(first) < len(self.keys):
            twins.update(self.keys)
            for key, p in zip(self.keys, self.prompts):
                need[key] = max(need.get(key, 0), p.samples_needed)
        wanted = [k for k in first if not k.startswith(_NO_CACHE)] if some_off else list(first)
        rows = self.cache.get_many(wanted) if self.cache is not None and wanted else {}
        jobs: list[Job] = []
        for key, p in first.items():
            n = need[key] if need else p.samples_needed
            found = rows.get(key)
            if found is not None:
                # the usual row: one sample, index 0, not an error about to be retried
                if (n == 1 and len(found) == 1 and found[0][0] == 0
                        and not (retry_errors and found[0][3])) or _covers(found, n, retry_errors):
                    continue  # stays in `rows`: that dict becomes `cached`
                del rows[key]
            slot = self.slots[key] = _Slot(prompts=twins[key] if twins else 1)
            if found:
                self.decode_rows(slot.samples, p, found, retry_errors)
            missing = [i for i in range(n) if i not in slot.samples]
            slot.left = len(missing)
            jobs.append(Job(key, p, tuple(missing), self.window))  # the runner cuts it
        self.cached = rows
        return jobs

    def _refuse_too_large(self, canonical: list[str]) -> None:
        """Refuse each key to send whose prompt is larger than the provider takes in one
        request (or batch line), or than the cache can store: a `RequestTooLargeError`
        naming the limit (not cached: a rerun checks again). An answer that could not be
        stored is never bought."""
        provider = self.backend.size_limits(routes_to_batch(self.backend, self.window))
        stored = provider + ((cache_limit(self.cache.max_value_bytes()),)
                             if self.cache is not None else ())
        if not stored or max(map(len, canonical)) * 4 <= min(x.most for x in stored):
            return  # the usual run: no prompt comes near any limit (a character is <= 4 bytes)
        todo = {j.key for j in self.jobs}
        for key, p, c in zip(self.keys, self.prompts, canonical):
            if key in todo and key not in self.refused:
                found = size_refusal(provider if key.startswith(_NO_CACHE) else stored, p, c)
                if found is not None:
                    self.refused[key] = RequestTooLargeError(found[1], limit=found[0].most,
                                                             unit=found[0].unit)

    def answer(self, p: LmPrompt, rows: Sequence[StoredSample], record: Any = None
               ) -> tuple[LmPrediction | list[LmPrediction], float]:
        """`p`'s answer from its key's cached `rows`, decoded now, labelled with `p` itself,
        and what it cost when it was made. `record`: `rows[0]`'s value already decoded
        (`rows.records`), used when that row is the answer."""
        prediction = self.codec.prediction
        if p.num_completions is None:
            pred = (prediction(rows[0], p, record) if rows[0][0] == 0
                    else prediction(_sample(rows, 0), p))
            if p.response_format is not None:
                pred = answers.finish(pred)
            return pred, pred.cost_usd or 0.0
        preds = [prediction(_sample(rows, i), p) for i in range(p.samples_needed)]
        if p.response_format is not None:
            preds = [answers.finish(x) for x in preds]
        saved = sum(x.cost_usd or 0.0 for x in preds)
        return (preds * p.num_completions if p.temperature == 0.0 else preds), saved

    def answer_dict(self, p: LmPrompt, rows: Sequence[StoredSample], record: Any = None
                    ) -> tuple[dict[str, Any] | list[dict[str, Any]], float]:
        """`answer(p, rows, record)` with each prediction as `to_dict(include_prompt=False)`.
        The usual cached answer (one sample, stored as sample 0, no internals, no response
        format to parse, its value decoded already) is made straight from its stored record
        (`RowCodec.shown`), never an `LmPrediction`: a third of the cost of writing it."""
        if (record is not None and p.num_completions is None and p.response_format is None
                and rows[0][0] == 0 and rows[0][2] is None):
            shown = self.codec.shown(record)
            if shown is not None:
                return shown, shown["cost_usd"] or 0.0
        pred, saved = self.answer(p, rows, record)
        return as_dicts(pred), saved

    def decode_rows(self, samples: dict[int, LmPrediction], prompt: LmPrompt,
                    rows: Sequence[StoredSample], retry_errors: bool) -> None:
        """Cached `rows` of `prompt`'s key into `samples` (marked `was_cached`); error rows
        left out when `retry_errors` (sent again: the answer replaces the error row)."""
        self.codec.decode_into(samples, prompt, rows, retry_errors)
        if prompt.response_format is not None:
            _finish(samples, rows)

    def uncached(self) -> tuple[list[LmPrompt], list[int]]:
        """The prompts still to send, one per key (its job), and how many samples each lacks."""
        todo = [j for j in self.jobs if j.key not in self.refused]  # the refused: never sent
        return [j.prompt for j in todo], [len(j.sample_indices) for j in todo]

    def _check_cost(self, max_cost_usd: float | None) -> None:
        if max_cost_usd is None or not self.jobs:
            return
        todo, samples = self.uncached()
        est = self.backend.estimate_cost(todo, self.window, samples=samples)
        if not est.priced:
            raise CostLimitExceededError(
                f"cannot bound the cost of {self.backend.model_name()}: pass "
                "input_usd_per_mtok/output_usd_per_mtok, or drop max_cost_usd")
        if est.total_usd > max_cost_usd:
            raise CostLimitExceededError(
                f"this run could cost up to {format_usd(est.total_usd)} for {len(todo)} uncached "
                f"prompts, above max_cost_usd={format_usd(max_cost_usd)}. Lower max_tokens, send fewer "
                "prompts, use CompletionWindow.BATCH_ANY where the model has a batch price, or "
                "raise the limit.")

    def _count_cached(self) -> None:
        """Prompts answered from the cache. What they cost when made (`saved_usd`) is added as
        each is handed out (`answer`): only then are their rows decoded."""
        cached = self.cached
        n = len(cached) if len(self.slots) + len(cached) == len(self.prompts) else sum(
            1 for k in self.keys if k in cached)
        # a key with some samples stored and some to send: its prompts that need no more
        partial = {k for k, slot in self.slots.items()
                   if slot.samples and k not in self.refused}
        for key, p in zip(self.keys, self.prompts) if partial else ():
            samples = self.slots[key].samples if key in partial else None
            if samples and all(i in samples for i in range(p.samples_needed)):
                n += 1
                self.summary.saved_usd += sum(s.cost_usd or 0.0 for s in samples.values())
        self.summary.cached = n


# A prompt is stored with its key in one row: room for the key and the row's header.
_ROW_HEADROOM = 1_024


def cache_limit(max_value_bytes: int) -> SizeLimit:
    """The longest prompt the cache can store: SQLite's limit on a value (and a row)."""
    return SizeLimit(max_value_bytes - _ROW_HEADROOM, "bytes", "a prompt the cache can store",
                     "SQLITE_LIMIT_LENGTH of the cache file's connection, SQLite's default "
                     "1,000,000,000 bytes: https://www.sqlite.org/limits.html")


def uncached(lm: FrontDoor, prompts: Sequence[LmPrompt | str],
             window: CompletionWindow = CompletionWindow.ASAP) -> tuple[list[LmPrompt], list[int]]:
    """The prompts (and sample counts) a `predict_many` would send; nothing is sent or started
    (the engine's planning step alone: validate, key, dedupe, look up)."""
    return Plan(lm, prompts, window).uncached()


def estimate_run(lm: FrontDoor, prompts: Sequence[LmPrompt | str],
                 window: CompletionWindow = CompletionWindow.ASAP) -> CostEstimate:
    """What a `predict_many(prompts, window)` would cost at most, cached answers excluded."""
    todo, samples = uncached(lm, prompts, window)
    return lm.backend.estimate_cost(todo, window, samples=samples)

def routes_to_batch(lm: Model, window: CompletionWindow) -> bool:
    """Whether `choose_runner` picks the batch engine (which stores its own results)."""
    return window is CompletionWindow.BATCH_ANY and lm.supports_batch


def _finish(samples: dict[int, LmPrediction], rows: Sequence[StoredSample]) -> None:
    """Parse the answers just decoded from `rows` (a JSON response format is parsed on read,
    never stored)."""
    for idx, *_ in rows:
        if idx in samples:
            samples[idx] = answers.finish(samples[idx])


def as_dicts(answer: LmPrediction | list[LmPrediction]) -> dict[str, Any] | list[dict[str, Any]]:
    """An answer as `to_dict(include_prompt=False)`, or a list of them for its samples."""
    if isinstance(answer, list):
        return [x.to_dict(include_prompt=False) for x in answer]
    return answer.to_dict(include_prompt=False)


def _covers(rows: Sequence[StoredSample], n: int, skip_errors: bool) -> bool:
    """Whether `rows` hold samples 0..n-1 (error rows not counted when they are retried)."""
    have = {idx for idx, _, _, is_error in rows if not (is_error and skip_errors)}
    return all(i in have for i in range(n))


def _sample(rows: Sequence[StoredSample], index: int) -> StoredSample:
    return next(r for r in rows if r[0] == index)

