"""Samples cut into requests: the engine hands the runner one job per prompt, and the runner
cuts it into requests of at most the backend's `max_samples_per_request` samples; a prompt
still counts once (summary, progress bar), however many requests carry it."""

from __future__ import annotations

import threading

from lmwrapper import PermanentProviderError
from lmwrapper.batch_config import CompletionWindow
from lmwrapper.engine.plan import Plan
from lmwrapper.store.db import prompt_key
from lmwrapper.structs import LmPrediction, LmPrompt
from lmwrapper.testing import ScriptedBackend, ScriptedLm


class TwoPerRequestBackend(ScriptedBackend):
    """A scripted model whose API takes at most two samples per request."""

    max_samples_per_request = 2

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.jobs_sent: list[int] = []  # samples per call, in order
        self._lock = threading.Lock()

    def _predict_samples(self, prompt, n):
        with self._lock:
            self.jobs_sent.append(n)
        return super()._predict_samples(prompt, n)


class TwoPerRequest(ScriptedLm):
    backend_class = TwoPerRequestBackend


def sampled(text: str, n: int) -> LmPrompt:
    return LmPrompt(text, num_completions=n, temperature=1.0, max_tokens=5)


def test_the_plan_hands_one_job_per_prompt_and_the_runner_cuts_it(tmp_path):
    lm = TwoPerRequest(cache_dir=str(tmp_path))
    plan = Plan(lm, [sampled("a", 5), sampled("b", 1)], CompletionWindow.ASAP)
    assert [j.sample_indices for j in plan.jobs] == [(0, 1, 2, 3, 4), (0,)]
    assert plan.uncached()[1] == [5, 1]
    emitted: list[tuple[int, ...]] = []
    lm.live_runner().run(plan.jobs, lambda job, preds: emitted.append(job.sample_indices),
                         lambda: False)
    assert emitted == [(0, 1), (2, 3), (4,), (0,)]  # at most the backend's limit per request
    assert [j.sample_indices for j in plan.jobs[0].parts(None)] == [(0, 1, 2, 3, 4)]


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


def test_a_run_paused_after_some_parts_sends_only_the_rest(tmp_path, monkeypatch):
    """A run whose claims may have lapsed stops its runner, takes them again and sends on:
    only the samples not answered yet, though the runner had cut them out of one job."""
    from lmwrapper.store.claims import Lease

    lm = TwoPerRequest(cache_dir=str(tmp_path))
    lapses = iter([False, True])  # checked before each part: lapsed after the first one

    monkeypatch.setattr(Lease, "lapsed", lambda self: next(lapses, False))
    (answer,) = list(lm.predict_many([sampled("a", 5)]))
    assert lm.jobs_sent == [2, 2, 1]  # (0, 1), then after the pause (2, 3) and (4,)
    assert [p.sample_index for p in answer] == [0, 1, 2, 3, 4]
    assert not any(p.was_cached or p.has_errors for p in answer)
