"""Claude's live runs on the lean event-loop path (`lmwrapper.runners.lean`): Anthropic's own
error bodies, pacing headers, samples and timeouts judged as on the SDK path. What every
provider shares (same answers as the SDK, faults, stop, Ctrl-C, the proxy opt-out) is in
tests/test_live_async.py, run for Claude too."""

from __future__ import annotations

import pytest

from lmwrapper import ConfigurationError
from lmwrapper.structs import LmPrompt
from tests.test_live_async import sdk_was_used


def prompts(n: int, **kw) -> list[LmPrompt]:
    kw.setdefault("max_tokens", 5)
    return [LmPrompt(f"Question {i}", **kw) for i in range(n)]


def test_an_empty_credit_balance_stops_the_run_without_retrying(srv, make_lm):
    # Anthropic's body says so; the status (400) alone would make it a cached error.
    srv.inject("status", status=400, times=None,
               message="Your credit balance is too low to access the Anthropic API.")
    with pytest.raises(ConfigurationError, match="credit balance"):
        list(make_lm(max_concurrency=1).predict_many(prompts(5)))
    assert srv.count("messages") == 1 and not sdk_was_used(srv)


def test_a_429s_retry_after_is_waited_and_its_ratelimit_headers_pace_the_account(srv, make_lm):
    srv.rate_limit(times=1, retry_after=0.5)
    lm = make_lm(max_concurrency=4)
    preds = list(lm.predict_many(prompts(8)))
    assert not any(p.has_errors for p in preds) and not sdk_was_used(srv)
    limited = next(r for r in srv.requests if r.status == 429)
    retry = next(r for r in srv.requests if r.body == limited.body and r.at > limited.at)
    assert retry.at - limited.at >= 0.45  # Retry-After: 0.5 (a lower bound holds under load)
    assert lm.limiter.requests.limit == srv.rate_window.limit_requests  # anthropic-ratelimit-*
    assert lm.last_runner_stats.rate_limited == 1


def test_overloaded_529_is_retried_and_a_prompt_too_long_is_a_cached_error(srv, make_lm):
    srv.server_error(times=2, status=529)
    srv.context_limits["claude-3-5-haiku-20241022"] = 50
    batch = prompts(3) + [LmPrompt("word " * 100, max_tokens=5)]
    preds = list(make_lm().predict_many(batch))
    assert not any(p.has_errors for p in preds[:3]) and not sdk_was_used(srv)
    assert preds[3].has_errors and not preds[3].error_is_transient
    assert "prompt is too long" in preds[3].error_message
    again = list(make_lm().predict_many(batch))
    assert all(p.was_cached for p in again)


def test_a_failed_sample_is_retried_without_resending_the_samples_already_answered(srv, make_lm):
    # fraction + seed 10: the first request passes, the second gets the one 500
    fault = srv.inject("status", status=500, times=1, fraction=0.5, seed=10, retry_after=None)
    preds = list(make_lm(max_concurrency=1).predict_many(prompts(2, num_completions=3)))
    assert fault.fired == 1 and not any(p.has_errors for ps in preds for p in ps)
    assert srv.count("messages") == 7 and not sdk_was_used(srv)  # 6 answered + 1 failed


def test_a_timeout_is_a_transient_error_worded_as_on_the_sdk_path(srv, make_lm):
    srv.slow_responses(30.0, times=1, match="Question 0")
    lm = make_lm(timeout_s=5.0, retry=None, max_retries=0)  # generous: CI is loaded
    preds = list(lm.predict_many(prompts(3)))
    assert not sdk_was_used(srv)
    assert preds[0].has_errors and preds[0].error_is_transient
    assert f"Anthropic request to {srv.anthropic_base_url} timed out after 5s" in \
        preds[0].error_message
    assert not any(p.has_errors for p in preds[1:])
