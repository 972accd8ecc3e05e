"""What an OpenAI model takes in a request (data: `models.toml` beside this file).

One function, `sampling_fields`, turns a prompt and its model into the sampling part of the
body — temperature, top_p, penalties, logprobs, `n` — or refuses before anything is sent,
naming the field and the way out. Chat and instruct models take every field. A reasoning
model is asked at its default reasoning effort (lmwrapper sends no `reasoning_effort`), and
only at effort `none` does it honour temperature, top_p and logprobs; no GPT-6 model
defaults to none, so a prompt at default sampling sends none of them, and any other value
is refused:

    >>> sampling_fields(LmPrompt("q", logprobs=None), M("gpt-6.2-sol"))
    {}
    >>> sampling_fields(LmPrompt("q", temperature=0, logprobs=None), M("gpt-5.1"))
    {'temperature': 0.0}
    >>> rule_for("gpt-6.2-sol").takes_n, rule_for("gpt-4o-mini").takes_n
    (False, True)

`n` is sent only where a row says the model takes it (the SDK: "newer models reject an
explicit `n`, even `n=1`"); elsewhere the engine sends one request per sample
(`samples_per_request`).

`LmPrompt.reasoning_effort` and `verbosity` are sent as given where the model's row lists
the value (`reasoning_fields`), and refused before sending otherwise. An explicit effort
decides what the sampling fields may be: `reasoning_effort="none"`, where the model takes
it, lets temperature, top_p and logprobs through; any other effort refuses them:

    >>> sampling_fields(LmPrompt("q", temperature=0, logprobs=None, reasoning_effort="none"), M("gpt-5.2"))
    {'temperature': 0.0}
    >>> reasoning_fields(LmPrompt("q", reasoning_effort="high", verbosity="low"), M("gpt-6.2-sol"))
    {'reasoning_effort': 'high', 'verbosity': 'low'}
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from lmwrapper.core.prompt import LmPrompt
from lmwrapper.providers.openai.models import OpenAiModelInfo, _family_name, table
from lmwrapper.providers.openai.models import OpenAiModelInfo as M  # noqa: F401  (doctest)

MAX_N = 128  # the API's cap on `n` (CreateChatCompletionRequest: maximum 128)
# What a reasoning model takes only at effort "none" (the deployment checklist: "remove
# temperature, top_p, and top_logprobs; also remove logprobs" otherwise).
EFFORT_NONE_ONLY = ("temperature", "top_p", "logprobs")
# Fixed on every reasoning model, whatever the effort (never documented as taken; gpt-6.2
# answers 400 to a non-zero one: see the gpt-6 row's sources).
PENALTIES = {"presence_penalty": 0.0, "frequency_penalty": 0.0}
DEFAULTS = {"temperature": 1.0, "top_p": 1.0}


@dataclass(frozen=True)
class FamilyRule:
    """The facts of one `models.toml` row that decide what a request may carry."""

    family: str  # the row's key, or "" for [defaults]
    kind: str
    takes_n: bool
    effort_default: str | None  # reasoning models only
    source: str
    # reasoning models: the reasoning_effort values taken (None: any of the SDK's literal)
    efforts: tuple[str, ...] | None = ()
    verbosities: tuple[str, ...] = ()
    effort_source: str = ""

    def effort(self, prompt: LmPrompt) -> str | None:
        """The effort a request for `prompt` runs at: the prompt's, else the model's default."""
        return prompt.reasoning_effort or self.effort_default

    def takes_effort(self, effort: str) -> bool:
        return self.kind == "reasoning" and (self.efforts is None or effort in self.efforts)


def rule_for(model: OpenAiModelInfo | str) -> FamilyRule:
    """The row of `model`'s family; its `kind` is the model's own (given facts win)."""
    info = model if isinstance(model, OpenAiModelInfo) else OpenAiModelInfo(str(model))
    return _rule(str(info), info.kind)


@functools.cache  # asked once per prompt (validation): finding the row scans every family
def _rule(name: str, kind: str) -> FamilyRule:
    base = _family_name(name)
    row = table().row(base)
    reasoning = kind == "reasoning"
    efforts = row.get("efforts")
    return FamilyRule(table().family(base) or "", kind, bool(row["takes_n"]),
                      row.get("effort_default") if reasoning else None, _text(row.get("source")),
                      (tuple(efforts) if efforts is not None else None) if reasoning else (),
                      tuple(row.get("verbosity", ())), _text(row.get("effort_source")))


def _text(source: str | list[str] | None) -> str:
    return source if isinstance(source, str) else "; ".join(source or ())


def samples_per_request(model: OpenAiModelInfo) -> int:
    """How many samples one request may ask for: `MAX_N` with `n`, else 1 (/v1/responses
    has no `n`)."""
    return MAX_N if rule_for(model).takes_n and model.endpoint != "responses" else 1


def sampling_fields(prompt: LmPrompt, model: OpenAiModelInfo, n: int = 1) -> dict[str, Any]:
    """The sampling part of the body for `n` samples of `prompt`, or ValueError naming the
    field the model cannot take and the way out."""
    rule = rule_for(model)
    body: dict[str, Any] = {}
    if n > 1:
        if not rule.takes_n:
            _refuse("num_completions", str(model), f"this model takes no `n` ({rule.source}); "
                    "the engine sends one request per sample (samples_per_request)")
        body["n"] = n
    if rule.kind == "reasoning":
        body.update(_reasoning(prompt, model, rule))
    else:
        body.update(_plain(prompt, model.kind))
    return body


def check_sampling(prompt: LmPrompt, model: OpenAiModelInfo) -> None:
    """The ValueError `sampling_fields(prompt, model)` raises, if any, without building the
    body (validation asks once per prompt: a million times in a large run). Only a reasoning
    model's rules refuse a sampling field; chat and instruct models take them all."""
    rule = rule_for(model)
    if rule.kind == "reasoning":
        _reasoning(prompt, model, rule)


def _plain(prompt: LmPrompt, kind: str) -> dict[str, Any]:
    """Chat and instruct models: every sampling field, temperature always (as 0.18 sent it)."""
    body: dict[str, Any] = {"temperature": prompt.temperature}
    if prompt.top_p != 1.0:
        body["top_p"] = prompt.top_p
    for name in PENALTIES:
        if getattr(prompt, name):
            body[name] = getattr(prompt, name)
    k = prompt.logprobs or 0  # None and 0 are one cache key: both mean "no logprobs"
    if kind == "instruct":
        if k:
            body["logprobs"] = k
        if prompt.echo:
            body["echo"] = True
    elif k:
        body["logprobs"] = True
        body["top_logprobs"] = k
    return body


def _reasoning(prompt: LmPrompt, model: OpenAiModelInfo, rule: FamilyRule) -> dict[str, Any]:
    name = str(model)
    for field_name, only in PENALTIES.items():
        if getattr(prompt, field_name) != only:
            _refuse(field_name, name, f"reasoning models take no {field_name}; leave it at "
                    f"{only} or use a chat model (`lmwrapper models` shows each model's kind)")
    wanted = {k: float(getattr(prompt, k)) for k, d in DEFAULTS.items() if getattr(prompt, k) != d}
    k = prompt.logprobs or 0
    if rule.effort(prompt) != "none":
        for field_name in wanted:
            _refuse(field_name, name, f"{_reasons(prompt, rule)}, and then {field_name} is "
                    f"rejected ({rule.source}). Leave temperature=1.0 and top_p=1.0 (nothing "
                    f"is sent), {_none_way_out(rule)}or use a model that takes them: "
                    f"{', '.join(honouring())} or a chat model")
        if k > 1:
            _refuse("logprobs", name, f"{_reasons(prompt, rule)}, and then no logprobs are "
                    "returned; use logprobs=None (the default 1 gives completion_logprobs=None), "
                    f"{_none_way_out(rule)}or a chat model")
        return {}  # logprobs=1 is LmPrompt's default, not a request: nothing is sent
    body: dict[str, Any] = dict(wanted)
    if k:
        body.update(logprobs=True, top_logprobs=k)
    return body


def _reasons(prompt: LmPrompt, rule: FamilyRule) -> str:
    if prompt.reasoning_effort is not None:
        return f"at reasoning_effort={prompt.reasoning_effort!r} this model reasons"
    return f"this model reasons by default (effort {rule.effort_default!r}, not 'none')"


def _none_way_out(rule: FamilyRule) -> str:
    return "set reasoning_effort='none' (this model takes it), " if rule.takes_effort("none") \
        else ""


def reasoning_fields(prompt: LmPrompt, model: OpenAiModelInfo) -> dict[str, Any]:
    """`reasoning_effort` and `verbosity` as the body carries them, or ValueError naming the
    field, the model and the values it takes. `thinking` is Claude's: refused here."""
    rule, name = rule_for(model), str(model)
    body: dict[str, Any] = {}
    if prompt.thinking is not None:
        _refuse("thinking", name, "thinking is Claude's switch; OpenAI reasoning models are "
                "steered by reasoning_effort ('none' turns reasoning off where the model takes "
                "it). Leave thinking=None")
    effort = prompt.reasoning_effort
    if effort is not None:
        if rule.kind != "reasoning":
            _refuse("reasoning_effort", name, f"{name} is a {rule.kind} model and does not "
                    "reason (models.toml); leave reasoning_effort=None, or use a reasoning "
                    f"model such as {_example_reasoning()}")
        if not rule.takes_effort(effort):
            takes = ", ".join(rule.efforts or ()) or "none (no reasoning_effort at all)"
            _refuse("reasoning_effort", name, f"{name} takes reasoning_effort {takes} on "
                    f"Chat Completions, not {effort!r} ({rule.effort_source or rule.source}). "
                    "Use one of those, or leave it None for the model's default")
        body["reasoning_effort"] = effort
    if prompt.verbosity is not None:
        if prompt.verbosity not in rule.verbosities:
            _refuse("verbosity", name, f"{name} takes no verbosity (GPT-5 and later do: "
                    f"models.toml); leave verbosity=None, or use e.g. {_example_reasoning()}")
        body["verbosity"] = prompt.verbosity
    return body


def _example_reasoning() -> str:
    return "gpt-6.2-sol" if table().family("gpt-6.2-sol") else "a GPT-5 model"


def honouring() -> list[str]:
    """Reasoning families that take temperature/top_p/logprobs at their default effort."""
    return [f for f, row in table().families.items()
            if row.get("kind") == "reasoning" and row.get("effort_default") == "none"]


def _refuse(field_name: str, model: str, why: str) -> None:
    raise ValueError(f"LmPrompt.{field_name} cannot be honoured by {model}: {why}")


__all__ = ["FamilyRule", "check_sampling", "reasoning_fields", "rule_for", "samples_per_request",
           "sampling_fields"]
