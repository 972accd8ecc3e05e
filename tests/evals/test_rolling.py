"""`loglikelihood_rolling` of texts longer than the window, against lm-evaluation-harness's own
numbers, stored once (tests/data/harness_tiny_rolling.json; its "source" says how): the tiny
GPT-2 (window 128) on texts of 60, 128, 129 and 321 tokens (one window, one, two, three)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lmwrapper.structs import LmPrompt
from lmwrapper.tools.scoring import loglikelihood, loglikelihood_rolling

REFERENCE = json.loads((Path(__file__).parents[1] / "data" / "harness_tiny_rolling.json")
                       .read_text(encoding="utf-8"))
TOL = 1e-3


def _window_prompt(text: str, **changes) -> LmPrompt:
    return LmPrompt(text, max_tokens=0, echo=True, logprobs=1, temperature=0.0,
                    context_split=0, **changes)


def test_texts_score_as_the_harness_scores_them_in_rolling_windows(tiny_lm):
    assert tiny_lm.token_limit == REFERENCE["window"]
    results = loglikelihood_rolling(tiny_lm, REFERENCE["texts"])
    for text, ref, r in zip(REFERENCE["texts"], REFERENCE["logprobs"], results, strict=True):
        ids = tiny_lm.tokenizer(text, add_special_tokens=False)["input_ids"]
        assert r.error is None and r.num_tokens == len(ids) == len(r.tokens)
        assert abs(r.logprob - ref) <= TOL, (len(ids), r.logprob, ref)


def test_a_window_is_conditioned_on_the_tokens_before_it(tiny_lm):
    """The check above can tell windows from texts scored apart: the long text's halves,
    each scored alone (the second after a BOS token only), sum to far from its number."""
    long, ref = REFERENCE["texts"][0], REFERENCE["logprobs"][0]
    (first,) = loglikelihood_rolling(tiny_lm, [long[:len(long) // 2]])
    (second,) = loglikelihood_rolling(tiny_lm, [long[len(long) // 2:]])
    assert abs(first.logprob + second.logprob - ref) > 100 * TOL


def test_a_text_that_fits_is_one_pair_with_the_key_it_had(cached_tiny):
    text = REFERENCE["texts"][2]  # exactly the window
    (rolled,) = loglikelihood_rolling(cached_tiny, [text])
    (pair,) = loglikelihood(cached_tiny, [("", text)])
    assert rolled == pair
    assert cached_tiny.predict(_window_prompt(text)).was_cached


def test_a_long_texts_windows_are_cached(cached_tiny):
    long = REFERENCE["texts"][0]
    (first,) = loglikelihood_rolling(cached_tiny, [long])
    assert cached_tiny.predict(_window_prompt(long, token_slice=(0, 129))).was_cached
    assert loglikelihood_rolling(cached_tiny, [long]) == [first]


def test_a_token_slice_past_the_prompts_tokens_is_refused(tiny_lm):
    assert tiny_lm.estimate_tokens_in_prompt(LmPrompt("Once upon a time", token_slice=(1, 3))) == 2
    with pytest.raises(ValueError, match="token_slice"):
        tiny_lm.predict(_window_prompt("Once upon a time", token_slice=(0, 500)))
