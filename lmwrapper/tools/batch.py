"""Submit now, collect later: a dataset through a provider's batch API without waiting.

`predict_many(prompts, completion_window=CompletionWindow.BATCH_ANY)` waits until every batch
has ended. `submit_or_collect(lm, prompts)` returns at once instead, so a script (or a cron
job) can be rerun until the answers are in; it is `lmwrapper run --batch` without `--wait`:

    >>> sub = submit_or_collect(lm, prompts)      # sends what is neither cached nor in a batch
    >>> sub.waiting                                # prompts whose batches have not ended
    >>> # ... later, the same call again: collects what has finished, sends nothing twice
    >>> if submit_or_collect(lm, prompts).waiting == 0:
    ...     preds = list(lm.predict_many(prompts))  # every answer from the cache, no call
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lmwrapper.core.window import CompletionWindow
from lmwrapper.engine.plan import Plan
from lmwrapper.runners.batch import batch_runner
from lmwrapper.store.batch_records import Records

if TYPE_CHECKING:
    from lmwrapper.core.contract import Job
    from lmwrapper.core.prompt import LmPrompt
    from lmwrapper.engine.predictor import LmPredictor

__all__ = ["Submitted", "submit_or_collect"]


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
    abandoned: int = 0  # prompts of an abandoned job (`lmwrapper batch abandon`): not sent


def submit_or_collect(lm: LmPredictor, prompts: Iterable[LmPrompt], *,
                      max_cost_usd: float | None = None) -> Submitted:
    """`lmwrapper run --batch` without `--wait`: submit what is neither cached nor already in
    a batch, collect the batches that have finished, and return at once.

    Planned as `predict_many(prompts, CompletionWindow.BATCH_ANY)` plans (the same
    `Plan`: validate, key, dedupe, look up, `max_cost_usd` check), so both send the same lines.
    Rerun it (or `lmwrapper batch wait JOB`) until `waiting` is 0; then every answer is in the
    cache and `predict_many` serves the whole file without a call.
    """
    # a prompt refused before sending (too large, over the window) is in no batch; the run
    # that writes the output answers it
    jobs = Plan(lm, prompts, CompletionWindow.BATCH_ANY, max_cost_usd=max_cost_usd).sendable()
    if not jobs:
        return Submitted(None, 0)
    runner = batch_runner(lm.backend, lm.cache)
    loops = [0]
    failed: set[str] = set()
    abandoned: set[str] = set()

    def one_pass_done() -> bool:  # submit everything, poll once, then return
        loops[0] += 1
        return loops[0] > 1 and runner.all_submitted()

    def emitted(job: Job, preds: Sequence[Any]) -> None:
        if job.key in runner.abandoned:
            abandoned.add(job.key)
        elif any(p.error_is_transient for p in preds):  # not cached: the line failed for good
            failed.add(job.key)

    runner.run(jobs, emitted, one_pass_done)
    new = Records(lm.cache).job(runner.job_id) is not None
    holding = tuple(sorted({cid.rsplit("-", 1)[0] for cid in runner.waiting}))
    return Submitted(runner.job_id if new else None, len(runner.got), len(failed), holding,
                     len(abandoned))

