"""`device_map` reaches accelerate: the tiny model split over "cpu" and "disk" answers as on one device.

This is how a model larger than one GPU is loaded (`device_map="auto"` over several GPUs,
then CPU, then disk); here the split is forced on CPU so that no GPU is needed.
"""

import math

import pytest

from lmwrapper.huggingface_wrapper import get_huggingface_lm
from lmwrapper.structs import LmPrompt

PROMPTS = [LmPrompt(t, max_tokens=6, temperature=0) for t in (
    "The capital of France is", "def add(a, b):", "Numbers: 0 1 2", "Once upon a time")]

SPLIT = {"transformer.wte": "cpu", "transformer.wpe": "cpu", "transformer.h.0": "cpu",
         "transformer.h.1": "disk", "transformer.ln_f": "cpu", "lm_head": "cpu"}


def _answers(lm):
    return [(p.completion_text, p.completion_logprobs) for p in lm.predict_many(PROMPTS)]


def _assert_same(got, expected):
    for (text, logprobs), (ref_text, ref_logprobs) in zip(got, expected, strict=True):
        assert text == ref_text
        assert all(math.isclose(a, b, abs_tol=1e-4) for a, b in zip(logprobs, ref_logprobs,
                                                                    strict=True))


@pytest.fixture(scope="module")
def reference(tiny_lm):
    return _answers(tiny_lm)


def test_device_map_auto_loads_through_accelerate_and_answers_the_same(tiny_dir, reference):
    lm = get_huggingface_lm(str(tiny_dir), device_map="auto", batch_size=4, cache_default=False)
    _assert_same(_answers(lm), reference)
    assert lm.model_identity() == get_huggingface_lm(
        str(tiny_dir), device="cpu", cache_default=False).model_identity()  # same cache key


def test_a_layer_offloaded_to_disk_is_loaded_on_demand_and_answers_the_same(tiny_dir, reference):
    lm = get_huggingface_lm(str(tiny_dir), device_map=SPLIT, batch_size=4, cache_default=False)
    model = lm.model
    assert model.hf_device_map["transformer.h.1"] == "disk"
    # accelerate leaves offloaded weights on the meta device and streams them in per forward
    assert {p.device.type for p in model.transformer.h[1].parameters()} == {"meta"}
    assert {p.device.type for p in model.transformer.h[0].parameters()} == {"cpu"}
    _assert_same(_answers(lm), reference)
