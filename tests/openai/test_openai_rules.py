"""What each OpenAI model takes (providers/openai/rules.py, data in models.toml) and when a JSON
schema is sent strict (providers/openai/strict.py): refused before sending, never a 400."""

import copy
import re

import pydantic
import pytest

from lmwrapper.openai_wrapper import OpenAiModelInfo
from lmwrapper.openai_wrapper import OpenAiModelNames as N
from lmwrapper.openai_wrapper import strict_violation as violation
from lmwrapper.providers.openai.models import table
from lmwrapper.providers.openai.request import build_request, check_prompt, response_format_body
from lmwrapper.providers.openai.rules import rule_for, samples_per_request
from lmwrapper.structs import LmPrompt, ModelInternalsRequest

GPT6 = [N.gpt_6_2_sol, N.gpt_6_2_astra, N.gpt_6_1_sol, N.gpt_6_1_terra, N.gpt_6_sol,
        N.gpt_6_luna, N.gpt_6_astra]
NOT_NONE = [*GPT6, N.gpt_5_6_sol, N.gpt_5_5, N.gpt_5_4_mini, N.gpt_5_2, N.gpt_5, N.o3, N.o4_mini]
SAMPLING = ("temperature", "top_p", "top_logprobs", "logprobs", "n", "presence_penalty",
            "frequency_penalty")


def test_every_reasoning_row_says_its_default_effort_and_every_row_whether_it_takes_n():
    for family, row in table().families.items():
        assert isinstance(row.get("takes_n", table().defaults["takes_n"]), bool), family
        if row["kind"] == "reasoning":
            assert row.get("effort_default") in ("none", "minimal", "low", "medium", "high",
                                                 "unconfirmed"), family
            assert row.get("source") and row.get("checked"), family


@pytest.mark.parametrize("model", NOT_NONE, ids=str)
def test_default_sampling_sends_none_of_the_sampling_fields(model):
    body = build_request(LmPrompt("q", max_tokens=5), model).body
    assert not set(SAMPLING) & set(body), body
    assert body["max_completion_tokens"] == 5


@pytest.mark.parametrize("model", NOT_NONE, ids=str)
@pytest.mark.parametrize("kw,field", [({"temperature": 0}, "temperature"),
                                      ({"top_p": 0.5}, "top_p"),
                                      ({"logprobs": 5}, "logprobs"),
                                      ({"frequency_penalty": 0.5}, "frequency_penalty")])
def test_a_non_default_value_is_refused_naming_the_field(model, kw, field):
    with pytest.raises(ValueError, match=rf"LmPrompt\.{field} cannot be honoured by {model}"):
        check_prompt(LmPrompt("q", **kw), model)


def test_gpt6_refusal_gives_the_rule_and_the_way_out():
    with pytest.raises(ValueError) as e:
        check_prompt(LmPrompt("q", temperature=0), N.gpt_6_2_sol)
    text = str(e.value)
    assert "effort 'medium', not 'none'" in text and "deployment-checklist" in text
    assert "temperature=1.0" in text and "gpt-5.1" in text  # what to do instead


def test_a_model_that_defaults_to_effort_none_takes_temperature_top_p_and_logprobs():
    body = build_request(LmPrompt("q", temperature=0, top_p=0.5, logprobs=3), N.gpt_5_1).body
    assert body["temperature"] == 0.0 and body["top_p"] == 0.5
    assert body["logprobs"] is True and body["top_logprobs"] == 3
    with pytest.raises(ValueError, match="presence_penalty"):
        check_prompt(LmPrompt("q", presence_penalty=1.0), N.gpt_5_1)


def test_a_dated_snapshot_and_a_fine_tune_take_their_family_rule():
    assert rule_for("gpt-5.4-mini-2026-03-17").family == "gpt-5.4"
    assert rule_for("gpt-5.1-2025-11-13").effort_default == "none"
    assert rule_for("gpt-5.1-chat-latest").kind == "chat"  # its own row, not gpt-5.1's
    assert rule_for("ft:gpt-4o-mini-2024-07-18:org::abc").takes_n


def test_n_only_where_the_model_takes_it():
    assert samples_per_request(N.gpt_4o_mini) == 128 and samples_per_request(N.o3) == 1
    assert all(samples_per_request(m) == 1 for m in GPT6)
    assert samples_per_request(OpenAiModelInfo("some-local-model")) == 1
    assert build_request(LmPrompt("q"), N.gpt_4o_mini, n=3).body["n"] == 3
    with pytest.raises(ValueError, match="num_completions.*no `n`"):
        build_request(LmPrompt("q"), N.gpt_6_2_sol, n=2)


def test_samples_of_a_model_without_n_are_one_request_each(make_lm, srv):
    lm = make_lm(N.gpt_6_2_sol)
    preds = lm.predict(LmPrompt("What is 2+2?", num_completions=3, max_tokens=5))
    assert len(preds) == 3 and not any(p.has_errors for p in preds)
    sent = [r.body for r in srv.requests if r.route == "chat.completions"]
    assert len(sent) == 3 and not any("n" in b for b in sent)


def test_cost_bound_bills_the_input_once_per_request():
    prompt = LmPrompt("a fairly long question " * 20, max_tokens=1, num_completions=4)
    from lmwrapper.openai_wrapper import get_open_ai_lm

    with_n, without_n = (get_open_ai_lm(m, api_key_secret="x").estimate_cost([prompt])
                         for m in (N.gpt_4_1, N.gpt_5_5))
    assert without_n.input_tokens == 4 * with_n.input_tokens


# -- strict structured outputs --------------------------------------------------------------
CLOSED = {"type": "object", "properties": {"a": {"type": "string"},
                                           "b": {"anyOf": [{"type": "integer"}, {"type": "null"}]}},
          "required": ["a", "b"], "additionalProperties": False}


@pytest.mark.parametrize("schema,why", [
    ({"type": "object"}, "additionalProperties"),
    ({**CLOSED, "required": ["a"]}, "not every property is required"),
    ({**CLOSED, "additionalProperties": True}, "additionalProperties"),
    ({"anyOf": [CLOSED]}, "root must be an object"),
    ({**CLOSED, "properties": {**CLOSED["properties"], "c": {"type": "number", "minimum": 0}},
      "required": ["a", "b", "c"]}, "minimum is not in the strict subset"),
    ({**CLOSED, "properties": {"a": {"type": "string", "default": "x"}}, "required": ["a"]},
     "default"),
    ({**CLOSED, "properties": {"x": {"type": "array", "items": {"type": "object"}}},
      "required": ["x"]}, r"\$\.x\[\]: an object without"),
])
def test_a_schema_strict_mode_would_reject_is_sent_non_strict_and_unchanged(schema, why):
    assert re.search(why, violation(schema) or "")
    sent = response_format_body({**schema, "title": "Answer"})["json_schema"]
    assert sent == {"name": "Answer", "schema": schema, "strict": False}


def test_a_strict_ready_schema_and_a_pydantic_class_are_sent_strict():
    assert response_format_body(CLOSED)["json_schema"]["strict"] is True

    class Inner(pydantic.BaseModel):
        label: str
        score: float | None = None

    class Answer(pydantic.BaseModel):
        items: list[Inner]
        note: str

    body = build_request(LmPrompt("q", response_format=Answer), N.gpt_4_1).body
    assert body["response_format"]["json_schema"]["strict"] is True
    assert body["response_format"]["json_schema"]["name"] == "Answer"


def test_nesting_past_five_objects_is_not_sent_strict():
    schema: dict = {"type": "object", "properties": {}, "required": [],
                    "additionalProperties": False}
    node = schema
    for _ in range(5):
        child = {"type": "object", "properties": {}, "required": [], "additionalProperties": False}
        node["properties"]["c"], node["required"] = child, ["c"]
        node = child
    assert "levels of nested objects" in violation(schema)


_SAMPLING_CASES = [{}, {"temperature": 0.0}, {"temperature": 0.5, "top_p": 0.9},
                   {"logprobs": 5}, {"logprobs": None}, {"presence_penalty": 0.5},
                   {"frequency_penalty": -1.0}, {"reasoning_effort": "none", "temperature": 0.0},
                   {"reasoning_effort": "none", "logprobs": 3}, {"reasoning_effort": "high"}]


@pytest.mark.parametrize("model", [*NOT_NONE, N.gpt_4o_mini, N.gpt_4_1, N.gpt_3_5_turbo_instruct],
                         ids=str)
def test_validation_refuses_the_sampling_fields_the_body_would_refuse(model):
    """`check_sampling` (what validation asks, without building a body) raises exactly what
    `sampling_fields` raises, for every model kind."""
    from lmwrapper.providers.openai.rules import check_sampling, sampling_fields

    for case in _SAMPLING_CASES:
        prompt = LmPrompt("q", max_tokens=5, **case)
        try:
            sampling_fields(prompt, model)
        except ValueError as e:
            with pytest.raises(ValueError) as got:
                check_sampling(prompt, model)
            assert str(got.value) == str(e), case
        else:
            check_sampling(prompt, model)


class _Unreadable:
    """A text or metadata no check may read: any use of it raises AssertionError."""

    def __getattribute__(self, name):
        raise AssertionError(f"the check read the prompt's text or metadata ({name})")


for _dunder in ("__str__", "__repr__", "__len__", "__iter__", "__eq__", "__ne__", "__hash__",
                "__bool__", "__contains__", "__getitem__", "__format__"):
    setattr(_Unreadable, _dunder, _Unreadable.__getattribute__)

# every field check_prompt reads, at values it takes and refuses, over the sampling cases
_FIELD_CASES = [*_SAMPLING_CASES, {"max_tokens": None}, {"max_tokens": 1}, {"max_tokens": 15},
                {"max_tokens": 16}, {"temperature": 1.5}, {"stop": ["\n"]},
                {"stop": list("abcde")}, {"echo": True}, {"seed": 3}, {"thinking": "adaptive"},
                {"verbosity": "low"}, {"reasoning_effort": "minimal"}, {"add_bos_token": False},
                {"add_special_tokens": False}, {"context_split": 0}, {"token_slice": (0, 1)},
                {"model_internals_request": ModelInternalsRequest(return_hidden_states=True)},
                {"response_format": "json_object"}, {"num_completions": 3}, {"cache": False}]
_EVERY_KIND = [*NOT_NONE, N.gpt_4o_mini, N.gpt_4_1, N.gpt_3_5_turbo_instruct,
               N.gpt_4_1.with_facts(endpoint="responses"),
               N.gpt_5_4_mini.with_facts(endpoint="responses")]


def _outcome(check, prompt):
    try:
        check(prompt)
    except ValueError as e:
        return str(e)
    return None


@pytest.mark.parametrize("model", _EVERY_KIND, ids=lambda m: f"{m}-{m.endpoint}")
def test_the_prompt_check_reads_neither_text_nor_metadata_so_the_backend_asks_once_per_settings(
        model):
    """`validate_prompt` checks a usual prompt once per (max_tokens, temperature): sound only
    while `check_prompt` reads neither the text nor the metadata. Here each prompt's text and
    metadata are swapped for a value that raises when read, and the check must say what it
    says of the real prompt; then the backend, asked about prompts of every case in turn
    (each twice, with other texts), says what `check_prompt` says of each."""
    from lmwrapper.openai_wrapper import OpenAiBackend

    prompts = [LmPrompt(text, **{"max_tokens": 16, **case}, metadata={"id": text})
               for text in ("q", "", "a longer text, with\nlines") for case in _FIELD_CASES]
    for prompt in prompts:
        blind = copy.copy(prompt)
        object.__setattr__(blind, "text", _Unreadable())
        object.__setattr__(blind, "metadata", _Unreadable())
        direct = _outcome(lambda p: check_prompt(p, model), prompt)
        assert _outcome(lambda p: check_prompt(p, model), blind) == direct, prompt
    backend = OpenAiBackend(model)
    for prompt in prompts + prompts:
        assert _outcome(backend.validate_prompt, prompt) == \
            _outcome(lambda p: check_prompt(p, model), prompt), prompt
    assert backend._checked, "no usual prompt passed: the memo was never used"


def test_the_backend_remembers_a_bounded_number_of_settings():
    """A file whose every line asks its own max_tokens is checked line by line past the
    bound, not held in memory; each prompt is still checked."""
    from lmwrapper.openai_wrapper import OpenAiBackend
    from lmwrapper.providers.openai.backend import _CHECKED_MAX

    backend = OpenAiBackend(N.gpt_4_1.with_facts(endpoint="responses"))
    for m in range(16, 16 + _CHECKED_MAX + 10):
        backend.validate_prompt(LmPrompt("q", max_tokens=m))
    assert len(backend._checked) == _CHECKED_MAX
    with pytest.raises(ValueError, match="max_output_tokens of at least"):
        backend.validate_prompt(LmPrompt("q", max_tokens=15))
