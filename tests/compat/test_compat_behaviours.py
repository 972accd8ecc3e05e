"""0.18 behaviours that live in other owners' code (engine, structs, HF prompts/generation).

Each is written as the 0.18 user sees it. Those not implemented on this branch are marked
`xfail(strict=True)` naming the owner: when the owner's change is merged, the test passes,
strict xfail turns that into a failure, and the integrator removes the marker.
"""

from __future__ import annotations

import pytest

from lmwrapper.huggingface_wrapper import get_huggingface_lm
from lmwrapper.openai_wrapper import get_open_ai_lm
from lmwrapper.structs import LmChatTurn, LmPrompt


@pytest.fixture(scope="module")
def local(tiny_dir):
    return get_huggingface_lm(str(tiny_dir), device="cpu", cache_default=False)


def _text(pred) -> str:
    return "".join(pred.prompt_tokens)


def test_bare_list_is_a_chat(openai_env):
    lm = get_open_ai_lm("gpt-4o-mini")
    pred = lm.predict(["What is 2+2?", "4", "What is 3+3?"])
    assert pred.completion_text == "6"
    sent = openai_env.requests[-1].body["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    # The same default as a bare string, and the same cache entry as the spelled-out prompt.
    spelled = LmPrompt(["What is 2+2?", "4", "What is 3+3?"], max_tokens=100)
    assert 100 in (openai_env.requests[-1].body.get(k) for k in ("max_tokens", "max_completion_tokens"))
    assert lm.predict(spelled).was_cached


def test_max_tokens_zero_with_echo_scores_the_prompt(local):
    pred = local.predict(LmPrompt("The capital of France is", max_tokens=0, echo=True,
                                  temperature=0))
    assert pred.completion_text == "" and not pred.completion_tokens
    assert _text(pred).endswith("The capital of France is")
    assert len(pred.prompt_logprobs) == len(pred.prompt_tokens)


def test_prefill_continues_the_assistant_turn(local):
    assert local.supports_prefilled_chat
    chat = [LmChatTurn("user", "Count: one,"), LmChatTurn("assistant", "two,")]
    pred = local.predict(LmPrompt(chat, max_tokens=2, temperature=0, echo=True))
    assert _text(pred).endswith("<|assistant|>two,")  # not "...two,\n<|assistant|>"


def test_plain_string_to_a_local_chat_model_is_018_with_use_chat_mode_true(tiny_dir):
    """Decided: a string stays text to continue or score by default (0.18 templated it on chat
    models, which breaks likelihood scoring and raw continuation); `use_chat_mode=True`, a
    one-turn chat, or `lmwrapper run` (string lines become one-turn chats) give 0.18's form."""
    default = get_huggingface_lm(str(tiny_dir), device="cpu", cache_default=False)
    as_018 = get_huggingface_lm(str(tiny_dir), device="cpu", cache_default=False,
                                use_chat_mode=True)
    prompt = LmPrompt("hello", max_tokens=1, temperature=0, echo=True)
    assert "<|user|>hello" in _text(as_018.predict(prompt))
    assert _text(default.predict(prompt)) == "hello"
    assert "<|user|>hello" in _text(default.predict(LmPrompt(["hello"], max_tokens=1, echo=True)))


def test_max_tokens_none_on_a_local_model_is_bounded(local):
    pred = local.predict(LmPrompt("Once upon a time", temperature=0))
    assert len(pred.completion_tokens) <= local.token_limit // 16


def test_top_token_logprobs_without_logprobs_says_why(openai_env):
    lm = get_open_ai_lm("gpt-4o-mini")
    pred = lm.predict(LmPrompt("What is 2+2?", max_tokens=3, temperature=0, logprobs=0))
    with pytest.raises(ValueError, match="logprobs"):
        _ = pred.top_token_logprobs


def test_top_token_logprobs_property_keeps_values_usable(tmp_path):
    """The raising property must not break repr, ==, the cache record or a cached rebuild."""
    from lmwrapper.structs import LmPrediction

    prompt = LmPrompt("q", max_tokens=1, logprobs=0)
    pred = LmPrediction("a", prompt, completion_tokens=("a",))
    assert "completion_text='a'" in repr(pred) and pred == LmPrediction("a", prompt,
                                                                        completion_tokens=("a",))
    again = LmPrediction.from_cache_record(pred.cache_record(), prompt)
    assert LmPrediction.from_dict(pred.to_dict()).completion_text == "a"
    with pytest.raises(ValueError, match="logprobs"):
        _ = again.top_token_logprobs
    tops = ({"a": -0.1},)
    asked = LmPrediction("a", LmPrompt("q", logprobs=1), top_token_logprobs=tops)
    assert asked.top_token_logprobs == tops
    assert LmPrediction.from_cache_record(asked.cache_record(), asked.prompt).top_token_logprobs == tops
    assert LmPrediction("a", prompt, error_message="x").top_token_logprobs is None
