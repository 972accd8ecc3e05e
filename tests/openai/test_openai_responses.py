"""The Responses API: Responses-only models (models.toml's `endpoint`, checked against the SDK's
own list) and any model asked with `api="responses"` go to /v1/responses — live over the lean
path and the SDK, and in batch lines — with the same cache semantics; every body checked
against the SDK's `ResponseCreateParams` and OpenAI's OpenAPI spec (`CreateResponse`)."""

from __future__ import annotations

import json

import pytest
from openai.types.batch_create_params import BatchCreateParams
from openai.types.responses import response_create_params

from lmwrapper import ConfigurationError
from lmwrapper.batch_config import CompletionWindow
from lmwrapper.openai_wrapper import OpenAiModelInfo, get_open_ai_lm
from lmwrapper.providers.openai.models import table
from lmwrapper.providers.openai.request import build_request, check_prompt
from lmwrapper.providers.openai.rules import samples_per_request
from lmwrapper.structs import LmPrompt
from lmwrapper.testing.providers.openai import _literal_args
from tests.openai.conftest import API_KEY
from tests.openai.test_openai_conformance import PROMPTS, sdk_violation, spec_violation

RESPONSES_ONLY = ["gpt-5-pro", "gpt-5.5-pro", "o3-pro", "o1-pro", "gpt-5-codex",
                  "gpt-5.1-codex-max", "gpt-5.1-codex-mini", "codex-mini-latest"]
SDK_TYPE = response_create_params.ResponseCreateParamsNonStreaming


def assert_conforms(body: dict) -> None:
    assert (why := sdk_violation(body, SDK_TYPE)) is None, (why, body)
    assert (why := spec_violation(body, "CreateResponse")) is None, (why, body)


def sdk_names(module: str, alias: str) -> set[str]:
    mod = __import__(f"openai.types.shared.{module}", fromlist=[alias])
    return {v for v in _literal_args(getattr(mod, alias)) if isinstance(v, str)}


def built(prompt: LmPrompt, model: OpenAiModelInfo):
    try:
        check_prompt(prompt, model)
    except ValueError:
        return None
    return build_request(prompt, model, n=min(prompt.samples_needed, samples_per_request(model)))


# -- the data ---------------------------------------------------------------------------
def test_every_responses_only_name_in_the_sdk_goes_to_v1_responses():
    """The SDK's `ResponsesModel` less its `ChatModel` are the names only /v1/responses takes."""
    only = sdk_names("responses_model", "ResponsesModel") - sdk_names("chat_model", "ChatModel")
    # tool-only models (computer use) and domain variants lmwrapper has no row for yet
    unrouted = {n for n in only if OpenAiModelInfo(n).endpoint != "responses"}
    assert {"gpt-5-pro", "o3-pro", "gpt-5.5-pro", "gpt-5-codex", "o3-deep-research",
            "gpt-5.1-codex-max"} <= only - unrouted
    assert all(("computer-use" in n or "cyber" in n or "daybreak" in n or "rosalind" in n
                or "healthcare" in n or "law" in n) for n in unrouted), sorted(unrouted)
    for family, row in table().families.items():
        if row.get("endpoint") == "responses":
            assert row["kind"] == "reasoning" and row["source"] and row["checked"], family


def test_chat_stays_the_default_and_api_is_in_the_identity_only_when_asked(srv):
    chat = get_open_ai_lm("gpt-4o-mini", api_key_secret=API_KEY, base_url=srv.base_url)
    assert chat.model_identity()["api"] == "chat"
    asked = get_open_ai_lm("gpt-4o-mini", api_key_secret=API_KEY, base_url=srv.base_url,
                           api="responses")
    assert asked.model_identity()["api"] == "responses"
    assert get_open_ai_lm("gpt-5-pro", api_key_secret=API_KEY).model_identity() == {
        "provider": "openai", "model": "gpt-5-pro", "api": "responses"}
    assert build_request(LmPrompt("q"), OpenAiModelInfo("some-vllm-model")).url == \
        "/v1/chat/completions"
    with pytest.raises(ValueError, match="instruct model"):
        get_open_ai_lm("gpt-3.5-turbo-instruct", api_key_secret=API_KEY, api="responses")


# -- bodies -------------------------------------------------------------------------------
@pytest.mark.parametrize("model", [*RESPONSES_ONLY, "gpt-4.1", "gpt-5.1", "gpt-6.2-sol"])
def test_every_responses_body_conforms(model):
    info = OpenAiModelInfo(model).with_facts(endpoint="responses")
    prompts = [*PROMPTS.values(), LmPrompt("q", reasoning_effort="high", verbosity="low",
                                           max_tokens=64)]
    sent = [r for p in prompts if (r := built(p, info)) is not None]
    assert sent
    for req in sent:
        assert req.url == "/v1/responses"
        assert_conforms(req.body)


def test_fields_map_to_their_responses_names_and_what_it_lacks_is_refused():
    lm = OpenAiModelInfo("gpt-4.1").with_facts(endpoint="responses")
    body = build_request(LmPrompt("q", temperature=0, logprobs=3, max_tokens=32,
                                  response_format="json_object"), lm).body
    assert body == {"model": "gpt-4.1", "input": [{"role": "user", "content": "q"}],
                    "store": False, "temperature": 0.0, "text": {"format": {"type": "json_object"}},
                    "max_output_tokens": 32, "top_logprobs": 3,
                    "include": ["message.output_text.logprobs"]}
    for bad, field in [(LmPrompt("q", stop=["x"]), "stop"), (LmPrompt("q", seed=1), "seed"),
                       (LmPrompt("q", presence_penalty=0.5), "presence_penalty"),
                       (LmPrompt("q", max_tokens=5), "max_tokens")]:
        with pytest.raises(ValueError, match=f"LmPrompt.{field} .*/v1/responses"):
            check_prompt(bad, lm)
    pro = build_request(LmPrompt("q", reasoning_effort="high", verbosity="low"),
                        OpenAiModelInfo("gpt-5-pro")).body
    assert pro["reasoning"] == {"effort": "high", "summary": "auto"}
    assert pro["text"] == {"verbosity": "low"}
    with pytest.raises(ValueError, match="reasoning_effort"):
        check_prompt(LmPrompt("q", reasoning_effort="low"), OpenAiModelInfo("gpt-5-pro"))


def test_the_checks_catch_what_the_api_would_refuse():
    good = build_request(LmPrompt("q"), OpenAiModelInfo("gpt-5-pro")).body
    assert sdk_violation({**good, "messages": []}, SDK_TYPE)
    assert spec_violation({**good, "messages": []}, "CreateResponse")
    assert sdk_violation({**good, "reasoning": {"effort": "huge"}}, SDK_TYPE)
    assert spec_violation({**good, "max_output_tokens": 5}, "CreateResponse")  # minimum 16


# -- over the wire -------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["lean", "sdk"])
def test_a_responses_only_model_answers_live_and_a_rerun_sends_nothing(path, srv, monkeypatch,
                                                                       tmp_path):
    if path == "sdk":
        monkeypatch.setenv("LMWRAPPER_LIVE_HTTP", "sdk")
    prompts = [LmPrompt(f"What is {i}+{i}?", max_tokens=400, reasoning_effort="high")
               for i in range(5)]

    def run():
        lm = get_open_ai_lm("gpt-5-pro", api_key_secret=API_KEY, base_url=srv.base_url,
                            cache_dir=str(tmp_path))
        return list(lm.predict_many(prompts))

    preds = run()
    assert not [p.error_message for p in preds if p.has_errors]
    calls = [r for r in srv.requests if r.route == "responses.create"]
    assert len(calls) == 5 and all(r.path == "/v1/responses" for r in calls)
    for r in calls:
        assert_conforms(r.body)
    p = preds[0]
    assert p.completion_text and p.finish_reason == "stop" and p.reasoning
    assert p.usage.reasoning_tokens and p.usage.completion_tokens > p.usage.reasoning_tokens
    assert p.cost_usd and p.cost_usd > 0
    assert not [r for r in srv.requests if r.route == "chat.completions"]
    again = run()
    assert len([r for r in srv.requests if r.route == "responses.create"]) == 5
    assert [a.completion_text for a in again] == [p.completion_text for p in preds]
    assert all(a.was_cached and a.reasoning == p.reasoning for a, p in zip(again, preds))


def test_a_cut_answer_is_length_and_logprobs_come_back_on_a_chat_model(srv):
    lm = get_open_ai_lm("gpt-4.1-mini", api_key_secret=API_KEY, base_url=srv.base_url,
                        api="responses", cache_outputs_default=False)
    cut = lm.predict(LmPrompt("tell me a long story " * 3, max_tokens=16, logprobs=2))
    assert cut.finish_reason in ("length", "stop")
    assert cut.completion_logprobs and len(cut.completion_tokens) == len(cut.completion_logprobs)
    assert all(len(t) == 2 for t in cut.top_token_logprobs)


def test_the_fake_refuses_a_responses_only_model_on_chat_completions(srv):
    lm = get_open_ai_lm("gpt-5-pro", api_key_secret=API_KEY, base_url=srv.base_url,
                        api="chat", cache_outputs_default=False)
    with pytest.raises(ConfigurationError, match="only supported in v1/responses"):
        lm.predict(LmPrompt("q"))


def test_a_responses_only_model_answers_through_a_batch(srv, monkeypatch, tmp_path):
    monkeypatch.setenv("LMWRAPPER_BATCH_POLL_S", "0.01")
    monkeypatch.setenv("LMWRAPPER_BATCH_POLL_MAX_S", "0.05")
    prompts = [LmPrompt(f"q{i}", max_tokens=200, reasoning_effort="medium") for i in range(4)]

    def run():
        lm = get_open_ai_lm("o3-pro", api_key_secret=API_KEY, base_url=srv.base_url,
                            cache_dir=str(tmp_path))
        return list(lm.predict_many(prompts, completion_window=CompletionWindow.BATCH_ANY))

    preds = run()
    assert not [p.error_message for p in preds if p.has_errors]
    assert all(p.reasoning and p.usage.reasoning_tokens for p in preds)
    uploads = [r.body for r in srv.requests if r.route == "files.create"]
    lines = [json.loads(x) for b in uploads for x in b.splitlines() if x.startswith(b"{")]
    assert len(lines) == 4
    for line in lines:
        assert line["url"] == "/v1/responses"
        assert_conforms(line["body"])
    creates = [r.body for r in srv.requests if r.route == "batches.create"]
    assert [c["endpoint"] for c in creates] == ["/v1/responses"]
    assert sdk_violation(creates[0], BatchCreateParams) is None
    assert spec_violation(creates[0], "CreateBatchRequest") is None
    # the batch price: half of the live rate
    live = get_open_ai_lm("o3-pro", api_key_secret=API_KEY).price.cost(preds[0].usage)
    assert preds[0].cost_usd == pytest.approx(live / 2)
    sent = len(srv.requests)
    assert [p.completion_text for p in run()] == [p.completion_text for p in preds]
    assert len(srv.requests) == sent
