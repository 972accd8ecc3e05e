"""The provider-neutral batch engine: planner, job records, poller, collector.

    runner = batch_runner(lm, cache)      # lm: a `BatchBackend` (supports_batch, batch_adapter())
    runner.run(jobs, emit, should_stop)   # the `backend.Runner` protocol

A provider plugs in through `adapter.BatchAdapter` (OpenAI: `providers/openai/batch.py`).
"""

from __future__ import annotations

from typing import Any

from lmwrapper.core.contract import Backend
from lmwrapper.runners.batch.adapter import BatchBackend
from lmwrapper.runners.batch.runner import BatchRunner
from lmwrapper.runners.batch.settings import BatchSettings
from lmwrapper.store.db import SqlCache


def batch_runner(lm: Backend, cache: SqlCache, **settings: Any) -> BatchRunner:
    """The runner for `lm`'s batch API; `settings` override `BatchSettings` (and the env)."""
    if not lm.supports_batch or not isinstance(lm, BatchBackend):
        raise TypeError(f"{type(lm).__name__} has no batch API (supports_batch is False)")
    return BatchRunner(lm, cache, lm.batch_adapter(cache), BatchSettings.resolve(**settings))
