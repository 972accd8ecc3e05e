"""`LmPrompt` → a `/v1/responses` body, and a Response object → `LmPrediction`.

The Responses API is where OpenAI serves the models Chat Completions does not (gpt-5-pro,
o3-pro, the codex models: `endpoint = "responses"` in models.toml), and any model when asked
(`get_open_ai_lm(name, api="responses")`). The body is the one `build_request` gives for a
live call and a batch line alike; what differs from Chat Completions is its shape:

    >>> from lmwrapper.providers.openai.models import OpenAiModelInfo
from lmwrapper.providers.openai.tiers import served_cost as M
    >>> build_body(LmPrompt("2+2?", max_tokens=20, reasoning_effort="high"), M("gpt-5-pro"))
    {'model': 'gpt-5-pro', 'input': [{'role': 'user', 'content': '2+2?'}], 'store': False, 'reasoning': {'effort': 'high', 'summary': 'auto'}, 'max_output_tokens': 20}

- `messages` → `input` (the same role/content items); nothing is stored at OpenAI
  (`store: false`: the cache is ours).
- `reasoning_effort` → `reasoning.effort`, `verbosity` → `text.verbosity`; a reasoning model
  is asked for its reasoning summary (`reasoning.summary: "auto"`), which comes back as
  `LmPrediction.reasoning`.
- `max_tokens` → `max_output_tokens` (the API's minimum is 16); `response_format` →
  `text.format`; logprobs → `top_logprobs` plus `include: ["message.output_text.logprobs"]`.
- There is no `n`, `stop`, `seed`, `presence_penalty` or `frequency_penalty`: a prompt that
  sets one is refused before anything is sent (samples are one request each).

Finish reasons are Chat Completions' words: `completed` → "stop", `incomplete` for
`max_output_tokens` → "length", for `content_filter` → "content_filter".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lmwrapper.core import structured
from lmwrapper.core.money import Price
from lmwrapper.core.prompt import LmPrediction, LmPrompt, LmUsage
from lmwrapper.providers.openai import rules, strict
from lmwrapper.providers.openai.models import OpenAiModelInfo
from lmwrapper.providers.openai.tiers import served_cost

RESPONSES_URL = "/v1/responses"
MIN_OUTPUT_TOKENS = 16  # CreateResponse.max_output_tokens: minimum 16 (OpenAI's OpenAPI spec)
LOGPROBS_INCLUDE = "message.output_text.logprobs"
FINISH = {"max_output_tokens": "length", "content_filter": "content_filter"}


def check_prompt(prompt: LmPrompt, model: OpenAiModelInfo) -> None:
    """What the Responses API has no parameter for, refused with the field and the fix."""
    name = str(model)
    if prompt.stop:
        _refuse("stop", name, "the Responses API takes no stop sequences; cut the text "
                "yourself, or use Chat Completions (api='chat') where the model has it")
    if prompt.seed is not None:
        _refuse("seed", name, "the Responses API takes no seed; leave it None, or use Chat "
                "Completions (api='chat') where the model has it")
    for field_name in ("presence_penalty", "frequency_penalty"):
        if getattr(prompt, field_name):
            _refuse(field_name, name, f"the Responses API takes no {field_name}; leave it at 0")
    if prompt.max_tokens is not None and prompt.max_tokens < MIN_OUTPUT_TOKENS:
        _refuse("max_tokens", name, f"the Responses API takes max_output_tokens of at least "
                f"{MIN_OUTPUT_TOKENS}; got {prompt.max_tokens}")


def _refuse(field_name: str, model: str, why: str) -> None:
    raise ValueError(f"LmPrompt.{field_name} cannot be honoured by {model} on /v1/responses: "
                     f"{why}")


def build_body(prompt: LmPrompt, model: OpenAiModelInfo) -> dict[str, Any]:
    """The `/v1/responses` body for one sample of `prompt` (call `check_prompt` first)."""
    body: dict[str, Any] = {"model": str(model), "input": prompt.get_text_as_chat().as_dicts(),
                            "store": False}
    sampling = rules.sampling_fields(prompt, model)
    top = sampling.pop("top_logprobs", None)
    sampling.pop("logprobs", None)
    body.update(sampling)  # temperature, top_p: the same names
    asked = rules.reasoning_fields(prompt, model)
    if model.kind == "reasoning":
        reasoning = {"effort": asked["reasoning_effort"]} if "reasoning_effort" in asked else {}
        body["reasoning"] = {**reasoning, "summary": "auto"}
    text: dict[str, Any] = {}
    if prompt.response_format not in (None, "text"):
        text["format"] = text_format(structured.request_schema(prompt.response_format))
    if "verbosity" in asked:
        text["verbosity"] = asked["verbosity"]
    if text:
        body["text"] = text
    if prompt.max_tokens is not None:
        body["max_output_tokens"] = prompt.max_tokens
    if top is not None:
        body["top_logprobs"] = top
        body["include"] = [LOGPROBS_INCLUDE]
    return body


def text_format(rf: Any) -> dict[str, Any]:
    """`text.format`: Chat Completions' `response_format`, with the json_schema flattened:

        >>> text_format({"type": "object", "properties": {"a": {"type": "string"}}})["type"]
        'json_schema'
    """
    if rf == "json_object":
        return {"type": "json_object"}
    rf = dict(rf)
    if rf.get("type") == "json_schema" and "json_schema" in rf:
        return {"type": "json_schema", **rf["json_schema"]}
    if rf.get("type") in ("json_schema", "json_object", "text"):
        return rf
    name = rf.pop("title", "response")
    return {"type": "json_schema", "name": name, "schema": rf,
            "strict": strict.violation(rf) is None}


def parse_response(
    body: Mapping[str, Any], prompt: LmPrompt, model: OpenAiModelInfo, price: Price,
    *, batch: bool = False, provider: str = "openai", background: str | None = None,
) -> list[LmPrediction]:
    """The one `LmPrediction` of a Response object. Raises `ValueError` on a failed response
    and `KeyError`/`TypeError` on a body that is not one. `background`: the rates of the
    background window it was created in ("background_2h"), for its cost."""
    if body.get("object") != "response":
        raise ValueError(f"not a Response object (object={body.get('object')!r})")
    if body.get("status") == "failed":
        raise ValueError(f"the response failed: {body.get('error')}")
    usage = _usage(body.get("usage"))
    items = body["output"]
    parts = [c for item in items if item.get("type") == "message" for c in item["content"]]
    text = "".join(c.get("text", "") for c in parts if c.get("type") == "output_text")
    if not text:
        text = "".join(c.get("refusal", "") for c in parts if c.get("type") == "refusal")
    summaries = [s["text"] for item in items if item.get("type") == "reasoning"
                 for s in item.get("summary") or () if s.get("type") == "summary_text"]
    details = body.get("incomplete_details") or {}
    finish = "stop" if body.get("status") == "completed" else \
        FINISH.get(details.get("reason") or "", body.get("status"))
    return [LmPrediction(
        completion_text=text, prompt=prompt, finish_reason=finish, usage=usage,
        cost_usd=served_cost(price, usage, body.get("service_tier"), batch=batch,
                             background=background),
        provider=provider,
        model=body.get("model") or str(model), request_id=body.get("id"),
        reasoning="\n\n".join(summaries) or None, **_logprobs(parts, prompt))]


def _usage(u: Mapping[str, Any] | None) -> LmUsage:
    if not u:
        return LmUsage()
    cached = (u.get("input_tokens_details") or {}).get("cached_tokens")
    reasoning = (u.get("output_tokens_details") or {}).get("reasoning_tokens")
    return LmUsage(u.get("input_tokens"), u.get("output_tokens"), cached,
                   reasoning_tokens=reasoning or None)


def _logprobs(parts: list[Mapping[str, Any]], prompt: LmPrompt) -> dict[str, Any]:
    """completion_tokens / completion_logprobs / top_token_logprobs, as on Chat Completions."""
    content = [t for c in parts if c.get("type") == "output_text" for t in c.get("logprobs") or ()]
    if not content:  # not asked for (the API sends `logprobs: []`), or a reasoning model
        return {}
    out: dict[str, Any] = {"completion_tokens": tuple(t["token"] for t in content),
                           "completion_logprobs": tuple(float(t["logprob"]) for t in content)}
    if (prompt.logprobs or 0) >= 1:
        out["top_token_logprobs"] = tuple(
            {a["token"]: float(a["logprob"]) for a in t.get("top_logprobs") or ()}
            for t in content)
    return out


__all__ = ["RESPONSES_URL", "build_body", "check_prompt", "parse_response", "text_format"]
