"""0.18 scripts use a global predictor in `multiprocessing.Pool`, which forks on Linux."""

from __future__ import annotations

import multiprocessing
import sys

import pytest

from lmwrapper.openai_wrapper import get_open_ai_lm
from lmwrapper.structs import LmPrompt

_LM = None  # the global a 0.18 script's worker function uses


def _ask(i: int) -> str:
    pred = _LM.predict(LmPrompt(f"What is {i}+1?", max_tokens=3, temperature=0))
    return pred.error_message or pred.completion_text


def _cache_id(_: int) -> int:
    return id(_LM.cache)


@pytest.mark.skipif(sys.platform == "win32", reason="no fork on Windows")
def test_forked_workers_share_no_connection_with_the_parent(openai_env, monkeypatch):
    lm = get_open_ai_lm("gpt-4o-mini")
    monkeypatch.setattr(sys.modules[__name__], "_LM", lm)
    lm.predict(LmPrompt("What is 0+1?", max_tokens=3, temperature=0))  # client + cache now open
    with multiprocessing.get_context("fork").Pool(4) as pool:
        # Sharing the parent's keep-alive socket garbled requests (a 400 got cached) or hung.
        answers = pool.map_async(_ask, range(1, 121)).get(timeout=240)
        # The inherited handle stays alive (never closed), so a fresh one has another id.
        child_cache_ids = set(pool.map(_cache_id, range(8)))
    assert answers == [str(i + 1) for i in range(1, 121)]
    assert id(lm.cache) not in child_cache_ids  # each child opened the file itself
    assert all(lm.predict(LmPrompt(f"What is {i}+1?", max_tokens=3, temperature=0)).was_cached
               for i in range(1, 121))  # the children's rows reached the shared file
    assert lm.cache.integrity_check() == "ok"
