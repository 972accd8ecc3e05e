"""The provider-neutral batch engine: planner, job records, poller, collector.

    runner = batch_runner(lm, cache)      # lm.supports_batch and lm.batch_adapter()
    runner.run(jobs, emit, should_stop)   # the `backend.Runner` protocol

A provider plugs in through `adapter.BatchAdapter` (OpenAI: `providers/openai/batch.py`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lmwrapper.engine.predictor import LmPredictor
    from lmwrapper.runners.batch.runner import BatchRunner
    from lmwrapper.store.db import SqlCache


def batch_runner(lm: LmPredictor, cache: SqlCache, **settings: Any) -> BatchRunner:
    """The runner for `lm`'s batch API; `settings` override `BatchSettings` (and the env)."""
    from lmwrapper.runners.batch.runner import BatchRunner
    from lmwrapper.runners.batch.settings import BatchSettings

    adapter_factory = getattr(lm, "batch_adapter", None)
    if not getattr(lm, "supports_batch", False) or adapter_factory is None:
        raise TypeError(f"{type(lm).__name__} has no batch API (supports_batch is False)")
    merged = {**getattr(lm, "batch_settings", {}), **settings}
    return BatchRunner(lm, cache, adapter_factory(), BatchSettings.resolve(**merged))
