"""Samples split into jobs: a backend's `max_samples_per_request` caps the samples of one
job; a prompt still counts once (summary, progress bar), however many jobs carry it."""

from __future__ import annotations

import threading

from lmwrapper import PermanentProviderError
from lmwrapper.batch_config import CompletionWindow
from lmwrapper.engine.plan import Plan
from lmwrapper.store.db import prompt_key
from lmwrapper.structs import LmPrediction, LmPrompt
from lmwrapper.testing import ScriptedLm


class TwoPerRequest(ScriptedLm):
    """A scripted model whose API takes at most two samples per request."""

    max_samples_per_request = 2

    def __init__(self, **kw):
        super().__init__(**kw)
        self.jobs_sent: list[int] = []  # samples per call, in order
        self._lock = threading.Lock()

    def _predict_samples(self, prompt, n):
        with self._lock:
            self.jobs_sent.append(n)
        return super()._predict_samples(prompt, n)


def sampled(text: str, n: int) -> LmPrompt:
    return LmPrompt(text, num_completions=n, temperature=1.0, max_tokens=5)


def test_plan_splits_missing_samples_into_jobs_of_at_most_the_backend_limit(tmp_path):
    lm = TwoPerRequest(cache_dir=str(tmp_path))
    plan = Plan(lm, [sampled("a", 5), sampled("b", 1)], CompletionWindow.ASAP)
    assert [j.sample_indices for j in plan.jobs] == [(0, 1), (2, 3), (4,), (0,)]
    assert plan.uncached()[1] == [5, 1]  # counted per prompt, not per job
    unlimited = ScriptedLm(cache_dir=str(tmp_path))  # max_samples_per_request None: one job
    assert [j.sample_indices for j in Plan(unlimited, [sampled("a", 5)],
                                           CompletionWindow.ASAP).jobs] == [(0, 1, 2, 3, 4)]


def test_split_samples_are_answered_in_order_and_count_once_per_prompt(tmp_path):
    lm = TwoPerRequest(cache_dir=str(tmp_path))
    results = lm.predict_many([sampled("a", 5), sampled("a", 5), sampled("b", 3)])
    answers = list(results)
    assert lm.jobs_sent == [2, 2, 1, 2, 1]  # twins share jobs; no job above the limit
    assert [[p.sample_index for p in a] for a in answers] == [[0, 1, 2, 3, 4]] * 2 + [[0, 1, 2]]
    s = results.summary
    assert (s.prompts, s.new, s.failed, s.cached) == (3, 3, 0, 0), s


def test_one_failed_job_fails_its_prompt_once_and_keeps_the_other_samples(tmp_path):
    lm = TwoPerRequest(cache_dir=str(tmp_path))
    lm.enqueue("s0", "s1", PermanentProviderError("refused"), "s4")  # job [2, 3] fails
    results = lm.predict_many([sampled("a", 5)])
    (answer,) = list(results)
    assert [p.completion_text for p in answer] == ["s0", "s1", None, None, "s4"]
    s = results.summary
    assert (s.new, s.failed) == (0, 1), s
    again = lm.predict(sampled("a", 5))  # every sample cached: the error is permanent
    assert all(p.was_cached for p in again) and len(lm.jobs_sent) == 3


def test_a_gap_in_cached_samples_is_sent_even_when_later_samples_are_cached(tmp_path):
    lm = ScriptedLm(cache_dir=str(tmp_path))
    prompt = sampled("gap", 3)
    lm.predict(prompt)
    key = prompt_key(prompt.canonical(), lm.identity_json())
    error = LmPrediction(None, prompt, error_message="refused", sample_index=1,
                         provider=lm.provider, model=lm.model_name())
    lm.cache.put_many([lm.cache_row(key, error)])  # sample 1 failed for good; 0 and 2 did not
    calls = len(lm.call_log)
    fewer = lm.predict_many([sampled("gap", 2)], retry_errors=True)
    assert [p.has_errors for p in next(fewer)] == [False, False]
    assert len(lm.call_log) == calls + 1  # only sample 1 again
