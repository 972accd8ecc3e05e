"""`BatchRunner`: the engine's runner for `CompletionWindow.BATCH_ANY` (any provider).

    claim lines (one transaction) ─► plan into input files (records first) ─► upload ─► create
       ▲                                                                              │
       └── transient line failures, expired / cancelled remainders, token-limit fails ◄┤
                                                                 poll with backoff ◄──┘
                                                     terminal ─► collect: rows stored, emit

Each step is recorded in the cache database before it is taken at the provider (see
`records.py`), so a rerun after a crash adopts what was already sent instead of paying for
it twice. `in_flight()` is 0: a stopping run does not wait for batches; they live on at the
provider and the next run collects them.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shlex
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from lmwrapper.core.contract import Emit, Job, ShouldStop
from lmwrapper.core.errors import (
    ConfigurationError,
    LmWrapperError,
    ProviderError,
    TransientProviderError,
)
from lmwrapper.core.gcpause import gc_paused
from lmwrapper.core.prompt import LmPrediction, LmPrompt
from lmwrapper.core.window import CompletionWindow
from lmwrapper.runners.batch.adapter import (
    TERMINAL,
    BatchAdapter,
    BatchBackend,
    BatchLimits,
    RemoteBatch,
    TimedOut,
    TooManyRequests,
)
from lmwrapper.runners.batch.collector import collect, sweep
from lmwrapper.runners.batch.planner import plan_files
from lmwrapper.runners.batch.progress import JobProgress
from lmwrapper.runners.batch.settings import BatchSettings
from lmwrapper.runners.batch.submit import submit
from lmwrapper.store.batch_records import (
    ABANDONED,
    PRE_SUBMIT_STATES,
    Claiming,
    JobRow,
    LineRow,
    NewLine,
    Records,
    new_id,
    new_owner,
    owner_alive,
    release_owner,
)
from lmwrapper.store.db import SqlCache

log = logging.getLogger("lmwrapper.runners.batch")
CLAIM_CHUNK = 5_000  # prompts claimed per transaction
MAX_COLLECT_FAILURES = 5  # reads of a finished batch's results before its lines fail
# Tries of a create or poll the provider refused for a reason that is not transient (a 400
# for a request we built, a 404): one retry, then the run stops with the error (DESIGN.md:
# "a refusal that is ours stops the run after one retry"). Transient ones are retried on.
MAX_REFUSALS = 2
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)


class BatchRunner:
    """Runs jobs through `adapter`'s batch API, recording every step in `cache`."""

    # Everything it emits is stored already (collected rows, in the transaction that marks
    # their lines done; rows read back from the cache) or must not be (failed lines): the
    # engine does not write it again.
    stores_results = True

    def __init__(self, lm: BatchBackend, cache: SqlCache, adapter: BatchAdapter,
                 settings: BatchSettings, job_id: str | None = None) -> None:
        self.lm, self.adapter, self.settings = lm, adapter, settings
        self.records = Records(cache)
        self.limits = _limits(adapter.limits, settings)
        self.directory = Path(cache.path).parent / "batch_files"
        self.job_id = job_id or new_id("j")
        self.owner = ""
        self._seq = 0
        self.jobs: dict[str, Job] = {}
        self.got: dict[str, dict[int, LmPrediction]] = {}
        self.waiting: dict[str, str] = {}  # custom id → key: lines whose answers we wait for
        self.mine: set[str] = set()  # batches this runner must upload / create
        self.fresh: set[str] = set()  # batches planned by this runner (no recovery needed)
        self.collect_failures: dict[str, int] = {}
        self.refusals: dict[str, int] = {}  # uid or remote id → refused creates / polls
        self.unsure: dict[str, float] = {}  # uid → when to look for a request whose answer was lost
        self.abandoned: set[str] = set()  # keys answered "abandoned" (`lmwrapper batch abandon`)
        self.progress = JobProgress(0, None, False)
        self.show_progress = False  # the engine draws the run's bar; `batch wait` asks for ours

    def in_flight(self) -> int:
        return 0  # batches live on at the provider; a rerun adopts them

    def status(self) -> dict[str, int]:
        """This run's batches by provider status (for a progress bar's postfix)."""
        return self.progress.counts()

    def run(self, jobs: Sequence[Job], emit: Emit, should_stop: ShouldStop) -> None:
        self.owner = new_owner()
        jobs = _by_key(jobs)  # one job per prompt (a caller may hand several); lines are ours to cut
        self.jobs = {j.key: j for j in jobs}
        self.got = {j.key: {} for j in jobs}
        self.progress = JobProgress(len(jobs), self._estimate_usd(jobs) if self.show_progress
                                    else None, self.show_progress)
        try:
            self._claim(list(jobs))
            self._emit_ready(emit, list(self.jobs))
            sweep(self)
            self._loop(emit, should_stop)
        finally:
            release_owner(self.owner)
            self.progress.close()

    # -- claiming and planning --------------------------------------------------------------
    def _claim(self, jobs: list[Job]) -> None:
        """Claim every sample no live line covers, and plan the new lines into batches.

        Claims are transactions of `CLAIM_CHUNK` prompts, consumed by the planner as they
        commit, so memory does not grow with the job (nor with its prompts' size)."""
        self._plan(self._claimed(jobs))

    def _claimed(self, jobs: list[Job]) -> Iterator[tuple[str, str, int]]:
        for start in range(0, len(jobs), CLAIM_CHUNK):
            yield from self._claim_chunk(jobs[start : start + CLAIM_CHUNK])

    def _claim_chunk(self, jobs: list[Job]) -> list[tuple[str, str, int]]:
        keys = [j.key for j in jobs]
        to_plan: list[tuple[str, str, int]] = []
        with self.records.claiming() as tx:  # one transaction: see `Records.claiming`
            live = tx.live_lines(keys)
            cached = tx.cached_samples(keys)
            new_rows: list[NewLine] = []
            for job in jobs:
                covered = set(cached.get(job.key, ()))
                for line in live.get(job.key, ()):
                    if line.state == ABANDONED:  # never sent again; its batch may answer it
                        self.waiting[line.custom_id] = line.key
                    else:
                        self._adopt(tx, line)
                    covered.update(line.samples)
                missing = [i for i in job.sample_indices if i not in covered]
                per_line = max(1, self.adapter.max_samples_per_line(job.prompt))
                for first, n in _runs(missing, per_line):
                    cid = self._custom_id()
                    new_rows.append((cid, job.key, first, n,
                                     _JSON.encode(job.prompt.to_dict(defaults=False))))
                    to_plan.append((cid, job.key, n))
                    self.waiting[cid] = job.key
            if new_rows:
                tx.add_lines(self._job_row(), new_rows)
        self._read_cached([k for k in keys if k in cached])
        return to_plan

    def _job_row(self) -> JobRow:
        return JobRow(self.job_id, self.adapter.provider, self.adapter.model,
                      self.lm.identity_json(), self.owner)

    def _adopt(self, tx: Claiming, line: LineRow) -> None:
        """Wait for a live line; take it over when its owner is gone."""
        self.waiting[line.custom_id] = line.key
        if line.owner == self.owner or owner_alive(line.owner, line.claimed_at, self.settings.stale_s):
            return
        if line.state == "claimed":
            tx.take_line(line.custom_id, self.owner)
        elif line.uid is not None:
            self.mine.add(line.uid)  # taken over in _submit_ready if not yet submitted

    def _custom_id(self) -> str:
        self._seq += 1
        # ≤ 64 chars of [A-Za-z0-9_-]; zero-padded, so that ids sort in the order they are
        # made and the custom_id index grows at its end instead of splitting pages anywhere
        return f"{self.job_id}-{self._seq:08x}"

    def _plan(self, lines: Iterable[tuple[str, str, int]]) -> None:
        """Pack claimed lines into input files; each batch is recorded before it is uploaded."""

        too_large: list[str] = []

        def encoded() -> Iterator[tuple[str, bytes, int]]:
            for cid, key, n in lines:
                prompt = self.jobs[key].prompt
                data = (_JSON.encode(self.adapter.build_line(cid, prompt, n)) + "\n").encode()
                if len(data) > self.limits.max_bytes:  # no batch can hold it: never uploaded
                    too_large.append(cid)
                    continue
                yield cid, data, self._tokens(data, prompt, n)

        for pb in plan_files(encoded(), self.limits, self.directory):
            self.records.add_batch(self._job_row(), pb.uid, str(pb.path), pb.lines, pb.tokens,
                                   pb.bytes, pb.custom_ids)
            self.mine.add(pb.uid)
            self.fresh.add(pb.uid)
            log.info("batch %s planned: %d requests, %d bytes, ~%d tokens", pb.uid, pb.lines,
                     pb.bytes, pb.tokens)
        if too_large:
            self.records.fail_lines(too_large, self.owner, _too_large_text(self.limits.max_bytes))

    def _tokens(self, data: bytes, prompt: LmPrompt, n: int) -> int:
        """A line's enqueued tokens: the tokenizer's count when a limit must be respected,
        else a cheap bound (4 bytes a token + max output) kept for re-planning smaller."""
        if self.limits.enqueued_tokens is not None:
            return self.adapter.line_tokens(prompt, n)
        return len(data) // 4 + (prompt.max_tokens or 0) * n

    def _replan_mine(self) -> None:
        """Lines sent back to `claimed` (retries) that this runner owns go into new batches."""
        rows = self.records.claimed_lines(list(self.waiting), self.owner)
        self._plan([(r.custom_id, r.key, r.n) for r in rows if r.key in self.jobs])

    # -- the loop ---------------------------------------------------------------------------
    def _loop(self, emit: Emit, should_stop: ShouldStop) -> None:
        delay = self.settings.poll_s
        deadline = (None if self.settings.max_wait_s is None
                    else time.monotonic() + self.settings.max_wait_s)
        while self.waiting or self._unanswered():
            if should_stop():
                return
            if deadline is not None and time.monotonic() > deadline:
                raise WaitedTooLong(self._waited_text())
            progressed = self._submit_ready()
            progressed |= self._poll(emit)
            self._refresh(emit)
            self._replan_mine()
            if not self.waiting and self._unanswered():  # e.g. a done line whose rows were cleared
                left = self._unanswered()
                self._claim(left)
                self._emit_ready(emit, [j.key for j in left])
            delay = self.settings.poll_s if progressed else min(delay * 1.5, self.settings.poll_max_s)
            if self.waiting:
                _wait(delay, should_stop)

    def _waited_text(self) -> str:
        jobs = sorted({cid.rsplit("-", 1)[0] for cid in self.waiting})
        statuses = ", ".join(f"{n} {s}" for s, n in sorted(self.progress.counts().items()))
        # the command to copy: the real job ids and this cache's directory (a pasted `JOB`,
        # or the default cache directory, would find no job)
        where = shlex.quote(str(self.directory.parent))
        wait = " && ".join(f"lmwrapper --cache-dir {where} batch wait {j}" for j in jobs)
        return (f"gave up waiting after {self.settings.max_wait_s:g} s (--max-wait, "
                f"LMWRAPPER_BATCH_MAX_WAIT_S): {len(self.got)} prompts still wait in the "
                f"batches of job {', '.join(jobs) or '-'}{f' ({statuses})' if statuses else ''}. "
                f"They go on at the provider; rerun{f', or `{wait}`,' if wait else ''} to "
                f"collect them (nothing is sent twice)")

    def all_submitted(self) -> bool:
        """Every batch this runner planned is at the provider (submit-and-return may stop)."""
        return all(b.state not in PRE_SUBMIT_STATES for b in self.records.batches(self.fresh))

    def _unanswered(self) -> list[Job]:
        return [j for j in self.jobs.values() if j.key in self.got]

    def _submit_ready(self) -> bool:
        did = False
        for b in sorted(self.records.batches(self.mine), key=lambda b: b.uid):
            if b.state not in PRE_SUBMIT_STATES:
                self.mine.discard(b.uid)
                continue
            if time.monotonic() < self.unsure.get(b.uid, 0.0):
                continue  # its create may still land at the provider: look for it later
            if not self._budget_allows(b.tokens):
                break
            if b.uid not in self.fresh and not self.records.take_batch(b.uid, self.owner,
                                                                        self.settings.stale_s):
                continue  # its owner is alive: it submits
            did |= self._submit(b.uid)
        return did

    def _budget_allows(self, tokens: int) -> bool:
        limit = self.limits.enqueued_tokens
        if limit is None:
            return True
        queued, count = self.records.submitted_tokens(self.owner)
        return count == 0 or queued + tokens <= limit

    def _submit(self, uid: str) -> bool:
        try:
            submit(self, uid)
        except ConfigurationError:
            raise
        except LmWrapperError as e:
            if not isinstance(e, TransientProviderError):
                self._refused_create(uid, e)
                return False
            # transient: the next loop tries again
            log.warning("batch %s: submitting failed (%s); retrying", uid, e)
            # the request may have reached the provider with only its answer lost: look for
            # the upload / batch (by name, by metadata) before sending it again
            self.fresh.discard(uid)
            b = self.records.batch(uid)
            if isinstance(e, TimedOut) and b is not None and b.state == "uploaded":
                # a create the provider is still working on would land after we looked:
                # give it twice as long as we waited for it before looking
                self.unsure[uid] = time.monotonic() + 2 * self.lm.timeout_s
            return False
        self.unsure.pop(uid, None)
        return True

    def split_requests(self, lines: int, batch: str, limit: int | None = None) -> None:
        """The provider refused a batch of `lines` requests as too many: plan the rest in
        batches of at most `limit` requests where its refusal named the limit, else of half as
        many (as a byte or token limit is met). A batch planned before an earlier split
        (larger than the limit now) is re-planned at that limit, not half of it."""
        if limit is not None and 0 < limit < lines:
            smaller = min(limit, self.limits.max_requests)
        else:
            smaller = max(1, min(lines // 2, self.limits.max_requests))
        self.limits = dataclasses.replace(self.limits, max_requests=smaller)
        log.warning("batch %s: too many requests (%d) for the provider; re-planning at most %d "
                    "a batch", batch, lines, smaller)

    def _count_refusal(self, what: str, e: LmWrapperError, step: str) -> None:
        """Raise `e`, saying which step stopped, when `what` was refused `MAX_REFUSALS` times."""
        self.refusals[what] = self.refusals.get(what, 0) + 1
        if self.refusals[what] >= MAX_REFUSALS:
            hint = ("; a 404 here usually means the server at this base URL has no batch API "
                    "at that path (a gateway or proxy without the provider's file and batch "
                    "endpoints): drop "
                    "--batch to run live, or use a server that has one"
                    if isinstance(e, ProviderError) and e.status_code == 404
                    else "")
            e.args = ((f"the batch step stopped: the provider refused to {step} twice ({e}); "
                       f"answers already collected are stored{hint}"),)
            raise e

    def _refused_create(self, uid: str, e: LmWrapperError) -> None:
        """A batch the provider refused to create (not transient). Retried once, from an input
        file rebuilt from the prompts (it may have been written by an older lmwrapper); then
        its lines fail (not cached: a rerun sends them again) and the run stops with `e`.
        Answers already collected are stored; batches at the provider stay recorded."""
        b = self.records.batch(uid)
        if b is not None and b.lines > 1 and _too_many_requests(e):
            limit = e.limit if isinstance(e, TooManyRequests) else None  # as the provider says
            self.split_requests(b.lines, uid, limit)  # not a refusal of ours: smaller batches pass
            self.records.unplan_batch(uid, self.owner, f"split: {e}")
            self.mine.discard(uid)
            return  # one log line, the split's (the provider's text says "not cached ...")
        log.warning("batch %s: the provider refused to create it (%s)", uid, e)
        if self.refusals.get(uid, 0) + 1 >= MAX_REFUSALS:
            self.records.fail_batch(uid, f"the batch was refused: {e}", "refused")
            self.mine.discard(uid)
        elif b is not None and b.file_id is None and b.input_path:
            Path(b.input_path).unlink(missing_ok=True)  # nothing uploaded: rebuilt on retry
        self._count_refusal(uid, e, f"accept batch {uid} (upload, create, or the lookup of "
                                    f"one whose answer was lost)")

    def _poll(self, emit: Emit) -> bool:
        uids = self.records.batches_of(list(self.waiting))
        did = False
        for b in self.records.batches(uids):
            if b.state != "submitted" or b.remote_id is None:
                continue
            try:
                remote = self.adapter.retrieve(b.remote_id)
            except ConfigurationError:
                raise
            except LmWrapperError as e:
                if not isinstance(e, TransientProviderError):
                    # the batch stays recorded: a rerun polls it
                    self._count_refusal(b.remote_id, e, f"report batch {b.remote_id}'s status")
                log.warning("batch %s: polling failed (%s); retrying", b.remote_id, e)
                continue
            self.refusals.pop(b.remote_id, None)
            if remote.provider_status != b.remote_status:
                self.records.set_batch(b.uid, remote_status=remote.provider_status)
                self.progress.batch_status(b.uid, remote.provider_status)
            if remote.state in TERMINAL:
                did |= self._collect(b.uid, remote, emit)
        return did

    def _collect(self, uid: str, remote: RemoteBatch, emit: Emit) -> bool:
        with gc_paused():
            try:
                answered = collect(self, uid, remote)
            except ConfigurationError:
                raise
            except LmWrapperError as e:
                self.collect_failures[uid] = self.collect_failures.get(uid, 0) + 1
                log.warning("batch %s: reading results failed (%s)", remote.id, e)
                if self.collect_failures[uid] >= MAX_COLLECT_FAILURES:
                    self._give_up(uid, f"the results of batch {remote.id} could not be read "
                                       f"({e}); rerun to send these prompts again")
                return False
            self._take(answered, emit)
        return True

    def _give_up(self, uid: str, error: str) -> None:
        """Fail a batch's waiting lines (not cached: a rerun sends them again)."""
        self.records.fail_batch(uid, error, "unreadable results", only_submitted=True)

    def _take(self, answered: dict[str, tuple[str, list[tuple[int, LmPrediction]]]], emit: Emit) -> None:
        touched = []
        for cid, (key, preds) in answered.items():
            self.waiting.pop(cid, None)
            if key in self.got:
                self.got[key].update(preds)
                touched.append(key)
        self._emit_ready(emit, touched)

    def _refresh(self, emit: Emit) -> None:
        """Lines finished by another process (or by an earlier loop) become answers."""
        rows = self.records.lines_to_look_at(list(self.waiting), self.owner)
        done_keys = []
        for r in rows:
            if r.state == "done":
                done_keys.append(r.key)
                self.waiting.pop(r.custom_id, None)
            elif r.state == "failed":
                self.waiting.pop(r.custom_id, None)
                self._take({r.custom_id: (r.key, self._failed(r))}, emit)
            elif r.state == ABANDONED:  # and its batch, if any, is no longer at the provider
                self.waiting.pop(r.custom_id, None)
                self.abandoned.add(r.key)
                self._take({r.custom_id: (r.key, self._failed(r, _abandoned_text(r)))}, emit)
            elif r.state == "claimed" and r.owner != self.owner and not owner_alive(
                    r.owner, r.claimed_at, self.settings.stale_s):
                self.records.take_line(r.custom_id, self.owner)
            elif r.state == "planned" and r.uid is not None:
                self.mine.add(r.uid)
        self._read_cached(done_keys)
        self._emit_ready(emit, done_keys)

    def _failed(self, r: LineRow, error: str | None = None) -> list[tuple[int, LmPrediction]]:
        job = self.jobs.get(r.key)
        if job is None:
            return []
        pred = self.lm.error_prediction(job.prompt, TransientProviderError(
            error or r.error or "the batch failed for this prompt"))
        return [(i, pred) for i in r.samples]

    def _read_cached(self, keys: list[str]) -> None:
        keys = [k for k in dict.fromkeys(keys) if k in self.got]
        if not keys:
            return
        codec = self.lm.row_codec()
        for key, rows in self.records.cache.get_many(keys).items():
            got, prompt = self.got[key], self.jobs[key].prompt
            for row in rows:
                if row[0] not in got:  # an answer of this run is the one to keep
                    got[row[0]] = codec.prediction(row, prompt)

    def _emit_ready(self, emit: Emit, keys: list[str]) -> None:
        for key in dict.fromkeys(keys):
            got = self.got.get(key)
            job = self.jobs[key]
            if got is None or not all(i in got for i in job.sample_indices):
                continue
            preds = [got[i] for i in job.sample_indices]
            del self.got[key]
            emit(job, preds)
            self.progress.done(any(p.has_errors for p in preds))

    def _estimate_usd(self, jobs: Sequence[Job]) -> float | None:
        try:
            return self.lm.estimate_cost([j.prompt for j in jobs], CompletionWindow.BATCH_ANY,
                                         samples=[len(j.sample_indices) for j in jobs]).total_usd
        except Exception:  # noqa: BLE001 — an estimate for the bar only
            return None


def _limits(provider: BatchLimits, settings: BatchSettings) -> BatchLimits:
    """The tighter of the provider's limits and the settings' (a setting can lower a limit,
    for tests or a cautious run, but a batch above the provider's would be refused)."""
    def tighter(mine: int | None, theirs: int) -> int:
        return theirs if mine is None else min(mine, theirs)

    return BatchLimits(tighter(settings.max_requests, provider.max_requests),
                       tighter(settings.max_bytes, provider.max_bytes),
                       settings.token_limit or provider.enqueued_tokens)


class WaitedTooLong(LmWrapperError):
    """`max_wait_s` passed with prompts still waiting in batches (which go on at the provider)."""


def _too_many_requests(e: LmWrapperError) -> bool:
    """A create refused for holding more requests than the provider takes in one batch
    (`TooManyRequests`, as a provider translates its refusal; OpenAI's `too_many_tasks`)."""
    return isinstance(e, TooManyRequests) or getattr(e, "code", None) == "too_many_tasks" or (
        "too_many_tasks" in str(e).lower())


def _too_large_text(max_bytes: int) -> str:
    return (f"refused before sending: its batch line is over the {max_bytes:,} bytes a batch "
            f"input may hold (the provider's limit, or LMWRAPPER_BATCH_MAX_BYTES); nothing was "
            f"sent or paid for. Shorten the prompt or split it into several")


def _abandoned_text(r: LineRow) -> str:
    job_id = r.custom_id.rsplit("-", 1)[0]
    return (f"not sent: job {job_id} was abandoned (`lmwrapper batch abandon`); "
            f"`lmwrapper batch resume {job_id}` sends it again, at the batch price")


def _by_key(jobs: Sequence[Job]) -> list[Job]:
    """One job per prompt key (the samples of its jobs together): lines are planned per key,
    `max_samples_per_line` samples each, and answered by key."""
    merged: dict[str, Job] = {}
    for j in jobs:
        was = merged.get(j.key)
        merged[j.key] = j if was is None else Job(j.key, j.prompt,
                                                  was.sample_indices + j.sample_indices)
    return list(merged.values())


def _runs(indices: list[int], per_line: int) -> list[tuple[int, int]]:
    """Contiguous runs of sample indices as (first, n), none longer than `per_line`."""
    out: list[tuple[int, int]] = []
    for i in sorted(indices):
        if out and out[-1][0] + out[-1][1] == i and out[-1][1] < per_line:
            out[-1] = (out[-1][0], out[-1][1] + 1)
        else:
            out.append((i, 1))
    return out


def _wait(seconds: float, should_stop: ShouldStop) -> None:
    """Sleep between polls, waking early when the run is stopped."""
    end = time.monotonic() + seconds
    while not should_stop():
        left = end - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(left, 0.05))
