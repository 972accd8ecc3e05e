"""The fake speaks Anthropic's documented wire format (platform.claude.com/docs/en/api/errors,
rate-limits, the Messages API and the 4.5 migration guide), seen through the official SDK,
and our client handles what it says."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import anthropic
import pytest
from compat_constants import SERVED_DAY, SUITE_DAY

from lmwrapper import ConfigurationError
from lmwrapper.claude_wrapper import ClaudeModelNames
from lmwrapper.providers.anthropic.rules import rule_for
from lmwrapper.structs import LmPrompt
from lmwrapper.testing.providers.anthropic import ONE_SAMPLING_KNOB
from lmwrapper.testing.state import AnthropicLimits
from tests.claude.conftest import sent_bodies

BOTH = "cannot both be specified"
OLD = {"anthropic-version": "2023-06-01"}  # sampling fields exist only under this version


@pytest.fixture
def client(srv):
    return anthropic.Anthropic(base_url=srv.anthropic_base_url, api_key="sk-ant-wire",
                               max_retries=0)


def ask(client, model="claude-haiku-4-5", content="hi", **kw):
    kw.setdefault("max_tokens", 5)
    return client.messages.create(model=model, messages=[{"role": "user", "content": content}],
                                  **kw)


@pytest.mark.parametrize("model", ["claude-opus-4-1", "claude-opus-4-1-20250805",
                                   "claude-opus-4-5", "claude-haiku-4-5"])
def test_recent_models_refuse_temperature_with_top_p(client, model):
    with pytest.raises(anthropic.BadRequestError, match=BOTH) as e:
        ask(client, model, extra_body={"temperature": 0.5, "top_p": 0.9}, extra_headers=OLD)
    assert e.value.body["error"]["type"] == "invalid_request_error"
    assert ask(client, model, extra_body={"temperature": 0.5}, extra_headers=OLD).content
    assert ask(client, model, extra_body={"top_p": 0.9}, extra_headers=OLD).content


@pytest.mark.parametrize("model", ["claude-3-5-haiku-20241022", "claude-opus-4-0",
                                   "claude-3-7-sonnet-20250219"])
def test_older_models_take_both_sampling_knobs(srv, client, model):
    srv.today = SERVED_DAY  # two of them are retired now: the fake as when they were served
    assert ask(client, model, extra_body={"temperature": 0.5, "top_p": 0.9},
               extra_headers=OLD).content


def _one_knob(m):
    """A model that takes sampling fields (on 2023-06-01), but not both at once."""
    return m.one_sampling_knob and rule_for(m).legacy_sampling and _served(m)


def _served(m):
    """Not retired on the day the suite's fake stands on (see tests/conftest.py)."""
    return m.retires is None or m.retires >= SUITE_DAY


def test_our_model_table_agrees_with_the_fakes_on_which_models_take_one_knob():
    ours = {str(m) for m in ClaudeModelNames.all() if _one_knob(m)}
    fakes = {str(m) for m in ClaudeModelNames.all()
             if str(m).startswith(ONE_SAMPLING_KNOB) and _served(m)}
    assert ours == fakes and ours


@pytest.mark.parametrize("model", [m for m in ClaudeModelNames.all() if _one_knob(m)])
def test_no_body_we_build_sends_both_knobs_to_a_model_that_refuses_them(srv, make_lm, model):
    lm = make_lm(model)
    for temperature in (0.0, 0.5, 1.0):
        for top_p in (0.5, 1.0):
            prompt = LmPrompt("Hi", max_tokens=5, temperature=temperature, top_p=top_p)
            try:
                pred = lm.predict(prompt)
            except ValueError as e:  # refused before sending: both were changed
                assert "temperature or top_p" in str(e) and temperature != 1.0 != top_p
                continue
            assert not pred.has_errors, pred.error_message
            body = sent_bodies(srv)[-1]
            assert not ("temperature" in body and "top_p" in body)
            assert body.get("top_p", 1.0) == top_p
            assert body.get("temperature", 1.0) == temperature


def _post(srv, body):
    req = urllib.request.Request(srv.url + "/v1/messages", json.dumps(body).encode(),
                                 method="POST", headers={"anthropic-version": "2023-06-01",
                                                         "x-api-key": "sk-ant-wire",
                                                         "content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_max_tokens_is_required_and_zero_only_fills_the_prompt_cache(srv, client):
    status, body = _post(srv, {"model": "claude-haiku-4-5",
                               "messages": [{"role": "user", "content": "hi"}]})
    assert status == 400 and "max_tokens" in body["error"]["message"]
    m = ask(client, max_tokens=0)
    assert m.content == [] and m.stop_reason == "max_tokens"
    assert m.usage.output_tokens == 0 and m.usage.input_tokens > 0
    with pytest.raises(anthropic.BadRequestError, match="max_tokens"):
        ask(client, max_tokens=-1)


@pytest.mark.parametrize("status, kind", [
    (400, "invalid_request_error"), (401, "authentication_error"), (402, "billing_error"),
    (403, "permission_error"), (404, "not_found_error"), (413, "request_too_large"),
    (429, "rate_limit_error"), (500, "api_error"), (503, "api_error"),
    (504, "timeout_error"), (529, "overloaded_error"),
])
def test_every_documented_error_has_its_type_and_the_request_id(srv, client, status, kind):
    srv.inject("status", status=status, times=1, retry_after=None)
    with pytest.raises(anthropic.APIStatusError) as e:
        ask(client)
    body, headers = e.value.body, e.value.response.headers
    assert e.value.status_code == status
    assert set(body) == {"type", "error", "request_id"} and body["type"] == "error"
    assert body["error"]["type"] == kind and body["error"]["message"]
    assert body["request_id"] == headers["request-id"] == e.value.request_id
    assert headers["request-id"].startswith("req_")


def test_rate_limit_headers_are_anthropics(srv, client):
    srv.rate_limit(times=1, retry_after=3)
    with pytest.raises(anthropic.RateLimitError) as e:
        ask(client)
    h = e.value.response.headers
    assert h["retry-after"] == "3" and "retry-after-ms" not in h  # OpenAI's, not Anthropic's
    for kind in ("requests", "tokens", "input-tokens", "output-tokens"):
        for part in ("limit", "remaining", "reset"):
            assert f"anthropic-ratelimit-{kind}-{part}" in h
    assert h["anthropic-ratelimit-requests-remaining"] == "0"
    assert not any(k.startswith("x-ratelimit") for k in h)


def test_error_details_reach_the_sdk_and_the_spend_cap_stops_our_run(srv, client, make_lm):
    cap = {"error_code": "enforced_spend_limit_reached"}
    srv.rate_limit(times=1, retry_after=60, details=cap, message="Spend limit reached.")
    with pytest.raises(anthropic.RateLimitError) as e:
        ask(client)
    assert e.value.body["error"]["details"] == cap
    if hasattr(e.value, "error_code"):  # the SDKs that read details expose it (not 2.0.0)
        assert e.value.error_code == "enforced_spend_limit_reached"
    srv.rate_limit(times=1, retry_after=60, details=cap, message="Spend limit reached.")
    with pytest.raises(ConfigurationError, match="Spend limit"):
        make_lm().predict(LmPrompt("Hi", max_tokens=5))
    assert srv.count("messages") == 2  # ours sent it once and did not retry


def test_a_request_past_the_size_limit_is_a_413_and_a_cached_error_for_us(srv, client, make_lm):
    srv.anthropic_limits = AnthropicLimits(request_bytes=2_000)
    with pytest.raises(anthropic.APIStatusError) as e:
        ask(client, content="word " * 500)
    assert e.value.status_code == 413
    assert e.value.body["error"]["type"] == "request_too_large"
    assert ask(client, content="short").content
    lm = make_lm()
    pred = lm.predict(LmPrompt("word " * 500, max_tokens=5))
    assert pred.has_errors and not pred.error_is_transient
    assert lm.predict(LmPrompt("word " * 500, max_tokens=5)).was_cached
