"""Reasoning controls on OpenAI: `reasoning_effort` and `verbosity` sent where the model's row
takes them and refused before sending where not; the fake refuses exactly what the rules
refuse; reasoning tokens reported, billed and cached."""

import dataclasses
import typing

import openai
import pytest

from lmwrapper import LmPrompt
from lmwrapper.core.prompt import REASONING_EFFORTS, VERBOSITIES
from lmwrapper.openai_wrapper import OpenAiModelInfo
from lmwrapper.providers.openai.models import table
from lmwrapper.providers.openai.request import build_request, check_prompt
from lmwrapper.providers.openai.rules import rule_for
from lmwrapper.testing.providers.openai import MODELS, sdk_literal
from lmwrapper.testing.text import EFFORT_TOKENS
from tests.openai.conftest import API_KEY

M = OpenAiModelInfo.infer
GPT6 = ["gpt-6.2-sol", "gpt-6.2-astra", "gpt-6-astra", "gpt-6-sol", "gpt-6-luna", "gpt-6.1-sol"]


def refusal(prompt: LmPrompt, model: str) -> str:
    with pytest.raises(ValueError) as e:
        check_prompt(prompt, M(model))
    return str(e.value)


# -- the data: what models.toml says stays inside what the SDK allows -------------------
def test_every_rows_efforts_and_verbosity_are_values_the_sdk_allows():
    from openai.types.shared.reasoning_effort import ReasoningEffort

    sdk_efforts = {a for arg in typing.get_args(ReasoningEffort) for a in typing.get_args(arg)}
    assert set(sdk_literal("reasoning_effort")) == sdk_efforts
    assert set(sdk_literal("verbosity")) == set(VERBOSITIES)
    for family, row in table().families.items():
        assert set(row.get("efforts", ())) <= sdk_efforts, family
        assert set(row.get("verbosity", ())) <= set(VERBOSITIES), family
        if row.get("kind") == "reasoning":
            assert "efforts" in row and (row.get("effort_source") or row.get("source")), family
    assert sdk_efforts <= set(REASONING_EFFORTS)


def test_gpt_6_takes_low_to_xhigh_and_refuses_none_and_minimal_naming_the_way_out():
    for model in GPT6:
        assert rule_for(model).efforts == ("low", "medium", "high", "xhigh"), model
    text = refusal(LmPrompt("q", reasoning_effort="none"), "gpt-6.2-sol")
    assert text.startswith("LmPrompt.reasoning_effort cannot be honoured by gpt-6.2-sol")
    assert "low, medium, high, xhigh" in text and "'none'" in text and "dev.to" in text
    assert "litellm-docs" in refusal(LmPrompt("q", reasoning_effort="minimal"), "gpt-6-astra")
    # max: on /v1/responses only, and no row lists it yet (refused there too)
    assert "not 'max'" in refusal(LmPrompt("q", reasoning_effort="max"), "gpt-6-astra")


def test_an_effort_the_model_takes_is_sent_and_changes_nothing_else():
    p = LmPrompt("q", max_tokens=50, logprobs=None, reasoning_effort="high", verbosity="low")
    check_prompt(p, M("gpt-6.2-sol"))
    body = build_request(p, M("gpt-6.2-sol")).body
    assert body == {"model": "gpt-6.2-sol", "messages": [{"role": "user", "content": "q"}],
                    "reasoning_effort": "high", "verbosity": "low", "max_completion_tokens": 50}
    assert "reasoning_effort" not in build_request(dataclasses.replace(
        p, reasoning_effort=None, verbosity=None), M("gpt-6.2-sol")).body


def test_effort_none_lets_sampling_fields_through_where_the_model_takes_none():
    p = LmPrompt("q", temperature=0, top_p=0.5, logprobs=3, reasoning_effort="none")
    check_prompt(p, M("gpt-5.2"))  # default effort unconfirmed: refused without "none"
    body = build_request(p, M("gpt-5.2")).body
    assert (body["reasoning_effort"], body["temperature"], body["top_logprobs"]) == ("none", 0, 3)
    assert "set reasoning_effort='none'" in refusal(dataclasses.replace(p, reasoning_effort=None),
                                                    "gpt-5.2")
    # a model without none: the effort is what is refused, so the sampling never gets sent
    assert "LmPrompt.reasoning_effort" in refusal(p, "gpt-6.2-sol")
    # and any other effort refuses sampling, even on a model whose default is none
    text = refusal(dataclasses.replace(p, reasoning_effort="low"), "gpt-5.1")
    assert "at reasoning_effort='low' this model reasons" in text


def test_models_that_do_not_reason_or_lack_verbosity_refuse_them():
    assert "is a chat model and does not reason" in refusal(
        LmPrompt("q", reasoning_effort="low"), "gpt-4o-mini")
    assert "takes no verbosity" in refusal(LmPrompt("q", verbosity="high"), "o3")
    assert "takes reasoning_effort none (no reasoning_effort at all)" in refusal(
        LmPrompt("q", reasoning_effort="low"), "o1-mini")
    assert "thinking is Claude's" in refusal(LmPrompt("q", thinking="adaptive"), "gpt-6.2-sol")


# -- the fake agrees with the rules, value by value -------------------------------------
@pytest.mark.parametrize("model", sorted({*MODELS, *GPT6, "gpt-5.1", "gpt-5.2", "gpt-5.6-sol"}))
def test_the_fake_refuses_exactly_what_the_rules_refuse(srv, model):
    """Every SDK value of reasoning_effort and verbosity, sent past lmwrapper's checks straight
    through the SDK: the fake answers 200 exactly where `check_prompt` lets the prompt through."""
    if "instruct" in model or model.endswith("-002") or srv.model_missing("openai", model):
        pytest.skip(f"{model}: not a chat model the fake serves (retired, or instruct)")
    client = openai.OpenAI(api_key=API_KEY, base_url=srv.base_url, max_retries=0)
    for name in ("reasoning_effort", "verbosity"):
        for value in sdk_literal(name):
            try:
                check_prompt(LmPrompt("q", logprobs=None, **{name: value}), M(model))
                ours = True
            except ValueError:
                ours = False
            try:
                client.chat.completions.create(model=model, messages=[
                    {"role": "user", "content": "q"}], **{name: value})
                theirs = True
            except openai.BadRequestError as e:
                assert e.body["param"] == name, e.body
                theirs = False
            assert ours == theirs, (model, name, value)


def test_the_fake_refuses_a_value_outside_the_sdks_literal(srv):
    client = openai.OpenAI(api_key=API_KEY, base_url=srv.base_url, max_retries=0)
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="gpt-6.2-sol", messages=[
            {"role": "user", "content": "q"}], extra_body={"reasoning_effort": "ultra"})
    assert e.value.body["code"] == "invalid_value"


# -- answers: reasoning tokens in usage, in the cost, in the cache ----------------------
def test_reasoning_tokens_are_reported_billed_and_cached(make_lm, srv):
    lm = make_lm("gpt-6.2-sol")
    p = LmPrompt("Is 91 prime?", max_tokens=500, logprobs=None, reasoning_effort="high")
    pred = lm.predict(p)
    u = pred.usage
    assert u.reasoning_tokens == EFFORT_TOKENS["high"]
    assert u.completion_tokens == u.reasoning_tokens + len(srv.tokenize(pred.completion_text))
    assert pred.cost_usd == pytest.approx((u.prompt_tokens * 2.0 + u.completion_tokens * 10.0) / 1e6)
    assert pred.reasoning is None  # Chat Completions returns no reasoning text
    again = lm.predict(p)
    assert again.was_cached and again.usage == u and again.cost_usd == pred.cost_usd
    assert srv.count("chat.completions") == 1


def test_reasoning_spends_max_completion_tokens_first(make_lm):
    pred = make_lm("gpt-6.2-sol").predict(LmPrompt("Is 91 prime?", max_tokens=20, logprobs=None,
                                                   reasoning_effort="high"))
    assert (pred.completion_text, pred.finish_reason) == ("", "length")
    assert pred.usage.completion_tokens == pred.usage.reasoning_tokens == 20


def test_a_compatible_servers_reasoning_content_is_the_reasoning():
    from lmwrapper.core.money import Price
    from lmwrapper.providers.openai.request import parse_response

    body = {"choices": [{"index": 0, "finish_reason": "stop", "message": {
        "role": "assistant", "content": "4", "reasoning_content": "2 and 2 make 4"}}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 9,
                  "completion_tokens_details": {"reasoning_tokens": 8}}}
    [pred] = parse_response(body, LmPrompt("2+2?"), M("gpt-oss-120b", kind="reasoning"),
                            Price(None, None))
    assert (pred.reasoning, pred.usage.reasoning_tokens) == ("2 and 2 make 4", 8)
