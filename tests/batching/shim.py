"""TEST-ONLY SHIM — remove when the engine routes BATCH_ANY itself (engine branch).

Until then `OpenAiPredictor._run` decides what BATCH_ANY means; this sends BATCH_ANY to
`lmwrapper.batching.batch_runner(lm, lm.cache)`, which is what the engine's seam will call.
"""

from __future__ import annotations

from typing import Any

from lmwrapper.batch_config import CompletionWindow
from lmwrapper.openai_wrapper.predictor import OpenAiPredictor

_original = OpenAiPredictor._run


def _run(self: Any, jobs: Any, window: Any, emit: Any, should_stop: Any) -> None:
    if window is CompletionWindow.BATCH_ANY and self.supports_batch:
        from lmwrapper.batching import batch_runner

        batch_runner(self, self.cache).run(jobs, emit, should_stop)
        return
    _original(self, jobs, window, emit, should_stop)


def install() -> None:
    from lmwrapper import engine

    with open(engine.__file__) as f:
        routed = "batch_runner" in f.read()
    if not routed:  # the engine routes already: no shim
        OpenAiPredictor._run = _run  # type: ignore[method-assign]
