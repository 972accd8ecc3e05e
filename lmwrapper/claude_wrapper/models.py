"""Claude models: context and output limits, and what each token costs.

    >>> info = ClaudeModelInfo.infer("claude-3-5-haiku-latest")   # an alias of a known family
    >>> info.context_window, info.max_output_tokens, info.input_usd_per_mtok
    (200000, 8192, 0.8)

A dated snapshot or a `-latest` alias takes its family's facts. A name no family explains
is refused with the closest known names, unless its facts are given
(`ClaudeModelInfo.infer("claude-new", context_window=200000, max_output_tokens=64000)`).

Prices are USD per million tokens at the live rate, copied from anthropic.com/pricing (they
change: pass `input_usd_per_mtok=` and friends to correct one). Unless a row says
otherwise, writing the prompt cache costs 1.25x the input rate (5-minute cache), reading
it 0.1x, and Message Batches half of everything.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from typing import Any, Self

CACHE_WRITE_FACTOR = 1.25
CACHE_READ_FACTOR = 0.1
_DATED = re.compile(r"-(\d{8}|latest)$")


class ClaudeModelInfo(str):
    """A Claude model id (it *is* the str) with its limits and prices."""

    context_window: int
    max_output_tokens: int
    input_usd_per_mtok: float | None
    output_usd_per_mtok: float | None
    cache_write_usd_per_mtok: float | None
    cache_read_usd_per_mtok: float | None
    batch_discount: float
    # Claude 4.1+ refuse a request that sets both temperature and top_p.
    one_sampling_knob: bool

    def __new__(cls, name: str, context_window: int, max_output_tokens: int,
                input_usd_per_mtok: float | None = None, output_usd_per_mtok: float | None = None,
                cache_write_usd_per_mtok: float | None = None,
                cache_read_usd_per_mtok: float | None = None, batch_discount: float = 0.5,
                one_sampling_knob: bool = False) -> Self:
        obj = super().__new__(cls, name)
        obj.context_window, obj.max_output_tokens = context_window, max_output_tokens
        obj.input_usd_per_mtok, obj.output_usd_per_mtok = input_usd_per_mtok, output_usd_per_mtok
        rate = input_usd_per_mtok
        obj.cache_write_usd_per_mtok = cache_write_usd_per_mtok if cache_write_usd_per_mtok \
            is not None or rate is None else round(rate * CACHE_WRITE_FACTOR, 6)
        obj.cache_read_usd_per_mtok = cache_read_usd_per_mtok if cache_read_usd_per_mtok \
            is not None or rate is None else round(rate * CACHE_READ_FACTOR, 6)
        obj.batch_discount, obj.one_sampling_knob = batch_discount, one_sampling_knob
        return obj

    def __reduce__(self) -> tuple[Any, ...]:  # pickle/copy as name + facts
        return (ClaudeModelInfo, (str(self), *self.facts().values()))

    @property
    def name(self) -> str:
        return str(self)

    @property
    def family(self) -> str:
        """`claude-3-5-haiku-20241022` → `claude-3-5-haiku`: what snapshots and aliases share."""
        return family_of(str(self))

    def facts(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in FACTS}

    def with_facts(self, name: str, **overrides: Any) -> ClaudeModelInfo:
        unknown = set(overrides) - set(FACTS)
        if unknown:
            raise TypeError(f"unknown Claude model facts {sorted(unknown)}; known: {', '.join(FACTS)}")
        return ClaudeModelInfo(name, **{**self.facts(), **overrides})

    @classmethod
    def infer(cls, name: str, **overrides: Any) -> ClaudeModelInfo:
        """Facts for `name`: its family's, overridden by `overrides`; ValueError when unknown."""
        if isinstance(name, ClaudeModelInfo) and not overrides:
            return name
        name = str(name).removeprefix("anthropic/")
        family = _BY_FAMILY.get(family_of(name))
        if family is not None:
            return family.with_facts(name, **overrides)
        if {"context_window", "max_output_tokens"} <= set(overrides):
            return ClaudeModelInfo(name, **overrides)
        raise ValueError(unknown_model_message(name))


FACTS = ("context_window", "max_output_tokens", "input_usd_per_mtok", "output_usd_per_mtok",
         "cache_write_usd_per_mtok", "cache_read_usd_per_mtok", "batch_discount",
         "one_sampling_knob")


def family_of(name: str) -> str:
    return _DATED.sub("", name)


def unknown_model_message(name: str) -> str:
    close = difflib.get_close_matches(family_of(name), list(_BY_FAMILY), n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(repr(_BY_FAMILY[c].name) for c in close)}?" if close else ""
    return (f"unknown Claude model {name!r}.{hint} Known: ClaudeModelNames "
            f"({', '.join(_BY_FAMILY)}). For a model lmwrapper does not know yet, give its "
            "facts: get_claude_lm(name, context_window=200000, max_output_tokens=64000, "
            "input_usd_per_mtok=..., output_usd_per_mtok=...).")


M = ClaudeModelInfo


class _Iterable(type):
    """0.18's `for model in ClaudeModelNames`."""

    def __iter__(cls) -> Iterator[ClaudeModelInfo]:
        return iter(cls.all())  # type: ignore[attr-defined]


class ClaudeModelNames(metaclass=_Iterable):
    """Known Claude models; each attribute is an API model id (a str) carrying its facts."""

    # Claude 4.x: the family alias is itself a valid model id
    claude_opus_4_5 = M("claude-opus-4-5", 200000, 64000, 5.00, 25.00, one_sampling_knob=True)
    claude_opus_4_1 = M("claude-opus-4-1", 200000, 32000, 15.00, 75.00, one_sampling_knob=True)
    claude_opus_4 = M("claude-opus-4-0", 200000, 32000, 15.00, 75.00)
    claude_sonnet_4_5 = M("claude-sonnet-4-5", 200000, 64000, 3.00, 15.00, one_sampling_knob=True)
    claude_sonnet_4 = M("claude-sonnet-4-0", 200000, 64000, 3.00, 15.00)
    claude_haiku_4_5 = M("claude-haiku-4-5", 200000, 64000, 1.00, 5.00, one_sampling_knob=True)
    # Claude 3.x: only dated ids (and some -latest aliases) exist at the API
    claude_3_7_sonnet = M("claude-3-7-sonnet-20250219", 200000, 64000, 3.00, 15.00)
    claude_3_5_sonnet = M("claude-3-5-sonnet-20241022", 200000, 8192, 3.00, 15.00)
    claude_3_5_haiku = M("claude-3-5-haiku-20241022", 200000, 8192, 0.80, 4.00)
    claude_3_opus = M("claude-3-opus-20240229", 200000, 4096, 15.00, 75.00)
    claude_3_haiku = M("claude-3-haiku-20240307", 200000, 4096, 0.25, 1.25, 0.30, 0.03)

    @classmethod
    def all(cls) -> list[ClaudeModelInfo]:
        return [v for v in vars(cls).values() if isinstance(v, ClaudeModelInfo)]

    @classmethod
    def get(cls, name: str) -> ClaudeModelInfo:
        """The model `name` names (a snapshot or alias too); KeyError with close matches."""
        try:
            return ClaudeModelInfo.infer(name)
        except ValueError as e:
            raise KeyError(str(e)) from None

    @classmethod
    def name_to_info(cls, name: str) -> ClaudeModelInfo | None:
        """0.18: the model `name` names, or None (`get` raises, with close matches)."""
        try:
            return ClaudeModelInfo.infer(name)
        except ValueError:
            return None


# Family → entry. `claude-opus-4-0` is also reached as `claude-opus-4` and by its dated id
# `claude-opus-4-20250514` (whose family is `claude-opus-4`), hence the extra keys.
_BY_FAMILY: dict[str, ClaudeModelInfo] = {family_of(str(m)): m for m in ClaudeModelNames.all()}
_BY_FAMILY["claude-opus-4"] = ClaudeModelNames.claude_opus_4
_BY_FAMILY["claude-sonnet-4"] = ClaudeModelNames.claude_sonnet_4
del M

# -- lmwrapper 0.18 names: dated ids of the models above (added after _BY_FAMILY, which they
# would otherwise replace as their family's entry) --
for _name, _id in {"claude_4_sonnet": "claude-sonnet-4-20250514",
                   "claude_4_opus": "claude-opus-4-20250514",
                   "claude_4_5_sonnet": "claude-sonnet-4-5-20250929",
                   "claude_4_5_haiku": "claude-haiku-4-5-20251001"}.items():
    setattr(ClaudeModelNames, _name, ClaudeModelInfo.infer(_id))

__all__ = ["ClaudeModelInfo", "ClaudeModelNames"]
