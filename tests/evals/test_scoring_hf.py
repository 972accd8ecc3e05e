"""Scoring on local models: max_tokens=0 + echo, and `loglikelihood` / `multiple_choice`
checked against plain `transformers` forward passes, split the way lm-evaluation-harness
splits context and continuation."""

from __future__ import annotations

import math

import pytest
import torch
from hf_reference import full_logprobs, token_logprobs

from lmwrapper.structs import LmPrompt
from lmwrapper.tools.scoring import (
    Loglikelihood,
    _choose,
    loglikelihood,
    loglikelihood_rolling,
    mean_scores,
    multiple_choice,
    split_pair,
)

TOL = 1e-4


def reference(lm, context: str, continuation: str) -> tuple[float, int, bool]:
    """The harness's `_encode_pair` + `_loglikelihood_tokens`, one pair, no padding: the
    context's own tokens, then the joined text's tokens after as many; cut from the left to
    the window + 1; an empty context scored after the BOS token."""
    n_spaces = len(context) - len(context.rstrip())
    if n_spaces:
        continuation, context = context[-n_spaces:] + continuation, context[:-n_spaces]
    tok = lm.tokenizer
    if context:
        ctx = tok(context)["input_ids"]
        cont = tok(context + continuation)["input_ids"][len(ctx):]
    else:
        ctx, cont = [tok.bos_token_id], tok(continuation, add_special_tokens=False)["input_ids"]
    seq = (ctx + cont)[-(lm.token_limit + 1):]
    lps = full_logprobs(lm, seq[:-1])  # row t predicts token t + 1
    rows = lps[len(seq) - 1 - len(cont):]
    target = torch.tensor(cont)
    picked = rows.gather(-1, target[:, None])[:, 0]
    return float(picked.sum()), len(cont), bool((rows.argmax(-1) == target).all())


PAIRS = [
    ("The capital of France is", " Paris"),
    ("The capital of France is ", "Paris"),  # trailing space moves to the continuation
    ("Once upon a time there was", " a small model that learned to count"),
    ("def add(a, b):\n", "    return a + b\n"),
    ("Numbers: 0 1 2", " 3 4 5"),
    ("Café,", " naïve"),
    ("Numbers: 0 1", "2 3"),  # a boundary inside a word
]


def test_max_tokens_zero_with_echo_scores_the_prompt_and_generates_nothing(tiny_lm):
    text = "The capital of France is Paris."
    ids = tiny_lm.encoder.encode(LmPrompt(text))
    pred = tiny_lm.predict(LmPrompt(text, max_tokens=0, echo=True, logprobs=2))
    assert pred.completion_text == "" and pred.completion_tokens == ()
    assert pred.usage.prompt_tokens == len(ids) and pred.usage.completion_tokens == 0
    assert pred.prompt_tokens == tuple(tiny_lm.token_str(t) for t in ids)
    expected = token_logprobs(tiny_lm, ids)
    assert pred.prompt_logprobs[0] is None
    assert max(abs(a - b) for a, b in zip(pred.prompt_logprobs[1:], expected)) < TOL
    full = full_logprobs(tiny_lm, ids)
    assert pred.prompt_top_logprobs[0] is None
    for t, top in enumerate(pred.prompt_top_logprobs[1:]):
        best = int(full[t].argmax())
        assert len(top) == 2 and next(iter(top)) == tiny_lm.token_str(best)
        assert abs(top[tiny_lm.token_str(best)] - float(full[t, best])) < TOL


def test_score_rows_and_generating_rows_share_a_batch_unchanged(tiny_lm):
    gen = [LmPrompt(t, max_tokens=4, temperature=0) for t in ("Once upon", "The capital of")]
    score = [LmPrompt(t, max_tokens=0, echo=True) for t in ("Once upon a time", "1 2 3")]
    alone_gen = list(tiny_lm.predict_many(gen))
    alone_score = list(tiny_lm.predict_many(score))
    mixed = list(tiny_lm.predict_many([gen[0], score[0], gen[1], score[1]]))
    assert [p.completion_tokens for p in mixed[::2]] == [p.completion_tokens for p in alone_gen]
    for a, b in zip(mixed[1::2], alone_score):
        assert a.completion_text == "" and a.prompt_tokens == b.prompt_tokens
        assert max(abs(x - y) for x, y in zip(a.prompt_logprobs[1:], b.prompt_logprobs[1:])) < TOL


def test_echo_with_generation_also_returns_the_prompt_top_logprobs(tiny_lm):
    pred = tiny_lm.predict(LmPrompt("Once upon a time", max_tokens=2, temperature=0, echo=True))
    assert len(pred.prompt_top_logprobs) == len(pred.prompt_tokens)
    assert pred.prompt_top_logprobs[0] is None
    assert all(len(d) == 1 for d in pred.prompt_top_logprobs[1:])


def test_max_tokens_zero_is_refused_without_echo():
    with pytest.raises(ValueError, match="max_tokens.*echo=True"):
        LmPrompt("x", max_tokens=0)


def test_loglikelihood_equals_the_harness_computation(tiny_lm):
    got = loglikelihood(tiny_lm, PAIRS)
    for (ctx, cont), r in zip(PAIRS, got):
        ll, n, greedy = reference(tiny_lm, ctx, cont)
        assert r.error is None and r.num_tokens == n and r.is_greedy == greedy
        assert abs(r.logprob - ll) < TOL, (ctx, cont)


def test_a_greedy_continuation_is_greedy_and_a_changed_one_is_not(tiny_lm):
    ctx = "The capital of France is"
    greedy = tiny_lm.predict(LmPrompt(ctx, max_tokens=3, temperature=0)).completion_text
    first, other = loglikelihood(tiny_lm, [(ctx, greedy), (ctx, greedy + " zebra")])
    assert first.is_greedy is True and reference(tiny_lm, ctx, greedy)[2] is True
    assert other.is_greedy == reference(tiny_lm, ctx, greedy + " zebra")[2]


def test_scores_are_cached_and_a_rerun_computes_nothing(cached_tiny):
    first = loglikelihood(cached_tiny, PAIRS)
    assert cached_tiny.last_run.new == len(PAIRS)
    again = loglikelihood(cached_tiny, PAIRS)
    assert cached_tiny.last_run.cached == len(PAIRS) and cached_tiny.last_run.new == 0
    assert again == first


def test_multiple_choice_follows_loglikelihood(tiny_lm):
    items = [("The capital of France is", ["Paris", "Berlin", "a small model"], 0),
             ("Numbers: 0 1", ["2", "two", "3 4 5"], "two")]
    results = multiple_choice(tiny_lm, items)
    for (ctx, choices, _), r in zip(items, results):
        lls = [reference(tiny_lm, ctx, " " + c)[0] for c in choices]
        assert max(abs(a - b) for a, b in zip(r.loglikelihoods, lls)) < TOL
        assert r.pred == max(range(len(lls)), key=lls.__getitem__)
        normed = [ll / len(c) for ll, c in zip(lls, choices)]
        assert r.pred_norm == max(range(len(normed)), key=normed.__getitem__)
        assert r.acc == float(r.pred == r.gold) and r.acc_norm == float(r.pred_norm == r.gold)
    assert results[1].gold == 1
    assert mean_scores(results)["items"] == 2.0


def test_acc_norm_divides_by_the_choices_length_in_characters():
    scores = [Loglikelihood(-4.0, 2, False), Loglikelihood(-6.0, 3, False)]
    r = _choose(scores, ["ab", "abcdef"], gold=1)  # -4/2 = -2 < -6/6 = -1
    assert (r.pred, r.pred_norm, r.acc, r.acc_norm) == (0, 1, 0.0, 1.0)
    tie = _choose([Loglikelihood(-1.0, 1, True)] * 2, ["a", "b"], gold=1)
    assert tie.pred == 0  # numpy.argmax's rule: the first of equal values


def test_acc_bytes_divides_by_the_choices_length_in_utf8_bytes():
    scores = [Loglikelihood(-3.0, 2, False), Loglikelihood(-4.0, 2, False)]
    r = _choose(scores, ["éé", "abcd"], gold=0)  # chars: -1.5 vs -1 -> 1; bytes: -0.75 vs -1 -> 0
    assert (r.pred_norm, r.pred_bytes, r.acc_norm, r.acc_bytes) == (1, 0, 0.0, 1.0)
    assert mean_scores([r])["acc_bytes"] == 1.0


def test_loglikelihood_rolling_scores_every_token_after_bos(tiny_lm):
    texts = ["Once upon a time there was a small model.", "def add(a, b):\n    return a + b\n"]
    for text, r in zip(texts, loglikelihood_rolling(tiny_lm, texts)):
        ll, n, _ = reference(tiny_lm, "", text)
        assert r.error is None and r.num_tokens == n == len(tiny_lm.tokenizer(text)["input_ids"])
        assert abs(r.logprob - ll) < TOL


def test_a_failed_pair_is_reported_not_raised(tiny_lm):
    too_long = " word" * 200  # the tiny model's context is 128 tokens
    ok, bad, empty = loglikelihood(tiny_lm, [("Once upon", " a time"), ("Once upon", too_long),
                                             ("Once upon", "")])
    assert ok.error is None and bad.error and "does not fit" in bad.error
    assert math.isnan(bad.logprob)
    assert empty.error and "no tokens of its own" in empty.error
    (r,) = multiple_choice(tiny_lm, [("Once upon", ["a", too_long], 0)])
    assert r.error and r.acc is None and mean_scores([r])["errors"] == 1.0


def test_a_long_context_is_cut_from_the_left_as_the_harness_cuts_it(tiny_lm):
    long = "word " * 200 + "The capital of France is"
    (r,) = loglikelihood(tiny_lm, [(long, " Paris")])
    ll, n, _ = reference(tiny_lm, long, " Paris")
    assert r.error is None and r.num_tokens == n and abs(r.logprob - ll) < TOL


def test_a_pair_of_exactly_the_window_plus_one_is_scored_whole(tiny_lm):
    tok = tiny_lm.tokenizer
    words = " ".join(["one"] * 400)
    ids = tok(words)["input_ids"][:tiny_lm.token_limit + 1]
    text = tok.decode(ids)
    assert len(tok(text)["input_ids"]) == tiny_lm.token_limit + 1
    (r,) = loglikelihood(tiny_lm, [(text[:-4], text[-4:])])
    ll, _, _ = reference(tiny_lm, text[:-4], text[-4:])
    assert r.error is None and abs(r.logprob - ll) < TOL
    pred = tiny_lm.predict(LmPrompt(text, max_tokens=0, echo=True))
    assert not pred.has_errors and len(pred.prompt_tokens) == tiny_lm.token_limit + 1


@pytest.mark.parametrize("items,match", [
    ([("ctx", ["a", "b"], "c")], "not one of its choices"),
    ([("ctx", ["a", "b"], 2)], "index"),
    ([("ctx", ["a", ""], 0)], "non-empty"),
])
def test_multiple_choice_refuses_bad_items_before_running(tiny_lm, items, match):
    with pytest.raises(ValueError, match=match):
        multiple_choice(tiny_lm, items)


def test_an_empty_context_is_scored_after_the_bos_token(tiny_lm):
    for ctx in ("", "  "):
        (r,) = loglikelihood(tiny_lm, [(ctx, "Once upon a time")])
        ll, n, _ = reference(tiny_lm, ctx, "Once upon a time")
        assert r.error is None and r.num_tokens == n and abs(r.logprob - ll) < TOL


def test_chat_mode_is_refused(tiny_dir):
    from lmwrapper.huggingface_wrapper import get_huggingface_lm

    chat = get_huggingface_lm(str(tiny_dir), device="cpu", use_chat_mode=True, cache_default=False)
    with pytest.raises(ValueError, match="use_chat_mode"):
        loglikelihood(chat, [("a", "b")])


def test_apply_chat_template_scores_after_the_context_rendered_by_the_tokenizer(tiny_lm):
    """The harness's --apply_chat_template: the context as a user turn (after the system
    instruction), rendered by the tokenizer's own template with the assistant's header; the
    choice follows it with no delimiter."""
    ctx, choices = "The capital of France is", ["Paris", " Berlin"]
    results = multiple_choice(tiny_lm, [(ctx, choices, 0)], apply_chat_template=True,
                              system_instruction="Be brief.")
    rendered = tiny_lm.tokenizer.apply_chat_template(
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": ctx}],
        tokenize=False, add_generation_prompt=True)
    assert rendered.endswith("<|assistant|>")
    lls = [reference(tiny_lm, rendered, c)[0] for c in choices]
    assert max(abs(a - b) for a, b in zip(results[0].loglikelihoods, lls)) < TOL
    (plain,) = multiple_choice(tiny_lm, [(ctx, choices, 0)])
    assert plain.loglikelihoods != results[0].loglikelihoods  # the default is unchanged


def test_a_system_instruction_without_the_template_is_refused(tiny_lm):
    with pytest.raises(ValueError, match="apply_chat_template=True"):
        loglikelihood(tiny_lm, [("a", " b")], system_instruction="Be brief.")


def test_split_pair_moves_trailing_whitespace():
    assert split_pair("Q: x\nA: ", "y") == ("Q: x\nA:", " y")
    assert split_pair("Q", " y") == ("Q", " y")


@pytest.mark.slow
def test_smollm2_loglikelihood_and_multiple_choice_equal_transformers(smol_lm):
    pairs = [("The capital of France is", " Paris"), ("The capital of France is", " Rome"),
             ("Question: What is 2+2?\nAnswer: ", "4"), ("The sky is", " blue and clear")]
    for (ctx, cont), r in zip(pairs, loglikelihood(smol_lm, pairs)):
        ll, n, greedy = reference(smol_lm, ctx, cont)
        assert r.num_tokens == n and r.is_greedy == greedy and abs(r.logprob - ll) < TOL
    (paris, rome, *_) = loglikelihood(smol_lm, pairs)
    assert paris.is_greedy is True and rome.is_greedy is False and paris.logprob > rome.logprob
    (r,) = multiple_choice(smol_lm, [("The capital of France is", ["Rome", "Paris", "Berlin"], 1)])
    assert (r.pred, r.acc) == (1, 1.0)
