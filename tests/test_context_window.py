"""A prompt over an API model's context window is refused before it is sent (the engine's
rule, lmwrapper.engine.context, the local model's too): that prompt's error, cached as its
own, with the counts in the message; the fake's counters show it never reached the server,
and the other prompts are answered, live and in batch. A count that is an estimate (Claude)
refuses only past its margin; a model no source describes is never refused."""

import json

import pytest
from api_providers import ANTHROPIC, OPENAI

from lmwrapper import CompletionWindow, LmPrompt
from lmwrapper.cli.main import main
from lmwrapper.testing import FakeServer


@pytest.fixture
def srv():
    with FakeServer(latency=0.0) as s:
        yield s


def test_an_instruct_prompt_over_the_window_is_refused_unsent_and_the_others_answered(srv):
    lm = OPENAI.make(srv, "gpt-3.5-turbo-instruct")  # 4096 tokens (models.toml)
    long = LmPrompt("word " * 5000, max_tokens=5, temperature=0)
    bad, good = lm.predict_many([long, LmPrompt("Hello", max_tokens=5, temperature=0)])
    assert srv.count("completions") == 1 and not good.has_errors
    n = lm.estimate_tokens_in_prompt(long)
    assert bad.has_errors and not bad.error_is_transient
    assert (f"{n} prompt tokens (counted with tiktoken cl100k_base, exact) + max_tokens=5 > "
            "the context window of 4096 tokens. Not sent") in bad.error_message
    assert lm.last_run.refused == 1 and lm.last_run.failed == 1 and lm.last_run.to_send == 1
    assert lm.last_run.unique_cached == 0  # the dry run's "cached": a refused one is not
    again = lm.predict(long)  # the prompt's own error, cached like the local model's
    assert again.was_cached and again.has_errors and srv.count("completions") == 1


def test_a_chat_prompt_is_refused_from_one_token_over_and_its_max_tokens_do_not_count(srv):
    prompt = LmPrompt("How many words are in this sentence, roughly?", max_tokens=500)
    n = OPENAI.make(srv).estimate_tokens_in_prompt(prompt)
    # (the window is no part of the cache key: each model here caches nothing)
    fits = OPENAI.make(srv, context_window=n, cache_default=False).predict(prompt)
    refused = OPENAI.make(srv, context_window=n - 1, cache_default=False).predict(prompt)
    assert not fits.has_errors and srv.count("chat.completions") == 1
    assert refused.has_errors and f"{n} prompt tokens" in refused.error_message
    assert "max_tokens=" not in refused.error_message and f"window of {n - 1} " in refused.error_message


def test_a_model_no_source_describes_is_never_refused(srv):
    srv.extra_models.add("my-local-llama")  # another server's model: its window is a guess
    lm = OPENAI.make(srv, "my-local-llama")
    long = LmPrompt("word " * 130_000, max_tokens=5)  # over the 128,000 of models.toml's default
    assert lm.context_need(long) is None
    pred = lm.predict(long)
    assert srv.count("chat.completions") == 1  # sent: the server judges it (here: too long)
    assert "context_length_exceeded" in pred.error_message


def test_an_estimated_count_is_refused_only_past_its_margin(srv):
    lm = ANTHROPIC.make(srv, context_window=1000)
    maybe = LmPrompt("word " * 800, max_tokens=5)  # estimate 1338 > 1000, low end 666
    over = LmPrompt("word " * 1400, max_tokens=5)  # low end 1166 > 1000
    sent, refused = lm.predict_many([maybe, over])
    assert srv.count("messages") == 1 and not sent.has_errors
    assert refused.has_errors and srv.count("messages.count_tokens") == 0
    assert ("about 2338 prompt tokens (estimated: characters / 3, offline; at least 1166 with "
            "the margin: characters / 6") in refused.error_message
    assert "+ max_tokens=5 > the context window of 1000 tokens" in refused.error_message


@pytest.mark.parametrize("provider", [OPENAI, ANTHROPIC], ids=str)
def test_a_refused_prompt_is_not_put_in_a_batch(srv, provider):
    lm = provider.make(srv, context_window=200)
    prompts = [LmPrompt(f"Question {i}?", max_tokens=5) for i in range(3)]
    prompts.insert(1, LmPrompt("word " * 2000, max_tokens=5))
    preds = list(lm.predict_many(prompts, CompletionWindow.BATCH_ANY))
    assert [p.has_errors for p in preds] == [False, True, False, False]
    assert "context window of 200 tokens" in preds[1].error_message
    assert _batch_lines(srv, provider) == 3
    again = list(lm.predict_many(prompts, CompletionWindow.BATCH_ANY))
    assert all(p.was_cached for p in again) and _batch_lines(srv, provider) == 3


def _batch_lines(srv, provider):
    """How many prompts the batches sent to the fake held."""
    if provider is ANTHROPIC:
        return sum(len(r.body["requests"]) for r in srv.requests
                   if r.route == "messages.batches.create")
    uploads = [r.body for r in srv.requests if r.route == "files.create"]
    return sum(1 for body in uploads for x in body.splitlines() if x.startswith(b"{"))


def test_the_dry_run_counts_the_prompts_it_would_refuse(srv, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI.key)
    src = tmp_path / "in.jsonl"
    lines = ["Hello", "word " * 5000, "Bye"]
    src.write_text("".join(json.dumps({"prompt": p, "max_tokens": 5}) + "\n" for p in lines))
    args = ["--cache-dir", str(tmp_path / "c"), "run", "--model",
            "openai/gpt-3.5-turbo-instruct", "--base-url", srv.base_url, str(src),
            "-o", str(tmp_path / "out.jsonl")]
    assert main([*args, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "unique: 3  cached: 0  to send: 2 (2 samples)" in out
    assert "over the context window: 1 (refused, not sent" in out and "4096" in out
    assert srv.counts == {}
    assert main(args) == 1  # one prompt failed: refused
    assert srv.count("completions") == 2
