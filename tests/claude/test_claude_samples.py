"""Claude's samples (the API has no `n`) are jobs of their own: in flight at the same time,
retried alone, each stored as it arrives; the run still counts prompts, not samples."""

from __future__ import annotations

import re
import threading

import pytest

from lmwrapper.structs import LmPrompt
from lmwrapper.testing.http import ApiError

BARRIER_TIMEOUT_S = 60.0  # generous: four requests arriving on a loaded 2-core machine


def sampled(text: str, n: int) -> LmPrompt:
    return LmPrompt(text, num_completions=n, temperature=1.0, max_tokens=5)


@pytest.mark.parametrize("http", ["lean", "sdk"])
def test_four_samples_are_four_requests_in_flight_at_once(srv, make_lm, monkeypatch, http):
    if http == "sdk":  # worker threads instead of the event loop
        monkeypatch.setenv("LMWRAPPER_LIVE_HTTP", "sdk")
    barrier = threading.Barrier(4, timeout=BARRIER_TIMEOUT_S)

    def answer(q):  # the default answer (None), once all four requests are being served
        if q.prompt == "Name a colour":
            try:
                barrier.wait()
            except threading.BrokenBarrierError:
                raise ApiError(500, "the samples were not in flight together") from None

    srv.set_answer(answer)
    preds = make_lm(max_concurrency=8).predict(sampled("Name a colour", 4))
    assert [p.error_message for p in preds] == [None] * 4
    assert srv.count("messages") == 4


def test_a_sample_that_keeps_failing_does_not_lose_the_others(srv, make_lm):
    served, lock = [0], threading.Lock()

    def answer(q):  # three default answers (None), then the API is overloaded for good
        with lock:
            served[0] += 1
            if served[0] > 3:
                raise ApiError(529, "Overloaded", type="overloaded_error")

    srv.set_answer(answer)
    lm = make_lm()
    results = lm.predict_many([sampled("Pick a number", 4)])
    (preds,) = list(results)
    assert sorted(p.has_errors for p in preds) == [False, False, False, True]
    assert (results.summary.new, results.summary.failed) == (0, 1)
    srv.set_answer(None)
    before = srv.count("messages")
    again = lm.predict(sampled("Pick a number", 4))
    assert sum(p.was_cached for p in again) == 3 and not any(p.has_errors for p in again)
    assert srv.count("messages") - before == 1  # only the failed sample is sent again


def test_summary_and_progress_bar_count_prompts_not_samples(srv, make_lm, capsys, monkeypatch):
    monkeypatch.setenv("TQDM_MININTERVAL", "0")  # draw every step
    lm = make_lm()
    lm.predict(sampled("Second", 2))  # 2 of its 3 samples cached
    results = lm.predict_many([sampled("First", 3), sampled("Second", 3)], progress=True)
    assert len(list(results)) == 2
    s = results.summary
    assert (s.prompts, s.new, s.failed, s.cached) == (2, 2, 0, 0), s
    assert srv.count("messages") == 2 + 3 + 1
    steps = [int(n) for n in re.findall(r"(\d+)/2 ", capsys.readouterr().err)]
    assert steps and steps[-1] == 2 and max(steps) == 2, steps
