"""What a Claude model takes in a request, under which API version (data: `models.toml`).

API version 2026-10-21 (what `anthropic>=2.0` sends) removed `temperature`, `top_p` and
`top_k`: any of them is a 400, even at its default. A prompt at default sampling therefore
sends none of them. A prompt that asks for other values is sent on API version 2023-06-01
when its model still honours them there, and refused before sending otherwise:

    >>> rule_for("claude-sonnet-4-6-20260217").legacy_sampling, rule_for("claude-opus-4-7").legacy_sampling
    (True, False)
    >>> api_version_for({"model": "claude-sonnet-4-6", "temperature": 0.0})
    '2023-06-01'
    >>> api_version_for({"model": "claude-sonnet-4-6"})
    '2026-10-21'

The version follows from the body (sampling fields in it or not), so a live request, an
SDK call and a Message Batch built from the same body always carry the same version.
A family missing from `models.toml` gets the current API's rules: no sampling parameters,
no prefill.

Reasoning (`reasoning_fields`): `LmPrompt.reasoning_effort` is Claude's
`output_config.effort`, `LmPrompt.thinking` its `thinking` ("adaptive" asks for the
summarised thinking text, which 4.7+ omit unless asked; an int is a manual budget_tokens),
each refused before sending where the model's row does not list it:

    >>> reasoning_fields(LmPrompt("q", thinking="adaptive", reasoning_effort="high"), "claude-opus-4-8", 8000)
    {'thinking': {'type': 'adaptive', 'display': 'summarized'}, 'output_config': {'effort': 'high'}}
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lmwrapper.core.prompt import LmPrompt
from lmwrapper.providers.anthropic import models

SAMPLING = ("temperature", "top_p", "top_k")
# LmPrompt's defaults, which are Claude's: a prompt left there asks for nothing to be sent.
DEFAULT_SAMPLING = {"temperature": 1.0, "top_p": 1.0}
HEADER = "anthropic-version"
THINKING_MIN_TOP_P = 0.95  # "When thinking is enabled, you can set top_p to values between 1 and 0.95"


@dataclass(frozen=True)
class FamilyRule:
    """One row of `models.toml`: what a model family accepts."""

    prefix: str
    legacy_sampling: bool  # temperature/top_p honoured under API version 2023-06-01
    prefill: bool  # a final assistant turn is continued (4.6+: 400)
    one_sampling_knob: bool  # temperature and top_p refused together
    source: str
    checked: str
    retired: str | None = None
    efforts: tuple[str, ...] | None = None  # output_config.effort values (None: any)
    thinking: tuple[str, ...] = ("adaptive", "disabled")  # thinking.type values taken
    efforts_thinking_off: tuple[str, ...] | None = None  # with thinking disabled, if fewer
    thinks_by_default: bool = False
    effort_source: str = ""


@functools.cache
def _table() -> tuple[dict[str, Any], tuple[FamilyRule, ...]]:
    data = models.table()  # models.toml, read once for the limits and these rules
    rules = [FamilyRule(prefix, row["legacy_sampling"], row["prefill"], row["one_sampling_knob"],
                        _source(row["source"]), row["checked"], row.get("retired"),
                        **_reasoning_facts({**data.defaults, **row}))
             for prefix, row in data.families.items()]
    return data.sections["api"], tuple(rules)


def _reasoning_facts(row: dict[str, Any]) -> dict[str, Any]:
    off = row.get("efforts_thinking_off")
    return {"efforts": tuple(row["efforts"]) if "efforts" in row else None,
            "thinking": tuple(row["thinking"]),
            "efforts_thinking_off": tuple(off) if off is not None else None,
            "thinks_by_default": bool(row.get("thinks_by_default")),
            "effort_source": _source(row.get("effort_source", ""))}


def _source(source: str | list[str]) -> str:
    return source if isinstance(source, str) else "; ".join(source)


def current_version() -> str:
    return str(_table()[0]["current"])


def legacy_version() -> str:
    return str(_table()[0]["legacy"])


def families() -> tuple[FamilyRule, ...]:
    return _table()[1]


def rule_for(model: str) -> FamilyRule:
    """The row of the longest prefix that is `model` or starts it followed by "-"; an unknown
    family gets the current API's rules (the safe default)."""
    return _rule(str(model))


@functools.cache  # asked once per chat prompt (validation): finding the row scans every family
def _rule(model: str) -> FamilyRule:
    name = model.removeprefix("anthropic/")
    rows = [r for r in families() if name == r.prefix or name.startswith(r.prefix + "-")]
    if rows:
        return max(rows, key=lambda r: len(r.prefix))
    return FamilyRule(name, legacy_sampling=False, prefill=False, one_sampling_knob=True,
                      source="not in models.toml: the current API version's rules",
                      checked=str(_table()[0]["checked"]),
                      **_reasoning_facts(dict(models.table().defaults)))


def api_version_for(body: Mapping[str, Any]) -> str:
    """The API version a request body needs: the old one only to carry sampling fields."""
    return legacy_version() if any(k in body for k in SAMPLING) else current_version()


def headers_for(body: Mapping[str, Any]) -> dict[str, str]:
    """The per-request headers that go with `body` (whatever the SDK's default version)."""
    return {HEADER: api_version_for(body)}


def sampling_fields(prompt: LmPrompt, model: Any, api_version: str | None = None,
                    ) -> dict[str, float]:
    """The sampling fields the body carries: none at default sampling; otherwise the changed
    ones, if `model` honours them on API version 2023-06-01 (and `api_version`, when given,
    is that one). Raises ValueError naming the field and the way out."""
    wanted = {k: float(getattr(prompt, k)) for k, d in DEFAULT_SAMPLING.items()
              if getattr(prompt, k) != d}
    if not wanted:
        return {}
    rule, name, fields = rule_for(str(model)), str(model), " and ".join(wanted)
    if not rule.legacy_sampling:
        _refuse(next(iter(wanted)), name, f"Anthropic removed {fields} for this model (a 400 "
                f"at every API version; {rule.source}). Leave temperature=1.0 and top_p=1.0 "
                "(the defaults: nothing is sent) and steer the answer in the prompt, or use "
                f"a model that still takes them: {', '.join(honouring())}")
    if api_version is not None and api_version != legacy_version():
        _refuse(next(iter(wanted)), name, f"{fields} exist only under API version "
                f"{legacy_version()}, not {api_version}; leave them at their defaults")
    one_knob = rule.one_sampling_knob or getattr(model, "one_sampling_knob", False)
    if len(wanted) == 2 and one_knob:
        _refuse("top_p", name, "this model takes temperature or top_p, not both; leave "
                "temperature=1.0 to sample with top_p, or top_p=1.0")
    return wanted


def check_prefill(prompt: LmPrompt, model: Any) -> None:
    """Refuse a chat ending in an assistant turn for a model that answers it with a 400."""
    if not prompt.is_text_a_chat() or rule_for(str(model)).prefill:
        return
    if prompt.get_text_as_chat()[-1].role == "assistant":
        takes = ", ".join(r.prefix for r in families() if r.prefill and not r.retired)
        _refuse("text", str(model), "the chat ends with an assistant turn (a prefill), which "
                "Claude 4.6 and later answer with a 400. End with a user turn (put the start "
                "of the answer in it as an instruction), use response_format for JSON, or a "
                f"model that takes a prefill: {takes}")


def thinking_type(thinking: str | int | None) -> str | None:
    """`LmPrompt.thinking` as Claude's `thinking.type`: an int budget is "enabled"."""
    return "enabled" if isinstance(thinking, int) else thinking


def reasoning_fields(prompt: LmPrompt, model: Any, max_tokens: int) -> dict[str, Any]:
    """`thinking` and `output_config.effort` as the body carries them for a request of
    `max_tokens`, or ValueError naming the field, the model and the way out."""
    rule, name = rule_for(str(model)), str(model)
    if prompt.verbosity is not None:
        _refuse("verbosity", name, "Claude has no verbosity (it is OpenAI's); its effort also "
                "scales how much it writes: use reasoning_effort, or leave verbosity=None")
    body: dict[str, Any] = {}
    kind = thinking_type(prompt.thinking)
    if kind is not None:
        body["thinking"] = _thinking(prompt, rule, name, kind, max_tokens)
    effort = prompt.reasoning_effort
    if effort is not None:
        _check_effort(effort, rule, name, kind)
        body["output_config"] = {"effort": effort}
    if kind in ("adaptive", "enabled") or (kind is None and rule.thinks_by_default):
        _check_thinking_sampling(prompt, name)
    return body


def _thinking(prompt: LmPrompt, rule: FamilyRule, name: str, kind: str,
              max_tokens: int) -> dict[str, Any]:
    if kind not in rule.thinking:
        takes = ", ".join(_thinking_names(rule.thinking)) or "none of them"
        _refuse("thinking", name, f"{name} takes thinking {takes}, not {prompt.thinking!r} "
                f"({rule.effort_source or rule.source}). " + _thinking_way_out(rule, kind))
    if kind == "adaptive":  # 4.7+ omit the thinking text unless asked: ask, so it is kept
        return {"type": "adaptive", "display": "summarized"}
    if kind == "enabled":
        if not isinstance(prompt.thinking, int) or prompt.thinking >= max_tokens:
            _refuse("thinking", name, f"a thinking budget must be below max_tokens (thinking "
                    f"counts toward it; anthropic's ThinkingConfigEnabledParam); got "
                    f"{prompt.thinking} with max_tokens={max_tokens}: raise max_tokens")
        return {"type": "enabled", "budget_tokens": prompt.thinking}
    return {"type": "disabled"}


def _thinking_names(kinds: tuple[str, ...]) -> list[str]:
    return [{"enabled": "<a budget, an int>"}.get(k, repr(k)) for k in kinds]


def _thinking_way_out(rule: FamilyRule, kind: str) -> str:
    if kind == "enabled" and "adaptive" in rule.thinking:
        return ("Manual budgets are gone on this model: use thinking='adaptive' and steer how "
                "much it thinks with reasoning_effort")
    if kind == "disabled" and rule.thinks_by_default:
        return "This model always thinks: leave thinking=None and lower reasoning_effort"
    if kind == "disabled":
        return "Leave thinking=None: this model does not think unless asked"
    if kind == "adaptive" and "enabled" in rule.thinking:
        return "This model thinks with a manual budget: thinking=<an int >= 1024>"
    return "Leave thinking=None, or use a model that thinks (e.g. claude-opus-4-8)"


def _check_effort(effort: str, rule: FamilyRule, name: str, kind: str | None) -> None:
    if rule.efforts is not None and effort not in rule.efforts:
        if not rule.efforts:
            why = f"{name} takes no effort at all, a 400"
        else:
            why = f"{name} takes reasoning_effort {', '.join(rule.efforts)}, not {effort!r}"
        way = (" Claude has no 'none' or 'minimal' effort: turn thinking off with "
               "thinking='disabled' where the model takes it." if effort in ("none", "minimal")
               else " Leave reasoning_effort=None for the model's default.")
        _refuse("reasoning_effort", name, f"{why} ({rule.effort_source or rule.source}).{way}")
    off = rule.efforts_thinking_off
    if kind == "disabled" and off is not None and effort not in off:
        _refuse("reasoning_effort", name, f"with thinking disabled {name} takes effort "
                f"{', '.join(off)}, not {effort!r} ({rule.effort_source}); keep thinking on "
                "(thinking=None) or lower the effort")


def _check_thinking_sampling(prompt: LmPrompt, name: str) -> None:
    """Thinking takes no temperature change, and top_p only in [0.95, 1] (Anthropic's
    extended-thinking docs, "Feature compatibility")."""
    if prompt.temperature != DEFAULT_SAMPLING["temperature"]:
        _refuse("temperature", name, "thinking is not compatible with a temperature change "
                "(Anthropic's extended-thinking docs, feature compatibility); leave "
                "temperature=1.0, or turn thinking off")
    if prompt.top_p < THINKING_MIN_TOP_P:
        _refuse("top_p", name, f"with thinking on, top_p must be between {THINKING_MIN_TOP_P} "
                f"and 1 (Anthropic's extended-thinking docs); got {prompt.top_p}")
    if prompt.is_text_a_chat() and prompt.get_text_as_chat()[-1].role == "assistant":
        _refuse("text", name, "a prefill (a final assistant turn) cannot be continued with "
                "thinking on (Anthropic's extended-thinking docs); end with a user turn")


def honouring() -> list[str]:
    """Families still served that honour sampling fields under API version 2023-06-01."""
    return [r.prefix for r in families() if r.legacy_sampling and not r.retired]


def sent_stops(prompt: LmPrompt) -> list[str]:
    """The stop strings the API takes: it refuses a whitespace-only one with a 400."""
    return [s for s in prompt.stop or () if s.strip()]


def client_stops(prompt: LmPrompt) -> list[str]:
    """The whitespace-only stop strings, applied to the answer here instead (`cut_at_stops`)."""
    return [s for s in prompt.stop or () if not s.strip()]


def cut_at_stops(text: str, prompt: LmPrompt) -> str | None:
    """`text` cut before the first client-side stop string, or None when none occurs.

        >>> cut_at_stops("a\\n\\nb", LmPrompt("q", stop=["\\n\\n"]))
        'a'
    """
    found = [i for i in (text.find(s) for s in client_stops(prompt)) if i >= 0]
    return text[:min(found)] if found else None


def _refuse(field_name: str, model: str, why: str) -> None:
    raise ValueError(f"LmPrompt.{field_name} cannot be honoured by {model}: {why}")


__all__ = ["FamilyRule", "api_version_for", "check_prefill", "client_stops", "cut_at_stops",
           "headers_for", "reasoning_fields", "rule_for", "sampling_fields", "sent_stops",
           "thinking_type"]
