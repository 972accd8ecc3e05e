"""`lmwrapper batch list | status JOB | wait JOB | cancel JOB`: batch jobs in the cache database.

    lmwrapper batch list            every job: provider, model, lines done / waiting / failed
    lmwrapper batch status JOB      its batches: local id, provider id, status, lines
    lmwrapper batch wait JOB        poll until every line of JOB is answered and stored
    lmwrapper batch cancel JOB      cancel its batches at the provider (a rerun of the script
                                    sends what is missing again)

For `lmwrapper run --batch`: `submit_or_collect(lm, prompts)` submits what the cache lacks,
collects what has finished and returns at once; rerun it until nothing is waiting.
"""

from __future__ import annotations

import argparse
import importlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lmwrapper.store.db import SqlCache, get_cache

if TYPE_CHECKING:
    from lmwrapper.core.contract import Job
    from lmwrapper.core.prompt import LmPrompt
    from lmwrapper.engine.predictor import LmPredictor
    from lmwrapper.runners.batch.runner import BatchRunner

# provider → "module:factory(model, base_url=...)"; a provider with a batch adapter adds itself
PREDICTORS = {"openai": "lmwrapper.providers.openai:get_open_ai_lm",
              "anthropic": "lmwrapper.providers.anthropic:get_claude_lm"}


def add_batch_parser(subparsers: Any) -> None:
    batch = subparsers.add_parser("batch", help="list, inspect, wait for or cancel batch jobs")
    sub = batch.add_subparsers(dest="batch_command", required=True)
    sub.add_parser("list", help="every batch job in the cache").set_defaults(func=cmd_list)
    for name, func, text in (("status", cmd_status, "a job's batches and lines"),
                             ("wait", cmd_wait, "poll until the job is answered and stored"),
                             ("cancel", cmd_cancel, "cancel the job's batches at the provider")):
        p = sub.add_parser(name, help=text)
        p.add_argument("job", help="the job id (see `lmwrapper batch list`)")
        p.set_defaults(func=func)


def _cache(args: argparse.Namespace) -> SqlCache:
    return get_cache(getattr(args, "cache_dir", None))


def _rows(cache: SqlCache, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    with cache._lock:
        return cache._conn.execute(sql, tuple(params)).fetchall()


def cmd_list(args: argparse.Namespace) -> int:
    cache = _cache(args)
    jobs = _rows(cache, "SELECT job_id, provider, model, created_at FROM batch_jobs ORDER BY created_at")
    if not jobs:
        print("no batch jobs in this cache")
        return 0
    for job_id, provider, model, created in jobs:
        counts = _line_counts(cache, job_id)
        print(f"{job_id}  {provider}/{model}  {_when(created)}  " + _counts_text(counts))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    cache = _cache(args)
    job = _job(cache, args.job)
    if job is None:
        return _unknown(args.job)
    print(f"job {args.job}: {job[1]}/{job[2]}, created {_when(job[3])}; "
          + _counts_text(_line_counts(cache, args.job)))
    for uid, remote_id, state, remote_status, lines, error in _rows(
            cache, "SELECT uid, remote_id, state, remote_status, lines, error FROM batch_batches "
            "WHERE job_id = ? ORDER BY created_at", (args.job,)):
        extra = f" ({error})" if error else ""
        print(f"  {uid}  {remote_id or '-':<32} {state:<10} {remote_status or '-':<12} "
              f"{lines} lines{extra}")
    return 0


def cmd_wait(args: argparse.Namespace) -> int:
    cache = _cache(args)
    if _job(cache, args.job) is None:
        return _unknown(args.job)
    try:
        wait_for_job(cache, args.job)
    except KeyboardInterrupt:  # nothing is lost: what was collected is stored, the rest waits
        import sys

        print(f"lmwrapper batch wait: interrupted; job {args.job}: "
              f"{_counts_text(_line_counts(cache, args.job))}. Its batches go on at the "
              f"provider: rerun `{wait_command(args.job, args.cache_dir)}` to collect them",
              file=sys.stderr)
        return 130
    counts = _line_counts(cache, args.job)
    print(f"job {args.job}: " + _counts_text(counts))
    return 1 if counts.get("failed") else 0


def wait_command(job_id: str, cache_dir: str | None) -> str:
    """The command that waits for `job_id`, with the cache directory it was given (without
    it, `batch wait` would look in the default cache and not find the job)."""
    import shlex

    where = f"--cache-dir {shlex.quote(cache_dir)} " if cache_dir else ""
    return f"lmwrapper {where}batch wait {job_id}"


def cmd_cancel(args: argparse.Namespace) -> int:
    cache = _cache(args)
    job = _job(cache, args.job)
    if job is None:
        return _unknown(args.job)
    adapter = predictor_for(job[4]).batch_adapter()  # type: ignore[attr-defined]
    n = 0
    for uid, remote_id, state in _rows(cache, "SELECT uid, remote_id, state FROM batch_batches "
                                              "WHERE job_id = ? AND state IN ('planned', 'uploaded', "
                                              "'submitted')", (args.job,)):
        if state == "submitted":
            remote = adapter.retrieve(remote_id)
            if remote.state == "running" and remote.provider_status != "cancelling":
                adapter.cancel(remote_id)
                n += 1
    print(f"cancelled {n} batches of job {args.job}; `{wait_command(args.job, args.cache_dir)}` stores "
          "what they answered before the cancel")
    return 0


def wait_for_job(cache: SqlCache, job_id: str) -> None:
    """Collect every batch of `job_id` (and resend what needs it) until its lines are final."""
    job = _job(cache, job_id)
    if job is None:
        raise KeyError(f"no batch job {job_id!r} in {cache.path}; see `lmwrapper batch list`")
    lm = predictor_for(job[4])
    jobs = _open_jobs(lm, cache, job_id)
    if jobs:
        import sys

        runner = _runner(lm, cache, job_id)
        runner.show_progress = sys.stderr.isatty()
        runner.run(jobs, lambda *_: None, lambda: False)


@dataclass(frozen=True)
class Submitted:
    """What `submit_or_collect` left: `waiting` prompts not answered yet (0: all in now), in
    the batches of `jobs`; `failed` prompts whose lines failed for good this time (not cached:
    a rerun sends them again); and `job_id`, the job that submitted this call's new lines
    (None when nothing new was sent)."""

    job_id: str | None
    waiting: int
    failed: int = 0
    jobs: tuple[str, ...] = ()


def submit_or_collect(lm: LmPredictor, prompts: Iterable[LmPrompt]) -> Submitted:
    """`lmwrapper run --batch` without `--wait`: submit what is neither cached nor already in
    a batch, collect the batches that have finished, and return at once.

    Rerun it (or `lmwrapper batch wait JOB`) until `waiting` is 0; then every answer is in the
    cache and `predict_many` serves the whole file without a call.
    """
    jobs = _uncached_jobs(lm, prompts)
    if not jobs:
        return Submitted(None, 0)
    runner = _runner(lm, lm.cache, None)
    loops = [0]
    failed: set[str] = set()

    def one_pass_done() -> bool:  # submit everything, poll once, then return
        loops[0] += 1
        return loops[0] > 1 and runner.all_submitted()

    def emitted(job: Job, preds: Sequence[Any]) -> None:
        if any(p.error_is_transient for p in preds):  # not cached: the line failed for good
            failed.add(job.key)

    runner.run(jobs, emitted, one_pass_done)
    new = _job(lm.cache, runner.job_id) is not None
    holding = tuple(sorted({cid.rsplit("-", 1)[0] for cid in runner.waiting}))
    return Submitted(runner.job_id if new else None, len(runner.got), len(failed), holding)


def _uncached_jobs(lm: LmPredictor, prompts: Iterable[LmPrompt]) -> list[Job]:
    """One Job per distinct prompt with the samples the cache lacks."""
    from lmwrapper.core.contract import Job
    from lmwrapper.store.keys import prompt_key

    ident = lm.identity_json()
    wanted: dict[str, Job] = {}
    for p in prompts:
        key = prompt_key(p.canonical(), ident)
        wanted.setdefault(key, Job(key, p, list(range(p.samples_needed))))
    have = lm.cache.get_many(list(wanted))
    jobs = []
    for key, job in wanted.items():
        done = {idx for idx, *_ in have.get(key, ())}
        job.sample_indices = [i for i in job.sample_indices if i not in done]
        if job.sample_indices:
            jobs.append(job)
    return jobs


def run_submit(lm: LmPredictor, prompts: list[LmPrompt], rows: list[dict[str, Any]],
               max_cost_usd: float | None, output: str, cache_dir: str | None = None) -> int:
    """`lmwrapper run --batch` (no `--wait`): submit and return; the rerun that finds every
    answer in the cache writes `output`. Exit 0 (submitted, or written), 1 (lines failed)."""
    import sys

    from lmwrapper.cli.run import write_answers
    from lmwrapper.core.window import CompletionWindow
    from lmwrapper.engine.plan import Plan

    Plan(lm, prompts, CompletionWindow.BATCH_ANY, max_cost_usd=max_cost_usd)  # the cost check
    sub = submit_or_collect(lm, prompts)
    where = "stdout" if output == "-" else output
    if sub.waiting:
        sent = f"submitted job {sub.job_id}; " if sub.job_id else ""
        jobs = ", ".join(sub.jobs) or "-"
        # the command to copy, with the real job ids (a user pasting `JOB` gets "no batch job")
        wait = " && ".join(wait_command(j, cache_dir) for j in sub.jobs) or "lmwrapper batch list"
        print(f"lmwrapper run: {sent}{sub.waiting} prompts wait in batches (job {jobs}); "
              f"rerun the same command to collect them and write {where} "
              f"(or wait: `{wait}`, or add --wait)", file=sys.stderr)
        return 0
    if sub.failed:
        print(f"lmwrapper run: {sub.failed} prompts failed in their batches (not cached); "
              f"rerun the same command to send them again, or add --wait to write them to "
              f"{where} as error answers", file=sys.stderr)
        return 1
    write_answers(lm, prompts, rows, CompletionWindow.BATCH_ANY, None, output)  # all cached
    print(f"lmwrapper run: every answer is in; wrote {where}. {lm.last_run}", file=sys.stderr)
    return 0


def predictor_for(identity_json: str) -> LmPredictor:
    """Rebuild the predictor a job was run with, from its recorded identity."""
    ident = json.loads(identity_json)
    target = PREDICTORS.get(ident.get("provider"))
    if target is None:
        raise ValueError(f"no batch support for provider {ident.get('provider')!r} "
                         f"(known: {sorted(PREDICTORS)})")
    module, _, name = target.partition(":")
    factory = getattr(importlib.import_module(module), name)
    kwargs = {"base_url": ident["base_url"]} if ident.get("base_url") else {}
    lm: LmPredictor = factory(ident["model"], **kwargs)
    return lm


def _runner(lm: LmPredictor, cache: SqlCache, job_id: str | None) -> BatchRunner:
    from lmwrapper.runners.batch import batch_runner

    runner = batch_runner(lm, cache)
    if job_id is not None:
        runner.job_id = job_id
    return runner


def _open_jobs(lm: LmPredictor, cache: SqlCache, job_id: str) -> list[Job]:
    from lmwrapper.core.contract import Job
    from lmwrapper.core.prompt import LmPrompt

    jobs: dict[str, Job] = {}
    for key, first, n, prompt in _rows(cache, "SELECT key, first_sample, n, prompt FROM batch_lines "
                                              "WHERE job_id = ? AND state IN ('claimed', 'planned')",
                                       (job_id,)):
        job = jobs.setdefault(key, Job(key, LmPrompt.from_dict(json.loads(prompt)), []))
        job.sample_indices.extend(range(first, first + n))
    for job in jobs.values():
        job.sample_indices.sort()
    return list(jobs.values())


def _job(cache: SqlCache, job_id: str) -> tuple[Any, ...] | None:
    rows = _rows(cache, "SELECT job_id, provider, model, created_at, identity FROM batch_jobs "
                        "WHERE job_id = ?", (job_id,))
    return rows[0] if rows else None


def _line_counts(cache: SqlCache, job_id: str) -> dict[str, int]:
    return dict(_rows(cache, "SELECT state, count(*) FROM batch_lines WHERE job_id = ? "  # type: ignore[arg-type]
                             "GROUP BY state", (job_id,)))


def _counts_text(counts: dict[str, int]) -> str:
    waiting = counts.get("claimed", 0) + counts.get("planned", 0)
    return f"{counts.get('done', 0)} done, {waiting} waiting, {counts.get('failed', 0)} failed"


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def _unknown(job_id: str) -> int:
    print(f"no batch job {job_id!r} in this cache; `lmwrapper batch list` shows the jobs "
          "(or pass --cache-dir)")
    return 2
