import dataclasses
import json

import pytest

from lmwrapper.structs import (
    LmChatDialog,
    LmChatTurn,
    LmPrediction,
    LmPrompt,
    LmUsage,
    ModelInternalsRequest,
)


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"max_tokens": -1}, "max_tokens"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": 2.5}, "max_tokens"),
        ({"temperature": -0.1}, "temperature"),
        ({"temperature": 2.5}, "temperature"),
        ({"temperature": float("nan")}, "temperature"),
        ({"top_p": 0.0}, "top_p"),
        ({"top_p": 1.5}, "top_p"),
        ({"presence_penalty": 3}, "presence_penalty"),
        ({"frequency_penalty": -2.1}, "frequency_penalty"),
        ({"num_completions": 0}, "num_completions"),
        ({"logprobs": -1}, "logprobs"),
        ({"stop": [""]}, "stop"),
        ({"stop": [3]}, "stop"),
        ({"echo": "yes"}, "echo"),
        ({"seed": 1.5}, "seed"),
        ({"response_format": "yaml"}, "response_format"),
        ({"cache": "no"}, "cache"),
    ],
)
def test_invalid_values_name_the_field_and_range(kwargs, field):
    with pytest.raises(ValueError, match=rf"LmPrompt\.{field} must be"):
        LmPrompt("hi", **kwargs)


def test_chat_validation():
    with pytest.raises(ValueError, match="at least one turn"):
        LmPrompt([])
    with pytest.raises(ValueError, match="role must be one of"):
        LmChatTurn(role="robot", content="hi")
    with pytest.raises(ValueError, match="chat turn must be"):
        LmPrompt([42])
    with pytest.raises(ValueError, match="needs 'role' and 'content'; got the keys \\['role'\\]"):
        LmPrompt([{"role": "user"}])  # was a bare KeyError: 'content'
    with pytest.raises(ValueError, match="needs 'role' and 'content'"):
        LmPrompt([{"content": "hi"}])


def test_list_of_strings_alternates_user_assistant():
    p = LmPrompt(["What is 2+2?", "4", "What is 4+4?"], max_tokens=10)
    assert p.is_text_a_chat()
    assert [t.role for t in p.text] == ["user", "assistant", "user"]
    sys_first = LmChatDialog([LmChatTurn("system", "be brief"), "hi", "hello", "bye"])
    assert [t.role for t in sys_first] == ["system", "user", "assistant", "user"]
    assert LmChatDialog([("user", "a"), {"role": "assistant", "content": "b"}]).as_dicts() == [
        {"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]


def test_prompt_is_frozen_and_hashable_values_are_normalised():
    p = LmPrompt("hi", stop=["\n"], temperature=1)
    assert p.stop == ("\n",) and isinstance(p.temperature, float)
    assert LmPrompt("hi", stop="\n").stop == ("\n",)
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.max_tokens = 3  # type: ignore[misc]


def test_prediction_round_trips_through_json_exactly():
    prompt = LmPrompt(
        [LmChatTurn("system", "sys"), "q"], max_tokens=7, stop=["x"], logprobs=3,
        temperature=0.3, seed=4, response_format={"type": "json_object"}, num_completions=2,
        model_internals_request=ModelInternalsRequest(return_hidden_states=True,
                                                      hidden_layer_indexes=[0, -1]),
        metadata={"row": 17},
    )
    pred = LmPrediction(
        completion_text="héllo", prompt=prompt, finish_reason="stop",
        completion_tokens=("h", "éllo"), completion_logprobs=(-0.1, -1e-12),
        top_token_logprobs=({"h": -0.1, "a": -2.5}, {"éllo": -1e-12}),
        prompt_tokens=("q",), prompt_logprobs=(None,), usage=LmUsage(3, 2, 0),
        cost_usd=1.25e-6, provider="openai", model="gpt-5.4-mini", request_id="req_1",
        sample_index=1,
    )
    back = LmPrediction.from_json(pred.to_json())
    assert back == pred
    assert back.prompt.metadata == {"row": 17}
    assert json.loads(back.to_json()) == json.loads(pred.to_json())
    err = LmPrediction(None, LmPrompt("x"), error_message="too long")
    assert err.has_errors and LmPrediction.from_json(err.to_json()) == err


@pytest.mark.parametrize("text, fix", [(None, "got NoneType"), (123, "got int"),
                                       (b"hi", "decode it first"),
                                       ({"role": "user", "content": "hi"}, "wrap the turn in a list")])
def test_a_text_that_is_neither_a_string_nor_a_chat_is_a_clear_type_error(text, fix):
    with pytest.raises(TypeError, match=f"LmPrompt.text must be a str.*{fix}"):
        LmPrompt(text)


@pytest.mark.parametrize("field,bad", [
    ("reasoning_effort", "bogus"), ("verbosity", "loud"), ("thinking", "sometimes"),
    ("context_split", -1), ("token_slice", (3, 3)), ("seed", 1.5), ("stop", [""]), ("top_p", 0.0),
])
def test_each_field_is_checked_when_every_other_is_at_its_default(field, bad):
    """Validation's shortcut for plain prompts must not skip a field (one added later too)."""
    with pytest.raises(ValueError, match=field):
        LmPrompt("hi", **{field: bad})
