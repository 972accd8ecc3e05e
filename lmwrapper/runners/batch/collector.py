"""Collect a finished batch: store its answers, decide the fate of every line, clean up.

    completed / expired / cancelled:  each line's result →
        ok, permanent error      → rows cached at once; line done
        rejected (not the prompt's fault) → line failed for this run, not cached
        transient, or no result  → line claimed again for a later batch (attempts + 1),
                                   or failed once `max_attempts` is reached (never cached)
        (cancelled with resubmit_cancelled=False: the unanswered lines fail)
    failed, token_limit_exceeded  → every line claimed again: re-planned with a halved limit
    failed, too_many_tasks        → every line claimed again: re-planned into batches of half
                                   as many requests
    failed, anything else         → that batch's lines fail; other batches go on
    a line or the batch says the model does not exist → stored as above, then the run stops
                                   with one `ModelNotFoundError`

Rows (and their prompts) are stored and the lines marked in one durable transaction: a
crash leaves either nothing (the next run reads the results again) or both. The engine does
not store what the runner emits (`BatchRunner.stores_results`): it is stored already. The batch is then `collected`; its
files are deleted at the provider and it becomes `done` — a crash in between leaves files
that the next batch run (`sweep`) deletes.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os

from lmwrapper.core.contract import NO_CACHE_PREFIX
from lmwrapper.core.errors import LmWrapperError, ModelNotFoundError, PermanentProviderError
from lmwrapper.core.models import model_not_found_hint
from lmwrapper.core.prompt import LmPrediction, LmPrompt
from lmwrapper.runners.batch.adapter import LineResult, RemoteBatch
from lmwrapper.runners.batch.state import RunState
from lmwrapper.store.batch_records import LineUpdate, owner_alive
from lmwrapper.store.rows import CacheRow

log = logging.getLogger("lmwrapper.runners.batch")
TOKEN_LIMIT = "token_limit_exceeded"
TOO_MANY = "too_many_tasks"  # the batch holds more requests than the provider takes at once
SPLIT = (TOKEN_LIMIT, TOO_MANY)  # a failure that a smaller batch avoids
Answered = dict[str, tuple[str, list[tuple[int, LmPrediction]]]]


def collect(runner: RunState, uid: str, remote: RemoteBatch) -> Answered:
    """Store `remote`'s results; returns custom id → (key, [(sample, prediction)]) answered."""
    lines = runner.records.line_prompts(uid)
    b = runner.records.batch(uid)
    if not lines or b is None or b.state != "submitted":
        return {}  # another process collected it
    prompts = {cid: _prompt(runner, key, pj) for cid, key, _, _, pj, _ in lines}
    results = _results(runner, remote, prompts)
    answered, rows, updates = _read(runner, remote, lines, prompts, results)
    if not _finish(runner, uid, remote, rows, updates, b.tokens):
        return {}  # another process collected it first
    _log(remote, uid, updates)
    _clean_up(runner, uid, remote, b.input_path)
    _stop_if_fatal(runner, remote, results)
    return answered


def _results(runner: RunState, remote: RemoteBatch,
             prompts: dict[str, LmPrompt]) -> dict[str, LineResult]:
    """custom id → its line's result; none for a batch that failed as a whole."""
    if remote.state == "failed":
        return {}
    return {res.custom_id: res for res in runner.adapter.results(remote, prompts)}


def _stop_if_fatal(runner: RunState, remote: RemoteBatch,
                   results: dict[str, LineResult]) -> None:
    """Raise the error that concerns every prompt (the model does not exist), after the
    batch is stored: resending its lines, or sending the next batch, cannot help."""
    fatal = next((r.stops_run for r in results.values() if r.stops_run is not None), None)
    if fatal is None and remote.state == "failed" and remote.error_code == "model_not_found":
        model = runner.adapter.model
        fatal = ModelNotFoundError(
            f"model {model!r} not found (batch {remote.id} failed: {remote.error_message}) — "
            f"{model_not_found_hint(runner.adapter.fact_sources, model)}", model=model, code=remote.error_code)
    if fatal is not None:
        raise fatal


def _read(runner: RunState, remote: RemoteBatch, lines: list[tuple[str, str, int, int, str, int]],
          prompts: dict[str, LmPrompt], results: dict[str, LineResult]
          ) -> tuple[Answered, list[CacheRow], list[LineUpdate]]:
    """Each line's answers, rows to store and next state, from the batch's result lines."""
    answered: Answered = {}
    rows: list[CacheRow] = []
    updates: list[LineUpdate] = []
    codec = runner.lm.row_codec()
    for cid, key, first, n, _, attempts in lines:
        r = results.get(cid)
        if r is not None and (r.outcome == "permanent" or
                              (r.outcome == "ok" and len(r.predictions) == n)):
            preds = [(first + i, p.evolve(prompt=prompts[cid], sample_index=first + i,
                                          batch_id=remote.id))
                     for i, p in enumerate(_predictions(runner, r, prompts[cid], n))]
            if not key.startswith(NO_CACHE_PREFIX):  # cache=False: answered, never stored
                rows += [codec.row(key, p) for _, p in preds]
            answered[cid] = (key, preds)
            updates.append(("done", None, attempts, cid))
        else:
            updates.append(_retry_or_fail(runner, remote, r, attempts, cid, len(lines) == 1))
    return answered, rows, updates


def _predictions(runner: RunState, r: LineResult, prompt: LmPrompt, n: int) -> list[LmPrediction]:
    if r.outcome == "ok":
        return list(r.predictions)

    return [runner.lm.error_prediction(prompt, PermanentProviderError(r.error or "request refused"))] * n


def _retry_or_fail(runner: RunState, remote: RemoteBatch, r: LineResult | None,
                   attempts: int, cid: str, alone: bool) -> LineUpdate:
    """The line's next state; `alone`: it was the batch's only line (cannot split further)."""
    s = runner.settings
    if remote.state == "failed":
        if remote.error_code in SPLIT and not alone:
            return ("claimed", None, attempts, cid)  # re-planned smaller: not an attempt
        return ("failed", f"batch {remote.id} failed: {remote.error_code}: {remote.error_message}",
                attempts + 1, cid)
    if r is not None and r.outcome == "rejected":
        return ("failed", r.error, attempts + 1, cid)  # resending now cannot help; not cached
    error = r.error if r is not None else f"batch {remote.id} ended ({remote.state}) without " \
                                          "an answer for this prompt"
    if remote.state == "cancelled" and not s.resubmit_cancelled and (r is None or not r.predictions):
        return ("failed", f"batch {remote.id} was cancelled: {error}", attempts + 1, cid)
    if attempts + 1 >= s.max_attempts:
        return ("failed", f"{error} (after {attempts + 1} batch attempts; rerun to try again)",
                attempts + 1, cid)
    return ("claimed", error, attempts + 1, cid)


def _finish(runner: RunState, uid: str, remote: RemoteBatch, rows: list[CacheRow],
            updates: list[LineUpdate], batch_tokens: int) -> bool:
    if not runner.records.collected(uid, rows, updates, runner.owner, remote.provider_status,
                                    remote.error_code):
        return False
    if remote.error_code == TOKEN_LIMIT:
        # half the budget, or half this batch when no budget was set up front
        smaller = max(1, (runner.limits.enqueued_tokens or batch_tokens) // 2)
        runner.limits = dataclasses.replace(runner.limits, enqueued_tokens=smaller)
        log.warning("batch %s failed: enqueued-token limit; re-planning under %d tokens",
                    remote.id, smaller)
    elif remote.error_code == TOO_MANY:
        runner.split_requests(len(updates), remote.id)
    return True


def _log(remote: RemoteBatch, uid: str, updates: list[LineUpdate]) -> None:
    states = [u[0] for u in updates]
    log.info("batch %s (%s) %s: %d answered, %d to resend, %d failed", remote.id, uid,
             remote.provider_status, states.count("done"), states.count("claimed"),
             states.count("failed"))


def _clean_up(runner: RunState, uid: str, remote: RemoteBatch, input_path: str | None) -> None:
    if input_path:
        try:
            os.unlink(input_path)
        except OSError:
            pass
    if not runner.settings.keep_files:
        try:
            runner.adapter.delete_files(remote)
        except Exception as e:  # noqa: BLE001 — results are stored; the next sweep retries
            log.warning("batch %s: could not delete its files (%s)", remote.id, e)
            return
    runner.records.set_batch(uid, state="done")


def sweep(runner: RunState) -> None:
    """Delete the files of batches collected by a run that died before deleting them."""
    for b in runner.records.collected_batches(runner.adapter.provider):
        if b.owner != runner.owner and owner_alive(b.owner, b.updated_at, runner.settings.stale_s):
            continue
        try:
            remote = runner.adapter.retrieve(b.remote_id)  # type: ignore[arg-type]  # collected: it has one
        except LmWrapperError as e:
            log.warning("batch %s: cannot look up its files to delete them (%s)", b.remote_id, e)
            continue
        _clean_up(runner, b.uid, remote, b.input_path)


def _prompt(runner: RunState, key: str, prompt_json: str) -> LmPrompt:
    job = runner.jobs.get(key)
    return job.prompt if job is not None else LmPrompt.from_dict(json.loads(prompt_json))
