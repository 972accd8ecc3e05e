"""Structured answers: a pydantic class as `response_format`, `.parsed`, validation errors,
parsing on every read from the cache, and the strip strategy where there is no JSON mode."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel, Field

from lmwrapper.core.structured import extract_json, json_schema, parse_answer, with_json_prefill
from lmwrapper.openai_wrapper import get_open_ai_lm
from lmwrapper.store.db import get_cache, prompt_key
from lmwrapper.structs import LmPrompt
from lmwrapper.testing import FakeServer, ScriptedLm


class City(BaseModel):
    name: str
    population: int


class Positive(BaseModel):
    count: int = Field(ge=1)


@pytest.fixture
def srv():
    with FakeServer() as s:
        yield s


def make(srv, model="gpt-5.4-mini"):
    return get_open_ai_lm(model, api_key_secret="sk-test-0123456789", base_url=srv.base_url)


def test_a_pydantic_class_is_sent_as_a_strict_schema_and_parsed(srv):
    pred = make(srv).predict(LmPrompt("Capital of France?", max_tokens=50, response_format=City))
    assert not pred.has_errors and isinstance(pred.parsed, City)
    assert pred.parsed == City.model_validate_json(pred.completion_text)
    fmt = srv.requests[0].body["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["name"] == "City"
    schema = fmt["json_schema"]["schema"]
    assert schema["additionalProperties"] is False and schema["required"] == ["name", "population"]


def test_parsed_results_come_back_from_the_cache(srv):
    lm = make(srv)
    prompt = LmPrompt("Capital of France?", max_tokens=50, response_format=City)
    first = lm.predict(prompt)
    again = lm.predict(prompt)
    assert again.was_cached and isinstance(again.parsed, City) and again.parsed == first.parsed
    assert len(srv.requests) == 1
    key = prompt_key(prompt.canonical(), lm.identity_json())
    ((_, value, blob, is_error),) = get_cache().get_many([key])[key]
    stored = json.loads(value)  # the raw answer as JSON text, nothing parsed or pickled
    assert stored["completion_text"] == first.completion_text and "parsed" not in stored
    assert blob is None and not is_error


def test_the_key_is_the_schema_so_a_dict_schema_shares_it():
    by_class = LmPrompt("x", response_format=City).canonical()
    by_dict = LmPrompt("x", response_format=json_schema(City)).canonical()
    assert by_class == by_dict and by_class["response_format"]["title"] == "City"
    as_json = json.dumps(LmPrompt("x", response_format=City).to_dict())  # JSON-ready
    assert LmPrompt.from_dict(json.loads(as_json)).canonical() == by_class


def test_an_answer_that_does_not_validate_is_an_error_prediction_and_stays_one(srv):
    lm = make(srv)  # the fake fills integers with 0, which Positive refuses
    prompt = LmPrompt("How many?", max_tokens=50, response_format=Positive)
    pred = lm.predict(prompt)
    assert pred.has_errors and pred.parsed is None
    assert "Positive" in pred.error_message and "count" in pred.error_message
    assert pred.completion_text == '{"count": 0}'  # the raw answer stays visible
    again = lm.predict(prompt)
    assert again.was_cached and again.has_errors and len(srv.requests) == 1


def test_instruct_models_have_no_json_mode_so_the_answer_is_stripped_to_its_json(srv):
    srv.answers.add("Capital of France", 'Sure! {"name": "Paris", "population": 2100000} Enjoy.')
    lm = make(srv, "gpt-3.5-turbo-instruct")
    pred = lm.predict(LmPrompt("Capital of France, as JSON:", max_tokens=60,
                               response_format=City))
    assert "response_format" not in srv.requests[0].body
    assert pred.parsed == City(name="Paris", population=2100000)


def test_json_object_and_dict_schemas_get_parsed_values_or_errors(tmp_path):
    lm = ScriptedLm(cache_dir=str(tmp_path))
    lm.enqueue('{"a": 1}', "no json here")
    ok, bad = lm.predict_many([LmPrompt("a", response_format="json_object"),
                               LmPrompt("b", response_format={"type": "object"})])
    assert ok.parsed == {"a": 1} and not ok.has_errors
    assert bad.has_errors and "not JSON" in bad.error_message and bad.parsed is None
    assert LmPrompt("c").response_format is None and lm.predict("c").parsed is None


def test_a_non_class_is_still_refused():
    with pytest.raises(ValueError, match="pydantic model class"):
        LmPrompt("x", response_format=int)


@pytest.mark.parametrize("text,expected", [
    ('{"a": 1}', '{"a": 1}'),
    ('Here: {"a": {"b": 2}} done', '{"a": {"b": 2}}'),
    ("list: [1, 2] ok", "[1, 2]"),
    ("nothing", "nothing"),
])
def test_extract_json_strips_to_the_outermost_value(text, expected):
    assert extract_json(text) == expected


def test_prefill_and_parse_answer():
    assert with_json_prefill('"name": "Paris", "population": 1}') == \
        '{"name": "Paris", "population": 1}'
    assert with_json_prefill('{"a": 1}') == '{"a": 1}'
    value, problem = parse_answer('{"name": "Rome", "population": 3}', City)
    assert value == City(name="Rome", population=3) and problem is None
    assert parse_answer(None, City)[1] == "the prediction has no text"
