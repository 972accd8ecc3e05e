"""The fake OpenAI server is never more lenient than the real API: it refuses what the real
one refuses, with the real 400's shape, from definitions lmwrapper did not write (the SDK's
request types) or from its sourced data (providers/openai/models.toml)."""

import json
import typing
from pathlib import Path

import openai
import pytest
from openai.types.chat import completion_create_params as chat_params

from lmwrapper.testing.providers.openai import known_params

SPEC = json.loads((Path(__file__).parents[1] / "data/openai-openapi/requests.json").read_text())


@pytest.fixture
def client(fake_server):
    return openai.OpenAI(base_url=fake_server.base_url, api_key="sk-test", max_retries=0)


def ask(client, model="gpt-4o-mini", **kw):
    return client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "What is 2+2?"}], **kw)


def refusal(client, **kw):
    with pytest.raises(openai.BadRequestError) as e:
        ask(client, **kw)
    assert e.value.status_code == 400 and e.value.body["type"] == "invalid_request_error"
    return e.value.body


def test_the_fake_knows_the_sdks_parameters_and_the_sdk_agrees_with_the_spec():
    sdk = set(typing.get_type_hints(chat_params.CompletionCreateParamsNonStreaming))
    assert known_params("chat") == sdk
    assert sdk - spec_keys("CreateChatCompletionRequest") == set(), \
        "the SDK sends a parameter the spec does not have"


def spec_keys(name):
    schema = SPEC["components"]["schemas"][name]
    keys = set()
    for part in schema.get("allOf", [schema]):
        if "$ref" in part:
            keys |= spec_keys(part["$ref"].rsplit("/", 1)[-1])
        keys |= set(part.get("properties", {}))
    return keys


def test_an_unknown_parameter_is_a_400(client):
    body = refusal(client, extra_body={"top_k": 5})
    assert body["message"] == "Unrecognized request argument supplied: top_k"


@pytest.mark.parametrize("field,value", [("temperature", 1.0), ("temperature", 0.0),
                                         ("top_p", 0.5), ("logprobs", True),
                                         ("presence_penalty", 0.5)])
def test_gpt6_refuses_sampling_fields_at_any_value(client, field, value):
    body = refusal(client, model="gpt-6.2-sol", **{field: value})
    assert body["param"] == field and body["code"] == "unsupported_parameter"


def test_a_model_that_defaults_to_effort_none_samples_and_others_do_at_none(client):
    assert ask(client, model="gpt-5.1", temperature=0.0).choices[0].message.content
    assert ask(client, model="gpt-5.4", temperature=0.0, reasoning_effort="none").choices
    refusal(client, model="gpt-5.4", temperature=0.0)  # its default is not confirmed none
    refusal(client, model="gpt-5.1", temperature=0.0, reasoning_effort="high")


def test_an_explicit_n_even_1_is_refused_where_the_model_takes_none(client):
    assert refusal(client, model="gpt-6-luna", n=1)["param"] == "n"
    assert len(ask(client, model="gpt-4o-mini", n=2).choices) == 2


def test_max_tokens_is_refused_on_every_reasoning_model(client):
    assert refusal(client, model="gpt-6.2-sol", max_tokens=5)["param"] == "max_tokens"


def test_a_strict_schema_strict_mode_would_reject_is_a_400(client):
    fmt = {"type": "json_schema", "json_schema": {"name": "A", "strict": True,
                                                  "schema": {"type": "object"}}}
    body = refusal(client, response_format=fmt)
    assert body["param"] == "response_format" and "Invalid schema" in body["message"]
    fmt["json_schema"]["strict"] = False
    assert ask(client, response_format=fmt).choices
