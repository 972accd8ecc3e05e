"""`BackgroundRunner`: the engine's runner for the background windows (BACKGROUND_2H, _8H).

    record (creating) ─► create at the provider ─► record its id (created) ─► poll
                                                                   terminal ─► emit (answered)

Each request is created as a background response and polled until it ends. The record is
on disk before the create is sent, and the provider's id the moment the create returns
(`lmwrapper.store.background_records`), so a run killed while it waits finds the id on its
next run and polls it: adopted, paid once. A record without an id is a request that may
have been created when its run died inside the create; the provider cannot list responses,
so the runner says so (a warning naming the prompt and when) and creates it again.

The engine claims each key before this runner sees it and stores what it emits, as for a
live run; `in_flight()` is 0: a stopping run does not wait, the responses go on at the
provider and the next run collects them. Polling is bounded: by the window's deadline plus
`GRACE_S` (then the response is cancelled and its prompt answered with a transient error),
and by `LMWRAPPER_BATCH_MAX_WAIT_S` where set (then the run returns, and a rerun polls on).
The poll interval is the batch engine's (`LMWRAPPER_BATCH_POLL_S`, growing ×1.5 up to
`LMWRAPPER_BATCH_POLL_MAX_S`).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
import warnings
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from lmwrapper.core.contract import NO_CACHE_PREFIX, Backend, Emit, Job, ShouldStop, cut
from lmwrapper.core.errors import ConfigurationError, ProviderError, TransientProviderError
from lmwrapper.core.prompt import LmPrediction
from lmwrapper.core.window import BACKGROUND_WINDOWS, CompletionWindow
from lmwrapper.core.words import counted
from lmwrapper.runners.batch.runner import WaitedTooLong
from lmwrapper.runners.batch.settings import BatchSettings
from lmwrapper.store.background_records import CREATING, BackgroundRecords, BackgroundRow
from lmwrapper.store.db import SqlCache

log = logging.getLogger("lmwrapper.runners.background")
GRACE_S = 3600.0  # waited past a window's deadline before a response is given up (cancelled)
MAX_CREATE_TRIES = 4  # a create refused for a transient reason (429, 5xx, a lost connection)
MAX_POLL_FAILURES = 20  # polls of one response in a row that fail before its prompt fails
_HOURS = {"2h": 2.0, "8h": 8.0}


class MaybeCreated(TransientProviderError):
    """A create timed out: the provider may have created (and will bill) the response."""


class Gone(TransientProviderError):
    """The provider no longer has the response (404 on a poll)."""


class BackgroundAdapter(Protocol):
    """What the runner needs of a provider's background mode (OpenAI's: providers/openai/
    background.py). Each call raises lmwrapper's errors (`ProviderError`, `ConfigurationError`)."""

    def create(self, job: Job, marker: str, completion_window: str) -> Mapping[str, Any]:
        """Create `job`'s request in the background, tagged with `marker`; the provider's
        object (its `id` at least)."""
        ...

    def retrieve(self, response_id: str) -> Mapping[str, Any]:
        """The response now; `Gone` when the provider no longer has it."""
        ...

    def cancel(self, response_id: str) -> None: ...

    def finished(self, response: Mapping[str, Any]) -> bool:
        """Whether the response has ended (answered, failed, cancelled)."""
        ...

    def answers(self, job: Job, response: Mapping[str, Any], completion_window: str
                ) -> Sequence[LmPrediction]:
        """The job's predictions from a finished response (error predictions where it failed)."""
        ...

    def billed(self, response: Mapping[str, Any]) -> bool:
        """Whether the finished response was answered (its tokens are paid for), as against
        failed or cancelled: an answer we cannot read is then kept for a rerun to read."""
        ...


@dataclass
class _Waiting:
    job: Job
    marker: str
    response_id: str
    completion_window: str  # the one it was created in ("2h"): its price and deadline
    deadline: float
    failures: int = 0


class BackgroundRunner:
    """Runs jobs as background responses through `adapter`, recording each in `cache`."""

    stores_results = False  # the engine claims the keys and stores what is emitted

    def __init__(self, lm: Backend, cache: SqlCache, adapter: BackgroundAdapter,
                 window: CompletionWindow, settings: BatchSettings | None = None,
                 workers: int = 8, max_samples_per_request: int | None = None) -> None:
        self.lm, self.adapter, self.window = lm, adapter, window
        self._most = max_samples_per_request  # a job's samples per response (None: all)
        self.completion_window = BACKGROUND_WINDOWS[window]
        self.records = BackgroundRecords(cache)
        self.settings = settings or BatchSettings.resolve()
        self.workers = max(1, workers)
        self._halt = threading.Event()  # a create refused for a reason that is ours: send no more

    def in_flight(self) -> int:
        return 0  # background responses live on at the provider; a rerun adopts them

    def run(self, jobs: Sequence[Job], emit: Emit, should_stop: ShouldStop) -> None:
        jobs = cut(jobs, self._most)
        self.records.forget_stored()
        known = self.records.of_keys([j.key for j in jobs])
        waiting: list[_Waiting] = []
        to_create: list[Job] = []
        for job in jobs:
            row = _record_of(known.get(job.key, ()), job)
            if row is not None and row.response_id is not None:
                log.info("adopting background response %s", row.response_id)
                waiting.append(self._waiting(job, row, row.response_id))
                continue
            if row is not None:  # state creating: the run died inside its create
                self._warn_maybe_paid(row)
                self.records.forget(row.marker)
            to_create.append(job)
        with ThreadPoolExecutor(self.workers, thread_name_prefix="lmwrapper-bg") as pool:
            for made in pool.map(lambda j: self._create(j, emit, should_stop), to_create):
                if made is not None:
                    waiting.append(made)
            self._poll(waiting, emit, should_stop, pool)

    # -- creating ---------------------------------------------------------------------------
    def _create(self, job: Job, emit: Emit, should_stop: ShouldStop) -> _Waiting | None:
        """Record, create and record the id of `job`'s request; None when it was answered
        (with an error) instead, or not sent because the run is stopping."""
        for attempt in range(1, MAX_CREATE_TRIES + 1):
            if should_stop() or self._halt.is_set():
                return None
            row = BackgroundRow(f"bg{uuid.uuid4().hex[:20]}", job.key, job.sample_indices[0],
                                len(job.sample_indices), self.lm.provider, self.lm.model_name(),
                                self.window.value, None, CREATING, time.time())
            self.records.intend(row)
            try:
                made = self.adapter.create(job, row.marker, self.completion_window)
            except MaybeCreated as e:  # the record stays: the next run warns about it
                self._emit_error(job, emit, e)
                return None
            except ConfigurationError:
                self.records.forget(row.marker)
                self._halt.set()  # the other workers' creates would be refused alike
                raise
            except ProviderError as e:
                self.records.forget(row.marker)  # refused: nothing was created
                if e.retryable and attempt < MAX_CREATE_TRIES and not should_stop():
                    _pause(min(2.0 ** attempt, 30.0), should_stop)
                    continue
                self._emit_error(job, emit, e)
                return None
            self.records.created(row.marker, str(made["id"]))
            return self._waiting(job, row, str(made["id"]))
        return None

    # -- polling ----------------------------------------------------------------------------
    def _poll(self, waiting: list[_Waiting], emit: Emit, should_stop: ShouldStop,
              pool: ThreadPoolExecutor) -> None:
        delay, started = self.settings.poll_s, time.monotonic()
        max_wait = self.settings.max_wait_s
        while waiting and not should_stop():
            done = list(pool.map(lambda w: self._look(w, emit), waiting))
            waiting = [w for w, finished in zip(waiting, done) if not finished]
            if waiting and max_wait is not None and time.monotonic() - started > max_wait:
                raise WaitedTooLong(
                    f"gave up waiting after {max_wait:g} s (--max-wait, "
                    f"LMWRAPPER_BATCH_MAX_WAIT_S): {counted(len(waiting), 'background response')} "
                    f"still run at {self.lm.provider}. They go on there; rerun to collect them "
                    "(nothing is sent twice)")
            if waiting:
                _pause(delay, should_stop)
                delay = min(delay * 1.5, self.settings.poll_max_s)

    def _look(self, w: _Waiting, emit: Emit) -> bool:
        """Poll one response; True once its job was answered."""
        try:
            response = self.adapter.retrieve(w.response_id)
        except Gone as e:
            self.records.forget(w.marker)
            self._emit_error(w.job, emit, e)
            return True
        except ConfigurationError:
            raise
        except ProviderError as e:
            w.failures += 1
            if w.failures < MAX_POLL_FAILURES:
                return False
            self._emit_error(w.job, emit, TransientProviderError(  # the record stays: a rerun polls it
                f"could not poll background response {w.response_id} ({e}); a rerun polls "
                "it again", status_code=e.status_code, code=e.code))
            return True
        w.failures = 0
        if self.adapter.finished(response):
            preds = self.adapter.answers(w.job, response, w.completion_window)
            failed = any(p.has_errors for p in preds)
            if w.job.key.startswith(NO_CACHE_PREFIX) or (failed and not self.adapter.billed(response)):
                self.records.forget(w.marker)  # not kept, or failed: a rerun creates it again
            elif not failed:
                self.records.answered(w.marker)
            # else answered but unreadable (paid for): the record stays, a rerun reads it again
            emit(w.job, preds)
            return True
        if time.time() > w.deadline:
            self._give_up(w, emit)
            return True
        return False

    def _give_up(self, w: _Waiting, emit: Emit) -> None:
        """Past the window and the grace: cancel the response, fail the prompt (transient)."""
        try:
            self.adapter.cancel(w.response_id)
        except ProviderError as e:
            log.warning("cancelling background response %s failed: %s", w.response_id, e)
        self.records.forget(w.marker)
        self._emit_error(w.job, emit, TransientProviderError(
            f"background response {w.response_id} was not answered within its "
            f"{w.completion_window} window (and {GRACE_S / 3600:g} h more); it was "
            "cancelled. A rerun sends the prompt again"))

    # -- helpers ----------------------------------------------------------------------------
    def _waiting(self, job: Job, row: BackgroundRow, response_id: str) -> _Waiting:
        """A response to poll; one a run created in the other background window keeps that
        window's price and deadline."""
        window = next((w for c, w in BACKGROUND_WINDOWS.items() if c.value == row.window),
                      self.completion_window)
        deadline = row.created_at + _HOURS.get(window, 24.0) * 3600 + GRACE_S
        return _Waiting(job, row.marker, response_id, window, deadline)

    def _emit_error(self, job: Job, emit: Emit, error: ProviderError) -> None:
        emit(job, [self.lm.error_prediction(job.prompt, error)] * len(job.sample_indices))

    def _warn_maybe_paid(self, row: BackgroundRow) -> None:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(row.created_at))
        message = (
            f"{row.provider} {row.model}: the background request for prompt key "
            f"{row.key[:16]}… was being created at {when} when its run stopped, before the "
            f"provider's id was recorded. It may have been created, and billed, at "
            f"{row.provider} (the request carried lmwrapper_marker={row.marker} in its "
            f"metadata; {row.provider} cannot list background responses, so lmwrapper cannot "
            "find it). Creating it again.")
        log.warning(message)
        warnings.warn(message, stacklevel=3)


def _record_of(rows: Sequence[BackgroundRow], job: Job) -> BackgroundRow | None:
    """The record of `job`'s samples, if a run recorded one (the newest with an id first)."""
    mine = [r for r in rows if r.first_sample == job.sample_indices[0]
            and r.n == len(job.sample_indices)]
    with_id = [r for r in mine if r.response_id is not None]
    return with_id[-1] if with_id else mine[-1] if mine else None


def _pause(seconds: float, should_stop: ShouldStop) -> None:
    """Wait `seconds`, or less once the run is stopping."""
    end = time.monotonic() + seconds
    while not should_stop() and (left := end - time.monotonic()) > 0:
        time.sleep(min(left, 0.1))


__all__ = ["BackgroundAdapter", "BackgroundRunner", "Gone", "MaybeCreated"]
