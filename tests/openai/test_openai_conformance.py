"""Every OpenAI request body we build, checked against definitions nobody here wrote.

1. The installed SDK's request types (`openai.types.chat.completion_create_params.
   CompletionCreateParamsNonStreaming`, `openai.types.completion_create_params...`,
   `openai.types.batch_create_params.BatchCreateParams`): every key of the body, nested ones
   included, is one the TypedDict declares, every required key is there, and every literal
   (a message's role, a response format's type) is one it allows. `pip install -U openai`
   that removes a parameter fails here before a user's run does.
2. OpenAI's official OpenAPI spec (openai/openai-openapi, vendored trimmed in
   tests/data/openai-openapi/ with its commit and date), with `jsonschema`; keys the spec
   does not list are refused (the real API answers them "Unrecognized request argument").

The matrix is prompts × models: built bodies for every model in OpenAiModelNames, and the
bodies that went over the wire to the loopback fake for current models, through the lean
live path, the SDK path (LMWRAPPER_LIVE_HTTP=sdk) and the Batch API (the uploaded JSONL
lines and the batch create).

To refresh the vendored spec: take openapi.json from the newest openai/openai-openapi commit,
keep `components.schemas` reachable from CreateChatCompletionRequest,
CreateCompletionRequest, CreateBatchRequest and CreateResponse (descriptions, examples and
titles dropped),
and record the commit and date in tests/data/openai-openapi/README.md.
"""

from __future__ import annotations

import collections.abc
import json
import types
import typing
from pathlib import Path
from typing import Any

import jsonschema
import pydantic
import pytest
import typing_extensions
from openai.types import batch_create_params
from openai.types import completion_create_params as completions_params
from openai.types.chat import completion_create_params as chat_params

from lmwrapper.batch_config import CompletionWindow
from lmwrapper.core.models import today
from lmwrapper.openai_wrapper import OpenAiModelNames as N
from lmwrapper.openai_wrapper import get_open_ai_lm
from lmwrapper.providers.openai.request import build_request, check_prompt
from lmwrapper.providers.openai.rules import samples_per_request
from lmwrapper.structs import LmChatTurn, LmPrompt

SPEC = json.loads((Path(__file__).parents[1] / "data/openai-openapi/requests.json").read_text())


class Answer(pydantic.BaseModel):
    label: str
    confidence: float | None = None


STRICT_READY = {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"],
                "additionalProperties": False}
PROMPTS = {
    "default": LmPrompt("What is 2+2?"),
    "chat": LmPrompt([LmChatTurn("system", "be brief"), "hi", "hello", "2+2?"], max_tokens=7,
                     stop=["\n"], seed=1),
    "sampling": LmPrompt("q", temperature=0, top_p=0.5, logprobs=3, presence_penalty=0.1,
                         frequency_penalty=-0.1),
    "no-logprobs-json": LmPrompt("q", logprobs=None, response_format="json_object"),
    "pydantic": LmPrompt("q", response_format=Answer, max_tokens=20),
    "strict-dict": LmPrompt("q", response_format=STRICT_READY),
    "open-dict": LmPrompt("q", response_format={"type": "object"}),
    "samples": LmPrompt("q", num_completions=3, max_tokens=3),
    "echo": LmPrompt("Once upon a", echo=True, logprobs=2, max_tokens=2),
}
# The suite's day ($LMWRAPPER_TODAY, tests/conftest.py): the matrix does not shrink when a
# model in it shuts down (gpt-4.1, the chat models' row, on 2027-01-14).
TODAY = today()
CURRENT = [m for m in N.all() if (m.retires is None or m.retires > TODAY)
           and m != N.code_davinci_002]  # retired in 2024, kept only so cached answers load
WIRE_MODELS = [N.gpt_6_2_sol, N.gpt_5_5, N.gpt_5_4_mini, N.gpt_5_1, N.gpt_4_1_mini,
               N.gpt_3_5_turbo_instruct]


# -- 1. the SDK's TypedDicts ---------------------------------------------------------------
def sdk_violation(value: Any, hint: Any, path: str = "$") -> str | None:
    """Why `value` is not a `hint` (a TypedDict, union, literal, list or scalar), or None."""
    origin, args = typing_extensions.get_origin(hint), typing_extensions.get_args(hint)
    if origin in (typing_extensions.Required, typing_extensions.NotRequired,
                  typing_extensions.Annotated):
        return sdk_violation(value, args[0], path)
    if typing_extensions.is_typeddict(hint):
        if not isinstance(value, dict):
            return f"{path}: not an object"
        hints = typing_extensions.get_type_hints(hint)
        extra = sorted(set(value) - set(hints))
        missing = sorted(set(hint.__required_keys__) - set(value))
        if extra or missing:
            return f"{path}: unknown {extra} / missing {missing} for {hint.__name__}"
        for k, v in value.items():
            if found := sdk_violation(v, hints[k], f"{path}.{k}"):
                return found
        return None
    if origin in (typing.Union, types.UnionType):
        errors = [sdk_violation(value, a, path) for a in args]
        return None if None in errors else " | ".join(e for e in errors if e)
    if origin in (typing.Literal, typing_extensions.Literal):
        return None if value in args else f"{path}: {value!r} not in {args}"
    if hint is type(None):
        return None if value is None else f"{path}: not null"
    if origin in (dict, collections.abc.Mapping):
        return None if isinstance(value, dict) else f"{path}: not an object"
    if origin is not None and isinstance(origin, type) and issubclass(origin, collections.abc.Iterable):
        if not isinstance(value, list):
            return f"{path}: not a list"
        return next((e for i, v in enumerate(value)
                     if (e := sdk_violation(v, args[0] if args else Any, f"{path}[{i}]"))), None)
    if hint is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif hint in (str, bool):
        ok = isinstance(value, hint)
    else:
        return None  # a type we do not send (str-or-ChatModel, object schemas): no check
    return None if ok else f"{path}: {value!r} is not {hint.__name__}"


def sdk_type(url: str) -> Any:
    return chat_params.CompletionCreateParamsNonStreaming if url.endswith("chat/completions") \
        else completions_params.CompletionCreateParamsNonStreaming


# -- 2. the OpenAPI spec -------------------------------------------------------------------
def spec_properties(name: str) -> set[str]:
    """Every property `name` declares, through its allOf parts."""
    schema = SPEC["components"]["schemas"][name]
    keys: set[str] = set()
    for part in schema.get("allOf", [schema]):
        if "$ref" in part:
            keys |= spec_properties(part["$ref"].rsplit("/", 1)[-1])
        keys |= set(part.get("properties", {}))
    return keys


def spec_violation(body: dict[str, Any], name: str) -> str | None:
    extra = sorted(set(body) - spec_properties(name))
    if extra:
        return f"not in {name}: {extra}"
    validator = jsonschema.Draft202012Validator({**SPEC, "$ref": f"#/components/schemas/{name}"})
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.path))
    return "; ".join(f"{list(e.path)}: {e.message}" for e in errors[:3]) or None


def spec_name(url: str) -> str:
    return "CreateChatCompletionRequest" if url.endswith("chat/completions") \
        else "CreateCompletionRequest"


def assert_conforms(url: str, body: dict[str, Any]) -> None:
    assert (why := sdk_violation(body, sdk_type(url))) is None, (why, body)
    assert (why := spec_violation(body, spec_name(url))) is None, (why, body)


# -- the matrix ----------------------------------------------------------------------------
def built(prompt: LmPrompt, model: Any) -> Any:
    """The request for `prompt`, or None where lmwrapper refuses it before sending."""
    try:
        check_prompt(prompt, model)
    except ValueError:
        return None
    return build_request(prompt, model, n=min(prompt.samples_needed, samples_per_request(model)))


@pytest.mark.parametrize("model", N.all(), ids=str)
def test_every_body_we_build_conforms(model):
    sent = [req for p in PROMPTS.values() if (req := built(p, model)) is not None]
    assert sent, "every model takes at least the default prompt"
    for req in sent:
        assert_conforms(req.url, req.body)


def test_the_checks_catch_what_the_api_would_refuse():
    good = build_request(PROMPTS["default"], N.gpt_4_1).body
    assert sdk_violation({**good, "top_k": 5}, sdk_type("/v1/chat/completions"))
    assert spec_violation({**good, "top_k": 5}, "CreateChatCompletionRequest")
    bad_role = {**good, "messages": [{"role": "robot", "content": "x"}]}
    assert sdk_violation(bad_role, sdk_type("/v1/chat/completions"))
    assert spec_violation(bad_role, "CreateChatCompletionRequest")
    assert spec_violation({**good, "n": 500}, "CreateChatCompletionRequest")  # maximum 128


def wire_bodies(srv: Any, routes: tuple[str, ...] = ("chat.completions", "completions")) -> list:
    return [(r.path, r.body) for r in srv.requests if r.route in routes]


def run_all(lm: Any, window: CompletionWindow = CompletionWindow.ASAP) -> None:
    # (/v1/completions has no JSON mode: a JSON answer is not asked of it here)
    prompts = [p for p in PROMPTS.values() if built(p, lm.model) is not None
               and not (lm.model.kind == "instruct" and p.response_format)]
    preds = list(lm.predict_many(prompts, completion_window=window))
    flat = [x for p in preds for x in (p if isinstance(p, list) else [p])]
    assert not [p.error_message for p in flat if p.has_errors]


@pytest.mark.parametrize("path", ["lean", "sdk"])
@pytest.mark.parametrize("model", WIRE_MODELS, ids=str)
def test_what_goes_over_the_wire_live_conforms(model, path, srv, monkeypatch):
    if path == "sdk":
        monkeypatch.setenv("LMWRAPPER_LIVE_HTTP", "sdk")
    run_all(get_open_ai_lm(model, api_key_secret="sk-test", base_url=srv.base_url,
                           cache_outputs_default=False))
    sent = wire_bodies(srv)
    assert sent
    for url, body in sent:
        assert_conforms(url, body)


@pytest.mark.parametrize("model", [N.gpt_6_2_sol, N.gpt_4_1_mini, N.gpt_3_5_turbo_instruct],
                         ids=str)
def test_batch_lines_and_the_batch_create_conform(model, srv, monkeypatch):
    monkeypatch.setenv("LMWRAPPER_BATCH_POLL_S", "0.01")
    monkeypatch.setenv("LMWRAPPER_BATCH_POLL_MAX_S", "0.05")
    run_all(get_open_ai_lm(model, api_key_secret="sk-test", base_url=srv.base_url,
                           cache_outputs_default=False), CompletionWindow.BATCH_ANY)
    # the uploaded files' bytes as they went over the wire (multipart: the JSONL lines are
    # the lines of the body that are JSON objects)
    uploads = [r.body for r in srv.requests if r.route == "files.create"]
    lines = [json.loads(x) for body in uploads for x in body.splitlines() if x.startswith(b"{")]
    assert lines
    for line in lines:
        # the documented line shape (https://developers.openai.com/api/reference/batch: input file)
        assert set(line) == {"custom_id", "method", "url", "body"} and line["method"] == "POST"
        assert_conforms(line["url"], line["body"])
    creates = [r.body for r in srv.requests if r.route == "batches.create"]
    assert creates
    for body in creates:
        assert sdk_violation(body, batch_create_params.BatchCreateParams) is None, body
        assert spec_violation(body, "CreateBatchRequest") is None, body


def test_current_models_are_in_the_matrix():
    assert {N.gpt_6_2_sol, N.gpt_5_4_mini, N.gpt_4_1} <= set(CURRENT)
    assert set(WIRE_MODELS) <= set(CURRENT)
