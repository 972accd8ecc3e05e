"""Every body we build for Claude is one the installed SDK's own request types accept, under
the API version it is sent with; and against the fake (which enforces the API versions'
rules), current models answer without a 400.

The SDK (anthropic 2.x) describes API version 2026-10-21: its `MessageCreateParams` has no
`temperature`/`top_p`/`top_k`. A body carrying them must be sent on 2023-06-01, which still
has them; without them, it must validate against the SDK's types with extra keys forbidden.
"""

from __future__ import annotations

import functools

import pydantic
import pytest
from anthropic.types.message_create_params import MessageCreateParamsNonStreaming
from anthropic.types.messages.batch_create_params import Request as BatchRequest

from lmwrapper.batch_config import CompletionWindow
from lmwrapper.claude_wrapper import ClaudeModelInfo
from lmwrapper.providers.anthropic import rules
from lmwrapper.providers.anthropic.batch import ClaudeBatchAdapter, batch_headers
from lmwrapper.providers.anthropic.request import build_request, check_prompt
from lmwrapper.structs import LmChatTurn, LmPrompt
from lmwrapper.testing.providers.anthropic import NO_PREFILL, NO_SAMPLING

# This year's models, with the facts the sources give (genai-prices, the SDK, models.toml).
MODELS = [ClaudeModelInfo.infer(name) for name in ("claude-sonnet-5-5", "claude-haiku-4-5",
                                                   "claude-opus-4-7", "claude-sonnet-4-6")]


class City(pydantic.BaseModel):
    name: str
    country: str


PROMPTS = {
    "default": LmPrompt("What is 2+2?", max_tokens=20),
    "temperature=0": LmPrompt("What is 2+2?", max_tokens=20, temperature=0),
    "chat with system": LmPrompt([LmChatTurn("system", "Be brief."), "Capital of Japan?"],
                                 max_tokens=20),
    "stop blank line": LmPrompt("Two paragraphs please", stop=["\n\n"], max_tokens=50),
    "pydantic response_format": LmPrompt("Capital of France? JSON.", response_format=City,
                                         max_tokens=50),
    "max_tokens": LmPrompt("Count to ten", max_tokens=3),
}


class _StrictParams(MessageCreateParamsNonStreaming, total=False):
    """The SDK's request type with extra keys forbidden (the API's "Extra inputs are not
    permitted")."""


class _StrictLine(BatchRequest, total=False):
    """A Message Batches request line (`custom_id`, `params`), extra keys forbidden."""


_StrictParams.__pydantic_config__ = pydantic.ConfigDict(extra="forbid")  # type: ignore[attr-defined]
_StrictLine.__pydantic_config__ = pydantic.ConfigDict(extra="forbid")  # type: ignore[attr-defined]


@functools.cache
def _adapter(kind: str) -> pydantic.TypeAdapter:
    return pydantic.TypeAdapter(_StrictParams if kind == "params" else _StrictLine)


def validate_params(body: dict) -> None:
    """`body` against the SDK's types under the version it is sent with: on 2023-06-01 the
    sampling fields exist (they are checked for range here); on 2026-10-21 nothing extra."""
    version = rules.api_version_for(body)
    rest = {k: v for k, v in body.items() if k not in rules.SAMPLING}
    if version == rules.current_version():
        assert rest == body
    else:
        assert version == "2023-06-01"
        assert all(0.0 <= body[k] <= 1.0 for k in ("temperature", "top_p") if k in body)
    checked = _adapter("params").validate_python(rest)
    list(checked["messages"])  # an Iterable in the SDK's types: validated as it is read


def _expect_refusal(prompt: LmPrompt, model: ClaudeModelInfo) -> bool:
    return prompt.temperature != 1.0 and not rules.rule_for(model).legacy_sampling


@pytest.mark.parametrize("model", MODELS, ids=str)
@pytest.mark.parametrize("name", PROMPTS)
def test_every_body_we_build_validates_against_the_sdk_types(name, model, make_lm):
    prompt = PROMPTS[name]
    if _expect_refusal(prompt, model):
        with pytest.raises(ValueError, match="temperature"):
            check_prompt(prompt, model)
        with pytest.raises(ValueError, match="temperature"):
            build_request(prompt, model)
        return
    check_prompt(prompt, model)
    body = build_request(prompt, model)
    validate_params(body)
    changed = {k for k, d in rules.DEFAULT_SAMPLING.items() if getattr(prompt, k) != d}
    assert set(rules.SAMPLING) & set(body) == changed  # default sampling: nothing is sent
    line = ClaudeBatchAdapter(make_lm(str(model))).build_line(
        "line-1", prompt, 1)
    validate_params(line["params"])
    _adapter("line").validate_python({**line, "params": {
        k: v for k, v in line["params"].items() if k not in rules.SAMPLING}})
    assert rules.api_version_for(line["params"]) == batch_headers([line])["anthropic-version"]


def test_default_sampling_sends_nothing_and_the_current_version():
    for model in MODELS:
        body = build_request(PROMPTS["default"], model)
        assert not set(rules.SAMPLING) & set(body)
        assert rules.headers_for(body) == {"anthropic-version": "2026-10-21"}


def test_a_body_cannot_carry_sampling_under_the_current_version():
    with pytest.raises(ValueError, match="2023-06-01"):
        build_request(PROMPTS["temperature=0"], MODELS[1], api_version="2026-10-21")


def test_our_rules_agree_with_the_fakes_for_every_listed_family():
    """models.toml and the fake were written from the docs separately; they must agree."""
    for row in rules.families():
        assert row.legacy_sampling == (not row.prefix.startswith(NO_SAMPLING)), row.prefix
        assert row.prefill == (not row.prefix.startswith(NO_PREFILL)), row.prefix
        assert row.source.startswith("https://") and row.checked == "2026-12-07"


def test_an_unknown_family_gets_the_current_apis_rules():
    rule = rules.rule_for("claude-sonnet-9-1")
    assert not rule.legacy_sampling and not rule.prefill


# -- "done when", against the fake ----------------------------------------------------------
def _sent(srv, route):
    return [r for r in srv.requests if r.route == route]


def test_twenty_prompts_live_on_sonnet_5_5_without_a_400(srv, make_lm):
    lm = make_lm("claude-sonnet-5-5")
    preds = list(lm.predict_many([LmPrompt(f"What is {i}+1?", max_tokens=10)
                                  for i in range(20)]))
    assert [p.error_message for p in preds if p.has_errors] == []
    assert [p.completion_text for p in preds] == [str(i + 1) for i in range(20)]
    sent = _sent(srv, "messages")
    assert len(sent) == 20 and all(r.status == 200 for r in sent)
    assert {r.headers["anthropic-version"] for r in sent} == {"2026-10-21"}


def test_twenty_prompts_through_message_batches_on_haiku_4_5(srv, make_lm, monkeypatch):
    monkeypatch.setenv("LMWRAPPER_BATCH_POLL_S", "0.01")
    monkeypatch.setenv("LMWRAPPER_BATCH_POLL_MAX_S", "0.05")
    lm = make_lm("claude-haiku-4-5")
    prompts = [LmPrompt(f"What is {i}+1?", max_tokens=10) for i in range(20)]
    preds = list(lm.predict_many(prompts, completion_window=CompletionWindow.BATCH_ANY))
    assert [p.error_message for p in preds if p.has_errors] == []
    assert [p.completion_text for p in preds] == [str(i + 1) for i in range(20)]
    creates = _sent(srv, "messages.batches.create")
    assert len(creates) == 1 and creates[0].status == 200
    assert creates[0].headers["anthropic-version"] == "2026-10-21"
    assert all(r.status < 400 for r in srv.requests)


def test_temperature_0_on_opus_4_7_is_refused_with_no_request(srv, make_lm):
    lm = make_lm("claude-opus-4-7")
    with pytest.raises(ValueError, match=r"LmPrompt\.temperature .*claude-opus-4-7"):
        list(lm.predict_many([LmPrompt("Hi", max_tokens=5, temperature=0)]))
    with pytest.raises(ValueError, match="temperature"):
        list(lm.predict_many([LmPrompt("Hi", max_tokens=5, temperature=0)],
                             completion_window=CompletionWindow.BATCH_ANY))
    assert srv.requests == []


@pytest.mark.parametrize("http", ["lean", "sdk"])
def test_temperature_on_sonnet_4_6_goes_on_the_old_api_version(srv, make_lm, monkeypatch, http):
    if http == "sdk":
        monkeypatch.setenv("LMWRAPPER_LIVE_HTTP", "sdk")
    lm = make_lm("claude-sonnet-4-6")
    preds = list(lm.predict_many([LmPrompt(f"What is {i}+1?", max_tokens=10, temperature=0)
                                  for i in range(3)] + [LmPrompt("What is 9+1?", max_tokens=10)]))
    assert not any(p.has_errors for p in preds)
    sent = _sent(srv, "messages")
    versions = sorted(r.headers["anthropic-version"] for r in sent)
    assert versions == ["2023-06-01"] * 3 + ["2026-10-21"]
    assert all(("temperature" in r.body) == (r.headers["anthropic-version"] == "2023-06-01")
               for r in sent)


def test_a_batch_with_temperature_is_created_on_the_old_api_version(srv, make_lm, monkeypatch):
    monkeypatch.setenv("LMWRAPPER_BATCH_POLL_S", "0.01")
    lm = make_lm("claude-haiku-4-5")
    prompts = [LmPrompt("What is 1+1?", max_tokens=10, temperature=0),
               LmPrompt("What is 2+1?", max_tokens=10)]
    preds = list(lm.predict_many(prompts, completion_window=CompletionWindow.BATCH_ANY))
    assert [p.completion_text for p in preds] == ["2", "3"]
    create = _sent(srv, "messages.batches.create")[0]
    assert create.headers["anthropic-version"] == "2023-06-01"


@pytest.mark.parametrize("window", [CompletionWindow.ASAP, CompletionWindow.BATCH_ANY])
def test_pydantic_response_format_and_blank_line_stop_answer_without_a_400(srv, make_lm,
                                                                           monkeypatch, window):
    monkeypatch.setenv("LMWRAPPER_BATCH_POLL_S", "0.01")
    srv.add_answer("Two paragraphs please", "First.\n\nSecond.")
    lm = make_lm("claude-sonnet-5-5")
    city, stop = lm.predict_many([PROMPTS["pydantic response_format"], PROMPTS["stop blank line"]],
                                 completion_window=window)
    assert not city.has_errors and isinstance(city.parsed, City) and city.parsed.name == "Paris"
    assert stop.completion_text == "First." and stop.finish_reason == "stop"
    assert all(r.status < 400 for r in srv.requests)


def test_prefill_on_4_6_and_later_is_refused_before_sending(srv, make_lm):
    lm = make_lm("claude-sonnet-4-6")
    with pytest.raises(ValueError, match="prefill"):
        lm.predict(LmPrompt(["Name a colour", "The colour is"], max_tokens=5))
    assert srv.requests == []
