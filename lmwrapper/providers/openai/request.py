"""`LmPrompt` → OpenAI request body, and response body → `LmPrediction`s.

The live runner and the Batch API send the same body (`build_request`), so an answer is the
same however it was obtained. Every `LmPrompt` field either maps to the body or is refused
by `check_prompt` with the field and the fix; none is dropped:

    >>> build_request(LmPrompt("2+2?", max_tokens=5, temperature=0), OpenAiModelNames.gpt_4o_mini).body
    {'model': 'gpt-4o-mini', 'messages': [{'role': 'user', 'content': '2+2?'}], 'temperature': 0.0, 'max_tokens': 5, 'logprobs': True, 'top_logprobs': 1}

Token-level results have the Hugging Face backend's shape: `completion_tokens`,
`completion_logprobs` (tuples) and `top_token_logprobs` (a tuple of {token: logprob}).

`reasoning_effort` and `verbosity` go into the body as the model's row allows
(`rules.reasoning_fields`); the reasoning tokens the answer reports are
`usage.reasoning_tokens` (already inside `completion_tokens`, which is what is billed).
Chat Completions returns no reasoning text from OpenAI; an OpenAI-compatible server that
does (`message.reasoning_content`, as vLLM and DeepSeek send it) fills `reasoning`.

A model whose `endpoint` is "responses" (models.toml, or `api="responses"`) goes to
/v1/responses instead, with the body and parsing of `responses.py`:

    >>> build_request(LmPrompt("2+2?", max_tokens=16), OpenAiModelNames.gpt_4o_mini.with_facts(endpoint="responses")).url
    '/v1/responses'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lmwrapper.core import structured
from lmwrapper.core.money import Price
from lmwrapper.core.prompt import LmPrediction, LmPrompt, LmUsage
from lmwrapper.providers.openai import responses, rules, strict
from lmwrapper.providers.openai.models import OpenAiModelInfo, OpenAiModelNames  # noqa: F401
from lmwrapper.providers.openai.tiers import served_cost

CHAT_URL = "/v1/chat/completions"
COMPLETIONS_URL = "/v1/completions"
MAX_CHAT_TOP_LOGPROBS = 20
MAX_COMPLETIONS_LOGPROBS = 5
MAX_STOP_SEQUENCES = 4
MAX_N = rules.MAX_N  # the API's cap on `n`, live and in a batch line (where `n` is taken)
INSTRUCT_DEFAULT_MAX_TOKENS = 16  # what /v1/completions does when max_tokens is absent


@dataclass(frozen=True)
class OpenAiRequest:
    """Where to send (`url`, as a batch line names it) and what (`body`)."""

    url: str
    body: dict[str, Any]

    @property
    def path(self) -> str:
        """The URL relative to a base URL that ends in /v1."""
        return self.url.removeprefix("/v1")


def check_prompt(prompt: LmPrompt, model: OpenAiModelInfo) -> None:
    """Raise `ValueError` naming the field and the fix for anything `model` cannot honour."""
    name = str(model)
    if prompt.model_internals_request is not None:
        _refuse("model_internals_request", name, "the OpenAI API does not return hidden states or "
                "attentions; use a Hugging Face model, or leave it None")
    if prompt.add_bos_token is not None:
        _refuse("add_bos_token", name, "the API adds its own special tokens; leave it None")
    if not prompt.add_special_tokens:
        _refuse("add_special_tokens", name, "the API always formats the prompt itself; leave it True")
    if prompt.context_split is not None:
        _refuse("context_split", name, "the API tokenises the text whole; leave it None")
    if prompt.token_slice is not None:
        _refuse("token_slice", name, "the API takes the text whole, not a window of its "
                "tokens; leave it None")
    if prompt.stop and len(prompt.stop) > MAX_STOP_SEQUENCES:
        _refuse("stop", name, f"at most {MAX_STOP_SEQUENCES} stop sequences are allowed; "
                f"got {len(prompt.stop)}")
    if model.kind == "instruct":
        _check_instruct(prompt, name)
    else:
        if prompt.echo:
            _refuse("echo", name, "chat models cannot echo the prompt (nor score it with "
                    "max_tokens=0); use an instruct model "
                    "(OpenAiModelNames.gpt_3_5_turbo_instruct) or set echo=False")
    if model.kind == "reasoning":
        _check_reasoning(prompt, name)
    if model.endpoint == "responses":
        responses.check_prompt(prompt, model)
    rules.reasoning_fields(prompt, model)  # effort first: it decides what sampling may be
    rules.check_sampling(prompt, model)  # what the model's row allows (rules.py)


def _check_instruct(prompt: LmPrompt, name: str) -> None:
    if (prompt.logprobs or 0) > MAX_COMPLETIONS_LOGPROBS:
        _refuse("logprobs", name, f"/v1/completions returns at most {MAX_COMPLETIONS_LOGPROBS} "
                f"top logprobs; got {prompt.logprobs}")


def _check_reasoning(prompt: LmPrompt, name: str) -> None:
    if prompt.stop:
        _refuse("stop", name, "reasoning models do not take stop sequences; cut the text "
                "yourself, or use a chat model")


def _refuse(field_name: str, model: str, why: str) -> None:
    raise ValueError(f"LmPrompt.{field_name} cannot be honoured by {model}: {why}")


def endpoint_for(model: OpenAiModelInfo) -> str:
    """The one place that decides where a prompt for `model` goes (live and in a batch line):
    its `endpoint` fact ("responses": models.toml, or `api="responses"`), else its kind."""
    if model.endpoint == "responses":
        return responses.RESPONSES_URL
    return COMPLETIONS_URL if model.kind == "instruct" else CHAT_URL


def build_request(prompt: LmPrompt, model: OpenAiModelInfo, n: int = 1,
                  service_tier: str | None = None) -> OpenAiRequest:
    """The request for `n` samples of `prompt` (call `check_prompt` first); `service_tier`
    ("flex", "priority": a FLEX or PRIORITY window's live request) is sent only when set,
    so every other body is as it always was."""
    url = endpoint_for(model)
    if url == responses.RESPONSES_URL:
        if n != 1:
            raise ValueError("/v1/responses has no `n`: one request per sample")
        return OpenAiRequest(url, _with_tier(responses.build_body(prompt, model), service_tier))
    body: dict[str, Any] = {"model": str(model)}
    if url == COMPLETIONS_URL:
        body["prompt"] = prompt.get_text_as_string_default_form()
    else:
        body["messages"] = prompt.get_text_as_chat().as_dicts()
    sampling = rules.sampling_fields(prompt, model, n)
    late: dict[str, Any] = {k: sampling.pop(k) for k in ("logprobs", "top_logprobs", "echo")
                            if k in sampling}
    body.update(sampling)
    body.update(rules.reasoning_fields(prompt, model))
    if prompt.max_tokens is not None:
        key = "max_completion_tokens" if model.kind == "reasoning" else "max_tokens"
        body[key] = prompt.max_tokens
    if prompt.stop:
        body["stop"] = list(prompt.stop)
    if prompt.seed is not None:
        body["seed"] = prompt.seed
    body.update(late)  # after the rest, in the order bodies always had
    # /v1/completions has no JSON mode: the answer is stripped to its JSON when parsed
    if prompt.response_format not in (None, "text") and model.kind != "instruct":
        body["response_format"] = response_format_body(structured.request_schema(
            prompt.response_format))
    return OpenAiRequest(url, _with_tier(body, service_tier))


def _with_tier(body: dict[str, Any], service_tier: str | None) -> dict[str, Any]:
    if service_tier is not None:
        body["service_tier"] = service_tier
    return body


def response_format_body(rf: Any) -> dict[str, Any]:
    """`"json_object"` → {"type": "json_object"}; a JSON schema → a json_schema format, strict
    only when the schema meets strict mode's rules (`strict.violation`), else as given:

        >>> response_format_body({"type": "object", "properties": {"a": {"type": "string"}}})["json_schema"]["strict"]
        False
    """
    if rf == "json_object":
        return {"type": "json_object"}
    rf = dict(rf)
    if rf.get("type") in ("json_schema", "json_object", "text"):
        return rf  # already in the API's own form
    name = rf.pop("title", "response")
    return {"type": "json_schema", "json_schema": {"name": name, "schema": rf,
                                                   "strict": strict.violation(rf) is None}}


def parse_response(
    body: Mapping[str, Any], prompt: LmPrompt, model: OpenAiModelInfo, price: Price,
    *, batch: bool = False, provider: str = "openai",
) -> list[LmPrediction]:
    """One `LmPrediction` per choice, in choice order; cost split evenly across them.

    Raises `KeyError`/`TypeError`/`ValueError` on a body that is not a completion. A
    Response object (/v1/responses) is read by `responses.parse_response`.
    """
    if "output" in body and "choices" not in body:
        return responses.parse_response(body, prompt, model, price, batch=batch,
                                        provider=provider)
    choices = sorted(body["choices"], key=lambda c: c.get("index", 0))
    if not choices:
        raise ValueError("the response has no choices")
    usage = _usage(body.get("usage"))
    cost = served_cost(price, usage, body.get("service_tier"), batch=batch)
    share = cost / len(choices) if cost is not None else None
    common = {"prompt": prompt, "usage": usage, "cost_usd": share, "provider": provider,
              "model": body.get("model") or str(model), "request_id": body.get("id")}
    parse = _completion_choice if "text" in choices[0] else _chat_choice
    return [parse(c, prompt, common) for c in choices]


def _usage(u: Mapping[str, Any] | None) -> LmUsage:
    if not u:
        return LmUsage()
    details = u.get("prompt_tokens_details") or {}
    reasoning = (u.get("completion_tokens_details") or {}).get("reasoning_tokens")
    return LmUsage(u.get("prompt_tokens"), u.get("completion_tokens"), details.get("cached_tokens"),
                   reasoning_tokens=reasoning or None)


def _chat_choice(c: Mapping[str, Any], prompt: LmPrompt, common: dict[str, Any]) -> LmPrediction:
    msg = c.get("message") or {}
    text = msg.get("content")
    if text is None and msg.get("refusal"):
        text = msg["refusal"]
    tokens = logprobs = top = None
    content = (c.get("logprobs") or {}).get("content")
    if content is not None:
        tokens = tuple(t["token"] for t in content)
        logprobs = tuple(float(t["logprob"]) for t in content)
        if (prompt.logprobs or 0) >= 1:
            top = tuple({a["token"]: float(a["logprob"]) for a in t.get("top_logprobs") or ()}
                        for t in content)
    return LmPrediction(completion_text=text if text is not None else "",
                        finish_reason=c.get("finish_reason"), completion_tokens=tokens,
                        completion_logprobs=logprobs, top_token_logprobs=top,
                        reasoning=msg.get("reasoning_content"), **common)


def _completion_choice(c: Mapping[str, Any], prompt: LmPrompt,
                       common: dict[str, Any]) -> LmPrediction:
    text: str = c.get("text") or ""
    lp = c.get("logprobs") or None
    n_prompt_chars = len(prompt.get_text_as_string_default_form()) if prompt.echo else 0
    if prompt.echo:
        text = text[n_prompt_chars:]  # the API returns prompt + completion
    fields: dict[str, Any] = {}
    if lp and lp.get("tokens") is not None:
        toks = list(lp["tokens"])
        offsets = lp.get("text_offset") or [n_prompt_chars] * len(toks)
        split = sum(1 for o in offsets if o < n_prompt_chars) if prompt.echo else 0
        values = [None if v is None else float(v) for v in lp.get("token_logprobs") or ()]
        raw_tops = list(lp.get("top_logprobs") or ())
        tops = [dict(t or {}) for t in raw_tops]
        fields["completion_tokens"] = tuple(toks[split:])
        fields["completion_logprobs"] = tuple(values[split:])
        fields["top_token_logprobs"] = tuple(tops[split:]) if tops else None
        if prompt.echo:
            fields["prompt_tokens"] = tuple(toks[:split])
            fields["prompt_logprobs"] = tuple(values[:split])
            if raw_tops:
                fields["prompt_top_logprobs"] = tuple(None if t is None else dict(t)
                                                      for t in raw_tops[:split])
    return LmPrediction(completion_text=text, finish_reason=c.get("finish_reason"),
                        **fields, **common)
