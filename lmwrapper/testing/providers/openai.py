"""The fake OpenAI model endpoints: chat completions, legacy completions, models.

Like the real API: a parameter the endpoint does not have is a 400 ("Unrecognized request
argument supplied"; the endpoint's parameters are the installed openai SDK's request
TypedDict), out-of-range ones get a 400 with `param` set, chat models are refused on
/v1/completions (and instruct models on chat), legacy completions default to
`max_tokens=16`, and a prompt plus `max_tokens` over the model's context limit is a 400
`context_length_exceeded`. What each model takes is lmwrapper's sourced data
(`providers/openai/models.toml` through `rules.rule_for`): a reasoning model refuses
`max_tokens`, penalties, and — unless its reasoning effort (the request's, else its
default) is `none` — temperature, top_p, logprobs and top_logprobs, sent at any value; a
model whose row says it takes no `n` refuses an explicit one, even n=1; a `strict: true`
JSON schema that strict mode does not accept is a 400. `service_tier` is served as
`serve_tier` says: flex's 429 "Resource Unavailable" at the rate `srv.flex_unavailable`.

`API` says how the fake speaks OpenAI's HTTP: the error body, the `x-ratelimit-*` headers,
`retry-after-ms`, the `x-request-id` header and the Bearer key; it also answers every request
no other provider's fake claims (OpenAI-compatible clients send nothing telling).

`reasoning_effort` and `verbosity` must be values of the SDK's own literals (else a 400
`invalid_value`), and values the model's row lists (else the API's 400 `unsupported_value`
naming the values it takes); a model that does not reason refuses `reasoning_effort`. A
request that sets `reasoning_effort` gets a reasoning trace (`text.reasoning_trace`, longer
at higher effort): its tokens count toward `max_completion_tokens` and are reported as
`completion_tokens_details.reasoning_tokens`, inside `completion_tokens`, as OpenAI bills
them. Like OpenAI's Chat Completions, the fake returns no reasoning text. (At a model's
default effort the fake reasons for free: no reasoning tokens, so older tests keep their
counts.)
"""

from __future__ import annotations

import functools
import time
import typing
from typing import Any

from lmwrapper.providers.openai.models import SOURCES, OpenAiModelInfo
from lmwrapper.testing.bodies import content_text, get, require, stops
from lmwrapper.testing.http import (
    ApiError,
    FakeApi,
    RateBudget,
    Request,
    Response,
    Route,
    listed,
)
from lmwrapper.testing.text import (
    AnswerRequest,
    Generation,
    generate,
    json_answer,
    reasoning_trace,
    token_logprob,
    top_alternatives,
)

MODELS = ["gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "gpt-5",
          "gpt-5-mini", "o3", "o4-mini", "gpt-3.5-turbo", "gpt-3.5-turbo-instruct",
          "davinci-002", "babbage-002"]
REASONING_PREFIXES = ("o1", "o3", "o4", "gpt-5")
# The longest text string a request may hold: the OpenAPI spec's maxLength of
# InputTextContentParam.text, which the API holds message strings to as well (400
# string_above_max_length); lmwrapper's providers/openai/models.toml [limits] has it too.
TEXT_MAX_CHARS = 10_485_760
from lmwrapper.testing.state import FakeContext


def is_completion_model(model: str) -> bool:
    return "instruct" in model or model.startswith(("davinci", "babbage", "text-"))


def is_chat_only_model(model: str) -> bool:
    return model.startswith(("gpt-3.5-turbo", "gpt-4", "chatgpt", *REASONING_PREFIXES)) \
        and not is_completion_model(model)


def check_context(srv: FakeContext, model: str, prompt_tokens: int, max_tokens: int | None,
                  param: str) -> None:
    limit = srv.context_limit_for(model, "openai")
    asked = prompt_tokens + (max_tokens or 0)
    if asked > limit:
        raise ApiError(
            400,
            f"This model's maximum context length is {limit} tokens. However, you requested "
            f"{asked} tokens ({prompt_tokens} in the {param}, {max_tokens or 0} in the "
            f"completion). Please reduce the length of the {param} or completion.",
            param=param, code="context_length_exceeded",
        )


@functools.cache
def known_params(route: str) -> frozenset[str] | None:
    """The body keys the endpoint has: the openai SDK's request TypedDict (None without it)."""
    try:
        from openai.types import completion_create_params as completions
        from openai.types.chat import completion_create_params as chat
    except ImportError:  # the fake also serves clients that are not the SDK
        return None
    params = chat if route == "chat" else completions
    return frozenset(typing.get_type_hints(params.CompletionCreateParamsNonStreaming))


def check_known_params(body: dict[str, Any], route: str) -> None:
    known = known_params(route)
    unknown = sorted(set(body) - known) if known is not None else []
    if unknown:
        raise ApiError(400, f"Unrecognized request argument supplied: {unknown[0]}",
                       type="invalid_request_error", param=None, code=None)


def check_model_rules(body: dict[str, Any], model: str) -> None:
    """What the model's row refuses (see the module docstring), as the real API answers it."""
    from lmwrapper.providers.openai.rules import rule_for  # the rows and their sources

    rule = rule_for(model)
    if "n" in body and body["n"] is not None and not rule.takes_n:
        _unsupported("n")
    if rule.kind != "reasoning":
        return
    for name in ("presence_penalty", "frequency_penalty"):
        if body.get(name) not in (None, 0, 0.0):
            _unsupported(name)
    effort = body.get("reasoning_effort") or rule.effort_default
    if effort != "none":
        for name in ("temperature", "top_p", "logprobs", "top_logprobs"):
            if body.get(name) is not None:
                _unsupported(name)


def check_reasoning(body: dict[str, Any], model: str) -> None:
    """`reasoning_effort` and `verbosity`: values of the SDK's literals, then of the model's row."""
    from lmwrapper.providers.openai.rules import rule_for

    rule = rule_for(model)
    effort, verbosity = body.get("reasoning_effort"), body.get("verbosity")
    if effort is not None:
        _check_literal("reasoning_effort", effort)
        if rule.kind != "reasoning":
            _unsupported("reasoning_effort")
        if not rule.takes_effort(effort):
            _unsupported_value("reasoning_effort", effort, rule.efforts or ())
    if verbosity is not None:
        _check_literal("verbosity", verbosity)
        if verbosity not in rule.verbosities:
            _unsupported_value("verbosity", verbosity, rule.verbosities or ("medium",))


@functools.cache
def sdk_literal(name: str) -> tuple[str, ...] | None:
    """The values the openai SDK's chat request type allows for `name` (None without it)."""
    try:
        from openai.types.chat import completion_create_params as chat
    except ImportError:
        return None
    hint = typing.get_type_hints(chat.CompletionCreateParamsNonStreaming)[name]
    return tuple(_literal_args(hint))


def _literal_args(tp: Any) -> list[Any]:
    if typing.get_origin(tp) is typing.Literal:
        return list(typing.get_args(tp))
    return [v for arg in typing.get_args(tp) for v in _literal_args(arg)]


def _check_literal(name: str, value: Any) -> None:
    allowed = sdk_literal(name)
    if allowed is not None and value not in allowed:
        raise ApiError(400, f"Invalid value: '{value}'. Supported values are: "
                       f"{', '.join(repr(v) for v in allowed)}.", param=name,
                       code="invalid_value")


def _unsupported_value(name: str, value: str, takes: tuple[str, ...]) -> None:
    raise ApiError(400, f"Unsupported value: '{name}' does not support {value!r} with this "
                   f"model. Supported values are: {', '.join(repr(v) for v in takes)}.",
                   type="invalid_request_error", param=name, code="unsupported_value")


def _unsupported(name: str) -> None:
    raise ApiError(400, f"Unsupported parameter: '{name}' is not supported with this model.",
                   type="invalid_request_error", param=name, code="unsupported_parameter")


def serve_tier(srv: FakeContext, body: dict[str, Any], model: str,
               allowed: tuple[str, ...] | None) -> str:
    """The service tier that serves the request, as its answer's `service_tier` says.

    `service_tier` must be a value of the SDK's literal (`allowed`; else `invalid_value`);
    absent, "auto" or "default" is served at "default". "flex" and "priority" ("fast" is
    priority: the SDK's docstring) only for a model sold at that tier (genai-prices' per-tier
    prices, as the client reads them), else a 400, as Azure OpenAI documents for flex on a
    model without it; any other tier (scale, ultrafast: bought or granted apart) is a 400 too.
    A flex request is refused with OpenAI's "429 Resource Unavailable" (not billed) for the
    fraction `srv.flex_unavailable` of flex requests, spread evenly over them; a tier in
    `srv.downgrade_tiers` is served at "default" ("This response value may be different
    from the value set in the parameter": the SDK).
    """
    tier = body.get("service_tier")
    if tier is None:
        return "default"
    if allowed is not None and tier not in allowed:
        raise ApiError(400, f"Invalid value: '{tier}'. Supported values are: "
                       f"{', '.join(repr(v) for v in allowed)}.", param="service_tier",
                       code="invalid_value")
    if tier in ("auto", "default"):
        return "default"
    tier = "priority" if tier == "fast" else tier
    if tier not in ("flex", "priority") or tier not in _sold_tiers(model):
        raise ApiError(400, f"The service tier '{tier}' is not available for the model "
                       f"'{model}'.", type="invalid_request_error", param="service_tier",
                       code="unsupported_value")
    if tier == "flex" and _flex_refused(srv):
        raise ApiError(429, "Resource Unavailable: flex processing has no capacity for this "
                       "request right now. You have not been charged; retry later, or send "
                       "it without service_tier='flex'.", type="invalid_request_error",
                       code="resource_unavailable")
    return "default" if tier in srv.downgrade_tiers else tier


def _sold_tiers(model: str) -> set[str]:
    from lmwrapper.core.models import published_tiers  # the data the client prices by
    from lmwrapper.providers.openai.models import SOURCES

    return set(published_tiers(SOURCES, model.rsplit("/", 1)[-1]))


def _flex_refused(srv: FakeContext) -> bool:
    """Whether this flex request is one of the `srv.flex_unavailable` share refused: the
    n-th is when floor(n * share) steps up, so any share is met exactly and in order."""
    with srv.lock:
        srv.state.flex_requests += 1
        n, share = srv.state.flex_requests, srv.flex_unavailable
    return int(n * share) > int((n - 1) * share)


def check_strict_schema(response_format: Any) -> None:
    """A strict json_schema strict mode would not take: the API's 400 (providers/openai/strict.py)."""
    from lmwrapper.providers.openai.strict import violation

    if not isinstance(response_format, dict) or response_format.get("type") != "json_schema":
        return
    spec = response_format.get("json_schema") or {}
    if spec.get("strict") and (why := violation(spec.get("schema"))):
        raise ApiError(400, f"Invalid schema for response_format '{spec.get('name')}': {why}",
                       type="invalid_request_error", param="response_format",
                       code="invalid_json_schema")


_listed = listed(SOURCES)


def known_model(model: str) -> bool:
    """Is `model` listed (`testing.http.listed`)? A fine-tune "ft:<base>:…" is, by its base."""
    return _listed(model.split(":")[1] if model.startswith("ft:") else model)


def check_model_exists(srv: FakeContext, model: str) -> None:
    """OpenAI's answer to a model it does not have (misspelt, or past its shutdown date),
    before any parameter is looked at."""
    if srv.model_missing("openai", model):
        raise ApiError(404, f"The model `{model}` does not exist or you do not have access "
                       "to it.", type="invalid_request_error", code="model_not_found")


# -- chat completions ------------------------------------------------------------------
def check_text_lengths(items: list[Any], field: str) -> None:
    """OpenAI's answer to a message string past `TEXT_MAX_CHARS` (its words and code)."""
    for i, item in enumerate(items):
        content = item.get("content") if isinstance(item, dict) else None
        parts = [("", content)] if isinstance(content, str) else [
            (f"[{j}].text", p.get("text")) for j, p in enumerate(content or [])
            if isinstance(p, dict)]
        for where, text in parts:
            if isinstance(text, str) and len(text) > TEXT_MAX_CHARS:
                param = f"{field}[{i}].content{where}"
                raise ApiError(400, f"Invalid '{param}': string too long. Expected a string with "
                               f"maximum length {TEXT_MAX_CHARS}, but got a string with length "
                               f"{len(text)} instead.", param=param,
                               code="string_above_max_length")


def chat_completions(srv: FakeContext, req: Request) -> Response:
    body = req.json()
    model = require(body, "model")
    check_model_exists(srv, model)
    check_known_params(body, "chat")
    messages = require(body, "messages")
    check_text_lengths(messages, "messages")
    if is_completion_model(model):
        raise ApiError(404, "This is not a chat model and thus not supported in the "
                       "v1/chat/completions endpoint. Did you mean to use v1/completions?",
                       param="model", code=None)
    _check_not_responses_only(model)
    check_model_rules(body, model)
    check_reasoning(body, model)
    check_strict_schema(body.get("response_format"))
    max_tokens = _chat_max_tokens(body, model)
    served = serve_tier(srv, body, model, sdk_literal("service_tier"))
    n = get(body, "n", int, 1, 1, 128)
    temperature = get(body, "temperature", (int, float), 1.0, 0, 2)
    get(body, "top_p", (int, float), 1.0, 0, 1)
    seed = get(body, "seed", int)
    stop = stops(body.get("stop"))
    logprobs = bool(body.get("logprobs"))
    top = get(body, "top_logprobs", int, None, 0, 20)
    if top is not None and not logprobs:
        raise ApiError(400, "Invalid value for 'top_logprobs': 'logprobs' must be set to "
                       "true when 'top_logprobs' is used.", param="top_logprobs")
    texts = [content_text(m.get("content")) for m in messages]
    prompt_tokens = sum(len(srv.tokenize(t)) + 3 for t in texts) + 3
    check_context(srv, model, prompt_tokens, max_tokens, "messages")
    users = [t for m, t in zip(messages, texts) if m.get("role") == "user"]
    choices, completion_tokens, reasoning_tokens = [], 0, 0
    effort = body.get("reasoning_effort")
    for i in range(n):
        q = AnswerRequest(prompt=(users or texts)[-1], full_text="\n".join(texts), model=model,
                          sample_index=i, seed=seed, temperature=temperature, body=body)
        text = json_answer(srv.answers.answer(q), body.get("response_format"))
        thought = len(srv.tokenize(reasoning_trace(f"{q.full_text}|{i}", effort))) if effort else 0
        if max_tokens is not None:  # reasoning spends max_completion_tokens first
            thought = min(thought, max_tokens)
        room = None if max_tokens is None else max_tokens - thought
        gen = generate(text, srv.tokenize, max_tokens=room, stop=stop)
        completion_tokens += len(gen.tokens) + thought
        reasoning_tokens += thought
        choices.append(_chat_choice(i, gen, logprobs, top or 0, f"{q.full_text}|{i}|{seed}"))
    usage = _usage(prompt_tokens, completion_tokens, reasoning_tokens)
    out = {
        "id": srv.new_id("chatcmpl-"), "object": "chat.completion", "created": int(time.time()),
        "model": model, "choices": choices, "usage": usage, "service_tier": served,
        "system_fingerprint": "fp_lmwrapper_fake",
    }
    return Response(body=out, tokens=prompt_tokens + completion_tokens)


def _check_not_responses_only(model: str) -> None:
    """A model only /v1/responses serves (its row's `endpoint`), as OpenAI answers it."""
    from lmwrapper.providers.openai.models import table

    if table().row(model.rsplit("/", 1)[-1]).get("endpoint") == "responses":
        raise ApiError(404, "This model is only supported in v1/responses and not in "
                       "v1/chat/completions.", param="model", code=None)


def _chat_max_tokens(body: dict[str, Any], model: str) -> int | None:
    from lmwrapper.providers.openai.rules import rule_for

    reasoning = model.startswith(REASONING_PREFIXES) or rule_for(model).kind == "reasoning"
    if reasoning and body.get("max_tokens") is not None:
        raise ApiError(400, "Unsupported parameter: 'max_tokens' is not supported with this "
                       "model. Use 'max_completion_tokens' instead.", param="max_tokens",
                       code="unsupported_parameter")
    if body.get("max_completion_tokens") is not None:
        return get(body, "max_completion_tokens", int, None, 1)
    return get(body, "max_tokens", int, None, 1)


def _chat_choice(index: int, gen: Generation, logprobs: bool, top: int,
                 salt: str) -> dict[str, Any]:
    choice: dict[str, Any] = {
        "index": index,
        "message": {"role": "assistant", "content": gen.text, "refusal": None,
                    "annotations": []},
        "logprobs": None,
        "finish_reason": gen.finish_reason,
    }
    if logprobs:
        content = []
        for pos, tok in enumerate(gen.tokens):
            lp = token_logprob(tok, pos, salt)
            content.append({
                "token": tok, "logprob": lp, "bytes": list(tok.encode()),
                "top_logprobs": [{"token": t, "logprob": v, "bytes": list(t.encode())}
                                 for t, v in top_alternatives(tok, lp, top)],
            })
        choice["logprobs"] = {"content": content, "refusal": None}
    return choice


def _usage(prompt_tokens: int, completion_tokens: int, reasoning_tokens: int = 0
           ) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": reasoning_tokens, "audio_tokens": 0,
                                      "accepted_prediction_tokens": 0,
                                      "rejected_prediction_tokens": 0},
    }


# -- legacy completions ----------------------------------------------------------------
def completions(srv: FakeContext, req: Request) -> Response:
    body = req.json()
    model, prompt = require(body, "model"), body.get("prompt")
    check_model_exists(srv, model)
    check_known_params(body, "completions")
    if is_chat_only_model(model):
        raise ApiError(404, "This is a chat model and not supported in the v1/completions "
                       "endpoint. Did you mean to use v1/chat/completions?", param="model")
    prompts = [prompt] if isinstance(prompt, str) else prompt
    if not isinstance(prompts, list) or not prompts or not all(
            isinstance(p, str) for p in prompts):
        raise ApiError(400, "Invalid 'prompt': expected a string or a list of strings "
                       "(token arrays are not supported by the fake).", param="prompt")
    max_tokens = get(body, "max_tokens", int, 16, 0)
    n = get(body, "n", int, 1, 1, 128)
    temperature = get(body, "temperature", (int, float), 1.0, 0, 2)
    seed, echo = get(body, "seed", int), bool(body.get("echo"))
    top = get(body, "logprobs", int, None, 0, 5)
    stop = stops(body.get("stop"))
    choices, prompt_tokens, completion_tokens = [], 0, 0
    for p_index, p in enumerate(prompts):
        p_tokens = srv.tokenize(p)
        check_context(srv, model, len(p_tokens), max_tokens, "prompt")
        prompt_tokens += len(p_tokens)
        for j in range(n):
            q = AnswerRequest(prompt=p, model=model, sample_index=j, seed=seed,
                              temperature=temperature, body=body)
            gen = generate(_continuation(p, srv.answers.answer(q)), srv.tokenize,
                           max_tokens=max_tokens, stop=stop)
            completion_tokens += len(gen.tokens)
            choice = {"index": p_index * n + j, "text": (p if echo else "") + gen.text,
                      "logprobs": None, "finish_reason": gen.finish_reason}
            if top is not None:
                choice["logprobs"] = _legacy_logprobs(p, p_tokens, gen, echo, top, j, seed)
            choices.append(choice)
    out = {
        "id": srv.new_id("cmpl-"), "object": "text_completion", "created": int(time.time()),
        "model": model, "choices": choices, "system_fingerprint": "fp_lmwrapper_fake",
        "usage": _usage(prompt_tokens, completion_tokens),
    }
    return Response(body=out, tokens=prompt_tokens + completion_tokens)


def _continuation(prompt: str, answer: str) -> str:
    """An answer read as a continuation: a space after a prompt that ends mid-line."""
    if prompt and not prompt[-1].isspace() and answer and not answer[0].isspace():
        return " " + answer
    return answer


def _legacy_logprobs(prompt: str, p_tokens: list[str], gen: Generation, echo: bool, top: int,
                     sample: int, seed: int | None) -> dict[str, Any]:
    """tokens / token_logprobs / top_logprobs / text_offset. With echo the prompt tokens
    come first, the very first one with logprob None (nothing precedes it); offsets index
    into prompt + completion, as the real API's do."""
    tokens, lps, tops, offsets = [], [], [], []
    offset = 0 if echo else len(prompt)
    if echo:
        for pos, tok in enumerate(p_tokens):
            lp = None if pos == 0 else token_logprob(tok, pos, prompt)
            tokens.append(tok)
            lps.append(lp)
            tops.append(None if lp is None else dict(top_alternatives(tok, lp, max(top, 1))))
            offsets.append(offset)
            offset += len(tok)
    salt = f"{prompt}|{sample}|{seed}"
    for pos, tok in enumerate(gen.tokens):
        lp = token_logprob(tok, pos, salt)
        tokens.append(tok)
        lps.append(lp)
        tops.append(dict(top_alternatives(tok, lp, max(top, 1))))
        offsets.append(offset)
        offset += len(tok)
    return {"tokens": tokens, "token_logprobs": lps, "top_logprobs": tops,
            "text_offset": offsets}


# -- models ----------------------------------------------------------------------------
def _model(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": 1_700_000_000, "owned_by": "system"}


def list_models(srv: FakeContext, req: Request) -> Response:
    return Response(body={"object": "list", "data": [_model(m) for m in MODELS]})


def retrieve_model(srv: FakeContext, req: Request) -> Response:
    return Response(body=_model(req.params["model"]))


# -- OpenAI's HTTP: errors, rate-limit headers, keys ------------------------------------
_TYPES = {429: "requests", 500: "server_error", 502: "server_error", 503: "server_error"}


def error_body(err: ApiError, request_id: str) -> dict[str, Any]:
    """`{"error": {message, type, param, code}}`."""
    kind = err.type or _TYPES.get(err.status, "invalid_request_error")
    return {"error": {"message": err.message, "type": kind, "param": err.param,
                      "code": err.code}}


def go_duration(seconds: float) -> str:
    """OpenAI's reset format: `20ms`, `1.5s`, `6m0s`."""
    if seconds < 1:
        return f"{max(int(seconds * 1000), 0)}ms"
    minutes, rest = divmod(seconds, 60)
    text = f"{rest:.3f}".rstrip("0").rstrip(".") + "s"
    return f"{int(minutes)}m{text}" if minutes else text


def rate_limit_headers(b: RateBudget) -> dict[str, str]:
    return {
        "x-ratelimit-limit-requests": str(b.limit_requests),
        "x-ratelimit-limit-tokens": str(b.limit_tokens),
        "x-ratelimit-remaining-requests": str(b.requests_left),
        "x-ratelimit-remaining-tokens": str(b.tokens_left),
        "x-ratelimit-reset-requests": go_duration(b.reset_s),
        "x-ratelimit-reset-tokens": go_duration(b.reset_s),
    }


API = FakeApi("openai", error_body, rate_limit_headers,
              retirement=lambda model: OpenAiModelInfo(model).retires, known=known_model,
              context_window=lambda model: OpenAiModelInfo(model).context_window,
              secret_headers=("api-key",),  # Azure OpenAI's key header
              retry_after_ms=True, base_url_var="OPENAI_BASE_URL", base_path="/v1",
              test_model="gpt-4o-mini")

ROUTES = [
    Route("POST", "/v1/chat/completions", "chat.completions", "openai", chat_completions,
          model_call=True),
    Route("POST", "/v1/completions", "completions", "openai", completions, model_call=True),
    Route("GET", "/v1/models", "models.list", "openai", list_models),
    Route("GET", "/v1/models/{model}", "models.retrieve", "openai", retrieve_model),
]
