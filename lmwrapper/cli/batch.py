"""`lmwrapper batch list | status JOB | wait JOB | cancel JOB`: batch jobs in the cache database.

    lmwrapper batch list            every job: provider, model, lines done / waiting / failed
    lmwrapper batch status JOB      its batches: local id, provider id, status, lines
    lmwrapper batch wait JOB        poll until every line of JOB is answered and stored
    lmwrapper batch cancel JOB      cancel its batches at the provider; says what `wait`, a
                                    rerun and `abandon` would then cost
    lmwrapper batch abandon JOB     cancel, and send its unanswered prompts no more: neither
                                    `wait` nor a rerun resends them (`cancel --abandon` too)
    lmwrapper batch resume JOB      undo `abandon`: the next `wait` or rerun sends them again

`lmwrapper run --batch` submits and collects with `lmwrapper.tools.batch.submit_or_collect`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lmwrapper.cli.exits import exit_for_errors
from lmwrapper.core.errors import ConfigurationError, ProviderError
from lmwrapper.core.money import format_usd
from lmwrapper.core.window import CompletionWindow
from lmwrapper.core.words import counted, noun
from lmwrapper.providers.registry import PROVIDERS
from lmwrapper.store.background_records import BackgroundRecords, BackgroundRow
from lmwrapper.store.batch_records import JobRow, Records
from lmwrapper.store.db import CACHE_FILE_NAME, SqlCache, get_cache, get_cache_dir
from lmwrapper.tools.batch import submit_or_collect

if TYPE_CHECKING:
    from lmwrapper.core.contract import Job
    from lmwrapper.core.prompt import LmPrompt
    from lmwrapper.engine.predictor import LmPredictor
    from lmwrapper.runners.batch.runner import BatchRunner


def add_batch_parser(subparsers: Any) -> None:
    batch = subparsers.add_parser("batch", help="list, inspect, wait for or cancel batch jobs")
    sub = batch.add_subparsers(dest="batch_command", required=True)
    listing = sub.add_parser("list", help="every batch job in the cache")
    listing.add_argument("--json", action="store_true", help="print the jobs as a JSON array")
    listing.set_defaults(func=_reading(cmd_list))
    for name, func, text in (("status", cmd_status, "a job's batches and lines"),
                             ("wait", cmd_wait, "poll until the job is answered and stored"),
                             ("cancel", cmd_cancel, "cancel the job's batches at the provider"),
                             ("abandon", cmd_abandon, ("cancel the job and never resend its "
                                                       "unanswered prompts (until `resume`)")),
                             ("resume", cmd_resume, ("undo `abandon`: the next `wait` or rerun "
                                                     "sends the job's unanswered prompts"))):
        p = sub.add_parser(name, help=text)
        p.add_argument("job", help="the job id (see `lmwrapper batch list`)" + (
            "; or a background response's id (resp_...)" if name == "abandon" else ""))
        p.add_argument("--base-url", default=None,
                       help="the provider's base URL here (else $OPENAI_BASE_URL & co.): "
                            "your API key goes to the job's server only if it is this one")
        p.add_argument("--trust-base-url", action="store_true",
                       help="send your API key to the base URL recorded with the job even "
                            "where it is not the one configured here")
        p.set_defaults(func=_reading(func))
        if name == "wait":
            add_max_wait(p)
        if name == "status":
            p.add_argument("--json", action="store_true", help="print the job as a JSON object")
            p.add_argument("--offline", action="store_true",
                           help="show the stored statuses; do not ask the provider")
        if name == "cancel":
            p.add_argument("--abandon", action="store_true",
                           help="and abandon the job (as `lmwrapper batch abandon JOB`)")


def _cache(args: argparse.Namespace) -> SqlCache:
    """The cache the flags point at. Every `batch` command reads jobs from it, so a missing
    file is an error, not created empty (a mistyped --cache-dir would look like no jobs)."""
    cache_dir = getattr(args, "cache_dir", None)
    path = (Path(cache_dir) if cache_dir is not None else get_cache_dir()) / CACHE_FILE_NAME
    if not path.exists():
        raise _NoCacheFile(f"no cache file at {path}, so no batch jobs there (pick the cache "
                           f"with --cache-dir DIR or $LMWRAPPER_CACHE_DIR)")
    return get_cache(cache_dir)


class _NoCacheFile(LookupError):
    """The cache a `batch` command was pointed at does not exist."""


def _reading(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """`func`, saying so on stderr when its cache does not exist (and creating none): a
    command that names a job exits 2, as for any unknown job; `list` lists no jobs (`[]`
    with --json) and exits 0, as it does for a cache without jobs."""
    def command(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except _NoCacheFile as e:
            job = getattr(args, "job", None)
            print(f"lmwrapper batch {args.batch_command}: "
                  + (f"no batch job {job!r}: " if job else "") + str(e.args[0]), file=sys.stderr)
            if job:
                return 2
            if getattr(args, "json", False):
                print("[]")
            return 0
    return command


def cmd_list(args: argparse.Namespace) -> int:
    cache = _cache(args)
    records = Records(cache)
    jobs = records.jobs()
    if args.json:
        print(json.dumps([_job_dict(records, job) for job in jobs], indent=2))
        return 0
    background = BackgroundRecords(cache).every()
    if not jobs and not background:
        print("no batch jobs in this cache")
        return 0
    for job in jobs:
        counts = records.line_counts(job.job_id)
        print(f"{job.job_id}  {job.provider}/{job.model}  {_when(job.created_at)}  "
              + _counts_text(counts))
    if background:
        print(f"{counted(len(background), 'background response')} not yet collected (a "
              "rerun in the same window collects them; `lmwrapper batch abandon ID` cancels "
              "one):")
    for row in background:
        print(f"{row.response_id or '(being created)'}  {row.provider}/{row.model}  "
              f"{row.window}  {_when(row.created_at)}  {row.state}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    records = Records(_cache(args))
    job = records.job(args.job)
    if job is None:
        return _unknown(args.job)
    if not args.offline:
        refresh_statuses(records, job, trust_base_url=args.trust_base_url, base_url=args.base_url)
    batches = records.job_batches(args.job)
    if args.json:
        print(json.dumps({**_job_dict(records, job), "batches": [
            {"uid": b.uid, "remote_id": b.remote_id, "state": b.state,
             "provider_status": b.remote_status, "lines": b.lines, "error": b.error}
            for b in batches]}, indent=2))
        return 0
    print(f"job {args.job}: {job.provider}/{job.model}, created {_when(job.created_at)}; "
          + _counts_text(records.line_counts(args.job)))
    for b in batches:
        extra = f" ({b.error})" if b.error else ""
        print(f"  {b.uid}  {b.remote_id or '-':<32} {b.state:<10} {b.remote_status or '-':<12} "
              f"{counted(b.lines, 'line')}{extra}")
    return 0


def refresh_statuses(records: Records, job: JobRow, *, trust_base_url: bool = False,
                     base_url: str | None = None) -> None:
    """Ask the provider for the status of the job's batches at it, and store what it says
    (a stored "validating" would otherwise be shown long after the batch completed). The
    answers are collected by `batch wait` or a rerun, not here."""
    at_provider = [(b, b.remote_id) for b in records.job_batches(job.job_id)
                   if b.state == "submitted" and b.remote_id is not None]
    if not at_provider:
        return
    from lmwrapper.core.errors import LmWrapperError

    try:
        lm = predictor_for(job.identity, trust_base_url=trust_base_url, base_url=base_url)
        adapter = lm.backend.batch_adapter()
        for b, remote_id in at_provider:
            remote = adapter.retrieve(remote_id)
            if remote.provider_status != b.remote_status:
                records.set_batch(b.uid, remote_status=remote.provider_status)
    except (LmWrapperError, ValueError) as e:
        print(f"lmwrapper batch status: could not ask the provider ({e}); showing the stored "
              f"statuses", file=sys.stderr)


def _job_dict(records: Records, job: JobRow) -> dict[str, Any]:
    counts = records.line_counts(job.job_id)
    return {"job": job.job_id, "provider": job.provider, "model": job.model,
            "created_at": job.created_at,
            "lines": {"done": counts.get("done", 0),
                      "waiting": counts.get("claimed", 0) + counts.get("planned", 0),
                      "failed": counts.get("failed", 0),
                      "abandoned": counts.get("abandoned", 0)}}


def cmd_wait(args: argparse.Namespace) -> int:
    cache = _cache(args)
    records = Records(cache)
    if records.job(args.job) is None:
        return _unknown(args.job)
    try:
        wait_for_job(cache, args.job, args.max_wait, trust_base_url=args.trust_base_url,
                     base_url=args.base_url)
    except KeyboardInterrupt:  # nothing is lost: what was collected is stored, the rest waits
        print(f"lmwrapper batch wait: interrupted; job {args.job}: "
              f"{_counts_text(records.line_counts(args.job))}. Its batches go on at the "
              f"provider: rerun `{wait_command(args.job, args.cache_dir, args.base_url)}` to collect them",
              file=sys.stderr)
        return 130
    counts = records.line_counts(args.job)
    print(f"job {args.job}: " + _counts_text(counts))
    return 1 if counts.get("failed") or counts.get("abandoned") else 0


def wait_command(job_id: str, cache_dir: str | None, base_url: str | None = None) -> str:
    """The command that waits for `job_id`, with the cache directory it was given (without
    it, `batch wait` would look in the default cache and not find the job) and the base URL
    it was sent to, where that is not the configured one (else no key is sent there)."""
    import shlex

    where = f"--cache-dir {shlex.quote(cache_dir)} " if cache_dir else ""
    url = f" --base-url {shlex.quote(base_url)}" if base_url else ""
    return f"lmwrapper {where}batch wait {job_id}{url}"


def cmd_cancel(args: argparse.Namespace) -> int:
    if getattr(args, "abandon", False):
        return cmd_abandon(args)
    cache = _cache(args)
    records = Records(cache)
    job = records.job(args.job)
    if job is None:
        return _unknown(args.job)
    lm = predictor_for(job.identity, trust_base_url=args.trust_base_url, base_url=args.base_url)
    n = cancel_at_provider(lm, records, args.job)
    waiting, cost = _open_cost(lm, cache, args.job)
    wait = wait_command(args.job, args.cache_dir, args.base_url)
    if n:
        head = (f"cancelled {counted(n, 'batch', 'batches')} of job {args.job}; what "
                f"{'it' if n == 1 else 'they'} answered before the cancel is paid for and is "
                f"stored by the next `wait` or rerun. Of its {counted(waiting, 'waiting prompt')}, "
                f"those the cancel leaves unanswered are then sent again:")
    else:  # every batch had ended (or none was sent): a cancel changes nothing
        head = (f"job {args.job} has no batch running at the provider: nothing was cancelled. "
                f"What its batches answered is paid for and is stored by the next `wait` or "
                f"rerun; of its {counted(waiting, 'waiting prompt')}, those no batch answered are sent "
                f"again:")
    print(f"{head}\n"
          f"  `{wait}` (or rerunning the script) resends them in a new batch: up to {cost}\n"
          f"  `{abandon_command(args.job, args.cache_dir, args.base_url)}` sends nothing more: $0 "
          f"(its answered prompts stay in the cache)")
    return 0


def cmd_abandon(args: argparse.Namespace) -> int:
    """Cancel the job at the provider and mark its unanswered lines abandoned: no `wait` and
    no rerun sends them (each answers them with an error saying so) until `batch resume`."""
    cache = _cache(args)
    records = Records(cache)
    job = records.job(args.job)
    if job is None:
        row = BackgroundRecords(cache).of_response(args.job)
        return _unknown(args.job) if row is None else abandon_background(cache, row, args)
    lm = predictor_for(job.identity, trust_base_url=args.trust_base_url, base_url=args.base_url)
    n = cancel_at_provider(lm, records, args.job)
    lines = records.abandon_job(args.job)
    at_provider = sum(b.state == "submitted" for b in records.job_batches(args.job))
    collect = (f"; `{wait_command(args.job, args.cache_dir, args.base_url)}` stores what its "
               f"{counted(at_provider, 'cancelled batch', 'cancelled batches')} answered before the cancel (already paid; it sends nothing)"
               if at_provider else "")
    print(f"abandoned job {args.job}: cancelled {counted(n, 'batch', 'batches')}, "
          f"{counted(lines, 'unanswered line')} will not "
          f"be sent again by `batch wait` or a rerun (they answer with an error saying so){collect}. "
          f"`{resume_command(args.job, args.cache_dir, args.base_url)}` undoes this")
    return 0


def abandon_background(cache: SqlCache, row: BackgroundRow, args: argparse.Namespace) -> int:
    """Cancel a background response at the provider (one request; the SDK's bounded
    retries) and forget its record: a rerun of its prompt then creates it anew. Its record
    names no server, so the cancel goes to the one configured here (`--base-url`, else
    `$OPENAI_BASE_URL`, else the provider's own): a cache file never picks where a key goes.
    A cancel that fails keeps the record (the response may still run, and be paid for)."""
    provider = PROVIDERS[row.provider]
    lm = provider.make(row.model, **({"base_url": args.base_url} if args.base_url else {}))
    try:
        lm.backend.background_adapter().cancel(str(row.response_id))
    except ProviderError as e:
        if e.status_code != 404:  # gone at the provider: nothing left to cancel or collect
            print(f"lmwrapper batch abandon: cancelling background response {row.response_id} "
                  f"failed, so its record is kept (a rerun still collects it): {e}",
                  file=sys.stderr)
            return 1
    BackgroundRecords(cache).forget(row.marker)
    print(f"abandoned background response {row.response_id} ({row.provider}/{row.model}, "
          f"{row.window}): cancelled at the provider and forgotten here. What it answered "
          "before the cancel is billed but not collected; a rerun of its prompt in a "
          "background window sends it again")
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    cache = _cache(args)
    records = Records(cache)
    job = records.job(args.job)
    if job is None:
        return _unknown(args.job)
    n = records.resume_job(args.job)
    # only a price is worked out here: nothing is sent, so the recorded base URL is no risk
    _, cost = _open_cost(predictor_for(job.identity, trust_base_url=True), cache, args.job)
    print(f"job {args.job}: {n} abandoned lines will be sent again by "
          f"`{wait_command(args.job, args.cache_dir, args.base_url)}` or a rerun (up to {cost})")
    return 0


def cancel_at_provider(lm: LmPredictor, records: Records, job_id: str) -> int:
    """Cancel the job's batches running at the provider; how many were cancelled."""
    adapter = lm.backend.batch_adapter()
    n = 0
    for b in records.job_batches(job_id):
        if b.state == "submitted" and b.remote_id is not None:
            remote = adapter.retrieve(b.remote_id)
            if remote.state == "running" and remote.provider_status != "cancelling":
                adapter.cancel(b.remote_id)
                n += 1
    return n


def _open_cost(lm: LmPredictor, cache: SqlCache, job_id: str) -> tuple[int, str]:
    """(prompts the job waits for, what sending them all again costs at most, as text)."""
    jobs = _open_jobs(cache, job_id)
    if not jobs:
        return 0, "$0 (nothing is waiting)"
    est = lm.estimate_cost([j.prompt for j in jobs], CompletionWindow.BATCH_ANY,
                           samples=[len(j.sample_indices) for j in jobs])
    price = f"{format_usd(est.total_usd)} at the batch price" if est.priced else "an unknown price"
    return len(jobs), f"{price} ({counted(len(jobs), 'prompt')})"


def abandon_command(job_id: str, cache_dir: str | None, base_url: str | None = None) -> str:
    return wait_command(job_id, cache_dir, base_url).replace(" batch wait ", " batch abandon ")


def resume_command(job_id: str, cache_dir: str | None, base_url: str | None = None) -> str:
    return wait_command(job_id, cache_dir, base_url).replace(" batch wait ", " batch resume ")


def add_max_wait(p: argparse.ArgumentParser) -> None:
    p.add_argument("--max-wait", type=_seconds, default=None, metavar="SECONDS",
                   help="give up waiting after this long, exit 1 (the batches go on at the "
                        "provider; a rerun collects them). Default: $LMWRAPPER_BATCH_MAX_WAIT_S, "
                        "else no limit")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number of seconds > 0; got {text!r}")
    return value


@contextmanager
def max_wait(seconds: float | None) -> Iterator[None]:
    """`--max-wait` for the batch runner a run makes: the documented environment variable,
    for this command only (the flag wins over the environment, as every setting's does)."""
    if seconds is None:
        yield
        return
    name, was = "LMWRAPPER_BATCH_MAX_WAIT_S", os.environ.get("LMWRAPPER_BATCH_MAX_WAIT_S")
    os.environ[name] = repr(seconds)
    try:
        yield
    finally:
        if was is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = was


def wait_for_job(cache: SqlCache, job_id: str, max_wait_s: float | None = None, *,
                 trust_base_url: bool = False, base_url: str | None = None) -> None:
    """Collect every batch of `job_id` (and resend what needs it) until its lines are final;
    `WaitedTooLong` after `max_wait_s` seconds."""
    job = Records(cache).job(job_id)
    if job is None:
        raise KeyError(f"no batch job {job_id!r} in {cache.path}; see `lmwrapper batch list`")
    lm = predictor_for(job.identity, trust_base_url=trust_base_url, base_url=base_url)
    jobs = _open_jobs(cache, job_id)
    if jobs:
        runner = _runner(lm, cache, job_id, max_wait_s=max_wait_s)
        runner.show_progress = sys.stderr.isatty()
        runner.run(jobs, lambda *_: None, lambda: False)


def run_submit(lm: LmPredictor, prompts: list[LmPrompt], write_all: Callable[[], int],
               max_cost_usd: float | None, output: str, cache_dir: str | None = None,
               allow_errors: bool = False) -> int:
    """`lmwrapper run --batch` (no `--wait`): submit and return; the rerun that finds every
    answer in the cache writes `output` (`write_all()`: `lmwrapper run`'s writer, with every
    answer cached; it returns how many lines are errors). Exit 0 (submitted, or all written
    without error), 1 (lines failed, or written with error answers)."""
    sub = submit_or_collect(lm, prompts, max_cost_usd=max_cost_usd)
    where = "stdout" if output == "-" else output
    if sub.waiting:
        sent = f"submitted job {sub.job_id}; " if sub.job_id else ""
        jobs = ", ".join(sub.jobs) or "-"
        # the command to copy, with the real job ids (a user pasting `JOB` gets "no batch job")
        url = _unconfigured_base_url(lm.identity_json())
        wait = " && ".join(wait_command(j, cache_dir, url) for j in sub.jobs) or "lmwrapper batch list"
        print(f"lmwrapper run: {sent}{counted(sub.waiting, 'prompt')} "
              f"{noun(sub.waiting, 'waits', 'wait')} in batches (job {jobs}); "
              f"rerun the same command to collect them and write {where} "
              f"(or wait: `{wait}`, or add --wait)", file=sys.stderr)
        return 0
    if sub.failed:
        print(f"lmwrapper run: {counted(sub.failed, 'prompt')} failed in their batches (not "
              f"cached); "
              f"rerun the same command to send them again, or add --wait to write them to "
              f"{where} as error answers", file=sys.stderr)
        return 1
    # every answer is cached (or abandoned: its line says so); `failed` of them are errors
    failed = write_all()
    left = (f" ({counted(sub.abandoned, 'prompt')} of an abandoned job "
            f"{noun(sub.abandoned, 'was', 'were')} not sent: `lmwrapper batch resume JOB` "
            f"sends {noun(sub.abandoned, 'it', 'them')})" if sub.abandoned else "")
    print(f"lmwrapper run: every answer is in{left}; wrote {where}. {lm.last_run}",
          file=sys.stderr)
    return exit_for_errors(failed, len(prompts), allow_errors,
                           fresh=lm.last_run.failed if lm.last_run else None)


def predictor_for(identity_json: str, *, trust_base_url: bool = False,
                  base_url: str | None = None) -> LmPredictor:
    """Rebuild the predictor a job was run with, from its recorded identity.

    A cache file may come from someone else: the base URL recorded in it is sent the API key
    of this environment only where it is the one configured here, or `trust_base_url`."""
    ident = json.loads(identity_json)
    provider = PROVIDERS.get(ident.get("provider"))
    if provider is None or not provider.spec().batch:
        known = sorted(p.name for p in PROVIDERS.values() if p.spec().batch)
        raise ValueError(f"no batch support for provider {ident.get('provider')!r} "
                         f"(known: {known})")
    recorded = ident.get("base_url")
    lm = provider.make(ident["model"], **provider.spec().rebuild_args(ident, True))
    configured = base_url or _configured_base_url(provider, ident)
    if recorded and not trust_base_url and not (configured and _same_url(recorded, configured)):
        raise ConfigurationError(
            f"this batch job was sent to {recorded}, as the cache file records, but the base "
            f"URL configured here is {configured or 'not that one'}: lmwrapper will not send "
            "your API key to a server named by a cache file. If that server is yours or you "
            "trust it, rerun with --trust-base-url (or configure that base URL, e.g. "
            "$OPENAI_BASE_URL, or $AZURE_OPENAI_ENDPOINT for an Azure deployment).")
    return lm


def _configured_base_url(provider: Any, ident: Mapping[str, Any]) -> str | None:
    """The server this environment sends `ident`'s kind of model to, as its identity names
    it (None: none is configured, e.g. no Azure endpoint)."""
    try:
        lm = provider.make(ident["model"], **provider.spec().rebuild_args(ident, False))
    except ConfigurationError:
        return None
    return str(lm.model_identity().get("base_url") or lm.base_url)


def _unconfigured_base_url(identity_json: str) -> str | None:
    """The base URL in `identity_json` where it is not the one configured here, else None."""
    ident = json.loads(identity_json)
    recorded, provider = ident.get("base_url"), PROVIDERS.get(ident.get("provider"))
    if not recorded or provider is None:
        return None
    configured = _configured_base_url(provider, ident)
    return None if configured and _same_url(recorded, configured) else str(recorded)


def _same_url(a: str, b: str) -> bool:
    return a.rstrip("/").lower() == b.rstrip("/").lower()


def _runner(lm: LmPredictor, cache: SqlCache, job_id: str | None, **settings: Any) -> BatchRunner:
    from lmwrapper.runners.batch import batch_runner

    runner = batch_runner(lm.backend, cache, **settings)
    if job_id is not None:
        runner.job_id = job_id
    return runner


def _open_jobs(cache: SqlCache, job_id: str) -> list[Job]:
    from lmwrapper.core.contract import Job
    from lmwrapper.core.prompt import LmPrompt

    prompts: dict[str, LmPrompt] = {}
    samples: dict[str, list[int]] = {}
    for key, first, n, prompt in Records(cache).open_lines(job_id):
        if key not in prompts:
            prompts[key] = LmPrompt.from_dict(json.loads(prompt))
        samples.setdefault(key, []).extend(range(first, first + n))
    return [Job(key, prompts[key], tuple(sorted(samples[key]))) for key in prompts]


def _counts_text(counts: dict[str, int]) -> str:
    waiting = counts.get("claimed", 0) + counts.get("planned", 0)
    text = f"{counts.get('done', 0)} done, {waiting} waiting, {counts.get('failed', 0)} failed"
    return text + (f", {counts['abandoned']} abandoned" if counts.get("abandoned") else "")


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def _unknown(job_id: str) -> int:
    print(f"no batch job {job_id!r} in this cache; `lmwrapper batch list` shows the jobs "
          "(or pass --cache-dir)", file=sys.stderr)
    return 2
