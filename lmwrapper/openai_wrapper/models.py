"""OpenAI models: what each can do, how big its context is, what it costs.

    >>> info = OpenAiModelInfo.infer("gpt-4o-mini-2024-07-18")   # a dated snapshot
    >>> info.kind, info.context_window, info.input_usd_per_mtok
    ('chat', 128000, 0.15)

A dated snapshot of a known model (`gpt-4o-2024-08-06`, `gpt-4-0613`) has its family's
facts; a fine-tune (`ft:gpt-4o-mini:org::id`) its family's capabilities but no price (fine-
tunes are billed at their own rates: pass them). Any other name is refused with "did you
mean ...?" -- `gpt-4o-mni` must not be priced as gpt-4o -- unless the caller gives facts
(`OpenAiModelInfo.infer("my-model", kind="instruct", context_window=8192)`) or the model
is on an OpenAI-compatible server (`compatible_server=True`: any name goes, unpriced).
Prices are USD per million tokens at the live rate (the Batch API costs half); they were
copied from openai.com/api/pricing and change: pass `input_usd_per_mtok=` to correct one.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from typing import Any, Literal

from lmwrapper.errors import UnknownModelError

ModelKind = Literal["chat", "instruct", "reasoning"]


class OpenAiModelInfo(str):
    """A model name (it *is* the str) with the facts lmwrapper needs about the model."""

    kind: ModelKind
    context_window: int
    max_output_tokens: int
    input_usd_per_mtok: float | None
    output_usd_per_mtok: float | None
    cached_input_usd_per_mtok: float | None
    encoding: str
    batch_discount: float

    def __new__(  # noqa: PYI034  (0.18's constructor, then ours)
        cls,
        name: str,
        kind: ModelKind,
        context_window: int,
        max_output_tokens: int,
        input_usd_per_mtok: float | None = None,
        output_usd_per_mtok: float | None = None,
        cached_input_usd_per_mtok: float | None = None,
        encoding: str = "o200k_base",
        batch_discount: float = 0.5,
    ) -> OpenAiModelInfo:
        if isinstance(kind, bool):  # 0.18: (name, is_chat_model, reasoning_style, token_limit)
            kind, context_window, max_output_tokens = _facts_018(kind, context_window,
                                                                 max_output_tokens)
        if kind not in ("chat", "instruct", "reasoning"):
            raise ValueError(f"kind must be 'chat', 'instruct' or 'reasoning'; got {kind!r}")
        obj = super().__new__(cls, name)
        obj.kind = kind
        obj.context_window = context_window
        obj.max_output_tokens = max_output_tokens
        obj.input_usd_per_mtok = input_usd_per_mtok
        obj.output_usd_per_mtok = output_usd_per_mtok
        obj.cached_input_usd_per_mtok = cached_input_usd_per_mtok
        obj.encoding = encoding
        obj.batch_discount = batch_discount
        return obj

    def __reduce__(self) -> tuple[Any, ...]:  # pickle/copy as name + facts
        return (OpenAiModelInfo, (str(self), *self.facts().values()))

    @property
    def name(self) -> str:
        return str(self)

    @property
    def is_chat_model(self) -> bool:
        return self.kind != "instruct"

    @property
    def is_reasoning_model(self) -> bool:
        return self.kind == "reasoning"

    @property
    def priced(self) -> bool:
        return self.input_usd_per_mtok is not None and self.output_usd_per_mtok is not None

    def facts(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in _FACTS}

    def with_facts(self, name: str | None = None, **overrides: Any) -> OpenAiModelInfo:
        unknown = set(overrides) - set(_FACTS)
        if unknown:
            raise TypeError(f"unknown model facts {sorted(unknown)}; known: {', '.join(_FACTS)}")
        return OpenAiModelInfo(name if name is not None else str(self), **{**self.facts(), **overrides})

    @classmethod
    def infer(cls, name: str, *, compatible_server: bool = False,
              **overrides: Any) -> OpenAiModelInfo:
        """Facts for `name`: a registry entry or a snapshot of one; a fine-tune of one
        (unpriced); else, if the caller gave facts or `compatible_server`, an unpriced chat
        model with those facts; else `UnknownModelError` naming the close known names."""
        if isinstance(name, OpenAiModelInfo) and not overrides:
            return name
        name = str(name)
        family = _family(name)
        if family is not None:
            if name.startswith("ft:"):  # same limits, its own (unknown) price
                family = family.with_facts(input_usd_per_mtok=None, output_usd_per_mtok=None,
                                           cached_input_usd_per_mtok=None)
            return family.with_facts(name, **overrides)
        if overrides or compatible_server:
            return _UNKNOWN.with_facts(name, **overrides)
        raise _unknown_model(name)

    # -- lmwrapper 0.18 names --
    @property
    def token_limit(self) -> int:
        return self.context_window

    @property
    def reasoning_style(self) -> Any:  # LmReasoningStyle (imported late: it pulls in the engine)
        from lmwrapper.abstract_predictor import LmReasoningStyle

        if self.kind != "reasoning":
            return LmReasoningStyle.NEVER_THINK
        if _family_name(str(self)).startswith("gpt-5.1"):  # reasoning effort "none" is its default
            return LmReasoningStyle.CONFIGURABLE_THINKING
        return LmReasoningStyle.ALWAYS_THINK


def _facts_018(is_chat_model: bool, reasoning_style: Any, token_limit: int
               ) -> tuple[ModelKind, int, int]:
    """0.18's `OpenAiModelInfo(name, is_chat_model, reasoning_style, token_limit)` → kind,
    context window and (unknown, so bounded by the context) output limit."""
    thinks = getattr(reasoning_style, "value", reasoning_style) in (
        "ALWAYS_THINK", "CONFIGURABLE_THINKING")
    kind: ModelKind = "reasoning" if thinks else "chat" if is_chat_model else "instruct"
    return kind, int(token_limit), int(token_limit)


_FACTS = ("kind", "context_window", "max_output_tokens", "input_usd_per_mtok",
          "output_usd_per_mtok", "cached_input_usd_per_mtok", "encoding", "batch_discount")


def _family_name(name: str) -> str:
    """`ft:gpt-4o-mini-2024-07-18:org:suffix:id` → `gpt-4o-mini-2024-07-18`; `openai/x` → `x`."""
    if name.startswith("ft:"):
        name = name[3:].split(":", 1)[0]
    return name.rsplit("/", 1)[-1]


# What OpenAI appends to a model's name for a snapshot: a date (-2024-08-06) or a month-day
# (-0613). Only these: a prefix match alone would price "gpt-4o-mni" as gpt-4o (16x what
# gpt-4o-mini costs), and "gpt-4-1106-preview" (a gpt-4-turbo) as gpt-4 (3x). Snapshots
# priced unlike their family are registry entries of their own.
_SNAPSHOT = re.compile(r"-\d{4}-\d{2}-\d{2}|-\d{4}")


def _family(name: str) -> OpenAiModelInfo | None:
    """The registry entry that `name` is, or is a snapshot or fine-tune of."""
    base = _family_name(name)
    if base in _BY_NAME:
        return _BY_NAME[base]
    return next((_BY_NAME[p] for p in _PREFIXES
                 if base.startswith(p) and _SNAPSHOT.fullmatch(base[len(p):])), None)


def _unknown_model(name: str) -> UnknownModelError:
    close = difflib.get_close_matches(_family_name(name), list(_BY_NAME), n=3, cutoff=0.6)
    hint = f" Did you mean {' or '.join(close)}?" if close else ""
    return UnknownModelError(
        f"unknown OpenAI model {name!r}.{hint} lmwrapper does not guess the context size and "
        "price of a name it does not know. If the name is right, pass its facts, e.g. "
        f"get_open_ai_lm({name!r}, context_window=128000, input_usd_per_mtok=..., "
        "output_usd_per_mtok=...); for an OpenAI-compatible server pass base_url=... (then any "
        "name goes, unpriced). Known models: OpenAiModelNames.all().")


M = OpenAiModelInfo


class _Iterable(type):
    """0.18's `for model in OpenAiModelNames` (and so `"gpt-4o" in OpenAiModelNames`)."""

    def __iter__(cls) -> Iterator[OpenAiModelInfo]:
        return iter(cls.all())  # type: ignore[attr-defined]


class OpenAiModelNames(metaclass=_Iterable):
    """Known models. Each attribute is the model's name (a str) carrying its facts;
    iterating the class gives them all."""

    # instruct models: /v1/completions (echo, prompt logprobs)
    gpt_3_5_turbo_instruct = M("gpt-3.5-turbo-instruct", "instruct", 4096, 4096, 1.50, 2.00,
                               encoding="cl100k_base")
    davinci_002 = M("davinci-002", "instruct", 16384, 16384, 2.00, 2.00, encoding="cl100k_base")
    babbage_002 = M("babbage-002", "instruct", 16384, 16384, 0.40, 0.40, encoding="cl100k_base")
    # chat models: /v1/chat/completions
    gpt_3_5_turbo = M("gpt-3.5-turbo", "chat", 16385, 4096, 0.50, 1.50, encoding="cl100k_base")
    gpt_3_5_turbo_0613 = M("gpt-3.5-turbo-0613", "chat", 4096, 4096, 1.50, 2.00,
                           encoding="cl100k_base")
    gpt_3_5_turbo_1106 = M("gpt-3.5-turbo-1106", "chat", 16385, 4096, 1.00, 2.00,
                           encoding="cl100k_base")
    gpt_3_5_turbo_16k = M("gpt-3.5-turbo-16k", "chat", 16385, 4096, 3.00, 4.00,
                          encoding="cl100k_base")
    gpt_4 = M("gpt-4", "chat", 8192, 8192, 30.00, 60.00, encoding="cl100k_base")
    gpt_4_32k = M("gpt-4-32k", "chat", 32768, 8192, 60.00, 120.00, encoding="cl100k_base")
    gpt_4_turbo = M("gpt-4-turbo", "chat", 128000, 4096, 10.00, 30.00, encoding="cl100k_base")
    gpt_4o = M("gpt-4o", "chat", 128000, 16384, 2.50, 10.00, 1.25)
    gpt_4o_2024_05_13 = M("gpt-4o-2024-05-13", "chat", 128000, 4096, 5.00, 15.00)  # not gpt-4o's
    gpt_4o_mini = M("gpt-4o-mini", "chat", 128000, 16384, 0.15, 0.60, 0.075)
    gpt_4_1 = M("gpt-4.1", "chat", 1047576, 32768, 2.00, 8.00, 0.50)
    gpt_4_1_mini = M("gpt-4.1-mini", "chat", 1047576, 32768, 0.40, 1.60, 0.10)
    gpt_4_1_nano = M("gpt-4.1-nano", "chat", 1047576, 32768, 0.10, 0.40, 0.025)
    # reasoning models: max_completion_tokens, fixed sampling, no logprobs
    o1 = M("o1", "reasoning", 200000, 100000, 15.00, 60.00, 7.50)
    o1_mini = M("o1-mini", "reasoning", 128000, 65536, 1.10, 4.40, 0.55)
    o3 = M("o3", "reasoning", 200000, 100000, 2.00, 8.00, 0.50)
    o3_mini = M("o3-mini", "reasoning", 200000, 100000, 1.10, 4.40, 0.55)
    o4_mini = M("o4-mini", "reasoning", 200000, 100000, 1.10, 4.40, 0.275)
    gpt_5 = M("gpt-5", "reasoning", 400000, 128000, 1.25, 10.00, 0.125)
    gpt_5_mini = M("gpt-5-mini", "reasoning", 400000, 128000, 0.25, 2.00, 0.025)
    gpt_5_nano = M("gpt-5-nano", "reasoning", 400000, 128000, 0.05, 0.40, 0.005)
    # gpt-5-chat-latest is the non-reasoning chat model behind ChatGPT
    gpt_5_chat_latest = M("gpt-5-chat-latest", "chat", 128000, 16384, 1.25, 10.00, 0.125)

    @classmethod
    def all(cls) -> list[OpenAiModelInfo]:
        return [v for v in vars(cls).values() if isinstance(v, OpenAiModelInfo)]

    @classmethod
    def get(cls, name: str) -> OpenAiModelInfo:
        """The registry entry for `name`; KeyError with close matches when there is none."""
        if name in _BY_NAME:
            return _BY_NAME[name]
        close = difflib.get_close_matches(name, list(_BY_NAME), n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise KeyError(f"no OpenAI model named {name!r} in the registry.{hint}")

    # -- lmwrapper 0.18 names --
    # Every member 0.18 had, with current facts (dated snapshots; retired models kept so old
    # scripts and caches still resolve). 0.18's gpt_4_turbo was "gpt-4-1106-preview"; here
    # it is the current "gpt-4-turbo" (above), and the preview is gpt_4_1106_preview.
    gpt_4o_2024_11_20 = M("gpt-4o-2024-11-20", "chat", 128000, 16384, 2.50, 10.00, 1.25)
    gpt_4o_mini_2024_07_18 = M("gpt-4o-mini-2024-07-18", "chat", 128000, 16384, 0.15, 0.60, 0.075)
    gpt_4_1106_preview = M("gpt-4-1106-preview", "chat", 128000, 4096, 10.00, 30.00,
                           encoding="cl100k_base")
    o1_preview = M("o1-preview", "reasoning", 128000, 32768, 15.00, 60.00, 7.50)
    o1_preview_2024_09_12 = M("o1-preview-2024-09-12", "reasoning", 128000, 32768, 15.00, 60.00,
                              7.50)
    o1_mini_2024_09_12 = M("o1-mini-2024-09-12", "reasoning", 128000, 65536, 1.10, 4.40, 0.55)
    o4_mini_2025_04_16 = M("o4-mini-2025-04-16", "reasoning", 200000, 100000, 1.10, 4.40, 0.275)
    gpt_5_1 = M("gpt-5.1", "reasoning", 400000, 128000, 1.25, 10.00, 0.125)
    # retired by OpenAI in 2024: requests fail, but cached answers still load
    code_davinci_002 = M("code-davinci-002", "instruct", 8001, 8001, encoding="p50k_base")

    @classmethod
    def name_to_info(cls, name: str) -> OpenAiModelInfo | None:
        """0.18: the registry entry for `name`, or None (`get` raises, with close matches)."""
        if isinstance(name, OpenAiModelInfo):
            return name
        return _BY_NAME.get(name)


_BY_NAME: dict[str, OpenAiModelInfo] = {str(m): m for m in OpenAiModelNames.all()}
# Longest first, so "gpt-4o-mini-2024-07-18" matches gpt-4o-mini, not gpt-4o; "gpt-4-" keeps
# gpt-4-0613 off gpt-4o. Dated snapshots and fine-tunes share their family's limits and price.
_PREFIXES = sorted(_BY_NAME, key=len, reverse=True)
# A name no family explains (a model behind some OpenAI-compatible server): a chat model,
# context unknown (so generous), price unknown (cost estimates say "not priced").
_UNKNOWN = M("unknown", "chat", 128000, 16384, None, None)
del M


def _sanity() -> None:  # a registry entry must infer to itself
    for m in OpenAiModelNames.all():
        assert OpenAiModelInfo.infer(str(m)).facts() == m.facts(), m


_sanity()
__all__ = ["ModelKind", "OpenAiModelInfo", "OpenAiModelNames"]
