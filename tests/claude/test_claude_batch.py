"""Claude through Message Batches (`CompletionWindow.BATCH_ANY`) against the fake: the same
answers as live at half price, every per-request outcome, cancelled and expired batches,
and a batch created by a run killed before it recorded the batch's id."""

from __future__ import annotations

import subprocess
import sys

import pytest

from lmwrapper.batch_config import CompletionWindow
from lmwrapper.providers.anthropic.batch import MAX_BYTES, MAX_REQUESTS, ClaudeBatchAdapter
from lmwrapper.structs import LmPrompt

BATCH = CompletionWindow.BATCH_ANY
FAST = {"LMWRAPPER_BATCH_POLL_S": "0.01", "LMWRAPPER_BATCH_POLL_MAX_S": "0.05"}


@pytest.fixture(autouse=True)
def fast_polls(monkeypatch):
    for k, v in FAST.items():
        monkeypatch.setenv(k, v)


def prompts(n, **kw):
    kw.setdefault("max_tokens", 10)
    kw.setdefault("temperature", 0)
    return [LmPrompt(f"What is {i}+1?", **kw) for i in range(n)]


def texts(preds):
    return [p.completion_text for p in preds]


def test_batch_answers_match_live_at_half_price_and_are_cached(srv, make_lm):
    lm = make_lm()
    batch = list(lm.predict_many(prompts(5), completion_window=BATCH))
    assert srv.count("messages.batches.create") == 1 and srv.count("messages") == 0
    assert all(p.batch_id and p.batch_id.startswith("msgbatch_") for p in batch)
    body = srv.requests[0].body["requests"][0]
    assert set(body) == {"custom_id", "params"} and body["params"]["max_tokens"] == 10
    live = list(make_lm(cache_default=False).predict_many(prompts(5)))
    assert texts(batch) == texts(live) == [str(i + 1) for i in range(5)]
    assert sum(p.cost_usd for p in batch) * 2 == pytest.approx(sum(p.cost_usd for p in live))
    again = list(lm.predict_many(prompts(5), completion_window=BATCH))
    assert all(p.was_cached for p in again) and srv.count("messages.batches.create") == 1


def test_batch_cost_estimate_is_at_the_batch_price(make_lm):
    lm = make_lm()
    live = lm.estimate_cost(prompts(3))
    batch = lm.estimate_cost(prompts(3), BATCH)
    assert batch.total_usd == pytest.approx(live.total_usd / 2)


def test_samples_are_one_line_each(srv, make_lm):
    preds = list(make_lm().predict_many([LmPrompt("Hi", num_completions=3, max_tokens=5)],
                                        completion_window=BATCH))
    assert len(preds[0]) == 3 and [p.sample_index for p in preds[0]] == [0, 1, 2]
    assert len(srv.requests[0].body["requests"]) == 3


def test_errored_transient_requests_are_resent_in_a_later_batch(srv, make_lm):
    srv.batch_line_errors(times=1, status=529, match="What is 3+1?")
    preds = list(make_lm().predict_many(prompts(5), completion_window=BATCH))
    assert texts(preds) == [str(i + 1) for i in range(5)]
    assert srv.count("messages.batches.create") == 2
    second = [r for r in srv.requests if r.route == "messages.batches.create"][1]
    assert [q["params"]["messages"][0]["content"] for q in second.body["requests"]] == \
        ["What is 3+1?"]


def test_errored_prompt_too_long_is_a_cached_permanent_error(srv, make_lm):
    srv.batch_line_errors(times=1, status=400, match="What is 2+1?",
                          message="prompt is too long: 210000 tokens > 200000 maximum")
    lm = make_lm()
    preds = list(lm.predict_many(prompts(4), completion_window=BATCH))
    bad = preds[2]
    assert bad.has_errors and not bad.error_is_transient and "too long" in bad.error_message
    assert srv.count("messages.batches.create") == 1
    again = list(lm.predict_many(prompts(4), completion_window=BATCH))
    assert again[2].was_cached and again[2].has_errors


def test_expired_requests_are_resent(srv, make_lm):
    srv.expire_next_batch(completed=2, provider="anthropic")
    preds = list(make_lm().predict_many(prompts(5), completion_window=BATCH))
    assert texts(preds) == [str(i + 1) for i in range(5)]
    assert srv.count("messages.batches.create") == 2
    second = [r for r in srv.requests if r.route == "messages.batches.create"][1]
    assert len(second.body["requests"]) == 3


def test_a_batch_cancelled_elsewhere_has_its_canceled_requests_resent(srv, make_lm):
    import anthropic

    from tests.batching.conftest import run_runner

    lm = make_lm()
    srv.batch_polls_per_step = 10**9  # the batch stays in progress until it is cancelled
    # a run that stops once its batch is created, leaving it at the fake
    run_runner(lm, prompts(4), should_stop=lambda: srv.count("messages.batches.create") >= 1)
    client = anthropic.Anthropic(api_key="sk-ant-other", base_url=srv.anthropic_base_url)
    for b in client.messages.batches.list():
        client.messages.batches.cancel(b.id)
    srv.batch_polls_per_step = 1
    preds = list(lm.predict_many(prompts(4), completion_window=BATCH))
    assert texts(preds) == [str(i + 1) for i in range(4)]
    second = [r for r in srv.requests if r.route == "messages.batches.create"][1]
    assert len(second.body["requests"]) == 2  # the fake answers half before a cancel


def test_a_batch_created_by_a_killed_run_is_adopted_not_paid_twice(srv, tmp_path, cache_dir):
    out = tmp_path / "child.json"
    child = subprocess.run([sys.executable, "-m", "tests.claude.batch_child",
                            srv.anthropic_base_url, "4", str(out)], capture_output=True,
                           timeout=120, env=_child_env(cache_dir), check=False)
    assert child.returncode == -9 and not out.exists()
    assert srv.count("messages.batches.create") == 1
    from lmwrapper.claude_wrapper import get_claude_lm
    from tests.claude.batch_child import prompts as child_prompts

    lm = get_claude_lm("claude-haiku-4-5", api_key_secret="sk-ant-child-key",
                       base_url=srv.anthropic_base_url)
    preds = list(lm.predict_many(child_prompts(4), completion_window=BATCH))
    assert texts(preds) == [str(i + 1) for i in range(4)]
    assert srv.count("messages.batches.create") == 1  # adopted, not created again


def _child_env(cache_dir):
    import os

    return {**os.environ, **FAST, "LMWRAPPER_CACHE_DIR": str(cache_dir)}


def test_the_adapter_declares_anthropics_limits(make_lm):
    adapter = ClaudeBatchAdapter(make_lm())  # (bytes: see test_claude_batch_limits.py)
    assert adapter.limits.max_requests == MAX_REQUESTS == 100_000
    assert MAX_BYTES == 256_000_000 and adapter.limits.max_bytes < MAX_BYTES
    assert adapter.max_samples_per_line(LmPrompt("x")) == 1


def test_cli_batch_wait_collects_a_submitted_claude_job(srv, make_lm):
    import os

    from lmwrapper.tools.batch import submit_or_collect
    from tests.claude.conftest import API_KEY

    lm = make_lm()
    job = submit_or_collect(lm, prompts(3)).job_id
    assert job and srv.count("messages.batches.create") == 1
    env = {**os.environ, **FAST, "ANTHROPIC_API_KEY": API_KEY}
    waited = subprocess.run([sys.executable, "-m", "lmwrapper", "batch", "wait", job,
                             "--base-url", srv.anthropic_base_url],
                            check=False, capture_output=True, text=True, env=env,
                            stdin=subprocess.DEVNULL, timeout=120)
    assert waited.returncode == 0, waited.stderr
    assert "3 done, 0 waiting, 0 failed" in waited.stdout
    preds = list(lm.predict_many(prompts(3), completion_window=BATCH))
    assert all(p.was_cached for p in preds) and texts(preds) == ["1", "2", "3"]
    assert srv.count("messages.batches.create") == 1
