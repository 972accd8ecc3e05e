"""Batched generation on the tiny GPT-2, checked against plain transformers calls."""

from __future__ import annotations

import hf_reference as ref
import pytest

from lmwrapper.structs import LmPrompt

TEXTS = [
    "The capital of France is",
    "Once upon a time there was a small model that learned",
    "def add(a, b):",
    "Numbers: 0 1 2",
    "Café",
    "system: be brief\nuser: hello\nassistant: hi there. The capital of Germany is Berlin, and",
]


def greedy_prompts(max_tokens: int = 10, logprobs: int = 3) -> list[LmPrompt]:
    return [LmPrompt(t, max_tokens=max_tokens, temperature=0, logprobs=logprobs) for t in TEXTS]


def test_greedy_batches_equal_plain_generate_and_logprobs(tiny_lm):
    preds = list(tiny_lm.predict_many(greedy_prompts()))
    assert tiny_lm.batch_size < len(TEXTS)  # several batches, each left-padded
    for pred, text in zip(preds, TEXTS):
        ids = tiny_lm.tokenizer(text)["input_ids"]
        expected = ref.greedy(tiny_lm, ids, 10)
        assert pred.completion_text == tiny_lm.decode(expected)
        assert len(pred.completion_tokens) == len(expected)
        assert pred.usage.prompt_tokens == len(ids)
        plain = ref.token_logprobs(tiny_lm, ids + expected)[len(ids) - 1:]
        assert pred.completion_logprobs == pytest.approx(plain, abs=1e-4)
        assert pred.finish_reason == ("length" if len(expected) == 10 else "stop")


def test_top_logprobs_are_the_models_top_k(tiny_lm):
    text = TEXTS[1]
    pred = tiny_lm.predict(LmPrompt(text, max_tokens=4, temperature=0, logprobs=5))
    ids = tiny_lm.tokenizer(text)["input_ids"]
    gen = ref.greedy(tiny_lm, ids, 4)
    full = ref.full_logprobs(tiny_lm, ids + gen)
    for step, top in enumerate(pred.top_token_logprobs):
        values, indices = full[len(ids) - 1 + step].topk(5)
        assert len(top) == 5
        assert list(top.values()) == pytest.approx(values.tolist(), abs=1e-4)
        assert list(top) == [tiny_lm.token_str(i) for i in indices.tolist()]
        # the chosen (greedy) token is the best alternative
        assert pred.completion_logprobs[step] == pytest.approx(values[0].item(), abs=1e-6)


def test_batch_size_one_equals_batched(tiny_lm):
    one = list(tiny_lm.with_settings(batch_size=1).predict_many(greedy_prompts(12)))
    many = list(tiny_lm.with_settings(batch_size=6).predict_many(greedy_prompts(12)))
    for a, b in zip(one, many):
        assert a.completion_text == b.completion_text
        assert a.completion_tokens == b.completion_tokens
        assert a.completion_logprobs == pytest.approx(b.completion_logprobs, abs=1e-4)


def test_echo_returns_prompt_tokens_and_logprobs(tiny_lm):
    text = TEXTS[5]
    pred = tiny_lm.predict(LmPrompt(text, max_tokens=2, temperature=0, echo=True))
    ids = tiny_lm.tokenizer(text)["input_ids"]
    assert pred.prompt_tokens == tuple(tiny_lm.token_str(i) for i in ids)
    assert "".join(pred.prompt_tokens) == text
    assert pred.prompt_logprobs[0] is None
    assert list(pred.prompt_logprobs[1:]) == pytest.approx(ref.token_logprobs(tiny_lm, ids), abs=1e-4)


def test_echo_in_a_mixed_batch(tiny_lm):
    prompts = [LmPrompt(t, max_tokens=3, temperature=0, echo=(i % 2 == 0)) for i, t in enumerate(TEXTS)]
    for p, pred in zip(prompts, tiny_lm.predict_many(prompts)):
        assert (pred.prompt_logprobs is not None) == p.echo
        if p.echo:
            ids = tiny_lm.tokenizer(p.text)["input_ids"]
            assert list(pred.prompt_logprobs[1:]) == pytest.approx(
                ref.token_logprobs(tiny_lm, ids), abs=1e-4)


def test_stop_string_spanning_a_token_boundary(tiny_lm):
    text = TEXTS[0]
    free = tiny_lm.predict(LmPrompt(text, max_tokens=12, temperature=0))
    toks = free.completion_tokens
    # a stop string made of the end of token 2 and the start of token 3
    i = next(k for k in range(2, len(toks) - 1) if toks[k] and toks[k + 1])
    stop = toks[i][-1] + toks[i + 1][0]
    cut = free.completion_text.find(stop)
    pred = tiny_lm.predict(LmPrompt(text, max_tokens=12, temperature=0, stop=[stop, "zzzz"]))
    assert pred.completion_text == free.completion_text[:cut]
    assert stop not in pred.completion_text
    assert pred.finish_reason == "stop"
    assert "".join(pred.completion_tokens).startswith(pred.completion_text)
    assert len(pred.completion_logprobs) == len(pred.completion_tokens)


def test_max_tokens_and_finish_reason(tiny_lm):
    for n in (1, 5):
        pred = tiny_lm.predict(LmPrompt(TEXTS[3], max_tokens=n, temperature=0))
        assert len(pred.completion_tokens) <= n
        assert pred.usage.completion_tokens <= n
        if len(pred.completion_tokens) == n:
            assert pred.finish_reason == "length"


def test_seed_gives_same_samples_alone_and_in_a_batch(tiny_lm):
    seeded = LmPrompt(TEXTS[1], max_tokens=8, temperature=1.0, seed=7, num_completions=3)
    alone = tiny_lm.with_settings(batch_size=1).predict(seeded)
    others = [LmPrompt(t, max_tokens=8, temperature=0.8, top_p=0.9) for t in TEXTS]
    batched = list(tiny_lm.with_settings(batch_size=8).predict_many([*others[:3], seeded, *others[3:]]))[3]
    assert [p.completion_text for p in alone] == [p.completion_text for p in batched]
    # the three samples are different draws (a random tiny model has a high-entropy output)
    assert len({p.completion_text for p in alone}) == 3
    other_seed = tiny_lm.predict(LmPrompt(TEXTS[1], max_tokens=8, temperature=1.0, seed=8))
    assert other_seed.completion_text != alone[0].completion_text


def test_samples_reuse_the_cache(cached_tiny):
    p3 = LmPrompt(TEXTS[2], max_tokens=6, temperature=1.0, seed=1, num_completions=3)
    first = cached_tiny.predict(p3)
    more = cached_tiny.predict(LmPrompt(TEXTS[2], max_tokens=6, temperature=1.0, seed=1, num_completions=5))
    assert [p.completion_text for p in more[:3]] == [p.completion_text for p in first]
    assert [p.was_cached for p in more] == [True] * 3 + [False] * 2


def test_greedy_num_completions_is_one_generation(cached_tiny):
    preds = cached_tiny.predict(LmPrompt(TEXTS[0], max_tokens=4, temperature=0, num_completions=3))
    assert len(preds) == 3 and len({p.completion_text for p in preds}) == 1
    again = cached_tiny.predict(LmPrompt(TEXTS[0], max_tokens=4, temperature=0, num_completions=5))
    assert all(p.was_cached for p in again) and again[4].completion_text == preds[0].completion_text


def test_top_p_tiny_is_greedy(tiny_lm):
    greedy = tiny_lm.predict(LmPrompt(TEXTS[4], max_tokens=6, temperature=0))
    nucleus = tiny_lm.predict(LmPrompt(TEXTS[4], max_tokens=6, temperature=1.0, top_p=1e-6, seed=3))
    assert nucleus.completion_text == greedy.completion_text


def test_frequency_penalty_changes_greedy_choices(tiny_lm):
    plain = tiny_lm.predict(LmPrompt(TEXTS[3], max_tokens=20, temperature=0))
    penalised = tiny_lm.predict(LmPrompt(TEXTS[3], max_tokens=20, temperature=0, frequency_penalty=2.0))
    counts = lambda toks: max(toks.count(t) for t in toks)
    assert counts(penalised.completion_tokens) <= counts(plain.completion_tokens)
    assert penalised.completion_text != plain.completion_text or counts(plain.completion_tokens) == 1


def test_results_come_back_in_input_order_despite_length_sorting(tiny_lm):
    prompts = greedy_prompts(3)[::-1]
    preds = list(tiny_lm.predict_many(prompts))
    assert [p.prompt.text for p in preds] == [p.text for p in prompts]


def test_rows_leaving_a_batch_early_do_not_disturb_the_others(tiny_lm):
    """Different max_tokens in one batch: finished rows are dropped from the KV cache;
    rows with the same prompt share one prefill."""
    prompts = [LmPrompt(t, max_tokens=n, temperature=0, logprobs=1)
               for t, n in zip(TEXTS, (1, 3, 12, 5, 12, 2))]
    # the same text again, with echo: it shares the prefill of TEXTS[2]
    prompts.append(LmPrompt(TEXTS[2], max_tokens=4, temperature=0, echo=True))
    preds = list(tiny_lm.with_settings(batch_size=7).predict_many(prompts))
    ids = tiny_lm.tokenizer(TEXTS[2])["input_ids"]
    assert list(preds[-1].prompt_logprobs[1:]) == pytest.approx(
        ref.token_logprobs(tiny_lm, ids), abs=1e-4)
    for p, pred in zip(prompts, preds):
        ids = tiny_lm.tokenizer(p.text)["input_ids"]
        expected = ref.greedy(tiny_lm, ids, p.max_tokens)
        assert pred.completion_text == tiny_lm.decode(expected)
        plain = ref.token_logprobs(tiny_lm, ids + expected)[len(ids) - 1:]
        assert pred.completion_logprobs == pytest.approx(plain, abs=1e-4)


def test_top_p_samples_stay_in_the_nucleus(tiny_lm):
    """Every sampled first token is among the most likely tokens whose mass reaches top_p."""
    import torch

    text = TEXTS[1]
    ids = tiny_lm.tokenizer(text)["input_ids"]
    probs = ref.full_logprobs(tiny_lm, ids)[-1].exp()
    sorted_p, order = probs.sort(descending=True)
    size = int((sorted_p.cumsum(0) < 0.3).sum()) + 1
    nucleus = {tiny_lm.token_str(i): i for i in order[:size].tolist()}
    preds = tiny_lm.predict(LmPrompt(text, max_tokens=1, temperature=1.0, top_p=0.3, seed=0,
                                     num_completions=40))
    drawn = {p.completion_tokens[0] for p in preds}
    assert drawn <= set(nucleus)  # 99 of 400 tokens here; without top_p, 40 draws would stray
    assert len(drawn) > 1
    # the reported logprob is the model's own, untouched by top_p
    for p in preds:
        tid = nucleus[p.completion_tokens[0]]
        assert p.completion_logprobs[0] == pytest.approx(torch.log(probs[tid]).item(), abs=1e-4)
