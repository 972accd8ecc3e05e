"""A Message Batch the provider refuses to create (a 400 that is not the prompt's) stops the
run with that error after one retry — it is not retried forever — and nothing already paid
for is lost; a transient refusal is still retried."""

from __future__ import annotations

import pytest

from lmwrapper import RejectedRequestError
from lmwrapper.batch_config import CompletionWindow
from lmwrapper.structs import LmPrompt

BATCH = CompletionWindow.BATCH_ANY


@pytest.fixture(autouse=True)
def fast_polls(monkeypatch):
    monkeypatch.setenv("LMWRAPPER_BATCH_POLL_S", "0.01")
    monkeypatch.setenv("LMWRAPPER_BATCH_POLL_MAX_S", "0.05")


def prompts(n, start=0):
    return [LmPrompt(f"What is {i}+1?", max_tokens=10) for i in range(start, start + n)]


def refuse_creates(srv, times=None):
    return srv.inject("status", status=400, endpoint="messages.batches.create", times=times,
                      message="requests.0.params.temperature: Extra inputs are not permitted")


def test_a_refused_create_stops_the_run_after_one_retry(srv, make_lm):
    lm = make_lm("claude-haiku-4-5")
    paid = list(lm.predict_many(prompts(3), completion_window=BATCH))  # answered and cached
    refuse_creates(srv)
    with pytest.raises(RejectedRequestError, match="Extra inputs are not permitted"):
        list(lm.predict_many(prompts(3, start=3), completion_window=BATCH))
    assert srv.count("messages.batches.create") == 1 + 2  # the first run's, then one retry
    again = list(lm.predict_many(prompts(3), completion_window=BATCH))
    assert all(p.was_cached for p in again)
    assert [p.completion_text for p in again] == [p.completion_text for p in paid]


def test_a_rerun_after_the_fix_sends_the_refused_prompts(srv, make_lm):
    lm = make_lm("claude-haiku-4-5")
    refuse_creates(srv)
    with pytest.raises(RejectedRequestError):
        list(lm.predict_many(prompts(2), completion_window=BATCH))
    srv.clear_faults()
    preds = list(lm.predict_many(prompts(2), completion_window=BATCH))
    assert [p.completion_text for p in preds] == ["1", "2"] and not any(p.was_cached for p in preds)


def test_one_refusal_is_retried_and_the_run_goes_on(srv, make_lm):
    refuse_creates(srv, times=1)
    preds = list(make_lm("claude-haiku-4-5").predict_many(prompts(2), completion_window=BATCH))
    assert [p.completion_text for p in preds] == ["1", "2"]
    assert srv.count("messages.batches.create") == 2


def test_transient_create_failures_are_still_retried(srv, make_lm):
    srv.server_error(times=3, status=529, endpoint="messages.batches.create")
    preds = list(make_lm("claude-haiku-4-5").predict_many(prompts(2), completion_window=BATCH))
    assert [p.completion_text for p in preds] == ["1", "2"]
    assert srv.count("messages.batches.create") == 4


def test_a_refused_poll_stops_the_run_and_a_rerun_collects_the_batch(srv, make_lm):
    lm = make_lm("claude-haiku-4-5")
    srv.inject("status", status=400, endpoint="messages.batches.retrieve", times=None,
               message="invalid request")
    with pytest.raises(RejectedRequestError):
        list(lm.predict_many(prompts(2), completion_window=BATCH))
    assert srv.count("messages.batches.retrieve") == 2
    srv.clear_faults()
    preds = list(lm.predict_many(prompts(2), completion_window=BATCH))
    assert [p.completion_text for p in preds] == ["1", "2"]
    assert srv.count("messages.batches.create") == 1  # the batch already paid for is collected
