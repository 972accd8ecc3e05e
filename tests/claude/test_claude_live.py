"""Claude through the engine: usage and cost, samples as separate requests, the cost bound,
the cache (a rerun needs no key and no network), faults, secrets and token counting."""

from __future__ import annotations

import warnings

import pytest

from lmwrapper import ConfigurationError, CostLimitExceededError, MissingApiKeyError
from lmwrapper.claude_wrapper import ClaudeModelNames, get_claude_lm
from lmwrapper.providers.anthropic.request import ClaudePrice, parse_message
from lmwrapper.structs import LmPrompt
from tests.claude.conftest import API_KEY, sent_bodies


def test_usage_counts_cache_writes_and_reads_and_prices_them():
    body = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
            "content": [{"type": "text", "text": "Hi"}], "stop_reason": "end_turn",
            "usage": {"input_tokens": 100, "output_tokens": 10,
                      "cache_creation_input_tokens": 1000, "cache_read_input_tokens": 2000}}
    m = ClaudeModelNames.claude_sonnet_4_5
    pred = parse_message(body, LmPrompt("x"), m, ClaudePrice.of(m))
    u = pred.usage
    assert (u.prompt_tokens, u.completion_tokens) == (3100, 10)
    assert (u.cached_prompt_tokens, u.cache_write_prompt_tokens) == (2000, 1000)
    expected = (100 * 3.0 + 1000 * 3.75 + 2000 * 0.30 + 10 * 15.0) / 1e6
    assert pred.cost_usd == pytest.approx(expected)
    batch = parse_message(body, LmPrompt("x"), m, ClaudePrice.of(m), batch=True)
    assert batch.cost_usd == pytest.approx(expected / 2)


def test_live_prediction_has_usage_cost_and_request_id(srv, make_lm):
    pred = make_lm().predict(LmPrompt("Hi there", max_tokens=10, temperature=0))
    assert pred.provider == "anthropic" and pred.request_id.startswith("msg_")
    assert pred.usage.prompt_tokens > 0 and pred.usage.completion_tokens > 0
    m = ClaudeModelNames.claude_3_5_haiku
    assert pred.cost_usd == pytest.approx((pred.usage.prompt_tokens * m.input_usd_per_mtok
                                           + pred.usage.completion_tokens
                                           * m.output_usd_per_mtok) / 1e6)


def test_each_sample_is_its_own_request_and_a_rerun_sends_only_new_ones(srv, make_lm):
    lm = make_lm()
    preds = lm.predict(LmPrompt("Hi", num_completions=3, max_tokens=5))
    assert len(preds) == 3 and srv.count("messages") == 3
    assert all("n" not in b for b in sent_bodies(srv))
    more = lm.predict(LmPrompt("Hi", num_completions=5, max_tokens=5))
    assert [p.was_cached for p in more] == [True, True, True, False, False]
    assert srv.count("messages") == 5


def test_cost_bound_counts_input_per_sample(make_lm):
    lm = make_lm()
    one = lm.estimate_cost([LmPrompt("Hi " * 100, max_tokens=10)])
    three = lm.estimate_cost([LmPrompt("Hi " * 100, max_tokens=10, num_completions=3)])
    assert three.input_tokens == 3 * one.input_tokens
    assert three.total_usd == pytest.approx(3 * one.total_usd) and three.prompts == 1
    with pytest.raises(CostLimitExceededError):
        list(lm.predict_many([LmPrompt("Hi " * 100, max_tokens=10, num_completions=3)],
                             max_cost_usd=one.total_usd * 2))


def test_cached_rerun_needs_no_key_and_no_network(srv, make_lm, no_key_anywhere):
    prompts = [LmPrompt(f"Question {i}", max_tokens=5, temperature=0) for i in range(3)]
    fresh = list(make_lm().predict_many(prompts))
    url = srv.anthropic_base_url
    srv.stop()
    lm = get_claude_lm(ClaudeModelNames.claude_3_5_haiku, base_url=url)
    again = list(lm.predict_many(prompts))
    assert all(p.was_cached for p in again)
    assert [(p.completion_text, p.usage, p.cost_usd, p.finish_reason) for p in again] == \
        [(p.completion_text, p.usage, p.cost_usd, p.finish_reason) for p in fresh]
    assert again[0].usage.cache_write_prompt_tokens == 0  # the 4th usage field round-trips
    with pytest.raises(MissingApiKeyError, match="ANTHROPIC_API_KEY"):
        lm.predict(LmPrompt("not cached", max_tokens=5))


def test_key_from_environment_then_key_file(no_key_anywhere, monkeypatch, tmp_path):
    from lmwrapper.testing import FakeServer

    with FakeServer(latency=0.0, api_key="sk-ant-from-file-123456") as only_file_key:
        lm = get_claude_lm("claude-3-5-haiku-latest", base_url=only_file_key.anthropic_base_url)
        (tmp_path / "home" / "anthropic_key.txt").write_text("sk-ant-from-file-123456\n")
        assert not lm.predict(LmPrompt("from file", max_tokens=5)).has_errors
    with FakeServer(latency=0.0, api_key="sk-ant-from-env-123456") as only_env_key:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-from-env-123456")  # wins over the file
        lm = get_claude_lm("claude-3-5-haiku-latest", base_url=only_env_key.anthropic_base_url)
        assert not lm.predict(LmPrompt("from env", max_tokens=5)).has_errors


def test_rate_limit_with_retry_after_and_overloaded_529_are_retried(srv, make_lm):
    srv.rate_limit(times=1, retry_after=0.05)
    srv.server_error(times=2, status=529)
    pred = make_lm().predict(LmPrompt("Hi", max_tokens=5))
    assert not pred.has_errors and srv.count("messages") == 4


def test_rate_limit_without_retries_is_a_transient_error_prediction(srv, make_lm):
    srv.rate_limit(times=1, retry_after=0.05)
    pred = make_lm(retry_on_rate_limit=False, retry=None).predict(LmPrompt("Hi", max_tokens=5))
    assert pred.has_errors and pred.error_is_transient
    assert "rate_limit_error" in pred.error_message
    assert not make_lm().predict(LmPrompt("Hi", max_tokens=5)).was_cached  # not cached


def test_bad_request_is_a_cached_permanent_error(srv, make_lm):
    srv.context_limits["claude-3-5-haiku-20241022"] = 50
    lm = make_lm()
    pred = lm.predict(LmPrompt("word " * 100, max_tokens=5))
    assert pred.has_errors and not pred.error_is_transient
    assert "invalid_request_error" in pred.error_message and "too long" in pred.error_message
    assert lm.predict(LmPrompt("word " * 100, max_tokens=5)).was_cached
    assert srv.count("messages") == 1


def test_dropped_connection_and_malformed_body_are_retried(srv, make_lm):
    srv.drop_connections(times=1)
    srv.malformed_responses(times=1)
    assert not make_lm().predict(LmPrompt("Hi", max_tokens=5)).has_errors
    assert srv.count("messages") == 3


@pytest.mark.parametrize("status", [401, 403, 404])
def test_account_errors_stop_the_run_and_never_show_the_key(srv, make_lm, status):
    srv.inject("status", status=status, times=1, message=f"bad key {API_KEY}")
    with pytest.raises(ConfigurationError) as info:
        make_lm().predict(LmPrompt("Hi", max_tokens=5))
    assert API_KEY not in str(info.value) and "check the API key" in str(info.value)


def test_an_empty_credit_balance_stops_the_run_without_retrying(srv, make_lm):
    srv.inject("status", status=400, times=1,
               message="Your credit balance is too low to access the Anthropic API.")
    with pytest.raises(ConfigurationError, match="credit"):
        make_lm().predict(LmPrompt("Hi", max_tokens=5))
    assert srv.count("messages") == 1


def test_error_predictions_are_scrubbed_of_the_key(srv, make_lm):
    srv.inject("status", status=400, times=1, message=f"echo {API_KEY}")
    pred = make_lm().predict(LmPrompt("Hi", max_tokens=5))
    assert pred.has_errors and API_KEY not in pred.error_message
    assert "[api key]" in pred.error_message
    assert API_KEY not in repr(make_lm()) and API_KEY not in str(vars(make_lm()))


def test_count_tokens_asks_the_api_once_and_falls_back_to_a_labelled_estimate(srv, make_lm):
    lm = make_lm()
    prompt = LmPrompt([("system", "Be brief."), "How many tokens is this?"])
    exact = lm.count_tokens(prompt)
    assert exact.exact and lm.count_tokens(prompt) == exact
    assert srv.count("messages.count_tokens") == 1
    assert sent_bodies(srv, "messages.count_tokens")[0]["system"] == "Be brief."
    srv.stop()
    with pytest.warns(UserWarning, match="offline estimate"):
        guess = lm.count_tokens(LmPrompt("Something else entirely"))
    assert not guess.exact and guess > 0
    offline = lm.estimate_tokens_in_prompt(prompt)
    assert not offline.exact and offline >= exact  # the estimate leans high


def test_import_lmwrapper_claude_does_not_import_anthropic():
    import subprocess
    import sys

    code = ("import sys; from lmwrapper.claude_wrapper.wrapper import get_claude_lm; "
            "get_claude_lm('claude-haiku-4-5'); print('anthropic' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_switching_the_model_line_keeps_results_comparable(srv, make_lm):
    from lmwrapper.openai_wrapper import get_open_ai_lm

    gpt = get_open_ai_lm("gpt-4o-mini", api_key_secret="sk-test-123456789",
                         base_url=srv.base_url)
    prompt = LmPrompt("Say hi", max_tokens=5, temperature=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a, b = gpt.predict(prompt), make_lm().predict(prompt)
    assert a.finish_reason == b.finish_reason
    assert {type(a.usage.prompt_tokens), type(a.cost_usd)} == {type(b.usage.prompt_tokens),
                                                               type(b.cost_usd)}


def test_a_failed_sample_is_retried_without_resending_the_samples_already_answered(srv, make_lm):
    # fraction + seed 10: the first request passes, the second gets the one 500
    fault = srv.inject("status", status=500, times=1, fraction=0.5, seed=10, retry_after=None)
    preds = make_lm().predict(LmPrompt("Hi", num_completions=3, max_tokens=5))
    assert fault.fired == 1 and not any(p.has_errors for p in preds)
    assert srv.count("messages") == 4  # 1 answered + 1 failed + the 2 still missing


def test_the_monthly_spend_cap_429_stops_the_run_instead_of_retrying(make_lm):
    # The cap comes as a 429 rate_limit_error whose details name it; the fake cannot send
    # `details`, so the classifier is given the body as data (what the SDK hands us).
    body = {"type": "error", "error": {"type": "rate_limit_error", "message": "Spend cap hit",
                                       "details": {"error_code": "enforced_spend_limit_reached"}}}
    err = make_lm().classify(429, body, {"retry-after": "60"})
    assert isinstance(err, ConfigurationError) and "console.anthropic.com" in str(err)
    plain = dict(body, error={"type": "rate_limit_error", "message": "slow down"})
    assert make_lm().classify(429, plain, {"retry-after": "1"}).retryable
