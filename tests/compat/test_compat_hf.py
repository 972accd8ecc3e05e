"""0.18 names on local models (a tiny random GPT-2 with a chat template, on the CPU)."""

from __future__ import annotations

import pickle

import pytest

from lmwrapper.compat import Lmwrapper018Warning
from lmwrapper.huggingface_wrapper import get_huggingface_lm
from lmwrapper.runtime import Runtime
from lmwrapper.structs import LmPrompt


@pytest.fixture(scope="module")
def lm(tiny_dir):
    return get_huggingface_lm(str(tiny_dir), device="cpu", cache_default=False)


def test_factory_takes_018_keywords(tiny_dir):
    import torch

    lm = get_huggingface_lm(str(tiny_dir), runtime=Runtime.PYTORCH, precision=torch.float16,
                            trust_remote_code=False, allow_patch_model_forward=True,
                            prompt_trimmer=None, device=torch.device("cpu"), use_chat_mode=None)
    assert lm.model_identity()["dtype"] == "float16"  # precision is honoured (and keyed)
    with pytest.warns(Lmwrapper018Warning, match="allow_patch_model_forward"):
        get_huggingface_lm(str(tiny_dir), device="cpu", allow_patch_model_forward=False)


def test_accelerate_runtime_spreads_the_model_with_device_map(tiny_dir):
    from lmwrapper.compat import hf_factory_args

    _, _, device_map = hf_factory_args(Runtime.ACCELERATE, None, True, None, dtype=None,
                                       device=None, device_map=None)
    assert device_map == "auto"
    ns: dict = {}
    exec("from lmwrapper.huggingface_wrapper import *", ns)  # noqa: S102  (as 0.18 scripts do)
    lm = ns["get_huggingface_lm"](str(tiny_dir), runtime=ns["Runtime"].ACCELERATE,
                                  cache_default=False)
    assert lm.predict(ns["LmPrompt"]("one, two,", max_tokens=2, temperature=0)).completion_tokens


@pytest.mark.parametrize("runtime", [Runtime.ORT_CPU, Runtime.ORT_CUDA, Runtime.BETTER_TRANSFORMER])
def test_unsupported_runtimes_are_refused_with_the_reason(tiny_dir, runtime):
    with pytest.raises(ValueError, match="not supported.*Runtime.PYTORCH"):
        get_huggingface_lm(str(tiny_dir), runtime=runtime)


def test_prompt_trimmer_is_refused_and_typos_still_fail(tiny_dir):
    with pytest.raises(ValueError, match="does not trim"):
        get_huggingface_lm(str(tiny_dir), prompt_trimmer=object())
    with pytest.raises(TypeError, match="unexpected keyword"):
        get_huggingface_lm(str(tiny_dir), precison="float16")


def test_predictor_018_properties(lm):
    from lmwrapper.abstract_predictor import LmReasoningStyle

    assert lm.is_chat_model  # the tokenizer has a chat template
    assert lm.supports_token_operations and lm.reasoning_style == LmReasoningStyle.NEVER_THINK
    assert lm.default_tokens_generated == 128 // 16  # 0.18's token_limit // 16
    text = "The capital of France is Paris."
    toks = lm.tokenize(text)
    assert "".join(toks) == text and len(toks) > 1
    assert lm.remove_special_chars_from_tokens(toks) == toks  # already text, no "Ġ"
    pred = lm.predict(LmPrompt(text, max_tokens=2, temperature=0, echo=True))
    assert pred.prompt_tokens == tuple(toks)  # the same token strings the model reports


def test_pickled_local_model_predicts_the_same(tiny_dir):
    fresh = get_huggingface_lm(str(tiny_dir), device="cpu", cache_default=False)
    assert fresh._model is None  # not loaded yet: pickling must carry the weights
    copy = pickle.loads(pickle.dumps(fresh))
    p = LmPrompt("Once upon a time", max_tokens=4, temperature=0)
    assert copy.predict(p).completion_tokens == fresh.predict(p).completion_tokens


def test_remove_prompt_from_cache_on_a_local_model(tiny_dir):
    lm = get_huggingface_lm(str(tiny_dir), device="cpu")
    p = LmPrompt("one, two,", max_tokens=2, temperature=0)
    lm.predict(p)
    assert lm.predict(p).was_cached
    assert lm.remove_prompt_from_cache(p)
    assert not lm.predict(p).was_cached
