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


@functools.cache
def _table() -> tuple[dict[str, Any], tuple[FamilyRule, ...]]:
    data = models.table()  # models.toml, read once for the limits and these rules
    rules = [FamilyRule(prefix, row["legacy_sampling"], row["prefill"], row["one_sampling_knob"],
                        _source(row["source"]), row["checked"], row.get("retired"))
             for prefix, row in data.families.items()]
    return data.sections["api"], tuple(rules)


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
                      checked=str(_table()[0]["checked"]))


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
           "headers_for", "rule_for", "sampling_fields", "sent_stops"]
