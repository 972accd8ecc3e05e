"""Faults over real HTTP: retries bounded in count and time, Retry-After, what gets cached."""

import itertools

import pytest
from cache_file import cache_stats

from lmwrapper import ConfigurationError, RetryPolicy
from lmwrapper.structs import LmPrompt
from lmwrapper.testing import FakeServer

FAST = RetryPolicy(max_retries=3, initial_backoff_s=0.01, max_backoff_s=0.05)


@pytest.mark.parametrize("inject", [
    lambda s: s.rate_limit(times=2, retry_after=0.01),
    lambda s: s.server_error(times=2, status=500),
    lambda s: s.server_error(times=2, status=503),
    lambda s: s.drop_connections(times=2),
], ids=["429", "500", "503", "dropped"])
def test_transient_faults_are_retried(make_lm, srv, inject):
    inject(srv)
    pred = make_lm(retry=FAST).predict("What is 2+2?")
    assert pred.completion_text == "4" and srv.counts["chat.completions"] == 3


def test_a_billed_malformed_answer_is_retried_once(make_lm, srv):
    srv.malformed_responses(times=1)
    assert make_lm(retry=FAST).predict("What is 2+2?").completion_text == "4"
    assert srv.counts["chat.completions"] == 2


def test_a_billed_malformed_answer_is_not_retried_twice(make_lm, srv):
    srv.malformed_responses(times=None)
    lm = make_lm(retry=FAST)  # max_retries=3 for other errors
    pred = lm.predict("What is 2+2?")
    assert pred.has_errors and pred.error_is_transient and "malformed 200" in pred.error_message
    assert srv.counts["chat.completions"] == 2 and cache_stats()["rows"] == 0


def test_slow_response_times_out_and_is_retried(make_lm, srv):
    srv.slow_responses(delay=3.0, times=1)
    lm = make_lm(retry=FAST, timeout_s=0.3)
    assert lm.predict("What is 2+2?").completion_text == "4"
    assert srv.counts["chat.completions"] == 2


def test_retry_after_is_honoured(make_lm, srv):
    srv.rate_limit(times=2, retry_after=0.3)
    make_lm(retry=FAST).predict("hi")
    at = [r.at for r in srv.requests]
    assert len(at) == 3 and all(b - a >= 0.29 for a, b in itertools.pairwise(at))


def test_retries_are_bounded_in_count_and_the_failure_is_not_cached(make_lm, srv):
    srv.server_error(times=None, status=500)
    lm = make_lm(retry=FAST, max_concurrency=4)
    preds = list(lm.predict_many(["a?", "b?", "c?"]))
    assert all(p.has_errors and p.error_is_transient for p in preds)
    assert "gave up after 4 attempts" in preds[0].error_message and "500" in preds[0].error_message
    assert srv.counts["chat.completions"] == 3 * (1 + FAST.max_retries)
    assert lm.last_run.failed == 3 and cache_stats()["rows"] == 0
    srv.clear_faults()
    assert [p.has_errors for p in lm.predict_many(["a?", "b?", "c?"])] == [False] * 3


def test_retries_are_bounded_in_time(make_lm, srv):
    srv.server_error(times=None, status=503)
    # the time budget, not the count (1000), ends the retries; a budget of 2 s leaves room
    # for a second attempt however slow a loaded machine makes the first
    policy = RetryPolicy(max_retries=1000, max_elapsed_s=2.0, initial_backoff_s=0.05,
                         max_backoff_s=0.1)
    pred = make_lm(retry=policy).predict("hi")
    assert pred.has_errors and pred.error_is_transient
    assert 2 <= srv.counts["chat.completions"] < 100


def test_rate_limit_without_retry_answers_at_once(make_lm, srv):
    srv.rate_limit(times=1, retry_after=5)
    pred = make_lm(retry_on_rate_limit=False).predict("hi")
    assert pred.has_errors and pred.error_is_transient and "429" in pred.error_message
    assert srv.counts["chat.completions"] == 1


def test_permanent_errors_are_cached_as_errors(make_lm, monkeypatch):
    from lmwrapper.openai_wrapper import get_open_ai_lm

    with FakeServer(context_limit=50) as small:
        lm = get_open_ai_lm("gpt-4o-mini", api_key_secret="sk-x-123456", base_url=small.base_url)
        prompt = LmPrompt("word " * 100, max_tokens=5)
        pred = lm.predict(prompt)
        assert pred.has_errors and not pred.error_is_transient
        assert "context_length_exceeded" in pred.error_message
        again = lm.predict(prompt)
        assert again.was_cached and again.has_errors and small.counts["chat.completions"] == 1


def test_out_of_quota_stops_the_run(make_lm, srv):
    srv.inject("status", status=429, code="insufficient_quota", times=None,
               message="You exceeded your current quota.", retry_after=None)
    with pytest.raises(ConfigurationError, match="no credit left"):
        list(make_lm().predict_many(["a", "b"]))
    assert cache_stats()["rows"] == 0
