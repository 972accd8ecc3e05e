"""Continuous batching: a row that finishes is replaced by a waiting one, whose KV cache is
spliced into the running batch's; every row's tokens and logprobs stay what it gets alone.

That the rows really were refilled is read from the real model's forward passes (a hook
records each input's shape): a prefill (more than one token per row) while other rows decode.
"""

from __future__ import annotations

import hf_reference as ref
import pytest

from lmwrapper.providers.huggingface.generation import Row, generate
from lmwrapper.structs import LmPrompt

TEXTS = ["The capital of France is", "hi", "Once upon a time there was a small model that",
         "def add(a, b):", "Numbers: 0 1 2 3 4 5 6 7 8 9 10 11 12.", "Café", "one, two,",
         "system: be brief\nuser: hello\nassistant: hi there. The capital of Germany is",
         "The capital of Germany is Berlin."]
MAX_TOKENS = [3, 9, 2, 12, 5, 1, 7, 4, 10]


class Shapes:
    """The `input_ids` shape of each forward pass of `model`, in order."""

    def __init__(self, model) -> None:
        self.seen: list[tuple[int, int]] = []
        self._handle = model.register_forward_hook(self._hook, with_kwargs=True)

    def _hook(self, module, args, kwargs, out) -> None:
        self.seen.append(tuple(kwargs["input_ids"].shape))

    def remove(self) -> None:
        self._handle.remove()


def _rows(lm) -> list[Row]:
    return [Row(prompt_ids=lm.tokenizer(t)["input_ids"], max_new_tokens=m, top_logprobs=2)
            for t, m in zip(TEXTS, MAX_TOKENS)]


def test_refilled_rows_equal_plain_generate_and_logprobs(tiny_lm):
    rows = _rows(tiny_lm)
    done: list[int] = []
    shapes = Shapes(tiny_lm.model)
    try:
        results = generate(tiny_lm.model, rows, tiny_lm.pad_id, tiny_lm.eos_ids,
                           on_done=lambda i, res: done.append(i), width=3)
    finally:
        shapes.remove()
    for row, res in zip(rows, results):
        expected = ref.greedy(tiny_lm, row.prompt_ids, row.max_new_tokens)
        assert res.token_ids == expected
        plain = ref.token_logprobs(tiny_lm, row.prompt_ids + expected)[len(row.prompt_ids) - 1:]
        assert res.logprobs == pytest.approx(plain, abs=1e-4)
        assert res.finish_reason == ("length" if len(expected) == row.max_new_tokens else "stop")
    assert sorted(done) == list(range(len(rows)))  # each handed over once
    prefills = [i for i, (_, n) in enumerate(shapes.seen) if n > 1]
    assert all(b <= 3 for b, _ in shapes.seen)  # never more than `width` rows at once
    assert len(prefills) > 1 and shapes.seen[0][0] == 3  # a full batch, then refills
    # a refill while rows still decode: the next decode step has old and new rows together
    joined = [i for i in prefills[1:] if i + 1 < len(shapes.seen)
              and shapes.seen[i + 1][0] > shapes.seen[i][0]]
    assert joined, shapes.seen


def test_refill_keeps_each_rows_own_settings(tiny_lm):
    """A seeded sampled row with a penalty, and an echo row, refilled into a running batch,
    give what they give alone."""
    base = _rows(tiny_lm)
    sampled = Row(prompt_ids=base[2].prompt_ids, max_new_tokens=8, temperature=0.9, top_p=0.8,
                  frequency_penalty=0.5, seed=7)
    echo = Row(prompt_ids=base[0].prompt_ids, max_new_tokens=3, echo=True, top_logprobs=2)
    rows = [base[1], base[5], base[6], sampled, echo, base[3]]
    together = generate(tiny_lm.model, rows, tiny_lm.pad_id, tiny_lm.eos_ids, width=2)
    for row, res in zip(rows, together):
        (alone,) = generate(tiny_lm.model, [row], tiny_lm.pad_id, tiny_lm.eos_ids)
        assert res.token_ids == alone.token_ids
        assert res.logprobs == pytest.approx(alone.logprobs, abs=1e-4)
        assert res.top_logprobs == [[(t, pytest.approx(v, abs=1e-4)) for t, v in step]
                                    for step in alone.top_logprobs]
    assert together[4].prompt_logprobs == pytest.approx(
        [None, *ref.token_logprobs(tiny_lm, echo.prompt_ids)], abs=1e-4)


def test_predict_many_refills_batches(tiny_lm):
    """Through the front door: batch_size 2 over nine prompts equals batch_size 1."""
    prompts = [LmPrompt(t, max_tokens=m, temperature=0, logprobs=1)
               for t, m in zip(TEXTS, MAX_TOKENS)]
    one = list(tiny_lm.with_settings(batch_size=1).predict_many(prompts))
    shapes = Shapes(tiny_lm.model)
    try:
        two = list(tiny_lm.with_settings(batch_size=2).predict_many(prompts))
    finally:
        shapes.remove()
    for a, b in zip(one, two):
        assert a.completion_tokens == b.completion_tokens
        assert a.completion_logprobs == pytest.approx(b.completion_logprobs, abs=1e-4)
    assert sum(n > 1 for _, n in shapes.seen) > 1 and max(b for b, _ in shapes.seen) == 2
