"""The fake OpenAI Responses API: `POST /v1/responses` (live, and as a batch line's url).

Like the real API: a body key the installed openai SDK's `ResponseCreateParamsNonStreaming`
does not declare is a 400 ("Unrecognized request argument supplied"); `reasoning.effort`,
`reasoning.summary`, `text.verbosity` and `include` must be values of the SDK's literals
(`invalid_value`); `max_output_tokens` is at least 16 and `top_logprobs` at most 20 (the
OpenAPI spec's bounds). What each model takes is lmwrapper's sourced data
(`providers/openai/models.toml` through `rules.rule_for`), as for Chat Completions: an effort
the model's row does not list is `unsupported_value`, a model that does not reason refuses
`reasoning`, and a reasoning model refuses temperature, top_p and top_logprobs unless its
effort is none. An instruct model is not served here.

A reasoning model asked for an effort reasons (`text.reasoning_trace`): its tokens count toward
`max_output_tokens` and are reported as `output_tokens_details.reasoning_tokens`; with
`reasoning.summary` set, the trace comes back as the reasoning item's `summary_text`.
Chat Completions refuses the models only Responses serves (their rows' `endpoint`).
`service_tier` (the SDK's `ServiceTier` literal) is served as Chat Completions serves it
(`openai.serve_tier`: flex's 429 "Resource Unavailable" included). Background mode
(`background: true`): `GET /v1/responses/{id}` and `POST /v1/responses/{id}/cancel`, below.
"""

from __future__ import annotations

import functools
import time
import typing
from typing import Any

from lmwrapper.testing.bodies import content_text, get, require
from lmwrapper.testing.http import ApiError, Request, Response, Route
from lmwrapper.testing.providers import openai as fake_openai
from lmwrapper.testing.state import FakeContext
from lmwrapper.testing.text import (
    AnswerRequest,
    Generation,
    generate,
    json_answer,
    reasoning_trace,
    token_logprob,
    top_alternatives,
)

LOGPROBS_INCLUDE = "message.output_text.logprobs"


@functools.cache
def sdk_params() -> dict[str, Any] | None:
    """`ResponseCreateParamsNonStreaming`'s keys and types (None without the SDK)."""
    try:
        from openai.types.responses import response_create_params as params
    except ImportError:  # the fake also serves clients that are not the SDK
        return None
    return typing.get_type_hints(params.ResponseCreateParamsNonStreaming)


@functools.cache
def sdk_literal(path: str) -> tuple[Any, ...] | None:
    """The values the SDK allows at `path` ("reasoning.effort", "include", ...)."""
    hints = sdk_params()
    if hints is None:
        return None
    hint: Any = hints
    for part in path.split("."):
        hint = _typed_dict_of(hint)[part]
    return tuple(fake_openai._literal_args(hint))


def _typed_dict_of(hint: Any) -> dict[str, Any]:
    """The fields of the TypedDict `hint` is, or is an Optional/Union of."""
    if isinstance(hint, dict):
        return hint
    import typing_extensions  # the SDK's TypedDicts are typing_extensions' (an SDK dependency)

    if typing_extensions.is_typeddict(hint):
        return typing_extensions.get_type_hints(hint)
    for arg in typing.get_args(hint):
        if found := _typed_dict_of(arg):
            return found
    return {}


def _check_literal(path: str, value: Any) -> None:
    allowed = sdk_literal(path)
    if allowed is not None and value not in allowed:
        raise ApiError(400, f"Invalid value: '{value}'. Supported values are: "
                       f"{', '.join(repr(v) for v in allowed)}.", param=path,
                       code="invalid_value")


def check_body(body: dict[str, Any], model: str) -> None:
    """The request's keys and literals, then what the model's row allows."""
    from lmwrapper.providers.openai.rules import rule_for  # the rows and their sources

    known = sdk_params()
    unknown = sorted(set(body) - set(known)) if known is not None else []
    if unknown:
        raise ApiError(400, f"Unrecognized request argument supplied: {unknown[0]}",
                       type="invalid_request_error", param=None, code=None)
    reasoning, text = body.get("reasoning") or {}, body.get("text") or {}
    for key in ("effort", "summary"):
        if reasoning.get(key) is not None:
            _check_literal(f"reasoning.{key}", reasoning[key])
    if text.get("verbosity") is not None:
        _check_literal("text.verbosity", text["verbosity"])
    for item in body.get("include") or ():
        _check_literal("include", item)
    rule = rule_for(model)
    if rule.kind == "instruct":
        raise ApiError(400, f"The model '{model}' is not supported with the Responses API.",
                       param="model", code="model_not_supported")
    if rule.kind != "reasoning":
        if reasoning:
            fake_openai._unsupported("reasoning.effort")
    else:
        effort = reasoning.get("effort")
        if effort is not None and not rule.takes_effort(effort):
            fake_openai._unsupported_value("reasoning.effort", effort, rule.efforts or ())
        if (effort or rule.effort_default) != "none":
            for name in ("temperature", "top_p", "top_logprobs"):
                if body.get(name) is not None:
                    fake_openai._unsupported(name)
    if text.get("verbosity") is not None and text["verbosity"] not in rule.verbosities:
        fake_openai._unsupported_value("text.verbosity", text["verbosity"],
                                       rule.verbosities or ("medium",))


def create_response(srv: FakeContext, req: Request) -> Response:
    body = req.json()
    model = require(body, "model")
    fake_openai.check_model_exists(srv, model)
    check_body(body, model)
    items = _input_items(require(body, "input"))
    fake_openai.check_text_lengths(items, "input")
    fmt = (body.get("text") or {}).get("format")
    fake_openai.check_strict_schema(_as_response_format(fmt))
    max_out = get(body, "max_output_tokens", int, None, 16)
    temperature = get(body, "temperature", (int, float), 1.0, 0, 2)
    get(body, "top_p", (int, float), 1.0, 0, 1)
    top = get(body, "top_logprobs", int, None, 0, 20)
    texts = [content_text(m.get("content")) for m in items]
    input_tokens = sum(len(srv.tokenize(t)) + 3 for t in texts) + 3
    fake_openai.check_context(srv, model, input_tokens, max_out, "input")
    check_background(body)
    served = fake_openai.serve_tier(srv, body, model, sdk_literal("service_tier"))
    users = [t for m, t in zip(items, texts) if m.get("role") == "user"]
    q = AnswerRequest(prompt=(users or texts)[-1], full_text="\n".join(texts), model=model,
                      temperature=temperature, body=body)
    answer = json_answer(srv.answers.answer(q), _as_response_format(fmt))
    reasoning = body.get("reasoning") or {}
    effort = reasoning.get("effort")
    trace = reasoning_trace(q.full_text, effort) if effort else ""
    thought = min(len(srv.tokenize(trace)), max_out) if max_out is not None else \
        len(srv.tokenize(trace))
    gen = generate(answer, srv.tokenize, stop=None,
                   max_tokens=None if max_out is None else max_out - thought)
    logprobs = LOGPROBS_INCLUDE in (body.get("include") or ())
    output = []
    if "reasoning" in body:
        summary = [{"type": "summary_text", "text": trace}] if trace and \
            reasoning.get("summary") else []
        output.append({"id": srv.new_id("rs_"), "type": "reasoning", "summary": summary})
    output.append(_message(srv, gen, logprobs, top or 0, q.full_text))
    out_tokens = len(gen.tokens) + thought
    status = "completed" if gen.finish_reason == "stop" else "incomplete"
    out = {
        "id": srv.new_id("resp_"), "object": "response", "created_at": int(time.time()),
        "status": status, "error": None, "model": model, "output": output,
        "incomplete_details": None if status == "completed" else
        {"reason": "max_output_tokens"},
        "usage": {"input_tokens": input_tokens, "output_tokens": out_tokens,
                  "total_tokens": input_tokens + out_tokens,
                  "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
                  "output_tokens_details": {"reasoning_tokens": thought}},
        "store": body.get("store", True), "service_tier": served,
        "background": bool(body.get("background")), "metadata": body.get("metadata") or {},
        # required by the SDK's `Response` model (3.63.0); no tools are sent, none are used
        "parallel_tool_calls": True, "tool_choice": "auto", "tools": [],
    }
    if body.get("background"):
        return _queue(srv, out, input_tokens + out_tokens)
    return Response(body=out, tokens=input_tokens + out_tokens)


# -- background mode -----------------------------------------------------------------------
# A background response is answered when created (the same answer a live one gets) and
# shown as `queued` (the create's answer), then `in_progress`, then its end, one step per
# GET; a cancel before its end makes it `cancelled`. What the fake refuses, by the openai SDK's words (3.63.0,
# `ResponseCreateParams.background_options`): "The `2h` and `8h` completion windows require
# `background: true`, Standard processing, and `stream: false` or omitted", and the window
# is one of the `BackgroundOptions.completion_window` literal. `store: false` is accepted:
# OpenAI's background guide (developers.openai.com/api/docs/guides/background, read
# 2026-12-07) runs it, deleting the response "after about 10 minutes"; the fake keeps it.
_STEPS = ("queued", "in_progress")
_PENDING_FIELDS: dict[str, Any] = {"output": [], "usage": None, "incomplete_details": None}


def check_background(body: dict[str, Any]) -> None:
    window = (body.get("background_options") or {}).get("completion_window")
    if window is None:
        return
    _check_literal("background_options.completion_window", window)
    if window in ("2h", "8h"):
        if not body.get("background"):
            raise ApiError(400, f"The '{window}' completion window requires background: true.",
                           param="background_options.completion_window")
        if body.get("stream"):
            raise ApiError(400, f"The '{window}' completion window cannot be streamed.",
                           param="stream")
        if body.get("service_tier") not in (None, "auto", "default"):
            raise ApiError(400, f"The '{window}' completion window requires Standard "
                           f"processing; got service_tier '{body['service_tier']}'.",
                           param="service_tier")


def _queue(srv: FakeContext, final: dict[str, Any], tokens: int) -> Response:
    with srv.lock:
        srv.state.background[final["id"]] = {"final": final, "polls": 0, "cancelled": False}
    return Response(body={**final, "status": "queued", **_PENDING_FIELDS}, tokens=tokens)


def _shown(entry: dict[str, Any]) -> dict[str, Any]:
    """The response as a GET shows it now. A test makes one end `failed` by setting
    `srv.state.background[id]["error"]` (a `ResponseError`: code, message)."""
    final = entry["final"]
    if entry["cancelled"]:
        return {**final, "status": "cancelled", **_PENDING_FIELDS}
    if entry["polls"] < len(_STEPS):
        return {**final, "status": _STEPS[entry["polls"]], **_PENDING_FIELDS}
    if entry.get("error"):
        return {**final, "status": "failed", **_PENDING_FIELDS, "error": entry["error"]}
    return final


def _entry(srv: FakeContext, response_id: str) -> dict[str, Any]:
    entry = srv.state.background.get(response_id)
    if entry is None:  # live responses are not kept (`store: false`)
        raise ApiError(404, f"Response with id '{response_id}' not found.",
                       type="invalid_request_error", param="response_id")
    return entry


def retrieve_response(srv: FakeContext, req: Request) -> Response:
    with srv.lock:
        entry = _entry(srv, req.params["response_id"])
        entry["polls"] += 1
        return Response(body=_shown(entry))


def cancel_response(srv: FakeContext, req: Request) -> Response:
    with srv.lock:
        entry = _entry(srv, req.params["response_id"])
        if entry["polls"] < len(_STEPS):  # not ended yet
            entry["cancelled"] = True
        return Response(body=_shown(entry))


def _input_items(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    if not isinstance(value, list) or not all(isinstance(m, dict) for m in value):
        raise ApiError(400, "Invalid 'input': expected a string or a list of input items.",
                       param="input")
    return value


def _as_response_format(fmt: Any) -> dict[str, Any] | None:
    """`text.format` as Chat Completions' `response_format` (what the shared helpers read)."""
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
        return fmt
    spec = {k: v for k, v in fmt.items() if k != "type"}
    return {"type": "json_schema", "json_schema": spec}


def _message(srv: FakeContext, gen: Generation, logprobs: bool, top: int,
             salt: str) -> dict[str, Any]:
    content: dict[str, Any] = {"type": "output_text", "text": gen.text, "annotations": [],
                               "logprobs": []}
    if logprobs:
        for pos, tok in enumerate(gen.tokens):
            lp = token_logprob(tok, pos, salt)
            content["logprobs"].append({
                "token": tok, "logprob": lp, "bytes": list(tok.encode()),
                "top_logprobs": [{"token": t, "logprob": v, "bytes": list(t.encode())}
                                 for t, v in top_alternatives(tok, lp, top)]})
    return {"id": srv.new_id("msg_"), "type": "message", "role": "assistant",
            "status": "completed", "content": [content]}


ROUTES = [
    Route("POST", "/v1/responses", "responses.create", "openai", create_response,
          model_call=True),
    Route("GET", "/v1/responses/{response_id}", "responses.retrieve", "openai",
          retrieve_response),
    Route("POST", "/v1/responses/{response_id}/cancel", "responses.cancel", "openai",
          cancel_response),
]
