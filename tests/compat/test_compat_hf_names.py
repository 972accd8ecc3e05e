"""0.18 names of local models: token helpers, `has_a_bos`, the star import's `torch`, and a
trimmer that survives `with_settings` (a tiny random GPT-2 with a byte-level tokenizer)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from lmwrapper.huggingface_wrapper import get_huggingface_lm
from lmwrapper.structs import LmPrompt, ModelInternalsRequest

TEXT = "one, two,\nthree"


@pytest.fixture(scope="module")
def lm(tiny_dir):
    return get_huggingface_lm(str(tiny_dir), device="cpu", cache_default=False)


@pytest.fixture(scope="module")
def raw_tokenizer(tiny_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_dir)


def test_token_helpers_read_the_tokenizer(lm, raw_tokenizer):
    assert (lm.space_char, lm.newline_char) == ("Ġ", "Ċ")  # GPT-2's byte-level forms
    raw = raw_tokenizer.tokenize(TEXT)
    assert any("Ġ" in t for t in raw) and any("Ċ" in t for t in raw)
    assert "".join(lm.remove_special_chars_from_tokens(raw)) == TEXT
    assert lm.remove_special_chars_from_tokens(lm.tokenize(TEXT)) == lm.tokenize(TEXT)
    assert lm.is_encoder_decoder is False


def test_tokenize_ids_match_the_tokenizer_and_tokenize(lm, raw_tokenizer):
    ids = lm.tokenize_ids(TEXT)
    assert ids == raw_tokenizer(TEXT, add_special_tokens=False)["input_ids"]
    assert [raw_tokenizer.decode([i]) for i in ids] == lm.tokenize(TEXT)
    assert raw_tokenizer.decode(ids) == TEXT


def test_internals_say_whether_the_tokens_start_with_bos(tiny_dir, tmp_path, raw_tokenizer):
    from lmwrapper.huggingface_wrapper.prediction import HuggingFacePrediction  # 0.18 names
    from lmwrapper.internals import ModelInternalsResults

    lm = get_huggingface_lm(str(tiny_dir), device="cpu", cache_dir=str(tmp_path))
    want = ModelInternalsRequest(return_hidden_states=True, hidden_layer_indexes=(-1,))

    def internals(add_bos: bool):
        return lm.predict(LmPrompt(TEXT, max_tokens=2, temperature=0, add_bos_token=add_bos,
                                   model_internals_request=want)).internals

    with_bos, without = internals(True), internals(False)
    assert isinstance(with_bos, ModelInternalsResults)
    assert with_bos.has_a_bos is True and with_bos.token_ids[0] == raw_tokenizer.bos_token_id
    assert without.has_a_bos is False and without.token_ids[0] != raw_tokenizer.bos_token_id
    again = lm.predict(LmPrompt(TEXT, max_tokens=2, temperature=0, add_bos_token=True,
                                model_internals_request=want))
    assert again.was_cached and again.internals.has_a_bos is True  # kept in the cache
    assert isinstance(again, HuggingFacePrediction)


def test_with_settings_keeps_the_prompt_trimmer(tiny_dir):
    from lmwrapper.prompt_trimming import CharPromptTrimmer

    long = "The capital of France is Paris. The capital of Germany is"
    lm = get_huggingface_lm(str(tiny_dir), prompt_trimmer=CharPromptTrimmer(20), device="cpu",
                            cache_default=False)
    smaller = lm.with_settings(batch_size=2)
    assert smaller.batch_size == 2 and smaller.prompt_trimmer is lm.prompt_trimmer
    assert smaller.predict(LmPrompt(long, max_tokens=2, temperature=0)).prompt.text == long[-20:]


def test_star_import_gives_torch_but_a_plain_import_stays_light(tiny_dir):
    import torch

    ns: dict = {}
    exec("from lmwrapper.huggingface_wrapper import *", ns)  # noqa: S102  (as 0.18 notebooks do)
    assert ns["torch"] is torch and ns["AutoTokenizer"].__name__ == "AutoTokenizer"
    lm = ns["get_huggingface_lm"](str(tiny_dir), precision=ns["torch"].float32, device="cpu",
                                  cache_default=False)
    assert lm.model_identity()["dtype"] == "float32"
    light = ("import sys, lmwrapper.huggingface_wrapper as hf; "
             "assert 'torch' not in sys.modules and 'transformers' not in sys.modules; "
             "assert hf.torch.__name__ == 'torch'")
    out = subprocess.run([sys.executable, "-c", light], capture_output=True, text=True,
                         timeout=120, check=False)
    assert out.returncode == 0, out.stderr
