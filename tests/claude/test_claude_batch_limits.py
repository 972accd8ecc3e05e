"""Message Batches as documented (platform.claude.com/docs/en/build-with-claude/batch-processing
and the Message Batches API reference): the fake enforces the limits and custom-id rules and
answers in the documented shapes; our planner packs under the same limits, and our adapter
reads every result shape."""

from __future__ import annotations

import json
import urllib.request

import anthropic
import pytest

from lmwrapper.batch_config import CompletionWindow
from lmwrapper.providers.anthropic.batch import (
    MAX_BYTES,
    MAX_REQUESTS,
    ClaudeBatchAdapter,
    batch_limits,
)
from lmwrapper.runners.batch.planner import plan_files
from lmwrapper.structs import LmPrompt
from lmwrapper.testing.state import AnthropicLimits

FAST = {"LMWRAPPER_BATCH_POLL_S": "0.01", "LMWRAPPER_BATCH_POLL_MAX_S": "0.05"}


@pytest.fixture(autouse=True)
def fast_polls(monkeypatch):
    for k, v in FAST.items():
        monkeypatch.setenv(k, v)


@pytest.fixture
def client(srv):
    return anthropic.Anthropic(base_url=srv.anthropic_base_url, api_key="sk-ant-batch",
                               max_retries=0)


def item(i, content="hi", custom_id=None):
    return {"custom_id": custom_id or f"r-{i}", "params": {
        "model": "claude-haiku-4-5", "max_tokens": 5,
        "messages": [{"role": "user", "content": content}]}}


def prompts(n):
    return [LmPrompt(f"What is {i}+1?", max_tokens=10, temperature=0) for i in range(n)]


def test_the_fakes_limits_are_the_documented_ones_and_our_planners_fit_them(make_lm):
    fake = AnthropicLimits()
    assert (fake.batch_requests, fake.batch_bytes) == (MAX_REQUESTS, MAX_BYTES)
    assert (MAX_REQUESTS, MAX_BYTES) == (100_000, 256_000_000)
    ours = ClaudeBatchAdapter(make_lm()).limits
    assert ours == batch_limits() and ours.max_requests == MAX_REQUESTS
    assert MAX_BYTES - 1_024 <= ours.max_bytes < MAX_BYTES  # room for {"requests":[…]}


def test_a_batch_past_the_request_or_byte_limit_is_refused(srv, client):
    srv.anthropic_limits = AnthropicLimits(batch_requests=3, batch_bytes=2_000)
    with pytest.raises(anthropic.BadRequestError, match="at most 3") as e:
        client.messages.batches.create(requests=[item(i) for i in range(4)])
    assert e.value.body["error"]["type"] == "invalid_request_error"
    with pytest.raises(anthropic.APIStatusError) as e:
        client.messages.batches.create(requests=[item(i, "word " * 150) for i in range(3)])
    assert e.value.status_code == 413
    assert e.value.body["error"]["type"] == "request_too_large"
    assert client.messages.batches.create(requests=[item(i) for i in range(3)]).id


@pytest.mark.parametrize("custom_id, ok", [
    ("a" * 64, True), ("A-z_09", True), ("a" * 65, False), ("", False), ("a.b", False),
    ("a b", False),
])
def test_custom_ids_follow_the_documented_pattern(client, custom_id, ok):
    requests = [item(0, custom_id=custom_id or None)]
    requests[0]["custom_id"] = custom_id
    if ok:
        assert client.messages.batches.create(requests=requests).id
    else:
        with pytest.raises(anthropic.BadRequestError, match="custom_id"):
            client.messages.batches.create(requests=requests)


def test_custom_ids_must_be_unique_in_a_batch(client):
    with pytest.raises(anthropic.BadRequestError, match="not unique"):
        client.messages.batches.create(requests=[item(0, custom_id="same"),
                                                 item(1, custom_id="same")])


def _raw_results(url):
    req = urllib.request.Request(url, headers={"x-api-key": "k",
                                               "anthropic-version": "2023-06-01"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return {r["custom_id"]: r["result"] for r in map(json.loads, resp.read().splitlines())}


def test_batch_status_counts_and_every_result_shape(srv, client):
    srv.batch_line_errors(times=1, status=529, match="poison")
    srv.expire_next_batch(completed=3, provider="anthropic")
    b = client.messages.batches.create(
        requests=[item(0), item(1, "poison"), item(2), item(3), item(4)])
    assert b.processing_status == "in_progress" and b.results_url is None
    assert b.ended_at is None and b.request_counts.to_dict() == {
        "processing": 5, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
    b = client.messages.batches.retrieve(b.id)
    assert b.processing_status == "ended" and b.ended_at is not None
    assert b.results_url == f"{srv.url}/v1/messages/batches/{b.id}/results"
    assert b.request_counts.to_dict() == {
        "processing": 0, "succeeded": 2, "errored": 1, "canceled": 0, "expired": 2}
    results = _raw_results(b.results_url)
    assert set(results["r-0"]) == {"type", "message"} and results["r-0"]["type"] == "succeeded"
    assert results["r-0"]["message"]["type"] == "message"
    err = results["r-1"]
    assert set(err) == {"type", "error"} and err["type"] == "errored"
    assert set(err["error"]) == {"type", "error", "request_id"}
    assert err["error"]["type"] == "error"
    assert err["error"]["error"]["type"] == "overloaded_error"
    assert results["r-3"] == results["r-4"] == {"type": "expired"}
    c = client.messages.batches.create(requests=[item(i) for i in range(2)])
    assert client.messages.batches.cancel(c.id).processing_status == "canceling"
    c = client.messages.batches.retrieve(c.id)
    assert c.processing_status == "ended" and c.cancel_initiated_at is not None
    canceled = [r for r in _raw_results(c.results_url).values() if r["type"] != "succeeded"]
    assert canceled == [{"type": "canceled"}]  # the fake answers half before a cancel


def _line(adapter, custom_id):
    line = adapter.build_line(custom_id, LmPrompt("What is 1+1?", max_tokens=5), 1)
    return (json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def test_the_planner_splits_at_the_request_limit(make_lm, tmp_path):
    adapter = ClaudeBatchAdapter(make_lm())
    template = _line(adapter, "CID").decode()
    n = adapter.limits.max_requests + 1
    lines = ((f"c{i}", template.replace("CID", f"c{i}").encode(), 10) for i in range(n))
    sizes = [b.lines for b in plan_files(lines, adapter.limits, tmp_path)]
    assert sizes == [MAX_REQUESTS, 1]


def test_a_batch_packed_to_the_byte_limit_is_accepted(srv, make_lm, tmp_path):
    adapter = ClaudeBatchAdapter(make_lm())
    size = len(_line(adapter, "c-000"))
    body_limit = 12 * size  # the lines alone would fill it exactly: the envelope would not fit
    srv.anthropic_limits = AnthropicLimits(batch_bytes=body_limit)
    limits = batch_limits(max_bytes=body_limit)
    lines = [(f"c-{i:03}", _line(adapter, f"c-{i:03}"), 10) for i in range(30)]
    planned = list(plan_files(lines, limits, tmp_path))
    assert len(planned) > 1 and max(b.bytes for b in planned) > limits.max_bytes - size
    for b in planned:
        assert adapter.create(b.path, None, {}).state == "running"
    assert srv.count("messages.batches.create") == len(planned)


def test_the_runner_splits_by_the_request_limit_the_fake_enforces(srv, make_lm, monkeypatch):
    srv.anthropic_limits = AnthropicLimits(batch_requests=2)
    monkeypatch.setenv("LMWRAPPER_BATCH_MAX_REQUESTS", "2")
    preds = list(make_lm().predict_many(prompts(5), completion_window=CompletionWindow.BATCH_ANY))
    assert [p.completion_text for p in preds] == [str(i + 1) for i in range(5)]
    assert srv.count("messages.batches.create") == 3


def test_an_errored_timeout_is_sent_again_in_a_later_batch(srv, make_lm):
    srv.batch_line_errors(times=1, status=504, match="What is 3+1?")
    preds = list(make_lm().predict_many(prompts(5), completion_window=CompletionWindow.BATCH_ANY))
    assert [p.completion_text for p in preds] == [str(i + 1) for i in range(5)]
    assert srv.count("messages.batches.create") == 2
