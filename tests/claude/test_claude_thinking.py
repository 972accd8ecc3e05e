"""Claude's reasoning controls: `reasoning_effort` → `output_config.effort`, `thinking` →
`thinking`, each refused before sending where the model's row does not list it; the fake
refuses exactly what the rules refuse; thinking text and tokens returned, billed, cached."""

import typing

import anthropic
import pytest

from lmwrapper import LmPrompt
from lmwrapper.claude_wrapper import ClaudeModelInfo
from lmwrapper.core.prompt import REASONING_EFFORTS
from lmwrapper.providers.anthropic import models
from lmwrapper.providers.anthropic.request import build_request, check_prompt
from lmwrapper.providers.anthropic.rules import rule_for
from lmwrapper.testing.providers.anthropic import MODELS, _sdk_literals
from lmwrapper.testing.text import EFFORT_TOKENS
from tests.claude.conftest import API_KEY, sent_bodies

M = ClaudeModelInfo


def refusal(prompt: LmPrompt, model: str) -> str:
    with pytest.raises(ValueError) as e:
        check_prompt(prompt, M(model))
    return str(e.value)


def test_every_rows_efforts_and_thinking_are_values_the_sdk_allows():
    sdk = _sdk_literals()
    from anthropic.types.output_config_param import OutputConfigParam

    hint = typing.get_type_hints(OutputConfigParam)["effort"]
    assert set(sdk["effort"]) == {v for a in typing.get_args(hint) for v in typing.get_args(a)}
    assert set(sdk["effort"]) <= set(REASONING_EFFORTS)
    for family, row in {"[defaults]": models.table().defaults,
                        **models.table().families}.items():
        assert set(row.get("efforts", ())) <= set(sdk["effort"]), family
        assert set(row.get("thinking", ())) <= set(sdk["type"]), family
        if family != "[defaults]":
            assert "efforts" in row and "thinking" in row and row["effort_source"], family


def test_budget_tokens_is_refused_on_4_7_and_later_sonnet_5_and_fable():
    for model in ("claude-opus-4-7", "claude-opus-4-8", "claude-opus-5", "claude-sonnet-5",
                  "claude-fable-5", "claude-mythos-5"):
        text = refusal(LmPrompt("q", max_tokens=8000, thinking=2048), model)
        assert text.startswith(f"LmPrompt.thinking cannot be honoured by {model}"), text
        assert "use thinking='adaptive'" in text
    body = build_request(LmPrompt("q", max_tokens=8000, thinking=2048), M("claude-opus-4-6"))
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048}


def test_effort_is_output_config_effort_beside_a_format():
    p = LmPrompt(["q"], max_tokens=8000, reasoning_effort="xhigh", thinking="adaptive",
                 response_format={"type": "object", "properties": {}})
    body = build_request(p, M("claude-opus-4-8"))
    assert body["output_config"]["effort"] == "xhigh" and "format" in body["output_config"]
    assert body["thinking"] == {"type": "adaptive", "display": "summarized"}


def test_effort_values_per_model_and_the_way_out():
    assert "takes no effort at all" in refusal(LmPrompt("q", reasoning_effort="low"),
                                               "claude-haiku-4-5")
    text = refusal(LmPrompt("q", reasoning_effort="xhigh"), "claude-sonnet-4-6")
    assert "low, medium, high, max, not 'xhigh'" in text and "gajae-code" in text
    assert "thinking='disabled'" in refusal(LmPrompt("q", reasoning_effort="none"),
                                            "claude-opus-4-8")
    assert "cannot be honoured by claude-opus-5" in refusal(
        LmPrompt("q", reasoning_effort="max", thinking="disabled"), "claude-opus-5")
    assert "always thinks" in refusal(LmPrompt("q", thinking="disabled"), "claude-fable-5")
    assert "Claude has no verbosity" in refusal(LmPrompt("q", verbosity="low"), "claude-opus-4-8")


def test_thinking_refuses_sampling_changes_a_prefill_and_a_budget_over_max_tokens():
    assert "temperature change" in refusal(
        LmPrompt("q", max_tokens=4000, thinking=2048, temperature=0.5), "claude-haiku-4-5")
    assert "top_p must be between 0.95" in refusal(
        LmPrompt("q", max_tokens=4000, thinking=2048, top_p=0.5), "claude-haiku-4-5")
    assert "prefill" in refusal(LmPrompt(["q", "The answer is"], max_tokens=4000, thinking=2048),
                                "claude-haiku-4-5")
    assert "raise max_tokens" in refusal(LmPrompt("q", thinking=4096), "claude-haiku-4-5")


# -- the fake agrees with the rules ------------------------------------------------------
CASES = [{"reasoning_effort": e} for e in REASONING_EFFORTS if e not in ("none", "minimal")] + [
    {"thinking": "adaptive"}, {"thinking": "disabled"}, {"thinking": 2048},
    {"thinking": "disabled", "reasoning_effort": "max"}]


@pytest.mark.filterwarnings("ignore:Using Claude with:UserWarning")  # the SDK's, on budgets
@pytest.mark.parametrize("model", MODELS)
def test_the_fake_refuses_exactly_what_the_rules_refuse(srv, model):
    """Each case's body as lmwrapper would build it, sent past lmwrapper's checks: the fake
    answers 200 exactly where `check_prompt` lets the prompt through."""
    if srv.model_missing("anthropic", model):
        pytest.skip(f"{model}: retired")
    client = anthropic.Anthropic(api_key=API_KEY, base_url=srv.anthropic_base_url, max_retries=0)
    for case in CASES:
        prompt = LmPrompt("q", max_tokens=4000, **case)
        try:
            check_prompt(prompt, M(model))
            ours = True
        except ValueError:
            ours = False
        extra = {"thinking": {"type": "enabled", "budget_tokens": 2048}
                 if isinstance(case.get("thinking"), int) else {"type": case["thinking"]}} \
            if "thinking" in case else {}
        if "reasoning_effort" in case:
            extra["output_config"] = {"effort": case["reasoning_effort"]}
        try:
            client.messages.create(model=model, max_tokens=4000, messages=[
                {"role": "user", "content": "q"}], **extra)
            theirs = True
        except anthropic.BadRequestError:
            theirs = False
        assert ours == theirs, (model, case)


# -- answers ------------------------------------------------------------------------------
def test_thinking_text_and_tokens_come_back_billed_and_cached(make_lm, srv):
    lm = make_lm("claude-opus-4-8")
    p = LmPrompt("Is 91 prime?", max_tokens=2000, thinking="adaptive", reasoning_effort="low")
    pred = lm.predict(p)
    u = pred.usage
    assert u.reasoning_tokens == EFFORT_TOKENS["low"]
    assert pred.reasoning.startswith("Considering") and len(srv.tokenize(pred.reasoning)) == 12
    assert pred.reasoning not in pred.completion_text
    assert u.completion_tokens == u.reasoning_tokens + len(srv.tokenize(pred.completion_text))
    assert pred.cost_usd == pytest.approx((u.prompt_tokens * 5.0 + u.completion_tokens * 25.0) / 1e6)
    [body] = sent_bodies(srv)
    assert body["thinking"] == {"type": "adaptive", "display": "summarized"}
    assert body["output_config"] == {"effort": "low"}
    again = lm.predict(p)
    assert again.was_cached and (again.reasoning, again.usage) == (pred.reasoning, u)
    assert srv.count("messages") == 1


def test_omitted_thinking_is_an_empty_reasoning_not_none(srv):
    client = anthropic.Anthropic(api_key=API_KEY, base_url=srv.anthropic_base_url, max_retries=0)
    raw = client.messages.with_raw_response.create(
        model="claude-opus-4-8", max_tokens=2000, messages=[{"role": "user", "content": "q"}],
        thinking={"type": "adaptive", "display": "omitted"})
    from lmwrapper.core.money import Price
    from lmwrapper.providers.anthropic.request import parse_message

    pred = parse_message(raw.http_response.json(), LmPrompt("q"), M("claude-opus-4-8"),
                         Price(None, None))
    assert pred.reasoning == "" and pred.usage.reasoning_tokens == EFFORT_TOKENS["high"]
    # the response validates against the SDK's own Message type
    msg = raw.parse()
    assert [b.type for b in msg.content] == ["thinking", "text"]
    assert msg.usage.output_tokens_details.thinking_tokens == EFFORT_TOKENS["high"]


def test_a_budget_bounds_the_thinking(make_lm):
    pred = make_lm("claude-haiku-4-5").predict(
        LmPrompt("Is 91 prime?", max_tokens=1100, thinking=1024, reasoning_effort=None))
    assert pred.usage.reasoning_tokens == EFFORT_TOKENS["high"]  # under the budget
    assert rule_for("claude-haiku-4-5").thinking == ("enabled", "disabled")


def test_the_sdks_own_list_of_models_past_budgets_all_take_adaptive_here():
    from anthropic._data import MODELS_TO_WARN_WITH_THINKING_ENABLED

    for model in MODELS_TO_WARN_WITH_THINKING_ENABLED:
        assert "adaptive" in rule_for(model).thinking, model
