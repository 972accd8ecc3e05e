"""The fake Anthropic API: messages, count_tokens, message batches, models.

It enforces the rules of the real API's versions (the `anthropic-version` header: missing or
unknown is a 400). Under 2026-10-21, the version `anthropic>=2.0` sends, a body may carry
only the keys of the installed SDK's own request types (`MessageCreateParams`), so
`temperature`/`top_p`/`top_k` are "Extra inputs are not permitted", as at the real API.
Under 2023-06-01 they are read from the body and checked as the real API did (temperature
0–1; `ONE_SAMPLING_KNOB` families refuse `temperature` and `top_p` together;
`NO_SAMPLING` families refuse non-default values). A whitespace-only stop sequence is a
400, and so is an assistant prefill to `NO_PREFILL` families. `max_tokens` is required; 0
only fills the prompt cache (no content). Sizes past `srv.anthropic_limits` (32 MB a
request, 100,000 requests or 256 MB a batch) are refused as the real API refuses them.

    create → in_progress → ended        (one step per poll; results at `results_url`)
    cancel → canceling   → ended        (lines answered before the cancel are kept)

A batch's lines are checked under the version its create call carried, when they are run
(the real API validates `params` asynchronously: a bad line is an errored result).

`API` says how the fake speaks Anthropic's HTTP: a request with `anthropic-version` or a
/v1/messages path is its; its error body, `anthropic-ratelimit-*` headers, `request-id`
header and `x-api-key` key. `BATCHES` says how its batches end.

Reasoning, by lmwrapper's sourced rows (`providers/anthropic/models.toml` through
`rules.rule_for`) after the SDK's own literals: `thinking.type` must be one the model takes
(`enabled` with a `budget_tokens` of at least 1,024 and below `max_tokens`),
`output_config.effort` one it takes (a model with no effort answers "This model does not
support the effort parameter."), fewer efforts with thinking disabled where the row says so;
with thinking on, a temperature change, a top_p below 0.95 or a prefill is a 400. A request
with thinking `adaptive` or `enabled` thinks (`text.reasoning_trace` at its effort, `high` by
default; within the budget and `max_tokens`, which it spends first): a `thinking` block
before the text, its text shown when `display` is `summarized` (or a budget is set without
`display`) and "" otherwise, and `usage.output_tokens_details.thinking_tokens`, inside
`output_tokens`. (A model that thinks by default thinks here only when asked.)
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
import time
from collections.abc import Mapping
from typing import Any

from lmwrapper.providers.anthropic.models import SOURCES, ClaudeModelInfo
from lmwrapper.testing.bodies import content_text, get, require, stops
from lmwrapper.testing.http import (
    ApiError,
    FakeApi,
    RateBudget,
    Request,
    Response,
    Route,
    listed,
    rfc3339,
)
from lmwrapper.testing.jobs import BatchSteps, Job, due, page, run_lines, shuffled, take_fate
from lmwrapper.testing.state import FakeContext
from lmwrapper.testing.text import (
    AnswerRequest,
    generate,
    json_answer,
    reasoning_trace,
    stable_hash,
)

# The models the SDK's `ModelParam` names (anthropic 2.17), newest first.
MODELS = ["claude-sonnet-5-5", "claude-opus-5-5", "claude-haiku-5-5", "claude-sonnet-5",
          "claude-opus-4-8", "claude-opus-4-7", "claude-opus-4-6", "claude-sonnet-4-6",
          "claude-haiku-4-5", "claude-opus-4-5", "claude-sonnet-4-5"]
_CUSTOM_ID = re.compile(r"[a-zA-Z0-9_-]{1,64}")
VERSION_HEADER = "anthropic-version"
# https://platform.claude.com/docs/en/api/versioning (checked 2026-12-07)
LEGACY, CURRENT = "2023-06-01", "2026-10-21"
SAMPLING = ("temperature", "top_p", "top_k")
# Families (and their dated snapshots) that answer 400 to a request setting both
# temperature and top_p: Opus 4.1 and later (Anthropic's migration guide to Claude 4.5,
# "use only temperature OR top_p, not both").
ONE_SAMPLING_KNOB = ("claude-opus-4-1", "claude-opus-4-5", "claude-sonnet-4-5",
                     "claude-haiku-4-5", "claude-opus-4-6", "claude-sonnet-4-6")
# Families that refuse non-default sampling under every API version (Opus 4.7+, Claude 5):
# https://platform.claude.com/docs/en/about-claude/models/migration-guide (checked 2026-12-07)
NO_SAMPLING = ("claude-opus-4-7", "claude-opus-4-8", "claude-sonnet-5", "claude-opus-5",
               "claude-haiku-5", "claude-fable-5", "claude-mythos")
# ... and those that refuse an assistant prefill (4.6 and later; same guide).
NO_PREFILL = (*NO_SAMPLING, "claude-opus-4-6", "claude-sonnet-4-6")


def _bad(message: str) -> ApiError:
    return ApiError(400, message, type="invalid_request_error")


def _prompt_parts(body: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
    """The texts to count (system first) and the messages, checked."""
    messages = require(body, "messages")
    if not isinstance(messages, list) or not all(
            isinstance(m, dict) and m.get("role") in ("user", "assistant") for m in messages):
        raise _bad("messages: each message needs a role of 'user' or 'assistant'.")
    system = body.get("system")
    texts = [content_text(system)] if system else []
    return texts + [content_text(m.get("content")) for m in messages], messages


def count_input(srv: FakeContext, body: dict[str, Any]) -> int:
    texts, messages = _prompt_parts(body)
    return sum(len(srv.tokenize(t)) for t in texts) + 3 * len(messages) + 1


def check_model_exists(srv: FakeContext, model: str) -> None:
    """Anthropic's answer to a model it does not have (misspelt, or past its shutdown date)."""
    if srv.model_missing("anthropic", model):
        raise ApiError(404, f"model: {model}", type="not_found_error")


def _check_size(req: Request, limit: int) -> None:
    """A body past the endpoint's size limit: 413 (at the real API, from its edge proxy)."""
    if len(req.body) > limit:
        raise ApiError(413, f"Request exceeds the maximum allowed number of bytes: "
                       f"{len(req.body)} > {limit}.")


def _max_tokens(body: dict[str, Any]) -> int:
    """Required; 0 is allowed (it fills the prompt cache and generates nothing)."""
    if "max_tokens" not in body:
        raise _bad("max_tokens: Field required")
    value = body["max_tokens"]
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise _bad(f"max_tokens: Input should be an integer greater than or equal to 0; "
                   f"got {value!r}")
    return value


def _version(req: Request) -> str:
    version = req.headers.get(VERSION_HEADER)
    if version is None:
        raise _bad(f"{VERSION_HEADER}: header is required")
    if version not in (LEGACY, CURRENT):
        raise _bad(f"{VERSION_HEADER}: invalid version {version!r}; use {CURRENT} or {LEGACY}")
    return version


@functools.cache
def _sdk_keys(kind: str) -> frozenset[str] | None:
    """The body keys of the installed SDK's request type (None without the SDK)."""
    try:
        from anthropic.types.message_count_tokens_params import MessageCountTokensParams
        from anthropic.types.message_create_params import MessageCreateParamsNonStreaming
    except ImportError:
        return None
    td: Any = MessageCountTokensParams if kind == "count" else MessageCreateParamsNonStreaming
    return frozenset(td.__required_keys__ | td.__optional_keys__)


def _check_keys(body: dict[str, Any], version: str, kind: str = "create") -> None:
    """Keys the SDK's request type lacks are refused, as the real API refuses them (the
    sampling fields too under 2026-10-21; under 2023-06-01 they still exist)."""
    known = _sdk_keys(kind)
    extra = set(SAMPLING) & set(body) if version == CURRENT else set()
    if known is not None:
        extra |= set(body) - known - (set(SAMPLING) if version == LEGACY else set())
    if extra:
        raise _bad(f"{min(extra)}: Extra inputs are not permitted")


def _sampling(body: dict[str, Any], model: str) -> float:
    """The temperature to answer with, after the API's checks of the sampling knobs (2023-06-01)."""
    temperature = get(body, "temperature", (int, float), 1.0, 0, 1)
    top_p = get(body, "top_p", (int, float), None, 0, 1)
    get(body, "top_k", int, None, 0)
    changed = [k for k, v in (("temperature", temperature), ("top_p", top_p)) if v not in (None, 1.0)]
    if model.startswith(NO_SAMPLING) and (changed or body.get("top_k") is not None):
        raise _bad(f"`{(changed or ['top_k'])[0]}` is deprecated for this model.")
    both = body.get("temperature") is not None and body.get("top_p") is not None
    if both and model.startswith(ONE_SAMPLING_KNOB + NO_SAMPLING):
        raise _bad("`temperature` and `top_p` cannot both be specified for this model. "
                   "Please use only one.")
    return float(temperature)


def _check_stops(body: dict[str, Any]) -> list[str]:
    stop = stops(body.get("stop_sequences"), "stop_sequences", most=8191)
    if any(not s.strip() for s in stop):
        raise _bad("stop_sequences: each stop sequence must contain non-whitespace")
    return stop


def _check_prefill(messages: list[dict[str, Any]], model: str) -> None:
    if messages and messages[-1]["role"] == "assistant" and model.startswith(NO_PREFILL):
        raise _bad("This model does not support assistant message prefill. The conversation "
                   "must end with a user message.")


@functools.cache
def _sdk_literals() -> dict[str, tuple[str, ...]] | None:
    """The SDK's own values for `thinking.type`, `thinking.display` and `output_config.effort`."""
    try:
        from anthropic.types.output_config_param import OutputConfigParam
        from anthropic.types.thinking_config_param import ThinkingConfigParam
    except ImportError:
        return None
    import typing

    def args(tp: Any) -> list[Any]:
        if typing.get_origin(tp) is typing.Literal:
            return list(typing.get_args(tp))
        return [v for a in typing.get_args(tp) for v in args(a)]

    configs = typing.get_args(ThinkingConfigParam)
    types = [v for c in configs for v in args(typing.get_type_hints(c)["type"])]
    displays = [v for c in configs for v in args(typing.get_type_hints(c).get("display"))]
    effort = args(typing.get_type_hints(OutputConfigParam)["effort"])
    return {"type": tuple(types), "display": tuple(dict.fromkeys(displays)),
            "effort": tuple(effort)}


def _check_reasoning(body: dict[str, Any], model: str, max_tokens: int,
                     messages: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The thinking config to answer with (None: no thinking), after the API's checks."""
    from lmwrapper.providers.anthropic.rules import rule_for  # the rows and their sources

    rule, sdk = rule_for(model), _sdk_literals() or {}
    thinking = body.get("thinking")
    kind = thinking.get("type") if isinstance(thinking, dict) else None
    if thinking is not None and not isinstance(thinking, dict):
        raise _bad("thinking: Input should be a valid dictionary or object")
    if isinstance(thinking, dict):
        _check_thinking(thinking, rule, sdk, max_tokens)
    effort = (body.get("output_config") or {}).get("effort")
    if effort is not None:
        _check_effort(effort, kind, rule, sdk)
    if not isinstance(thinking, dict) or kind not in ("adaptive", "enabled"):
        return None
    if body.get("temperature") not in (None, 1, 1.0) or body.get("top_k") is not None:
        raise _bad("`temperature` may only be set to 1 when thinking is enabled.")
    if body.get("top_p") is not None and body["top_p"] < 0.95:
        raise _bad("`top_p` must be greater than or equal to 0.95 when thinking is enabled.")
    if messages and messages[-1]["role"] == "assistant":
        raise _bad("Expected `thinking` or `redacted_thinking`, but found `text`. When "
                   "`thinking` is enabled, a final `assistant` message must start with a "
                   "thinking block.")
    return {**thinking, "effort": effort or "high"}


def _check_thinking(thinking: dict[str, Any], rule: Any, sdk: dict[str, Any],
                    max_tokens: int) -> None:
    kind = thinking.get("type")
    if kind not in sdk.get("type", (kind,)):
        raise _bad(f"thinking.type: Input tag {kind!r} does not match any of the expected "
                   f"tags: {', '.join(repr(t) for t in sdk['type'])}")
    if thinking.get("display") not in (None, *sdk.get("display", ())):
        raise _bad("thinking.display: Input should be 'summarized' or 'omitted'")
    if kind not in rule.thinking:
        raise _bad(f'"thinking.type.{kind}" is not supported for this model.')
    if kind == "enabled":
        budget = thinking.get("budget_tokens")
        if not isinstance(budget, int) or budget < 1024:
            raise _bad("thinking.enabled.budget_tokens: Input should be greater than or equal "
                       "to 1024")
        if budget >= max_tokens:
            raise _bad("`max_tokens` must be greater than `thinking.budget_tokens`.")


def _check_effort(effort: Any, kind: str | None, rule: Any, sdk: dict[str, Any]) -> None:
    if effort not in sdk.get("effort", (effort,)):
        raise _bad(f"output_config.effort: Input should be one of "
                   f"{', '.join(repr(e) for e in sdk['effort'])}")
    if rule.efforts is not None and not rule.efforts:
        raise _bad("This model does not support the effort parameter.")
    if rule.efforts is not None and effort not in rule.efforts:
        raise _bad(f"output_config.effort {effort!r} is not supported by this model.")
    off = rule.efforts_thinking_off
    if kind == "disabled" and off is not None and effort not in off:
        raise _bad(f"output_config.effort {effort!r} requires thinking; it cannot be used "
                   "with thinking disabled.")


def _think(srv: FakeContext, thinking: dict[str, Any] | None, full_text: str,
           max_tokens: int) -> tuple[dict[str, Any] | None, int]:
    """The thinking block and its tokens (none without thinking)."""
    if thinking is None:
        return None, 0
    tokens = srv.tokenize(reasoning_trace(full_text, thinking["effort"]))
    tokens = tokens[:min(thinking.get("budget_tokens") or max_tokens, max_tokens)]
    shown = thinking.get("display") == "summarized" or (
        thinking["type"] == "enabled" and thinking.get("display") is None)
    return {"type": "thinking", "thinking": "".join(tokens).strip() if shown else "",
            "signature": "sig_" + stable_hash(full_text, len(tokens))[:32]}, len(tokens)


def messages(srv: FakeContext, req: Request) -> Response:
    _check_size(req, srv.anthropic_limits.request_bytes)
    version = _version(req)
    body = req.json()
    _check_keys(body, version)
    model = require(body, "model")
    check_model_exists(srv, model)
    max_tokens = _max_tokens(body)
    temperature = _sampling(body, model)
    stop = _check_stops(body)
    texts, msgs = _prompt_parts(body)
    _check_prefill(msgs, model)
    thinking = _check_reasoning(body, model, max_tokens, msgs)
    input_tokens = count_input(srv, body)
    limit = srv.context_limit_for(model, "anthropic")
    if input_tokens + max_tokens > limit:
        raise _bad(f"prompt is too long: {input_tokens + max_tokens} tokens > {limit} maximum")
    users = [content_text(m.get("content")) for m in msgs if m["role"] == "user"]
    q = AnswerRequest(prompt=(users or texts)[-1], full_text="\n".join(texts), model=model,
                      temperature=temperature, body=body)
    fmt = (body.get("output_config") or {}).get("format")
    text = json_answer(srv.answers.answer(q), {"type": "json_schema", "json_schema": fmt}
                       if fmt else None)
    block, thought = _think(srv, thinking, q.full_text, max_tokens)
    gen = generate(text, srv.tokenize, max_tokens=max_tokens - thought, stop=stop)
    out = _message(srv, model, gen, input_tokens, max_tokens, block, thought)
    return Response(body=out, tokens=input_tokens + len(gen.tokens) + thought)


def _message(srv: FakeContext, model: str, gen: Any, input_tokens: int, max_tokens: int,
             thinking: dict[str, Any] | None = None, thought: int = 0) -> dict[str, Any]:
    """The Message object; with max_tokens 0 (a cache warm-up) it has no content."""
    reason = "max_tokens" if gen.finish_reason == "length" or not max_tokens else (
        "stop_sequence" if gen.stop_sequence else "end_turn")
    content = [{"type": "text", "text": gen.text, "citations": None}] if max_tokens else []
    usage: dict[str, Any] = {"input_tokens": input_tokens, "output_tokens": len(gen.tokens) + thought,
                             "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
                             "service_tier": "standard"}
    if thinking is not None:
        content.insert(0, thinking)
        usage["output_tokens_details"] = {"thinking_tokens": thought}
    return {
        "id": srv.new_id("msg_"), "type": "message", "role": "assistant", "model": model,
        "content": content, "stop_reason": reason,
        "stop_sequence": gen.stop_sequence if max_tokens else None, "usage": usage,
    }


def count_tokens(srv: FakeContext, req: Request) -> Response:
    _check_size(req, srv.anthropic_limits.request_bytes)
    version = _version(req)
    body = req.json()
    _check_keys(body, version, "count")
    check_model_exists(srv, require(body, "model"))
    return Response(body={"input_tokens": count_input(srv, body)})


# -- message batches -------------------------------------------------------------------
def create_batch(srv: FakeContext, req: Request) -> Response:
    limits = srv.anthropic_limits
    _check_size(req, limits.batch_bytes)
    version = _version(req)
    items = req.json().get("requests")
    if not isinstance(items, list) or not items:
        raise _bad("requests: at least one request is required.")
    if len(items) > limits.batch_requests:
        raise _bad(f"requests: a Message Batch holds at most {limits.batch_requests:,} "
                   f"requests; got {len(items):,}.")
    _check_batch_items(items)
    job = Job(srv.new_id("msgbatch_"), "anthropic",
              [(it["custom_id"], it["params"]) for it in items], time.time(), "in_progress")
    job.extra[VERSION_HEADER] = version  # its lines are checked under it when run
    take_fate(srv, job)
    with srv.lock:
        srv.state.batches[job.id] = job
    return Response(body=batch_object(srv, job))


def _check_batch_items(items: list[Any]) -> None:
    """Each `{custom_id, params}`: ids of ^[a-zA-Z0-9_-]{1,64}$, unique in the batch."""
    seen: set[str] = set()
    for i, item in enumerate(items):
        custom_id = item.get("custom_id") if isinstance(item, dict) else None
        if not isinstance(custom_id, str) or not _CUSTOM_ID.fullmatch(custom_id):
            raise _bad(f"requests.{i}.custom_id: String should match pattern "
                       "'^[a-zA-Z0-9_-]{1,64}$'")
        if custom_id in seen:
            raise _bad(f"requests.{i}.custom_id: custom_id '{custom_id}' is not unique; each "
                       "request in a Message Batch needs its own.")
        if not isinstance(item.get("params"), dict):
            raise _bad(f"requests.{i}.params: Field required")
        seen.add(custom_id)


def advance(srv: FakeContext, job: Job, force: bool = False) -> None:
    if job.status == "ended" or not (force or due(srv, job)):
        return
    keep = None
    if job.status == "canceling":
        keep = job.keep or 0
    elif job.fate == "expire":
        keep = len(job.requests) // 2 if job.keep is None else job.keep
    job.results = run_lines(srv, job, functools.partial(_line, job.extra[VERSION_HEADER]),
                            API, upto=keep)
    for r in job.results:
        if r.outcome == "unrun":
            r.outcome = "canceled" if job.status == "canceling" else "expired"
    job.status = "ended"
    job.stamps["ended"] = time.time()


def _line(version: str, srv: FakeContext, req: Request) -> Response:
    """One batch line, answered as a live request under the batch's API version."""
    return messages(srv, dataclasses.replace(req, headers={VERSION_HEADER: version}))


def batch_object(srv: FakeContext, job: Job) -> dict[str, Any]:
    counts = {k: 0 for k in ("processing", "succeeded", "errored", "canceled", "expired")}
    for r in job.results or []:
        counts[r.outcome] += 1
    if job.results is None:
        counts["processing"] = len(job.requests)
    stamp = {k: rfc3339(v) for k, v in job.stamps.items()}
    return {
        "id": job.id, "type": "message_batch", "processing_status": job.status,
        "request_counts": counts, "ended_at": stamp.get("ended"),
        "created_at": rfc3339(job.created_at), "expires_at": rfc3339(job.created_at + 86400),
        "archived_at": None, "cancel_initiated_at": stamp.get("canceling"),
        "results_url": f"{srv.url}/v1/messages/batches/{job.id}/results"
        if job.status == "ended" else None,
    }


def _get(srv: FakeContext, batch_id: str) -> Job:
    with srv.lock:
        job = srv.state.batches.get(batch_id)
    if job is None or job.provider != "anthropic":
        raise ApiError(404, f"message batch not found: {batch_id}")
    return job


def retrieve_batch(srv: FakeContext, req: Request) -> Response:
    job = _get(srv, req.params["batch_id"])
    with srv.lock:
        advance(srv, job)
        return Response(body=batch_object(srv, job))


def list_batches(srv: FakeContext, req: Request) -> Response:
    with srv.lock:
        jobs = [j for j in srv.state.batches.values() if j.provider == "anthropic"]
        data = [batch_object(srv, j) for j in reversed(jobs)]
    items, more = page(data, req.query, "after_id", "before_id")
    return Response(body={"data": items, "has_more": more,
                          "first_id": items[0]["id"] if items else None,
                          "last_id": items[-1]["id"] if items else None})


def cancel_batch(srv: FakeContext, req: Request) -> Response:
    job = _get(srv, req.params["batch_id"])
    with srv.lock:
        if job.status == "in_progress":
            job.keep = len(job.requests) // 2
            job.status, job.polls = "canceling", 0
            job.stamps["canceling"] = time.time()
        return Response(body=batch_object(srv, job))


def delete_batch(srv: FakeContext, req: Request) -> Response:
    job = _get(srv, req.params["batch_id"])
    with srv.lock:
        if job.status != "ended":
            raise _bad("Cannot delete a message batch that is still processing; cancel it.")
        del srv.state.batches[job.id]
    return Response(body={"id": job.id, "type": "message_batch_deleted"})


def batch_results(srv: FakeContext, req: Request) -> Response:
    job = _get(srv, req.params["batch_id"])
    if job.status != "ended" or job.results is None:
        raise ApiError(404, f"message batch {job.id} has no results yet: it is still "
                       f"{job.status}.")
    lines = []
    for r in job.results:
        result: dict[str, Any] = {"type": r.outcome}
        if r.outcome == "succeeded":
            result["message"] = {**r.body, "usage": {**r.body["usage"], "service_tier": "batch"}}
        elif r.outcome == "errored":
            result["error"] = r.body
        lines.append(json.dumps({"custom_id": r.custom_id, "result": result}))
    data = ("\n".join(shuffled(srv, job, lines)) + "\n").encode()
    return Response(body=data, content_type="application/binary")


def list_models(srv: FakeContext, req: Request) -> Response:
    data = [{"type": "model", "id": m, "display_name": m, "created_at": "2025-01-01T00:00:00Z"}
            for m in MODELS]
    return Response(body={"data": data, "has_more": False, "first_id": MODELS[0],
                          "last_id": MODELS[-1]})


# -- Anthropic's HTTP: errors, rate-limit headers, keys ---------------------------------
# Anthropic's documented status → error type (platform.claude.com/docs/en/api/errors).
# Other 4xx are `invalid_request_error`, other 5xx `api_error` (503 is not a documented
# overload: only 529 is).
_TYPES = {
    400: "invalid_request_error", 401: "authentication_error", 402: "billing_error",
    403: "permission_error", 404: "not_found_error", 413: "request_too_large",
    429: "rate_limit_error", 500: "api_error", 504: "timeout_error", 529: "overloaded_error",
}


def error_type(status: int) -> str:
    return _TYPES.get(status, "invalid_request_error" if status < 500 else "api_error")


def error_body(err: ApiError, request_id: str) -> dict[str, Any]:
    """`{"type": "error", "error": {type, message[, details]}, "request_id": …}`."""
    error: dict[str, Any] = {"type": err.type or error_type(err.status), "message": err.message}
    if err.details is not None:
        error["details"] = err.details
    return {"type": "error", "error": error, "request_id": request_id}


def rate_limit_headers(b: RateBudget) -> dict[str, str]:
    """`anthropic-ratelimit-{kind}-{limit,remaining,reset}`; reset is an RFC 3339 time."""
    reset = rfc3339(time.time() + b.reset_s)
    out: dict[str, str] = {}
    for kind, limit, rem in (("requests", b.limit_requests, b.requests_left),
                             ("tokens", b.limit_tokens, b.tokens_left),
                             ("input-tokens", b.limit_tokens, b.tokens_left),
                             ("output-tokens", b.limit_tokens, b.tokens_left)):
        out[f"anthropic-ratelimit-{kind}-limit"] = str(limit)
        out[f"anthropic-ratelimit-{kind}-remaining"] = str(rem)
        out[f"anthropic-ratelimit-{kind}-reset"] = reset
    return out


def _claims(path: str, headers: Mapping[str, str]) -> bool:
    """Anthropic's SDK always sends `anthropic-version`; its paths start /v1/messages."""
    return VERSION_HEADER in headers or path.startswith("/v1/messages")


API = FakeApi("anthropic", error_body, rate_limit_headers,
              retirement=lambda model: ClaudeModelInfo(model).retires, claims=_claims,
              known=listed(SOURCES),  # a name no maintained list knows: the API's 404
              context_window=lambda model: ClaudeModelInfo(model).context_window,
              key_headers=("x-api-key",), key_hint="x-api-key header.",
              request_id_header="request-id", base_url_var="ANTHROPIC_BASE_URL",
              test_model="claude-haiku-4-5")
BATCHES = BatchSteps("anthropic", advance, ("ended",))

ROUTES = [
    Route("POST", "/v1/messages", "messages", "anthropic", messages, model_call=True),
    Route("POST", "/v1/messages/count_tokens", "messages.count_tokens", "anthropic",
          count_tokens, model_call=True),
    Route("POST", "/v1/messages/batches", "messages.batches.create", "anthropic", create_batch),
    Route("GET", "/v1/messages/batches", "messages.batches.list", "anthropic", list_batches),
    Route("GET", "/v1/messages/batches/{batch_id}", "messages.batches.retrieve", "anthropic",
          retrieve_batch),
    Route("POST", "/v1/messages/batches/{batch_id}/cancel", "messages.batches.cancel",
          "anthropic", cancel_batch),
    Route("DELETE", "/v1/messages/batches/{batch_id}", "messages.batches.delete", "anthropic",
          delete_batch),
    Route("GET", "/v1/messages/batches/{batch_id}/results", "messages.batches.results",
          "anthropic", batch_results),
    Route("GET", "/v1/models", "anthropic.models.list", "anthropic", list_models),
]
