"""The batch engine end to end against the fake: submit, poll, collect, cache, clean up."""

from __future__ import annotations

from lmwrapper.batch_config import CompletionWindow
from lmwrapper.structs import LmPrompt

BATCH = CompletionWindow.BATCH_ANY


def prompts(n, **kw):
    kw.setdefault("max_tokens", 10)
    kw.setdefault("temperature", 0)
    return [LmPrompt(f"What is {i}+1?", **kw) for i in range(n)]


def test_batch_answers_match_live_and_are_cached_at_half_price(srv, make_lm):
    lm = make_lm()
    batch = list(lm.predict_many(prompts(5), completion_window=BATCH))
    assert srv.count("batches.create") == 1 and srv.count("chat.completions") == 0
    assert all(p.batch_id for p in batch)
    live_lm = make_lm(cache_default=False)
    live = list(live_lm.predict_many(prompts(5)))
    assert [p.completion_text for p in batch] == [p.completion_text for p in live]
    assert abs(sum(p.cost_usd for p in batch) * 2 - sum(p.cost_usd for p in live)) < 1e-12
    again = list(lm.predict_many(prompts(5), completion_window=BATCH))
    assert all(p.was_cached for p in again) and srv.count("batches.create") == 1
    # the provider's files are deleted once results are stored
    assert srv.count("files.delete") >= 2
    assert not srv.state.files
