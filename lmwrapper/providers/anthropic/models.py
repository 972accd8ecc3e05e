"""Claude models: any model id, with its limits and prices looked up when first needed.

    >>> info = ClaudeModelInfo.infer("claude-sonnet-5-5")
    >>> info.context_window, info.max_output_tokens, info.input_usd_per_mtok
    (1000000, 128000, 2.0)

Where each fact comes from (`lmwrapper.core.models`): prices and context windows from
`genai-prices` (`pip install -U genai-prices` prices a model released after this release),
current names and deprecation dates from the installed `anthropic` SDK, and the rest
(output limits, retirements the SDK no longer lists, which sampling fields and prefills
each family takes: `rules.py`) from `models.toml` beside this file, each row with its
source and date.

Any name is accepted: the API's own 404 is the (free) check of a name nothing here knows.
Only a name that is close to a current one *and* unknown to every source is refused here, as
a typo ("did you mean ...": only names the SDK lists as served today, `core.models.suggestions`);
give any fact (`context_window=...`) to send it anyway. A model
no source prices runs unpriced: its estimate says so, and `max_cost_usd` refuses it.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterator
from typing import Any, Self

from lmwrapper.core import models as model_facts
from lmwrapper.core.errors import UnknownModelError
from lmwrapper.core.limits import SizeLimit

PROVIDER = "anthropic"
_MONTH_DAY = re.compile(r"(\w+) (\d+)\w*, (\d{4})")


def _sdk_shutdowns(source: str) -> dict[str, dt.date]:
    """`anthropic/_data/deprecated_models.py`'s `DEPRECATED_MODELS` (the SDK warns with it
    too): `"claude-x": "January 22nd, 2027"` entries."""
    return {m: _parse_long_date(d) for m, d in re.findall(r'"([^"]+)":\s*"([^"]+)"', source)}


def _parse_long_date(text: str) -> dt.date:
    """`January 22nd, 2027` → 2027-01-22."""
    m = _MONTH_DAY.fullmatch(text.strip())
    if not m:
        raise ValueError(f"unexpected date {text!r} in the anthropic SDK's deprecation table")
    return dt.datetime.strptime(f"{m[1]} {m[2]} {m[3]}", "%B %d %Y").date()


# Where the maintained sources keep Anthropic's facts (`lmwrapper.core.models` reads them):
# its id in genai-prices, and the installed `anthropic` SDK's `ModelParam` and deprecations.
SOURCES = model_facts.FactSources(
    PROVIDER, prices="anthropic",
    sdk_names=(("anthropic", "types/model_param.py", "ModelParam"),),
    sdk_shutdowns=("anthropic", "_data/deprecated_models.py"), parse_shutdowns=_sdk_shutdowns)
FACTS = ("context_window", "max_output_tokens", "input_usd_per_mtok", "output_usd_per_mtok",
         "cache_write_usd_per_mtok", "cache_read_usd_per_mtok", "batch_discount",
         "one_sampling_knob", "long_context_from", "long_input_usd_per_mtok",
         "long_output_usd_per_mtok")
_DATED = re.compile(r"-(\d{8}|latest)$")


@functools.cache
def table() -> model_facts.FamilyTable:
    return model_facts.FamilyTable.load("lmwrapper.providers.anthropic")


def size_limit(key: str, what: str, most: int | None = None) -> SizeLimit:
    """models.toml's `[limits]` `key` (bytes), citing its source; `most` in its place where
    the planner keeps room (a batch's envelope)."""
    row = table().sections["limits"]
    cite = f"{row['source'][0].split(' (')[0]}, checked {row['checked']}"
    return SizeLimit(int(row[key]) if most is None else most, "bytes", what, cite)


class ClaudeModelInfo(model_facts.ModelInfo):
    """A Claude model id (it *is* the str); its facts (`FACTS`) are looked up on first use,
    and facts given to the constructor win over the sources."""

    FACTS = FACTS
    TABLE_FACTS = ("max_output_tokens", "batch_discount", "one_sampling_knob")
    context_window: int
    max_output_tokens: int
    input_usd_per_mtok: float | None
    output_usd_per_mtok: float | None
    cache_write_usd_per_mtok: float | None
    cache_read_usd_per_mtok: float | None
    batch_discount: float
    one_sampling_knob: bool
    long_context_from: int | None
    long_input_usd_per_mtok: float | None
    long_output_usd_per_mtok: float | None

    def __new__(cls, name: str, context_window: int | None = None,
                max_output_tokens: int | None = None, input_usd_per_mtok: float | None = None,
                output_usd_per_mtok: float | None = None,
                cache_write_usd_per_mtok: float | None = None,
                cache_read_usd_per_mtok: float | None = None, batch_discount: float | None = None,
                one_sampling_knob: bool | None = None) -> Self:
        given = (context_window, max_output_tokens, input_usd_per_mtok, output_usd_per_mtok,
                 cache_write_usd_per_mtok, cache_read_usd_per_mtok, batch_discount,
                 one_sampling_knob)
        return cls.made(name, {f: v for f, v in zip(FACTS, given) if v is not None})

    def table_row(self) -> dict[str, Any]:
        return table().row(str(self))

    def sourced(self, given: dict[str, Any]) -> dict[str, Any]:
        return sourced_facts(str(self), given)

    def window_source(self) -> str | None:
        return window_source(str(self), self.given())  # this module's function

    @property
    def family(self) -> str:
        """`claude-3-5-haiku-20241022` → `claude-3-5-haiku`: what snapshots and aliases share."""
        return family_of(str(self))

    @property
    def retires(self) -> dt.date | None:
        """The date Anthropic shuts (or shut) this model down, if one is announced."""
        return model_facts.retirement(SOURCES, str(self), self.table_row())

    def with_facts(self, name: str, **overrides: Any) -> ClaudeModelInfo:
        return ClaudeModelInfo.made(name, {**self.given(), **overrides})

    @classmethod
    def infer(cls, name: str, **overrides: Any) -> ClaudeModelInfo:
        """`name` with its facts; `UnknownModelError` only for a likely typo (see the module)."""
        if isinstance(name, ClaudeModelInfo) and not overrides:
            return name
        name = str(name).removeprefix("anthropic/")
        info = cls.made(name, overrides)
        if not overrides and not _known(name):
            close = model_facts.suggestions(SOURCES, name)
            if close:
                raise UnknownModelError(unknown_model_message(name, close))
        return info


def sourced_facts(name: str, given: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every fact of `name`: `given`, else genai-prices', else models.toml's (see the module)."""
    row = table().row(name)
    pub = model_facts.published(SOURCES, name)
    context = table().explicit(name).get("context_window") or (
        pub.context_window if pub else None)
    facts = {"context_window": context or row["context_window"],
             "max_output_tokens": row["max_output_tokens"],
             "input_usd_per_mtok": pub.input_usd_per_mtok if pub else None,
             "output_usd_per_mtok": pub.output_usd_per_mtok if pub else None,
             "cache_write_usd_per_mtok": pub.cache_write_usd_per_mtok if pub else None,
             "cache_read_usd_per_mtok": pub.cache_read_usd_per_mtok if pub else None,
             "batch_discount": row["batch_discount"],
             "one_sampling_knob": bool(row.get("one_sampling_knob", False)),
             "long_context_from": pub.long_context_from if pub else None,
             "long_input_usd_per_mtok": pub.long_input_usd_per_mtok if pub else None,
             "long_output_usd_per_mtok": pub.long_output_usd_per_mtok if pub else None}
    given = given or {}
    if "input_usd_per_mtok" in given or "output_usd_per_mtok" in given:
        # Rates given by the caller replace the published ones: the cache rates follow the
        # input rate, and no tier applies, unless given too.
        facts.update(cache_write_usd_per_mtok=None, cache_read_usd_per_mtok=None,
                     long_context_from=None, long_input_usd_per_mtok=None,
                     long_output_usd_per_mtok=None)
    facts.update(given)
    rate = facts["input_usd_per_mtok"]
    for key, factor in (("cache_write_usd_per_mtok", "cache_write_factor"),
                        ("cache_read_usd_per_mtok", "cache_read_factor")):
        if facts[key] is None and rate is not None:  # Anthropic's documented multipliers
            facts[key] = round(rate * row[factor], 6)
    return facts


def window_source(name: str, given: dict[str, Any] | None = None) -> str | None:
    """Where `name`'s context window comes from: "given" (`context_window=`), "models.toml",
    "genai-prices", or None when no source describes it (the window is then the table's
    default, a guess, and no prompt is refused for it)."""
    return model_facts.window_source(SOURCES, table(), name, given)


def family_of(name: str) -> str:
    return _DATED.sub("", name)


def _known(name: str) -> bool:
    return family_of(name) in table().families or model_facts.is_known(SOURCES, name)


def unknown_model_message(name: str, close: list[str]) -> str:
    return (f"unknown Claude model {name!r}: Did you mean {', '.join(map(repr, close))}? No "
            f"source lmwrapper reads knows it ({model_facts.genai_prices_version()}, the "
            "installed anthropic SDK). If it is a new model: `pip install -U genai-prices "
            "anthropic`, or give any of its facts to send it as named: get_claude_lm("
            f"{name!r}, context_window=1000000, max_output_tokens=64000). `lmwrapper models "
            "-p anthropic` lists the known ones.")


M = ClaudeModelInfo


class _Iterable(type):
    """0.18's `for model in ClaudeModelNames`."""

    def __iter__(cls) -> Iterator[ClaudeModelInfo]:
        return iter(cls.all())  # type: ignore[attr-defined]


class ClaudeModelNames(metaclass=_Iterable):
    """Claude models by attribute; each is an API model id (a str) carrying its facts. Any
    other id works too: `get_claude_lm("claude-...")`."""

    # current (the anthropic SDK's ModelParam, checked 2026-12-07)
    claude_opus_5_5 = M("claude-opus-5-5")
    claude_sonnet_5_5 = M("claude-sonnet-5-5")
    claude_haiku_5_5 = M("claude-haiku-5-5")
    claude_opus_5 = M("claude-opus-5")
    claude_sonnet_5 = M("claude-sonnet-5")
    claude_opus_4_8 = M("claude-opus-4-8")
    claude_opus_4_7 = M("claude-opus-4-7")
    claude_opus_4_6 = M("claude-opus-4-6")
    claude_sonnet_4_6 = M("claude-sonnet-4-6")
    claude_opus_4_5 = M("claude-opus-4-5")
    claude_haiku_4_5 = M("claude-haiku-4-5")
    # older: kept so old scripts and caches resolve (`lmwrapper models` says which are retired)
    claude_opus_4_1 = M("claude-opus-4-1")
    claude_opus_4 = M("claude-opus-4-0")
    claude_sonnet_4_5 = M("claude-sonnet-4-5")
    claude_sonnet_4 = M("claude-sonnet-4-0")
    claude_3_7_sonnet = M("claude-3-7-sonnet-20250219")
    claude_3_5_sonnet = M("claude-3-5-sonnet-20241022")
    claude_3_5_haiku = M("claude-3-5-haiku-20241022")
    claude_3_opus = M("claude-3-opus-20240229")
    claude_3_haiku = M("claude-3-haiku-20240307")

    @classmethod
    def all(cls) -> list[ClaudeModelInfo]:
        return [v for v in vars(cls).values() if isinstance(v, ClaudeModelInfo)]

    @classmethod
    def get(cls, name: str) -> ClaudeModelInfo:
        """The model `name` names (a snapshot or alias too); KeyError for a likely typo."""
        try:
            return ClaudeModelInfo.infer(name)
        except ValueError as e:
            raise KeyError(str(e)) from None

    @classmethod
    def name_to_info(cls, name: str) -> ClaudeModelInfo | None:
        """0.18: the model `name` names, or None for a likely typo (`get` says which)."""
        try:
            return ClaudeModelInfo.infer(name)
        except ValueError:
            return None


del M

# -- lmwrapper 0.18 names: dated ids --
for _name, _id in {"claude_4_sonnet": "claude-sonnet-4-20250514",
                   "claude_4_opus": "claude-opus-4-20250514",
                   "claude_4_5_sonnet": "claude-sonnet-4-5-20250929",
                   "claude_4_5_haiku": "claude-haiku-4-5-20251001"}.items():
    setattr(ClaudeModelNames, _name, ClaudeModelInfo(_id))

# The model `get_claude_lm()` uses when none is named (Anthropic's current Sonnet).
DEFAULT_MODEL = ClaudeModelNames.claude_sonnet_5_5

__all__ = ["DEFAULT_MODEL", "ClaudeModelInfo", "ClaudeModelNames"]
