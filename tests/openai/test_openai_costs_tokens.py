"""Tokens and money before anything is sent; cost of what ran; offline encodings."""

import gzip
import hashlib
import subprocess
import sys

import pytest

from lmwrapper import CostLimitExceededError
from lmwrapper.batch_config import CompletionWindow
from lmwrapper.engine.plan import estimate_run
from lmwrapper.openai_wrapper import OpenAiModelNames, get_open_ai_lm
from lmwrapper.providers.openai import tokens
from lmwrapper.structs import LmPrompt


def test_seed_token_counting_example():
    lm = get_open_ai_lm(OpenAiModelNames.gpt_3_5_turbo_instruct)
    assert lm.estimate_tokens_in_prompt(LmPrompt("My name is Spingldorph", max_tokens=10)) == 7
    assert not lm.could_completion_go_over_token_limit(LmPrompt("My name is Spingldorph",
                                                                max_tokens=1000))
    assert lm.could_completion_go_over_token_limit(LmPrompt("My name is Spingldorph",
                                                            max_tokens=4090))


def test_chat_tokens_include_per_message_overhead():
    lm = get_open_ai_lm(OpenAiModelNames.gpt_4o_mini)
    text = tokens.count_text_tokens("What is 2+2?", "o200k_base")
    user = tokens.count_text_tokens("user", "o200k_base")
    assert lm.estimate_tokens_in_prompt(LmPrompt("What is 2+2?")) == text + user + 3 + 3
    two = lm.estimate_tokens_in_prompt(LmPrompt(["What is 2+2?", "4"]))
    assert two > text + user + 6


def test_estimate_cost_is_an_upper_bound_at_the_live_price():
    lm = get_open_ai_lm(OpenAiModelNames.gpt_4o_mini)
    prompts = [LmPrompt("What is 2+2?", max_tokens=10), LmPrompt("Hi", max_tokens=20,
                                                                 num_completions=3)]
    est = lm.estimate_cost(prompts)
    n_in = sum(lm.estimate_tokens_in_prompt(p) for p in prompts)
    assert (est.prompts, est.input_tokens, est.max_output_tokens) == (2, n_in, 10 + 3 * 20)
    assert est.input_usd == pytest.approx(n_in * 0.15 / 1e6)
    assert est.output_usd == pytest.approx(70 * 0.60 / 1e6)
    # BATCH_ANY goes to the Batch API: half the live price
    assert lm.estimate_cost(prompts, CompletionWindow.BATCH_ANY).total_usd == pytest.approx(
        est.total_usd * 0.5)
    no_max = lm.estimate_cost([LmPrompt("Hi")])
    assert no_max.max_output_tokens == OpenAiModelNames.gpt_4o_mini.max_output_tokens


def test_unknown_price_says_so():
    lm = get_open_ai_lm("some-local-model", base_url="http://localhost:8000/v1")
    est = lm.estimate_cost([LmPrompt("hi", max_tokens=5)])
    assert not est.priced and est.total_usd == 0 and est.input_tokens > 0


def test_max_cost_refuses_before_sending_and_ignores_cached_prompts(make_lm, srv):
    lm = make_lm()
    prompts = [LmPrompt(f"What is {i}+1?", max_tokens=1000) for i in range(10)]
    bound = lm.estimate_cost(prompts).total_usd
    with pytest.raises(CostLimitExceededError, match="max_cost_usd"):
        list(lm.predict_many(prompts, max_cost_usd=bound / 2))
    assert srv.counts == {}
    preds = list(lm.predict_many(prompts, max_cost_usd=bound))
    spent = sum(p.cost_usd for p in preds)
    assert 0 < spent <= bound and lm.last_run.spent_usd == pytest.approx(spent)
    # everything cached now: nothing left to pay for, any limit passes
    again = list(lm.predict_many(prompts, max_cost_usd=0.0))
    assert all(p.was_cached for p in again) and lm.last_run.saved_usd == pytest.approx(spent)
    assert estimate_run(lm, prompts).prompts == 0


def test_prediction_cost_comes_from_usage(make_lm):
    pred = make_lm().predict(LmPrompt("What is 2+2?", max_tokens=5))
    u = pred.usage
    assert pred.cost_usd == pytest.approx((u.prompt_tokens * 0.15 + u.completion_tokens * 0.60) / 1e6)


def test_offline_encodings_are_seeded_where_tiktoken_looks(tmp_path):
    """In a fresh process with an empty TIKTOKEN_CACHE_DIR and no network, counting works."""
    code = ("from lmwrapper.providers.openai import tokens; print(tokens.count_text_tokens('hello world', "
            "'o200k_base'), tokens.count_text_tokens('hello world', 'cl100k_base'))")
    env = {"TIKTOKEN_CACHE_DIR": str(tmp_path), "PATH": "/usr/bin:/bin",
           "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["2", "2"]
    for (url, sha256) in tokens.OFFLINE_ENCODINGS.values():
        path = tmp_path / hashlib.sha1(url.encode()).hexdigest()
        assert hashlib.sha256(path.read_bytes()).hexdigest() == sha256


def test_a_corrupt_bundled_file_is_not_seeded(tmp_path, monkeypatch):
    bad = tmp_path / "pkg" / "data"
    bad.mkdir(parents=True)
    (bad / "o200k_base.tiktoken.gz").write_bytes(gzip.compress(b"not the real file"))
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "cache"))
    assert tokens.seed_offline_encoding("o200k_base", bad / "o200k_base.tiktoken.gz") is False
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())
