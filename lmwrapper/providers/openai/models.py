"""OpenAI models: any model name, with what it can do, its limits and its price looked up
when first needed.

    >>> info = OpenAiModelInfo.infer("gpt-4o-mini-2024-07-18")   # a dated snapshot
    >>> info.kind, info.context_window, info.input_usd_per_mtok
    ('chat', 128000, 0.15)
    >>> OpenAiModelInfo.infer("gpt-6.2-sol").kind
    'reasoning'

Where each fact comes from (`lmwrapper.core.models`): prices and context windows from
`genai-prices` (`pip install -U genai-prices` prices a model released after this release),
names and shutdown dates from the installed `openai` SDK, and the rest (the endpoint a model
needs, its output limit, its token encoding) from `models.toml` beside this file, each row
with its source and date. A fine-tune (`ft:gpt-4o-mini:org::id`) has its base model's
capabilities but no price (fine-tunes are billed at their own rates: pass them).

Any name is accepted: the API's own 404 is the (free) check of a name nothing here knows.
Only a name close to a current one *and* unknown to every source is refused here, as a typo
(`gpt-4o-mni` must not be sent, let alone priced as gpt-4o; "did you mean" offers only names
the SDK lists as served today, `core.models.suggestions`); give any fact
(`context_window=...`) to send it anyway. On an OpenAI-compatible server
(`compatible_server=True`) any name goes, unpriced.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterator
from typing import Any, Literal

from lmwrapper.core import models as model_facts
from lmwrapper.core.errors import UnknownModelError
from lmwrapper.core.limits import SizeLimit

ModelKind = Literal["chat", "instruct", "reasoning"]
# "chat": Chat Completions (/v1/completions for an instruct model); "responses": /v1/responses
Endpoint = Literal["chat", "responses"]
PROVIDER = "openai"


def _sdk_shutdowns(source: str) -> dict[str, dt.date]:
    """The "Deprecated values" list under `ChatModel` in `openai/types/shared/chat_model.py`:
    `- "a", "b": Announced shutdown date: YYYY-MM-DD.` items of its docstring."""
    out: dict[str, dt.date] = {}
    section = source.partition("Deprecated values:")[2]
    for item in re.split(r"\n- ", section):
        names, _, rest = " ".join(item.split()).partition(": Announced shutdown date:")
        date = re.match(r"\s*(\d{4}-\d{2}-\d{2})", rest)
        if date:
            for name in re.findall(r'"([^"]+)"', names):
                out[name] = dt.date.fromisoformat(date[1])
    return out


def _sdk_unsupported(source: str) -> frozenset[str]:
    """The items of that same "Deprecated values" list the SDK keeps only for its own
    compatibility: `- "gpt-5.1-mini": Not a supported model ID. Retained for SDK
    compatibility.` (openai 3.63.0, checked 2026-12-07): listed, never served."""
    section = source.partition("Deprecated values:")[2]
    return frozenset(name for item in re.split(r"\n- ", section)
                     if "Not a supported model ID" in item
                     for name in re.findall(r'"([^"]+)"', item.partition(":")[0]))


# Where the maintained sources keep OpenAI's facts (`lmwrapper.core.models` reads them): its
# id in genai-prices, and the installed `openai` SDK's model-name Literals and shutdown list.
SOURCES = model_facts.FactSources(
    PROVIDER, prices="openai",
    sdk_names=(("openai", "types/shared/chat_model.py", "ChatModel"),
               ("openai", "types/completion_create_params.py", "model: Required[")),
    sdk_shutdowns=("openai", "types/shared/chat_model.py"), parse_shutdowns=_sdk_shutdowns,
    parse_unsupported=_sdk_unsupported)
_FACTS = ("kind", "context_window", "max_output_tokens", "input_usd_per_mtok",
          "output_usd_per_mtok", "cached_input_usd_per_mtok", "encoding", "batch_discount",
          "long_context_from", "long_input_usd_per_mtok", "long_output_usd_per_mtok", "endpoint")
# The positional order of the constructor (0.18's order first).
_POSITIONAL = _FACTS[:9]


@functools.cache
def table() -> model_facts.FamilyTable:
    return model_facts.FamilyTable.load("lmwrapper.providers.openai")


class OpenAiModelInfo(model_facts.ModelInfo):
    """A model name (it *is* the str); its facts (`_FACTS`) are looked up on first use, and
    facts given to the constructor win over the sources."""

    FACTS = _FACTS
    TABLE_FACTS = ("kind", "max_output_tokens", "encoding", "batch_discount", "endpoint")
    kind: ModelKind
    context_window: int
    max_output_tokens: int
    input_usd_per_mtok: float | None
    output_usd_per_mtok: float | None
    cached_input_usd_per_mtok: float | None
    encoding: str
    batch_discount: float
    long_context_from: int | None
    long_input_usd_per_mtok: float | None
    long_output_usd_per_mtok: float | None
    endpoint: Endpoint

    def __new__(  # noqa: PYI034  (0.18's constructor, then ours)
        cls,
        name: str,
        kind: ModelKind | bool | None = None,
        context_window: Any = None,
        max_output_tokens: Any = None,
        *rest: Any,
        **given: Any,
    ) -> OpenAiModelInfo:
        if isinstance(kind, bool):  # 0.18: (name, is_chat_model, reasoning_style, token_limit)
            kind, context_window, max_output_tokens = _facts_018(kind, context_window,
                                                                 max_output_tokens)
        positional = dict(zip(_POSITIONAL, (kind, context_window, max_output_tokens, *rest)))
        given = {k: v for k, v in {**positional, **given}.items() if v is not None}
        return _made(name, given)

    def table_row(self) -> dict[str, Any]:
        return table().row(_family_name(str(self)))

    def sourced(self, given: dict[str, Any]) -> dict[str, Any]:
        return sourced_facts(str(self), given)

    def window_source(self) -> str | None:
        return window_source(str(self), self.given())  # this module's function

    @property
    def is_chat_model(self) -> bool:
        return self.kind != "instruct"

    @property
    def is_reasoning_model(self) -> bool:
        return self.kind == "reasoning"

    @property
    def priced(self) -> bool:
        return self.input_usd_per_mtok is not None and self.output_usd_per_mtok is not None

    @property
    def retires(self) -> dt.date | None:
        """The shutdown date OpenAI announced for this model (the SDK's table), if any."""
        return model_facts.retirement(SOURCES, _family_name(str(self)), self.table_row())

    def with_facts(self, name: str | None = None, **overrides: Any) -> OpenAiModelInfo:
        return _made(name if name is not None else str(self), {**self.given(), **overrides})

    @classmethod
    def infer(cls, name: str, *, compatible_server: bool = False,
              **overrides: Any) -> OpenAiModelInfo:
        """`name` with its facts; `UnknownModelError` only for a likely typo (see the module)."""
        if isinstance(name, OpenAiModelInfo) and not overrides:
            return name
        name = str(name).removeprefix("openai/")
        info = _made(name, overrides)
        if not (overrides or compatible_server or _known(name)):
            close = model_facts.suggestions(SOURCES, _family_name(name))
            if close:
                raise _unknown_model(name, close)
        return info

    # -- lmwrapper 0.18 names --
    @property
    def token_limit(self) -> int:
        return self.context_window

    @property
    def reasoning_style(self) -> Any:  # LmReasoningStyle (imported late: it pulls in the engine)
        from lmwrapper.engine.predictor import LmReasoningStyle

        if self.kind != "reasoning":
            return LmReasoningStyle.NEVER_THINK
        if _family_name(str(self)).startswith("gpt-5.1"):  # reasoning effort "none" is its default
            return LmReasoningStyle.CONFIGURABLE_THINKING
        return LmReasoningStyle.ALWAYS_THINK


def size_limits(batch: bool, official: bool) -> tuple[SizeLimit, ...]:
    """OpenAI's limits on one request (models.toml [limits]): the longest text string, on
    its own server (`official`), and (`batch`) the bytes of a Batch API input file."""
    row = table().sections["limits"]
    checked = f"checked {row['checked']}"
    limits = []
    if official:
        limits.append(SizeLimit(int(row["text_chars"]), "characters",
                                "one text string of an OpenAI request",
                                f"{row['source'][0]}, {checked}"))
    if batch:
        limits.append(SizeLimit(int(row["batch_file_bytes"]), "bytes",
                                "an OpenAI Batch API input file (200 MB)",
                                f"{row['source'][1].split(':')[0]}, {checked}"))
    return tuple(limits)


def _made(name: str, given: dict[str, Any]) -> OpenAiModelInfo:
    if given.get("kind") not in (None, "chat", "instruct", "reasoning"):
        raise ValueError(f"kind must be 'chat', 'instruct' or 'reasoning'; got {given['kind']!r}")
    if given.get("endpoint") not in (None, "chat", "responses"):
        raise ValueError(f"api must be 'chat' or 'responses'; got {given['endpoint']!r}")
    return OpenAiModelInfo.made(name, given)


def _facts_018(is_chat_model: bool, reasoning_style: Any, token_limit: int
               ) -> tuple[ModelKind, int, int]:
    """0.18's `OpenAiModelInfo(name, is_chat_model, reasoning_style, token_limit)` → kind,
    context window and (unknown, so bounded by the context) output limit."""
    thinks = getattr(reasoning_style, "value", reasoning_style) in (
        "ALWAYS_THINK", "CONFIGURABLE_THINKING")
    kind: ModelKind = "reasoning" if thinks else "chat" if is_chat_model else "instruct"
    return kind, int(token_limit), int(token_limit)


def sourced_facts(name: str, given: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every fact of `name`: `given`, else models.toml's family row, else genai-prices', else
    models.toml's defaults. A fine-tune takes its base model's row but no price."""
    base = _family_name(name)
    row, explicit = table().row(base), table().explicit(base)
    pub = None if name.startswith("ft:") else model_facts.published(SOURCES, base)
    context = explicit.get("context_window") or (pub.context_window if pub else None)
    facts = {"kind": row["kind"], "context_window": context or row["context_window"],
             "max_output_tokens": row["max_output_tokens"],
             "input_usd_per_mtok": pub.input_usd_per_mtok if pub else None,
             "output_usd_per_mtok": pub.output_usd_per_mtok if pub else None,
             "cached_input_usd_per_mtok": pub.cache_read_usd_per_mtok if pub else None,
             "encoding": row["encoding"], "batch_discount": row["batch_discount"],
             "long_context_from": pub.long_context_from if pub else None,
             "long_input_usd_per_mtok": pub.long_input_usd_per_mtok if pub else None,
             "long_output_usd_per_mtok": pub.long_output_usd_per_mtok if pub else None,
             "endpoint": row["endpoint"]}
    given = given or {}
    if "input_usd_per_mtok" in given or "output_usd_per_mtok" in given:
        # Rates given by the caller replace the published ones, tiers included.
        facts.update(cached_input_usd_per_mtok=None, long_context_from=None,
                     long_input_usd_per_mtok=None, long_output_usd_per_mtok=None)
    return {**facts, **given}


def window_source(name: str, given: dict[str, Any] | None = None) -> str | None:
    """Where `name`'s context window comes from: "given" (the caller's `context_window=`),
    "models.toml" (a row of this folder's table), "genai-prices", or None when no source
    describes it (a model behind an OpenAI-compatible server, or one newer than the data:
    then the window is models.toml's default, a guess, and no prompt is refused for it)."""
    return model_facts.window_source(SOURCES, table(), _family_name(name), given,
                                     published_too=not name.startswith("ft:"))


def tier_facts(info: OpenAiModelInfo) -> dict[str, model_facts.PublishedFacts]:
    """genai-prices' rates of the service tiers `info` is sold at besides the default
    ("flex", "priority", …); none for a fine-tune or a model whose rates were given (a tier's
    rates are not known then: its window is refused, as for an unpriced model)."""
    name = str(info)
    if name.startswith("ft:") or {"input_usd_per_mtok", "output_usd_per_mtok"} & set(info.given()):
        return {}
    return model_facts.published_tiers(SOURCES, _family_name(name))


def _family_name(name: str) -> str:
    """`ft:gpt-4o-mini-2024-07-18:org:suffix:id` → `gpt-4o-mini-2024-07-18`; `openai/x` → `x`."""
    if name.startswith("ft:"):
        name = name[3:].split(":", 1)[0]
    return name.rsplit("/", 1)[-1]


# What OpenAI appends to a model's name for a snapshot: a date (-2024-08-06) or a month-day
# (-0613). Only these make a name "known" through a table row: a prefix alone would take
# "gpt-4o-mni" for a gpt-4o.
_SNAPSHOT = re.compile(r"(-\d{4}-\d{2}-\d{2}|-\d{4})?")


def _known(name: str) -> bool:
    base = _family_name(name)
    family = table().family(base)
    in_table = family is not None and _SNAPSHOT.fullmatch(base[len(family):]) is not None
    return in_table or model_facts.is_known(SOURCES, base)


def _unknown_model(name: str, close: list[str]) -> UnknownModelError:
    return UnknownModelError(
        f"unknown OpenAI model {name!r}. Did you mean {' or '.join(close)}? No source "
        f"lmwrapper reads knows it ({model_facts.genai_prices_version()}, the installed openai "
        "SDK). If it is a new model: `pip install -U genai-prices openai`, or give any of its "
        f"facts to send it as named: get_open_ai_lm({name!r}, context_window=128000, "
        "input_usd_per_mtok=..., output_usd_per_mtok=...); for an OpenAI-compatible server "
        "pass base_url=... (then any name goes, unpriced). `lmwrapper models -p openai` "
        "lists the known ones.")


M = OpenAiModelInfo


class _Iterable(type):
    """0.18's `for model in OpenAiModelNames` (and so `"gpt-4o" in OpenAiModelNames`)."""

    def __iter__(cls) -> Iterator[OpenAiModelInfo]:
        return iter(cls.all())  # type: ignore[attr-defined]


class OpenAiModelNames(metaclass=_Iterable):
    """Models by attribute. Each attribute is the model's name (a str) carrying its facts;
    iterating the class gives them all. Any other name works too."""

    # current (the openai SDK's ChatModel, checked 2026-12-07)
    gpt_6_2_sol = M("gpt-6.2-sol")
    gpt_6_2_astra = M("gpt-6.2-astra")
    gpt_6_1_sol = M("gpt-6.1-sol")
    gpt_6_1_terra = M("gpt-6.1-terra")
    gpt_6_sol = M("gpt-6-sol")
    gpt_6_luna = M("gpt-6-luna")
    gpt_6_astra = M("gpt-6-astra")
    gpt_5_6_sol = M("gpt-5.6-sol")
    gpt_5_6_terra = M("gpt-5.6-terra")
    gpt_5_6_luna = M("gpt-5.6-luna")
    gpt_5_5 = M("gpt-5.5")
    gpt_5_4 = M("gpt-5.4")
    gpt_5_4_mini = M("gpt-5.4-mini")
    gpt_5_4_nano = M("gpt-5.4-nano")
    gpt_5_2 = M("gpt-5.2")
    # instruct models: /v1/completions (echo, prompt logprobs)
    gpt_3_5_turbo_instruct = M("gpt-3.5-turbo-instruct")
    davinci_002 = M("davinci-002")
    babbage_002 = M("babbage-002")
    # older chat and reasoning models (`lmwrapper models` shows which are retiring)
    gpt_3_5_turbo = M("gpt-3.5-turbo")
    gpt_3_5_turbo_0613 = M("gpt-3.5-turbo-0613")
    gpt_3_5_turbo_1106 = M("gpt-3.5-turbo-1106")
    gpt_3_5_turbo_16k = M("gpt-3.5-turbo-16k")
    gpt_4 = M("gpt-4")
    gpt_4_32k = M("gpt-4-32k")
    gpt_4_turbo = M("gpt-4-turbo")
    gpt_4o = M("gpt-4o")
    gpt_4o_2024_05_13 = M("gpt-4o-2024-05-13")
    gpt_4o_mini = M("gpt-4o-mini")
    gpt_4_1 = M("gpt-4.1")
    gpt_4_1_mini = M("gpt-4.1-mini")
    gpt_4_1_nano = M("gpt-4.1-nano")
    o1 = M("o1")
    o1_mini = M("o1-mini")
    o3 = M("o3")
    o3_mini = M("o3-mini")
    o4_mini = M("o4-mini")
    gpt_5 = M("gpt-5")
    gpt_5_mini = M("gpt-5-mini")
    gpt_5_nano = M("gpt-5-nano")
    gpt_5_chat_latest = M("gpt-5-chat-latest")

    @classmethod
    def all(cls) -> list[OpenAiModelInfo]:
        return [v for v in vars(cls).values() if isinstance(v, OpenAiModelInfo)]

    @classmethod
    def get(cls, name: str) -> OpenAiModelInfo:
        """The entry for `name` (a snapshot too); KeyError with close matches for a name no
        source knows."""
        if _known(name):
            return _BY_NAME.get(name) or OpenAiModelInfo.infer(name)
        close = model_facts.suggestions(SOURCES, name, cutoff=0.6)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise KeyError(f"no source knows an OpenAI model named {name!r}.{hint}")

    # -- lmwrapper 0.18 names --
    # Every member 0.18 had (retired models kept so old scripts and caches still resolve).
    # 0.18's gpt_4_turbo was "gpt-4-1106-preview"; here it is "gpt-4-turbo" (above), and the
    # preview is gpt_4_1106_preview.
    gpt_4o_2024_11_20 = M("gpt-4o-2024-11-20")
    gpt_4o_mini_2024_07_18 = M("gpt-4o-mini-2024-07-18")
    gpt_4_1106_preview = M("gpt-4-1106-preview")
    o1_preview = M("o1-preview")
    o1_preview_2024_09_12 = M("o1-preview-2024-09-12")
    o1_mini_2024_09_12 = M("o1-mini-2024-09-12")
    o4_mini_2025_04_16 = M("o4-mini-2025-04-16")
    gpt_5_1 = M("gpt-5.1")
    code_davinci_002 = M("code-davinci-002")  # retired in 2024: cached answers still load

    @classmethod
    def name_to_info(cls, name: str) -> OpenAiModelInfo | None:
        """0.18: the entry for `name`, or None (`get` raises, with close matches)."""
        if isinstance(name, OpenAiModelInfo):
            return name
        return _BY_NAME.get(name)


_BY_NAME: dict[str, OpenAiModelInfo] = {str(m): m for m in OpenAiModelNames.all()}
del M

# The model `get_open_ai_lm()` uses when none is named: OpenAI's current low-cost model.
DEFAULT_MODEL = OpenAiModelNames.gpt_5_4_mini

__all__ = ["DEFAULT_MODEL", "Endpoint", "ModelKind", "OpenAiModelInfo", "OpenAiModelNames"]
