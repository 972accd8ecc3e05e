"""0.18 names on local models (a tiny random GPT-2 with a chat template, on the CPU)."""

from __future__ import annotations

import pickle

import pytest

from lmwrapper import Lmwrapper018Warning
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
    from lmwrapper.compat018.hooks import hf_factory_args

    _, _, device_map = hf_factory_args(Runtime.ACCELERATE, None, True, dtype=None,
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


def test_typos_still_fail(tiny_dir):
    with pytest.raises(TypeError, match="unexpected keyword"):
        get_huggingface_lm(str(tiny_dir), precison="float16")
    with pytest.raises(TypeError, match="trim_text"):
        get_huggingface_lm(str(tiny_dir), prompt_trimmer=object())


def test_prompt_trimmer_trims_string_prompts_before_they_are_keyed(tiny_dir, tmp_path):
    from lmwrapper.prompt_trimming import CharPromptTrimmer

    long = "The capital of France is Paris. The capital of Germany is"
    lm = get_huggingface_lm(str(tiny_dir), prompt_trimmer=CharPromptTrimmer(20), device="cpu",
                            cache_dir=str(tmp_path))
    pred = lm.predict(LmPrompt(long, max_tokens=3, temperature=0))
    assert pred.prompt.text == long[-20:]  # the prompt as sent
    plain = get_huggingface_lm(str(tiny_dir), device="cpu", cache_default=False)
    assert pred.completion_tokens == plain.predict(
        LmPrompt(long[-20:], max_tokens=3, temperature=0)).completion_tokens
    again = list(lm.predict_many([LmPrompt(long, max_tokens=3, temperature=0)]))
    assert again[0].was_cached  # a rerun trims the same way: served from the cache
    chat = LmPrompt([long], max_tokens=1, temperature=0)
    assert lm.predict(chat).prompt == chat  # a chat is sent whole
    copy = pickle.loads(pickle.dumps(lm))  # to a worker process, trimmer included
    assert copy.predict(LmPrompt(long, max_tokens=3, temperature=0)).prompt.text == long[-20:]


def test_018_trimmers(tiny_dir):
    from transformers import AutoTokenizer

    from lmwrapper.prompt_trimming import (
        CharPromptTrimmer,
        GenericTokenTrimmer,
        HfTokenTrimmer,
        HfTrimmingTokenizer,
    )

    assert CharPromptTrimmer(5).trim_text("abcdefgh") == "defgh"
    assert CharPromptTrimmer(7).trim_text_line_level("ab\ncd\nef") == "cd\nef"
    tok = AutoTokenizer.from_pretrained(str(tiny_dir))
    text = "Once upon a time there was a small model that learned to count"
    n = len(tok(text, add_special_tokens=False).input_ids)
    assert n > 6
    last = HfTokenTrimmer(6, tok).trim_text(text)  # 0.18: keeps the end by default
    first = GenericTokenTrimmer(6, HfTrimmingTokenizer(tok)).trim_text(text)  # the start
    assert text.endswith(last) and text.startswith(first) and last != first
    assert len(tok(last, add_special_tokens=False).input_ids) <= 6
    assert HfTokenTrimmer(n, tok).trim_text(text) == text  # fits: unchanged


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
