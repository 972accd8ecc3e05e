"""Scoring through OpenAI's legacy completions (echo + max_tokens=0), over real HTTP against
the fake server, whose tokens here are tiktoken's (what lmwrapper counts the context with)."""

from __future__ import annotations

import re

import pytest

from lmwrapper.openai_wrapper import get_open_ai_lm
from lmwrapper.providers.openai import tokens
from lmwrapper.structs import LmPrompt
from lmwrapper.testing import FakeServer
from lmwrapper.tools.scoring import loglikelihood, loglikelihood_rolling, multiple_choice

INSTRUCT = "gpt-3.5-turbo-instruct"


def tiktoken_tokens(text: str) -> list[str]:
    return tokens.tokenize(text, "cl100k_base")


@pytest.fixture
def srv():
    with FakeServer(tokenize=tiktoken_tokens) as s:
        yield s


def make(srv, model=INSTRUCT, **kw):
    return get_open_ai_lm(model, api_key_secret="sk-test-0123456789", base_url=srv.base_url, **kw)


def test_instruct_models_score_with_max_tokens_zero_and_echo(srv):
    lm = make(srv)
    pred = lm.predict(LmPrompt("The capital of France is Paris", max_tokens=0, echo=True))
    (req,) = srv.requests
    assert req.body["max_tokens"] == 0 and req.body["echo"] is True
    assert not pred.has_errors and pred.completion_text == "" and pred.completion_tokens == ()
    assert "".join(pred.prompt_tokens) == "The capital of France is Paris"
    assert pred.prompt_logprobs[0] is None and all(lp < 0 for lp in pred.prompt_logprobs[1:])
    assert pred.prompt_top_logprobs[0] is None and len(pred.prompt_top_logprobs) == len(
        pred.prompt_tokens)


def test_loglikelihood_sums_the_continuations_tokens(srv):
    lm = make(srv)
    pairs = [("The capital of France is", " Paris"), ("Question: 2+2?\nAnswer: ", "4")]
    results = loglikelihood(lm, pairs)
    for (ctx, cont), r in zip(pairs, results):
        ctx, cont = ctx.rstrip(), ctx[len(ctx.rstrip()):] + cont
        n_ctx = len(tiktoken_tokens(ctx))
        pred = lm.predict(LmPrompt(ctx + cont, max_tokens=0, echo=True, logprobs=1,
                                   temperature=0.0))
        assert pred.was_cached  # the very prompt loglikelihood sent
        assert r.tokens == pred.prompt_tokens[n_ctx:] and r.num_tokens == len(r.tokens)
        assert r.logprob == pytest.approx(sum(pred.prompt_logprobs[n_ctx:]))
        assert r.is_greedy is True  # the fake's chosen token is always its top one
    assert lm.last_run.cached == 1 and srv.counts["completions"] == 2


def test_multiple_choice_through_the_api(srv):
    (r,) = multiple_choice(make(srv), [("The capital of France is", ["Paris", "Rome"], 0)])
    assert r.error is None and len(r.loglikelihoods) == 2 and r.pred in (0, 1)


def test_rolling_is_each_texts_error_on_an_api_model_and_sends_nothing(srv):
    """The server tokenises the text whole, so its first token has no logprob (local models
    score it after their BOS token, and roll windows over a long text)."""
    short, long = loglikelihood_rolling(make(srv), ["A short text.", "word " * 5000])
    assert "empty context" in short.error and "empty context" in long.error
    assert not srv.requests


def test_chat_models_refuse_scoring_before_sending(srv):
    with pytest.raises(ValueError, match="max_tokens=0"):
        loglikelihood(make(srv, "gpt-4o-mini"), [("a", " b")])
    assert not srv.requests


def test_a_server_that_tokenizes_otherwise_is_scored_at_its_own_tokens():
    """Its tokens spell the text back: the context's end is found in them (lmwrapper's
    tiktoken count of the context, 5 here, is not the server's 6)."""
    def four_chars(text):
        return [text[i:i + 4] for i in range(0, len(text), 4)]

    with FakeServer(tokenize=four_chars) as srv:
        lm = make(srv)
        (r,) = loglikelihood(lm, [("The capital of France is", " Paris")])
        pred = lm.predict(LmPrompt("The capital of France is Paris", max_tokens=0, echo=True,
                                   logprobs=1, temperature=0.0))
    assert pred.was_cached and r.error is None
    assert r.tokens == (" Par", "is") and r.logprob == pytest.approx(sum(pred.prompt_logprobs[-2:]))


def test_a_tokenizer_mismatch_is_named_not_blamed_on_the_split():
    """Its tokens do not spell the text back (spaces dropped) and are fewer than tiktoken's:
    the error says the tokenizers differ, with both counts, not "move the boundary"."""
    with FakeServer(tokenize=str.split) as srv:
        (r,) = loglikelihood(make(srv), [("Question: 2+2?\nAnswer: ", "4")])
        n_whole = len(tiktoken_tokens("Question: 2+2?\nAnswer: 4"))
        n_ctx = len(tiktoken_tokens("Question: 2+2?\nAnswer:"))
    assert r.error.startswith("tokenizer mismatch: the server split the text into 4 tokens "
                              "('Question:', '2+2?', 'Answer:', '4')")
    assert f"makes {n_whole} (of them {n_ctx} for the context alone)" in r.error
    assert "split is not at fault" in r.error and "move the boundary" not in r.error


def test_a_continuation_merged_into_the_contexts_token_is_still_the_splits_error(srv):
    (r,) = loglikelihood(make(srv), [("I like apple", "s")])  # " apples" is one token
    assert tiktoken_tokens("I like apples")[-1] == " apples"
    assert "no tokens of its own" in r.error and "move the boundary to a token edge" in r.error


def test_a_bos_token_the_server_puts_first_is_the_contexts():
    def bos_and_words(text):  # as vLLM echoes a Llama prompt: "<s>" first
        return ["<s>", *re.findall(r"\s*\S+", text)]

    with FakeServer(tokenize=bos_and_words) as srv:
        (r,) = loglikelihood(make(srv), [("The capital of France is", " Paris")])
    assert r.error is None and r.tokens == (" Paris",)


def test_apply_chat_template_is_refused_where_lmwrapper_has_no_template(srv):
    with pytest.raises(ValueError, match="cannot render"):
        multiple_choice(make(srv), [("Q", ["a", "b"], 0)], apply_chat_template=True)
    assert not srv.requests
