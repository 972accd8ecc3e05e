"""LmPrompt → request body (every field mapped or refused) and response → LmPrediction."""

import dataclasses

import pytest

from lmwrapper.core.money import Price
from lmwrapper.openai_wrapper import OpenAiModelNames as N
from lmwrapper.providers.openai.request import build_request, check_prompt, parse_response
from lmwrapper.structs import LmChatTurn, LmPrompt, ModelInternalsRequest

# A non-default value for every LmPrompt field.
CHANGED = {
    "text": "other text", "max_tokens": 7, "stop": ["\n"], "logprobs": 3, "temperature": 0.5,
    "top_p": 0.5, "presence_penalty": 0.5, "frequency_penalty": 0.5, "num_completions": 3,
    "cache": False, "echo": True, "add_bos_token": True, "add_special_tokens": False,
    "model_internals_request": ModelInternalsRequest(return_hidden_states=True), "seed": 42,
    "response_format": "json_object", "metadata": {"row": 1}, "reasoning_effort": "high",
    "verbosity": "low", "thinking": "adaptive", "context_split": 3,
    "token_slice": (0, 2),
}
NOT_SENT = {"cache", "metadata", "num_completions"}  # engine-side: cache policy, n= per request


def test_every_field_is_covered_by_this_test():
    assert set(CHANGED) == {f.name for f in dataclasses.fields(LmPrompt)}


@pytest.mark.parametrize("model", [N.gpt_4o_mini, N.gpt_3_5_turbo_instruct, N.o3])
@pytest.mark.parametrize("field", sorted(CHANGED))
def test_every_field_changes_the_body_or_is_refused(model, field):
    base = LmPrompt("hello", temperature=1.0 if model.is_reasoning_model else 0.7,
                    logprobs=None if model.is_reasoning_model else 1)
    changed = dataclasses.replace(base, **{field: CHANGED[field]})
    check_prompt(base, model)
    try:
        check_prompt(changed, model)
    except ValueError as e:
        assert f"LmPrompt.{field}" in str(e) and str(model) in str(e)
        return
    if field in NOT_SENT or (field == "response_format" and model.kind == "instruct"):
        # /v1/completions has no JSON mode: the answer is parsed (lmwrapper.core.structured)
        assert build_request(changed, model).body == build_request(base, model).body
    else:
        assert build_request(changed, model).body != build_request(base, model).body


def test_chat_body():
    p = LmPrompt([LmChatTurn("system", "be a pirate"), "hi", "arr", "bye"], max_tokens=5,
                 stop=["x"], logprobs=4, temperature=0.2, top_p=0.9, presence_penalty=0.1,
                 frequency_penalty=-0.1, seed=3, response_format={"type": "object"})
    req = build_request(p, N.gpt_4o_mini, n=2)
    assert req.url == "/v1/chat/completions" and req.path == "/chat/completions"
    assert req.body == {
        "model": "gpt-4o-mini",
        "messages": [{"role": "system", "content": "be a pirate"}, {"role": "user", "content": "hi"},
                     {"role": "assistant", "content": "arr"}, {"role": "user", "content": "bye"}],
        "n": 2, "temperature": 0.2, "top_p": 0.9, "presence_penalty": 0.1,
        "frequency_penalty": -0.1, "max_tokens": 5, "stop": ["x"], "seed": 3,
        "logprobs": True, "top_logprobs": 4,
        # an open object is not strict mode's (openai_wrapper/strict.py): sent as given
        "response_format": {"type": "json_schema", "json_schema": {
            "name": "response", "schema": {"type": "object"}, "strict": False}},
    }


def test_logprobs_none_and_zero_send_the_same_body():  # they share a cache key
    a = build_request(LmPrompt("x", logprobs=None), N.gpt_4o_mini).body
    b = build_request(LmPrompt("x", logprobs=0), N.gpt_4o_mini).body
    assert a == b and "logprobs" not in a


def test_instruct_body_and_chat_prompt_as_text():
    req = build_request(LmPrompt("Once upon a", max_tokens=3, echo=True, logprobs=2),
                        N.gpt_3_5_turbo_instruct)
    assert req.url == "/v1/completions"
    assert req.body == {"model": "gpt-3.5-turbo-instruct", "prompt": "Once upon a",
                        "temperature": 1.0, "max_tokens": 3, "logprobs": 2, "echo": True}
    chat = LmPrompt(["2+2?", "4", "3+3?"])
    assert build_request(chat, N.gpt_3_5_turbo_instruct).body["prompt"] == \
        "user: 2+2?\nassistant: 4\nuser: 3+3?\nassistant:"


def test_reasoning_body_uses_max_completion_tokens_and_no_sampling():
    body = build_request(LmPrompt("think", max_tokens=100, logprobs=None), N.o3).body
    assert body == {"model": "o3", "messages": [{"role": "user", "content": "think"}],
                    "max_completion_tokens": 100}


@pytest.mark.parametrize("kw,field", [
    ({"temperature": 0}, "temperature"), ({"top_p": 0.5}, "top_p"),
    ({"logprobs": 5}, "logprobs"), ({"stop": ["x"]}, "stop"),
    ({"presence_penalty": 1.0}, "presence_penalty"), ({"echo": True}, "echo"),
])
def test_reasoning_refusals_name_field_and_fix(kw, field):
    with pytest.raises(ValueError, match=rf"LmPrompt\.{field} cannot be honoured by o3"):
        check_prompt(LmPrompt("x", **kw), N.o3)


def test_limits_of_each_endpoint():
    with pytest.raises(ValueError, match="at most 5"):
        check_prompt(LmPrompt("x", logprobs=6), N.gpt_3_5_turbo_instruct)
    check_prompt(LmPrompt("x", logprobs=20), N.gpt_4o_mini)
    with pytest.raises(ValueError, match="at most 4 stop"):
        check_prompt(LmPrompt("x", stop=list("abcde")), N.gpt_4o_mini)
    with pytest.raises(ValueError, match="echo.*instruct model"):
        check_prompt(LmPrompt("x", echo=True), N.gpt_4o)


def test_parse_chat_response_shapes_and_cost():
    body = {"id": "chatcmpl-1", "model": "gpt-4o-mini-2024-07-18", "choices": [
        {"index": 1, "message": {"content": "b"}, "finish_reason": "length", "logprobs": None},
        {"index": 0, "message": {"content": "Hi there"}, "finish_reason": "stop", "logprobs": {
            "content": [{"token": "Hi", "logprob": -0.5, "top_logprobs": [
                {"token": "Hi", "logprob": -0.5}, {"token": "Hello", "logprob": -1.5}]},
                {"token": " there", "logprob": -0.25, "top_logprobs": [
                    {"token": " there", "logprob": -0.25}, {"token": "!", "logprob": -2.0}]}]}}],
        "usage": {"prompt_tokens": 1000, "completion_tokens": 2000,
                  "prompt_tokens_details": {"cached_tokens": 400}}}
    price = Price(1.0, 2.0, cached_input_usd_per_mtok=0.5)
    a, b = parse_response(body, LmPrompt("x", logprobs=2), N.gpt_4o_mini, price)
    assert a.completion_text == "Hi there" and b.completion_text == "b"
    assert a.completion_tokens == ("Hi", " there")
    assert a.completion_logprobs == (-0.5, -0.25)
    assert a.top_token_logprobs == ({"Hi": -0.5, "Hello": -1.5}, {" there": -0.25, "!": -2.0})
    assert b.completion_tokens is None and b.finish_reason == "length"
    # 600 fresh input at $1/M + 400 cached at $0.5/M + 2000 output at $2/M, split over 2 choices
    assert a.cost_usd == pytest.approx((600 * 1 + 400 * 0.5 + 2000 * 2) / 1e6 / 2)
    assert a.usage.cached_prompt_tokens == 400 and a.model == "gpt-4o-mini-2024-07-18"
    assert a.request_id == "chatcmpl-1"


def test_parse_echoed_completion_splits_prompt_tokens():
    body = {"id": "cmpl-1", "choices": [{"index": 0, "text": "Once upon a time", "logprobs": {
        "tokens": ["Once", " upon", " a", " time"], "token_logprobs": [None, -1.0, -0.5, -0.1],
        "top_logprobs": [None, {" upon": -1.0}, {" a": -0.5}, {" time": -0.1, " hill": -3.0}],
        "text_offset": [0, 4, 9, 11]}, "finish_reason": "length"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1}}
    (p,) = parse_response(body, LmPrompt("Once upon a", echo=True, logprobs=2),
                          N.gpt_3_5_turbo_instruct, Price(None, None))
    assert p.completion_text == " time" and p.cost_usd is None
    assert p.prompt_tokens == ("Once", " upon", " a") and p.prompt_logprobs == (None, -1.0, -0.5)
    assert p.completion_tokens == (" time",) and p.completion_logprobs == (-0.1,)
    assert p.top_token_logprobs == ({" time": -0.1, " hill": -3.0},)
