"""`LmPrompt` → Messages API body, and a Message → `LmPrediction`.

The live API and a Message Batch line (`params`) carry the same body, so an answer is the
same however it was obtained. Every `LmPrompt` field maps to the body or is refused by
`check_prompt` with the field and the fix; none is dropped silently:

    >>> build_request(LmPrompt([("system", "Be brief."), "2+2?"], max_tokens=5),
    ...               ClaudeModelNames.claude_haiku_4_5)
    {'model': 'claude-haiku-4-5', 'max_tokens': 5, 'messages': [{'role': 'user', 'content': '2+2?'}], 'system': 'Be brief.'}

Sampling (`rules.py`, facts in `models.toml`): API version 2026-10-21, which the SDK sends,
has no `temperature`/`top_p`/`top_k`, so a prompt at default sampling (1.0, 1.0) sends none.
Other values are sent, with header `anthropic-version: 2023-06-01` (`rules.headers_for`),
to models that still honour them there; for 4.7+ and 5.x they are refused before sending:

    >>> build_request(LmPrompt("2+2?", max_tokens=5, temperature=0),
    ...               ClaudeModelNames.claude_haiku_4_5)["temperature"]
    0.0

Opus 4.1 and the 4.5/4.6 models answer 400 to a body with both, so for them a prompt that
changes both is refused. Whitespace-only stop strings (the API refuses them) are applied
here to the answer instead of being sent. A final assistant turn is a prefill: Claude
continues it, and `completion_text` is the continuation only; 4.6+ refuse it (refused here).
The API has no `n`: each sample of `num_completions` is its own request.

Reasoning (`rules.reasoning_fields`, facts in `models.toml`): `reasoning_effort` is sent as
`output_config.effort` (beside a structured-output `format`), `thinking` as `thinking`:

    >>> build_request(LmPrompt("2+2?", max_tokens=4000, thinking=2048),
    ...               ClaudeModelNames.claude_haiku_4_5)["thinking"]
    {'type': 'enabled', 'budget_tokens': 2048}

The thinking text comes back as `LmPrediction.reasoning` (thinking blocks joined; "" when the
API omitted it), the thinking tokens as `usage.reasoning_tokens` (inside `output_tokens`,
which is what is billed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lmwrapper.core import structured
from lmwrapper.core.money import PER, Price
from lmwrapper.core.prompt import LmPrediction, LmPrompt, LmUsage
from lmwrapper.providers.anthropic import rules
from lmwrapper.providers.anthropic.models import ClaudeModelInfo, ClaudeModelNames  # noqa: F401

MESSAGES_PATH = "/v1/messages"
COUNT_TOKENS_PATH = "/v1/messages/count_tokens"
# The API requires max_tokens. Without one in the prompt we ask for this many (or the
# model's output limit, if lower): enough for most research answers, and a cost bound that
# stays meaningful (the 64,000-token limit of newer models would inflate it 16x).
DEFAULT_MAX_TOKENS = 4096
SYSTEM_ROLES = ("system", "developer")
# Claude's stop_reason in the vocabulary the other backends use, so results compare.
FINISH_REASONS = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length",
                  "refusal": "content_filter", "tool_use": "tool_calls"}


def check_prompt(prompt: LmPrompt, model: ClaudeModelInfo) -> None:
    """Raise `ValueError` naming the field and the fix for anything Claude cannot honour."""
    name = str(model)
    _check_unsupported(prompt, name)
    if prompt.temperature > 1.0:
        _refuse("temperature", name, f"Claude samples at temperature 0 to 1; got "
                f"{prompt.temperature}. Use a value <= 1 (1.0 is Claude's default)")
    rules.reasoning_fields(prompt, model, max_tokens_for(prompt, model))
    rules.sampling_fields(prompt, model)
    if prompt.response_format == "json_object":
        _refuse("response_format", name, "Claude's structured output needs a JSON schema; "
                "pass the schema dict instead of 'json_object'")
    if prompt.max_tokens is not None and prompt.max_tokens > model.max_output_tokens:
        _refuse("max_tokens", name, f"at most {model.max_output_tokens} output tokens; got "
                f"{prompt.max_tokens}")
    if prompt.is_text_a_chat():
        _check_chat(prompt, name)
        rules.check_prefill(prompt, model)


def _check_unsupported(prompt: LmPrompt, name: str) -> None:
    if (prompt.logprobs or 0) > 1:
        _refuse("logprobs", name, "the Anthropic API returns no logprobs; use logprobs=None "
                "(the default 1 is accepted and gives completion_logprobs=None)")
    if prompt.echo:
        _refuse("echo", name, "the Anthropic API cannot echo the prompt; set echo=False")
    for field_name in ("presence_penalty", "frequency_penalty"):
        if getattr(prompt, field_name):
            _refuse(field_name, name, "the Anthropic API has no penalties; leave it at 0.0")
    if prompt.seed is not None:
        _refuse("seed", name, "the Anthropic API takes no seed; leave it None (use "
                "temperature=0 for repeatable answers)")
    if prompt.model_internals_request is not None:
        _refuse("model_internals_request", name, "the API returns no hidden states; use a "
                "Hugging Face model, or leave it None")
    if prompt.context_split is not None:
        _refuse("context_split", name, "the API tokenises the text itself; leave it None")
    if prompt.token_slice is not None:
        _refuse("token_slice", name, "the API takes the text whole, not a window of its "
                "tokens; leave it None")
    if prompt.add_bos_token is not None or not prompt.add_special_tokens:
        _refuse("add_bos_token" if prompt.add_bos_token is not None else "add_special_tokens",
                name, "the API formats the prompt itself; leave the default")


def _check_chat(prompt: LmPrompt, name: str) -> None:
    turns = prompt.get_text_as_chat()
    seen_other = False
    for i, turn in enumerate(turns):
        if turn.role in SYSTEM_ROLES and seen_other:
            _refuse("text", name, f"turn {i} is a {turn.role} turn after the conversation "
                    "started; Claude takes system text only before the first message. "
                    "Move it to the start")
        if turn.role in ("tool", "function"):
            _refuse("text", name, f"turn {i} has role {turn.role!r}, which lmwrapper does not "
                    "send to Claude; use user/assistant turns")
        if turn.name is not None:
            _refuse("text", name, f"turn {i} has name={turn.name!r}; the Anthropic API has no "
                    "per-message names. Put the name in the content")
        seen_other = seen_other or turn.role not in SYSTEM_ROLES
    if not seen_other:
        _refuse("text", name, "the chat has only system turns; add a user turn")
    last = turns[-1]
    if last.role == "assistant" and last.content != last.content.rstrip():
        _refuse("text", name, "a final assistant turn (a prefill) cannot end in whitespace; "
                "strip it")


def _refuse(field_name: str, model: str, why: str) -> None:
    raise ValueError(f"LmPrompt.{field_name} cannot be honoured by {model}: {why}")


def max_tokens_for(prompt: LmPrompt, model: ClaudeModelInfo) -> int:
    """What the request asks for: the prompt's max_tokens, else the documented default."""
    return prompt.max_tokens or min(DEFAULT_MAX_TOKENS, model.max_output_tokens)


def split_chat(prompt: LmPrompt) -> tuple[str, list[dict[str, str]]]:
    """(system text, messages) as the API takes them."""
    turns = prompt.get_text_as_chat()
    system = "\n\n".join(t.content for t in turns if t.role in SYSTEM_ROLES)
    messages = [{"role": t.role, "content": t.content} for t in turns if t.role not in SYSTEM_ROLES]
    return system, messages


def build_request(prompt: LmPrompt, model: ClaudeModelInfo,
                  api_version: str | None = None) -> dict[str, Any]:
    """The Messages API body for one sample of `prompt`, under `api_version` (None: the one
    the body needs, `rules.api_version_for`). Raises ValueError for what `model` cannot take
    there (sampling, prefill) before anything is sent; call `check_prompt` for the rest."""
    rules.check_prefill(prompt, model)
    system, messages = split_chat(prompt)
    body: dict[str, Any] = {"model": str(model), "max_tokens": max_tokens_for(prompt, model),
                            "messages": messages}
    if system:
        body["system"] = system
    body.update(rules.sampling_fields(prompt, model, api_version))
    stops = rules.sent_stops(prompt)  # whitespace-only ones are cut in parse_message
    if stops:
        body["stop_sequences"] = stops
    reasoning = rules.reasoning_fields(prompt, model, body["max_tokens"])
    if "thinking" in reasoning:
        body["thinking"] = reasoning["thinking"]
    if prompt.response_format not in (None, "text"):
        body["output_config"] = {"format": {"type": "json_schema",
                                            "schema": json_schema_of(prompt.response_format)}}
    if "output_config" in reasoning:
        body["output_config"] = {**body.get("output_config", {}), **reasoning["output_config"]}
    return body


def json_schema_of(rf: Any) -> dict[str, Any]:
    """The JSON schema in `response_format`: a pydantic model class (its schema, objects
    closed as structured outputs require), a bare schema, or OpenAI's
    `{"type": "json_schema", "json_schema": {"schema": …}}`, so one prompt serves both."""
    if structured.is_schema_class(rf):
        return dict(structured.strict_schema(structured.json_schema(rf)))
    rf = dict(rf)
    if rf.get("type") == "json_schema" and isinstance(rf.get("json_schema"), Mapping):
        return dict(rf["json_schema"].get("schema") or {})
    if rf.get("type") == "json_schema" and isinstance(rf.get("schema"), Mapping):
        return dict(rf["schema"])
    return rf


@dataclass(frozen=True)
class ClaudePrice(Price):
    """`Price` plus the prompt cache's write rate (its read rate is `cached_input_usd_per_mtok`)."""

    cache_write_usd_per_mtok: float | None = None

    @classmethod
    def of(cls, model: ClaudeModelInfo) -> ClaudePrice:
        return cls(model.input_usd_per_mtok, model.output_usd_per_mtok,
                   model.cache_read_usd_per_mtok, model.batch_discount,
                   model.long_context_from, model.long_input_usd_per_mtok,
                   model.long_output_usd_per_mtok,
                   cache_write_usd_per_mtok=model.cache_write_usd_per_mtok)

    def cost(self, usage: LmUsage, *, batch: bool = False) -> float | None:
        base = super().cost(usage, batch=batch)
        written = usage.cache_write_prompt_tokens or 0
        if base is None or not written:
            return base
        # `super` priced the written tokens as plain input; add the write premium.
        rate_in = self.rates(usage.prompt_tokens or 0)[0]
        extra = (self.cache_write_usd_per_mtok or rate_in) - rate_in
        return base + written * extra / PER * (self.batch_discount if batch else 1.0)


def usage_of(u: Mapping[str, Any] | None) -> LmUsage:
    """Anthropic's usage as ours: `prompt_tokens` counts every input token, cache reads and
    writes included (Anthropic's `input_tokens` leaves them out; OpenAI's includes them)."""
    if not u:
        return LmUsage()
    read = u.get("cache_read_input_tokens") or 0
    written = u.get("cache_creation_input_tokens") or 0
    total = (u.get("input_tokens") or 0) + read + written
    thinking = (u.get("output_tokens_details") or {}).get("thinking_tokens")
    return LmUsage(total, u.get("output_tokens"), read, written, reasoning_tokens=thinking)


def parse_message(body: Mapping[str, Any], prompt: LmPrompt, model: ClaudeModelInfo,
                  price: Price, *, batch: bool = False) -> LmPrediction:
    """One prediction from a Message; KeyError/TypeError/ValueError if it is not one."""
    if body.get("type") != "message":
        raise ValueError(f"expected a message, got type={body.get('type')!r}")
    text = "".join(b["text"] for b in body["content"] if b.get("type") == "text")
    thoughts = [b.get("thinking") or "" for b in body["content"] if b.get("type") == "thinking"]
    usage = usage_of(body.get("usage"))
    reason = body.get("stop_reason")
    finish = FINISH_REASONS.get(reason, reason) if reason else None
    cut = rules.cut_at_stops(text, prompt)  # whitespace-only stops, applied here
    if cut is not None:
        text, finish = cut, "stop"
    return LmPrediction(completion_text=text, prompt=prompt, finish_reason=finish,
                        usage=usage, reasoning="\n\n".join(t for t in thoughts if t)
                        if thoughts else None,
                        cost_usd=price.cost(usage, batch=batch), provider="anthropic",
                        model=body.get("model") or str(model), request_id=body.get("id"))
