"""Tokenization, chat templates, token limits, refused fields and load errors."""

from __future__ import annotations

import subprocess
import sys
import time

import hf_reference as ref
import pytest

from lmwrapper import ConfigurationError
from lmwrapper.structs import LmChatTurn, LmPrompt, ModelInternalsRequest

CHAT = [LmChatTurn("system", "be brief"), LmChatTurn("user", "hello")]


def test_chat_prompt_uses_the_template_once_with_one_bos(tiny_lm):
    tok = tiny_lm.tokenizer
    expected = tok.apply_chat_template([t.as_dict() for t in CHAT], tokenize=True,
                                       add_generation_prompt=True, return_dict=False)
    got = tiny_lm.encoder.encode(LmPrompt(CHAT))
    assert got == list(expected)
    assert got[0] == tok.bos_token_id and got[1] != tok.bos_token_id
    assert "<|system|>be brief" in tiny_lm.decode(got)
    pred = tiny_lm.predict(LmPrompt(CHAT, max_tokens=3, temperature=0, echo=True))
    assert pred.prompt_tokens == tuple(tiny_lm.token_str(i) for i in got)
    assert pred.completion_text == tiny_lm.decode(ref.greedy(tiny_lm, got, 3))


def test_string_prompts_are_tokenized_as_given(tiny_lm):
    assert tiny_lm.encoder.encode(LmPrompt("hello")) == tiny_lm.tokenizer("hello")["input_ids"]


def test_use_chat_mode_overrides(tiny_lm):
    from lmwrapper.providers.huggingface.prompts import PromptEncoder

    off = PromptEncoder(tiny_lm.tokenizer, use_chat_mode=False)
    text = LmPrompt(CHAT).get_text_as_string_default_form()
    assert off.encode(LmPrompt(CHAT)) == tiny_lm.tokenizer(text)["input_ids"]
    on = PromptEncoder(tiny_lm.tokenizer, use_chat_mode=True)
    assert on.encode(LmPrompt("hello")) == on.encode(LmPrompt(["hello"]))


def test_chat_mode_is_part_of_the_identity(tiny_dir):
    from lmwrapper.huggingface_wrapper import get_huggingface_lm

    a = get_huggingface_lm(str(tiny_dir), use_chat_mode=False)
    b = get_huggingface_lm(str(tiny_dir))
    assert a.model_identity()["chat_mode"] is False and b.model_identity()["chat_mode"] is True
    assert a.identity_json() != b.identity_json()
    assert b.model_identity()["dtype"] == "float32"


def test_chat_mode_none_and_true_never_share_a_cached_string_answer(tiny_dir, tmp_path):
    """Both template chats on this model, but only True templates a string: the string's
    answer cached by one must not be served to the other (it was, via equal identities)."""
    from lmwrapper.huggingface_wrapper import get_huggingface_lm

    auto, forced = (get_huggingface_lm(str(tiny_dir), device="cpu", use_chat_mode=mode,
                                       cache_dir=str(tmp_path)) for mode in (None, True))
    prompt = LmPrompt("hello", max_tokens=2, temperature=0, echo=True)
    first = auto.predict(prompt)
    second = forced.predict(prompt)
    assert not second.was_cached
    assert "<|user|>hello" in "".join(second.prompt_tokens)
    assert "<|user|>" not in "".join(first.prompt_tokens)
    assert forced.with_settings(batch_size=2).identity_json() == forced.identity_json()


def test_a_chat_ending_in_an_assistant_turn_is_continued(tiny_lm):
    """Prefill: no generation prompt after the last assistant turn, and no end-of-turn."""
    assert tiny_lm.supports_prefilled_chat
    chat = [LmChatTurn("user", "Count: one,"), LmChatTurn("assistant", "two,")]
    ids = tiny_lm.encoder.encode(LmPrompt(chat))
    assert tiny_lm.tokenizer.decode(ids).endswith("<|user|>Count: one,\n<|assistant|>two,")
    asked = tiny_lm.encoder.encode(LmPrompt(chat[:1]))
    assert tiny_lm.tokenizer.decode(asked).endswith("<|assistant|>")


def test_add_bos_token(tiny_lm):
    bos = tiny_lm.tokenizer.bos_token_id
    assert tiny_lm.encoder.encode(LmPrompt("hi", add_bos_token=True))[0] == bos
    plain = tiny_lm.encoder.encode(LmPrompt("hi"))
    assert tiny_lm.encoder.encode(LmPrompt("hi", add_bos_token=False)) == plain
    assert tiny_lm.encoder.encode(LmPrompt(CHAT, add_bos_token=False))[0] != bos


def test_remembered_token_ids_are_each_prompts_own(tiny_lm):
    """Token ids are kept per text and options (a run asks several times), and each caller
    gets its own list."""
    enc = tiny_lm.encoder
    text = "The capital of France is Paris"
    first = enc.encode(LmPrompt(text))
    first.append(-1)
    assert enc.encode(LmPrompt(text)) == first[:-1]
    assert enc.encode(LmPrompt(text, add_bos_token=True)) == [tiny_lm.tokenizer.bos_token_id,
                                                               *first[:-1]]
    ctx = tiny_lm.tokenizer("The capital of France")["input_ids"]  # a pair, the harness's split
    split = enc.encode(LmPrompt(text, context_split=len("The capital of France")))
    assert split == ctx + tiny_lm.tokenizer(text)["input_ids"][len(ctx):]


def test_token_counting_and_limits(tiny_lm):
    p = LmPrompt("The capital of France is", max_tokens=5)
    n = len(tiny_lm.tokenizer(p.text)["input_ids"])
    assert tiny_lm.estimate_tokens_in_prompt(p) == n
    assert tiny_lm.token_limit == 128
    assert not tiny_lm.could_completion_go_over_token_limit(p)
    assert tiny_lm.could_completion_go_over_token_limit(LmPrompt(p.text, max_tokens=200))
    assert tiny_lm.default_max_tokens(p) == 128 // 16  # see test_max_tokens_none_is_bounded


def test_max_tokens_none_is_bounded(endless_dir):
    """max_tokens=None is min(token_limit // 16, 512), never "the rest of the context" (which
    ran for minutes); a prompt that leaves less room gets what is left."""
    from lmwrapper.huggingface_wrapper import get_huggingface_lm

    lm = get_huggingface_lm(str(endless_dir), device="cpu", cache_default=False)
    assert lm.token_limit == 4096  # a model that never ends a row by itself
    pred = lm.predict(LmPrompt("Once upon a time", temperature=0))
    assert len(pred.completion_tokens) == 4096 // 16 and pred.finish_reason == "length"
    near_end = LmPrompt("one two three " * 990, temperature=0)
    n = lm.estimate_tokens_in_prompt(near_end)
    assert 4096 - 256 < n < 4096
    assert lm.default_max_tokens(near_end) == 4096 - n
    assert not lm.could_completion_go_over_token_limit(near_end)
    assert len(lm.predict(near_end).completion_tokens) == 4096 - n


def test_too_long_prompt_is_a_cached_error_with_the_numbers(cached_tiny):
    long = LmPrompt("one two three " * 60, max_tokens=10, temperature=0)
    ok = LmPrompt("hi", max_tokens=2, temperature=0)
    bad, good = cached_tiny.predict_many([long, ok])
    n = cached_tiny.estimate_tokens_in_prompt(long)
    assert n + 10 > 128
    assert bad.has_errors and f"{n} prompt tokens" in bad.error_message and "128" in bad.error_message
    assert not good.has_errors
    again = cached_tiny.predict(long)
    assert again.was_cached and again.has_errors


@pytest.mark.parametrize("kwargs, field", [
    ({"model_internals_request": ModelInternalsRequest(True, hidden_layer_indexes=(7,))},
     "hidden_layer_indexes"),
])
def test_unsupported_fields_raise_before_any_work(tiny_lm, kwargs, field):
    with pytest.raises(ValueError, match=field):
        list(tiny_lm.predict_many([LmPrompt("ok"), LmPrompt("hi", **kwargs)]))


def test_a_turn_name_the_template_cannot_show_is_refused(tiny_lm):
    named = LmPrompt([LmChatTurn("user", "hello", name="ada")])
    with pytest.raises(ValueError, match="LmChatTurn.name"):
        tiny_lm.predict(named)


def test_bad_settings_raise(tiny_dir):
    from lmwrapper.huggingface_wrapper import get_huggingface_lm

    for kwargs, word in [({"dtype": "int3"}, "dtype"), ({"batch_size": 0}, "batch_size")]:
        with pytest.raises(ValueError, match=word):
            get_huggingface_lm(str(tiny_dir), **kwargs)
    with pytest.raises(ValueError, match="does not exist"):
        get_huggingface_lm(str(tiny_dir / "missing"))


def test_hub_name_offline_fails_fast_and_says_what_to_do():
    from lmwrapper.huggingface_wrapper import get_huggingface_lm

    start = time.perf_counter()
    with pytest.raises(ConfigurationError, match="local folder"):
        get_huggingface_lm("someone/not-downloaded-model")
    assert time.perf_counter() - start < 60  # no hub retries (they take minutes)


def test_weights_differ_means_keys_differ(tiny_dir, tmp_path):
    """Two folders with the same layout but different weights never share cache rows."""
    import torch
    from transformers import GPT2LMHeadModel

    from lmwrapper.huggingface_wrapper import get_huggingface_lm

    torch.manual_seed(1)
    other = GPT2LMHeadModel(GPT2LMHeadModel.from_pretrained(tiny_dir).config)
    other.save_pretrained(tmp_path)
    for f in tiny_dir.iterdir():
        if "token" in f.name or f.suffix == ".jinja":
            (tmp_path / f.name).write_bytes(f.read_bytes())
    a = get_huggingface_lm(str(tiny_dir)).model_identity()["fingerprint"]
    b = get_huggingface_lm(str(tmp_path)).model_identity()["fingerprint"]
    assert a != b


def test_import_lmwrapper_and_the_backend_module_stay_light():
    code = ("import sys, lmwrapper, lmwrapper.huggingface_wrapper; "
            "print(sorted(m for m in ('torch', 'transformers', 'numpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
