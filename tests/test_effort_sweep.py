"""The issue's proof: an effort sweep (3 efforts x 20 prompts) on a current reasoning model,
through the fake, gives 60 distinct cached answers with their reasoning tokens billed, and a
rerun sends nothing. On OpenAI (gpt-6.2-sol) and on Claude (Opus 4.8, thinking adaptive)."""

import pytest
from cache_file import exported_rows

from lmwrapper import CompletionWindow, LmPrompt
from lmwrapper.testing import FakeServer
from lmwrapper.testing.text import EFFORT_TOKENS, AnswerRequest
from tests.api_providers import ANTHROPIC, OPENAI

EFFORTS = ("low", "medium", "high")
SWEEPS = [(OPENAI, "gpt-6.2-sol", {"logprobs": None}, (2.0, 10.0)),
          (ANTHROPIC, "claude-opus-4-8", {"thinking": "adaptive"}, (5.0, 25.0))]


def effort_of(q: AnswerRequest) -> str:
    """The effort the fake was asked for, as either API carries it."""
    return q.body.get("reasoning_effort") or (q.body.get("output_config") or {}).get("effort")


def sweep(extra: dict) -> list[LmPrompt]:
    return [LmPrompt(f"Question {i}: is {7 * i + 3} prime?", max_tokens=1000,
                     reasoning_effort=effort, **extra)
            for effort in EFFORTS for i in range(20)]


@pytest.mark.parametrize(("provider", "model", "extra", "usd_per_mtok"), SWEEPS, ids=str)
def test_an_effort_sweep_is_60_cached_answers_billed_with_their_reasoning(
        provider, model, extra, usd_per_mtok, cache_dir):
    with FakeServer(latency=0.0) as srv:
        srv.answers.set_fn(lambda q: f"At effort {effort_of(q)}: {q.prompt[:12]}")
        prompts = sweep(extra)
        preds = list(provider.make(srv, model, max_concurrency=8).predict_many(prompts))
        assert srv.count(provider.route) == 60

        assert len({p.completion_text for p in preds}) == 60
        for p in preds:
            assert p.completion_text.startswith(f"At effort {p.prompt.reasoning_effort}:")
            u = p.usage
            assert u.reasoning_tokens == EFFORT_TOKENS[p.prompt.reasoning_effort]
            assert u.completion_tokens == u.reasoning_tokens + len(srv.tokenize(p.completion_text))
            price_in, price_out = usd_per_mtok
            assert p.cost_usd == pytest.approx(
                (u.prompt_tokens * price_in + u.completion_tokens * price_out) / 1e6)
        by_effort = {e: sum(p.cost_usd for p in preds if p.prompt.reasoning_effort == e)
                     for e in EFFORTS}
        assert by_effort["low"] < by_effort["medium"] < by_effort["high"]
        assert len({row["key"] for row in exported_rows(cache_dir)}) == 60

        again = list(provider.make(srv, model).predict_many(prompts))
        assert srv.count(provider.route) == 60  # the rerun sent nothing
        assert all(p.was_cached for p in again)
        assert [(p.completion_text, p.usage, p.cost_usd, p.reasoning) for p in again] == [
            (p.completion_text, p.usage, p.cost_usd, p.reasoning) for p in preds]
        if provider is ANTHROPIC:
            assert all(p.reasoning for p in again)  # the thinking text survives the cache


@pytest.mark.parametrize(("provider", "model", "extra", "usd_per_mtok"), SWEEPS, ids=str)
def test_the_batch_api_answers_a_sweep_as_live_does_at_half_price(
        provider, model, extra, usd_per_mtok, monkeypatch):
    monkeypatch.setenv("LMWRAPPER_BATCH_POLL_S", "0.01")
    monkeypatch.setenv("LMWRAPPER_BATCH_POLL_MAX_S", "0.05")
    with FakeServer(latency=0.0) as srv:
        prompts = sweep(extra)[::10]  # 2 prompts per effort
        batch = list(provider.make(srv, model).predict_many(
            prompts, completion_window=CompletionWindow.BATCH_ANY))
        assert srv.count(provider.route) == 0 and all(p.batch_id for p in batch)
        live = list(provider.make(srv, model, cache_default=False).predict_many(prompts))
        assert [(p.completion_text, p.usage.reasoning_tokens, p.reasoning) for p in batch] == [
            (p.completion_text, p.usage.reasoning_tokens, p.reasoning) for p in live]
        assert [p.usage.reasoning_tokens for p in batch] == [
            EFFORT_TOKENS[p.prompt.reasoning_effort] for p in batch]
        assert sum(p.cost_usd for p in batch) * 2 == pytest.approx(sum(p.cost_usd for p in live))
