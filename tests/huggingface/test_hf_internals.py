"""Hidden states, attentions, the logit lens, and internals in the cache."""

from __future__ import annotations

import io

import hf_reference as ref
import numpy as np
import pytest

from lmwrapper.huggingface_wrapper import ModelInternals, ModelInternalsRequest
from lmwrapper.structs import LmPrompt

TEXTS = ["The capital of France is", "Once upon a time there was a small model that learned",
         "def add(a, b):", "Numbers: 0 1 2 3 4 5 6 7"]
ALL = ModelInternalsRequest(return_hidden_states=True, return_attentions=True)


def internals_prompts(req=ALL, max_tokens=5):
    return [LmPrompt(t, max_tokens=max_tokens, temperature=0, model_internals_request=req)
            for t in TEXTS]


def test_hidden_states_equal_a_plain_forward(tiny_lm):
    pred = tiny_lm.predict(internals_prompts()[1])
    it = pred.internals
    assert isinstance(it, ModelInternals)
    prompt_ids = tiny_lm.tokenizer(TEXTS[1])["input_ids"]
    assert it.num_prompt_tokens == len(prompt_ids)
    assert list(it.token_ids[: len(prompt_ids)]) == prompt_ids
    assert it.tokens[len(prompt_ids):] == pred.completion_tokens
    assert it.layers == (0, 1, 2)
    plain = ref.hidden_states(tiny_lm, list(it.token_ids))
    for layer in it.layers:
        h = it.hidden_state(layer)
        assert h.shape == (len(it.tokens), 64) and h.dtype == np.float32
        np.testing.assert_allclose(h, plain[layer], atol=1e-5)
    assert len(it.attentions) == 2
    assert it.attentions[0].shape == (4, len(it.tokens), len(it.tokens))
    np.testing.assert_allclose(it.attentions[0].sum(-1), 1.0, atol=1e-5)
    assert np.allclose(np.triu(it.attentions[1], k=1), 0.0)  # causal


def test_batched_internals_equal_unbatched(tiny_lm):
    one = list(tiny_lm.with_settings(batch_size=1).predict_many(internals_prompts()))
    many = list(tiny_lm.with_settings(batch_size=4).predict_many(internals_prompts()))
    lengths = {len(p.internals.tokens) for p in many}
    assert len(lengths) > 1  # rows of different lengths were padded together
    for a, b in zip(one, many):
        assert a.internals.tokens == b.internals.tokens
        for x, y in zip(a.internals.hidden_states, b.internals.hidden_states):
            np.testing.assert_allclose(x, y, atol=1e-5)
        for x, y in zip(a.internals.attentions, b.internals.attentions):
            np.testing.assert_allclose(x, y, atol=1e-5)


def test_layer_selection_by_index_and_fraction(tiny_lm):
    req = ModelInternalsRequest(return_hidden_states=True, hidden_layer_indexes=(-1,),
                                hidden_layer_fractions=(0.5,))
    it = tiny_lm.predict(internals_prompts(req)[0]).internals
    assert it.layers == (1, 2)
    assert it.attentions is None
    with pytest.raises(ValueError, match="not requested"):
        it.hidden_state(0)


def test_internals_only_for_the_prompts_that_ask(tiny_lm):
    prompts = internals_prompts()
    prompts[2] = LmPrompt(TEXTS[2], max_tokens=5, temperature=0)
    preds = list(tiny_lm.predict_many(prompts))
    assert preds[2].internals is None and preds[0].internals is not None


def test_internals_are_cached_as_arrays_not_pickles(cached_tiny):
    p = internals_prompts()[3]
    first = cached_tiny.predict(p)
    blob = cached_tiny.internals_to_blob(first.internals)
    with np.load(io.BytesIO(blob), allow_pickle=False) as z:  # plain .npz, no pickled objects
        assert "hidden_0" in z.files
    again = cached_tiny.predict(p)
    assert again.was_cached
    assert again.internals.tokens == first.internals.tokens
    for x, y in zip(again.internals.hidden_states, first.internals.hidden_states):
        np.testing.assert_array_equal(x, y)
    for x, y in zip(again.internals.attentions, first.internals.attentions):
        np.testing.assert_array_equal(x, y)
    # a different internals request is a different cache entry
    other = cached_tiny.predict(LmPrompt(p.text, max_tokens=5, temperature=0,
                                         model_internals_request=ModelInternalsRequest(True)))
    assert not other.was_cached and other.internals.attentions is None


def test_logit_lens_last_layer_is_the_model_output(tiny_lm):
    it = tiny_lm.predict(internals_prompts()[0]).internals
    lens = tiny_lm.logit_lens(it, layer=2)
    np.testing.assert_allclose(lens, ref.full_logprobs(tiny_lm, list(it.token_ids)).numpy(), atol=1e-4)
    # a middle layer goes through the final norm, then the unembedding
    mid = tiny_lm.logit_lens(it, layer=1)
    import torch

    with torch.inference_mode():
        h = torch.tensor(it.hidden_state(1))
        manual = torch.log_softmax(tiny_lm.model.lm_head(tiny_lm.model.transformer.ln_f(h)), -1)
    np.testing.assert_allclose(mid, manual.numpy(), atol=1e-5)
