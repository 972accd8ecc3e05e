"""Model facts from sources maintained for us: prices and context windows from `genai-prices`,
shutdown dates and current model names from the installed provider SDKs.

    >>> oai = FactSources("openai", prices="openai")   # a provider's folder declares its own
    >>> f = published(oai, "gpt-4o-mini-2024-07-18")     # a snapshot finds its model
    >>> f.model_id, f.context_window, f.input_usd_per_mtok
    ('gpt-4o-mini', 128000, 0.15)
    >>> published(oai, "gpt-4o-mni") is None             # a typo is not priced as gpt-4o
    True

Nothing here is a fact we wrote: `pip install -U genai-prices` (pydantic's, updated weekly on
PyPI) prices next month's model, and `pip install -U openai anthropic` brings each SDK's own
list of model names and its deprecation table. What no maintained source has (which
parameters a model family takes, its output limit, its endpoint) lives in each provider's
`models.toml`, row by row with its source and date. Where each source keeps a provider's
facts (its genai-prices id, the SDK files that list its names and shutdown dates) is the
provider's to say: its folder declares a `FactSources` and passes it to these functions.

Why our own code: genai-prices answers "what did this usage cost", one call at a time; the
engine needs the rates themselves up front (the cost bound before anything is sent, the
batch discount on top), a "does any source know this name" test, the names still served
(for "did you mean") and the SDKs' shutdown dates, which no package collects. Everything
loads lazily, on the first model built (genai-prices' data is 1.6 MB of Python: `import
lmwrapper` must stay light).
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Self

from lmwrapper.core.errors import ModelRetiringWarning


@dataclass(frozen=True)
class FactSources:
    """Where the maintained sources keep one provider's facts: declared in its folder
    (`providers/<name>/models.py`), passed to the functions below. The default knows nothing.

    The SDK files are read as text, not imported: importing an SDK costs more than the run's
    whole planning.
    """

    provider: str = ""  # our name for it: `openai/gpt-4o` is a name of "openai"
    prices: str | None = None  # its provider id in genai-prices
    # (package, file inside it, marker): the typing Literal after `marker` lists model names
    sdk_names: tuple[tuple[str, str, str], ...] = ()
    # (package, file inside it) holding its deprecation table, and how to read that text
    sdk_shutdowns: tuple[str, str] | None = None
    parse_shutdowns: Callable[[str], dict[str, dt.date]] | None = None
    # how to read, in that same file, the names its Literal keeps but the API does not serve
    # (OpenAI's "Not a supported model ID. Retained for SDK compatibility.")
    parse_unsupported: Callable[[str], frozenset[str]] | None = None


@dataclass(frozen=True)
class PublishedFacts:
    """What genai-prices says of one model (USD per million tokens at the live rate).

    `long_context_from`: prompts of more input tokens than this are billed at the `long_*`
    rates (OpenAI's GPT-5.4+ above 272K tokens, for example); None when the rate is flat.
    """

    model_id: str
    context_window: int | None
    input_usd_per_mtok: float | None
    output_usd_per_mtok: float | None
    cache_read_usd_per_mtok: float | None
    cache_write_usd_per_mtok: float | None
    long_context_from: int | None = None
    long_input_usd_per_mtok: float | None = None
    long_output_usd_per_mtok: float | None = None


def today() -> dt.date:
    """The day shutdown dates are read against: `$LMWRAPPER_TODAY` (an ISO date) where set,
    else the real date. A test suite pins it (as the fake's `$LMWRAPPER_FAKE_TODAY`), so a
    model's shutdown next month changes no warning, hint or price it checks."""
    pinned = os.environ.get("LMWRAPPER_TODAY")
    return dt.date.fromisoformat(pinned) if pinned else dt.date.today()


def _now() -> dt.datetime:
    """The moment prices are read at: noon UTC of a pinned `today()`, else now."""
    if os.environ.get("LMWRAPPER_TODAY"):
        return dt.datetime.combine(today(), dt.time(12), tzinfo=dt.UTC)
    return dt.datetime.now(tz=dt.UTC)


def genai_prices_version() -> str:
    """`genai-prices 0.2.5`: the data's source, as shown beside a price."""
    from importlib.metadata import version

    return f"genai-prices {version('genai-prices')}"


def published(sources: FactSources, name: str) -> PublishedFacts | None:
    """genai-prices' facts for `name` (a snapshot or alias finds its model), else None."""
    return _published(sources, name.removeprefix(f"{sources.provider}/").lower())


def published_tiers(sources: FactSources, name: str) -> dict[str, PublishedFacts]:
    """genai-prices' rates of each service tier `name` is sold at besides the default one
    (OpenAI's "flex", "priority"), by the tier's name: its price variants
    `when={"service_tier": tier}`, resolved by genai-prices itself. A tier absent here is
    one the data does not price for the model (OpenAI lists the models of each tier on its
    pricing page, which genai-prices follows)."""
    return dict(_published_tiers(sources, name.removeprefix(f"{sources.provider}/").lower()))


@functools.lru_cache(maxsize=512)
def _published_tiers(sources: FactSources, name: str) -> tuple[tuple[str, PublishedFacts], ...]:
    model = _price_model(sources, name)
    if model is None:
        return ()
    tiers = dict.fromkeys(v.when["service_tier"] for v in model.price_variants or ()
                          if set(v.when) == {"service_tier"})
    tiers.pop("default", None)
    return tuple((t, _facts(model, {"service_tier": t})) for t in tiers)


@functools.lru_cache(maxsize=512)
def _published(sources: FactSources, name: str) -> PublishedFacts | None:
    model = _price_model(sources, name)
    if model is None:
        return None
    return _facts(model, None)


def _facts(model: Any, context: dict[str, str] | None) -> PublishedFacts:
    """A genai-prices model's rates now, for a request of this `context` (None: the default)."""
    prices = model.get_prices(_now(), context)
    base_in, tier_in = _rates(prices.input_mtok)
    base_out, tier_out = _rates(prices.output_mtok)
    tier_from = tier_in[0] if tier_in else tier_out[0] if tier_out else None
    return PublishedFacts(
        model.id, model.context_window, base_in, base_out,
        _rates(prices.cache_read_mtok)[0], _rates(prices.cache_write_mtok)[0],
        tier_from, tier_in[1] if tier_in else base_in, tier_out[1] if tier_out else base_out)


def _price_model(sources: FactSources, name: str) -> Any:
    """genai-prices' ModelInfo for `name`, or None (also when the package is missing)."""
    if sources.prices is None:
        return None
    try:
        from genai_prices.data_snapshot import get_snapshot
    except ImportError:
        return None
    try:
        _, model = get_snapshot().find_provider_model(name, None, sources.prices, None)
    except LookupError:
        return None
    return model


def _rates(price: Any) -> tuple[float | None, tuple[int, float] | None]:
    """(base rate, (first tier's start, its rate) or None) of a genai-prices price field."""
    if price is None:
        return None, None
    if isinstance(price, Decimal | int | float):
        return float(price), None
    tiers = sorted(price.tiers, key=lambda t: t.start)
    first = (int(tiers[0].start), float(tiers[0].price)) if tiers else None
    return float(price.base), first


# -- the SDKs' own lists ---------------------------------------------------------------------

def _sdk_source(package: str, path: str) -> str:
    """The text of `path` inside the installed `package`, without importing it ("" if absent)."""
    import importlib.util
    from pathlib import Path

    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return ""
    if spec is None or not spec.submodule_search_locations:
        return ""
    file = Path(next(iter(spec.submodule_search_locations))) / path
    return file.read_text("utf-8") if file.is_file() else ""


@functools.lru_cache(maxsize=4)
def sdk_model_names(sources: FactSources) -> tuple[str, ...]:
    """The model names the installed SDK lists in its request types (empty without it)."""
    names: list[str] = []
    for package, path, marker in sources.sdk_names:
        source = _sdk_source(package, path)
        start = source.find(marker)
        if start >= 0:
            literal = source[start:source.find('"""', start)]
            names += re.findall(r'"([a-z0-9][a-z0-9.\-]*)"', literal)
    return tuple(dict.fromkeys(names))


@functools.lru_cache(maxsize=4)
def sdk_shutdowns(sources: FactSources) -> dict[str, dt.date]:
    """Model name → announced shutdown date, from the installed SDK's own table (the file
    and the reader its `FactSources` name). Empty when the SDK is missing or has none."""
    if sources.sdk_shutdowns is None or sources.parse_shutdowns is None:
        return {}
    return sources.parse_shutdowns(_sdk_source(*sources.sdk_shutdowns))


@functools.lru_cache(maxsize=4)
def sdk_unsupported(sources: FactSources) -> frozenset[str]:
    """Names the installed SDK's Literal keeps but says the API does not serve (read from
    its deprecation table's file). Empty when the SDK is missing or says none."""
    if sources.sdk_shutdowns is None or sources.parse_unsupported is None:
        return frozenset()
    return sources.parse_unsupported(_sdk_source(*sources.sdk_shutdowns))


def current_names(sources: FactSources) -> list[str]:
    """The names a maintained source lists as served today: the installed SDK's model
    Literals, less the ones it says it keeps only for compatibility, those whose shutdown
    (its own table) is on or before `today()`, and those genai-prices marks deprecated.

    genai-prices' ids alone are not enough: it keeps retired models priced (ada,
    text-davinci-003, claude-3-opus) without marking them, so a name it alone lists may be
    long gone. These are the names "did you mean" may suggest."""
    ends, unsupported, day = sdk_shutdowns(sources), sdk_unsupported(sources), today()
    return [n for n in sdk_model_names(sources)
            if n not in unsupported and ends.get(n, dt.date.max) > day
            and not getattr(_price_model(sources, n), "deprecated", False)]


def suggestions(sources: FactSources, name: str, cutoff: float = 0.85) -> list[str]:
    """The current names (`current_names`) close enough to `name` to be what was meant: the
    "did you mean" of an unknown name refused before sending and of a provider's 404."""
    try:
        names = current_names(sources)
    except Exception:  # noqa: BLE001 — a hint only; the error it goes with must still be raised
        return []
    return did_you_mean(name, [n for n in names if n != name], cutoff)


def is_known(sources: FactSources, name: str) -> bool:
    """Does any source know `name` (genai-prices matches snapshots and aliases too)?"""
    return name in sdk_model_names(sources) or published(sources, name) is not None


# -- what no maintained source has: each provider's models.toml ------------------------------

@dataclass(frozen=True)
class FamilyTable:
    """A provider's `models.toml`: `[defaults]` and `[families."prefix"]` rows, and any other
    top-level table under its name in `sections` (Claude's `[api]` versions).

    >>> t = FamilyTable({"max_output_tokens": 1}, {"gpt-4": {"kind": "chat"},
    ...                                              "gpt-4o": {"kind": "chat", "max_output_tokens": 9}})
    >>> t.row("gpt-4o-mini-2024-07-18")["max_output_tokens"], t.row("gpt-4-0613")["max_output_tokens"]
    (9, 1)
    """

    defaults: dict[str, Any]
    families: dict[str, dict[str, Any]]
    sections: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, package: str) -> FamilyTable:
        """The `models.toml` shipped inside `package` (e.g. `lmwrapper.providers.anthropic`)."""
        import tomllib
        from importlib.resources import files

        data = tomllib.loads(files(package).joinpath("models.toml").read_text("utf-8"))
        return cls(data.pop("defaults", {}), data.pop("families", {}), data)

    def family(self, name: str) -> str | None:
        """The longest row key `name` starts with, or None."""
        keys = [k for k in self.families if name.startswith(k)]
        return max(keys, key=len) if keys else None

    def explicit(self, name: str) -> dict[str, Any]:
        """The family row of `name` alone (empty when none): facts that win over the sources."""
        family = self.family(name)
        return self.families[family] if family else {}

    def row(self, name: str) -> dict[str, Any]:
        """The defaults, overridden by the family row of `name` (if any)."""
        return {**self.defaults, **self.explicit(name)}


def retirement(sources: FactSources, name: str, row: dict[str, Any]) -> dt.date | None:
    """When `name` is (or was) shut down: the SDK's table first, else our row's `retired`."""
    sdk = sdk_shutdowns(sources).get(name)
    if sdk is not None:
        return sdk
    retired = row.get("retired")
    return dt.date.fromisoformat(retired) if isinstance(retired, str) else retired


class ModelInfo(str):
    """A model name (it *is* the str, as lmwrapper 0.18's were) whose facts are looked up on
    first use; facts given when it was made win over the sources.

    A provider's subclass names its facts (`FACTS`), those its `models.toml` alone answers
    (`TABLE_FACTS`: checking a prompt loads no price data), and implements `table_row` and
    `sourced` (every fact, from the sources and what was given) and `window_source`.
    """

    FACTS: tuple[str, ...] = ()
    TABLE_FACTS: tuple[str, ...] = ()

    def __getattr__(self, attr: str) -> Any:  # only for what is not set yet: the facts
        given = self.__dict__.get("_given", {})
        if attr in self.TABLE_FACTS and attr not in given:
            row = self.table_row()
            # set as plain attributes: the hot path (a prompt checked per attribute read)
            # then reads them without coming back here
            self.__dict__.update({f: row[f] for f in self.TABLE_FACTS if f not in given})
        elif attr in self.FACTS:
            self.__dict__.update(self._resolved())
        else:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {attr!r}")
        return self.__dict__[attr]

    def _resolved(self) -> dict[str, Any]:
        """Every fact: from the sources, and what was given."""
        return {f: v for f, v in self.sourced(self.__dict__.get("_given", {})).items()
                if f in self.FACTS}

    def __reduce__(self) -> tuple[Any, ...]:  # pickle/copy as name + the facts it was given
        return (_rebuild, (type(self), str(self), self.given()))

    @property
    def name(self) -> str:
        return str(self)

    def given(self) -> dict[str, Any]:
        """The facts given when it was made (the rest come from the sources)."""
        return dict(self.__dict__.get("_given", {}))

    def facts(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.FACTS}

    @classmethod
    def made(cls, name: str, given: dict[str, Any]) -> Self:
        """`name` with the facts `given` (checked by name), bypassing the 0.18 constructor."""
        unknown = set(given) - set(cls.FACTS)
        if unknown:
            raise TypeError(f"unknown model facts {sorted(unknown)}; known: {', '.join(cls.FACTS)}")
        made: Self = _rebuild(cls, name, given)
        return made

    def table_row(self) -> dict[str, Any]:
        raise NotImplementedError

    def sourced(self, given: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def window_source(self) -> str | None:
        """Where its context window comes from: "given", "models.toml", "genai-prices", or
        None when no source describes it (the window is then a default, a guess)."""
        raise NotImplementedError


def _rebuild(cls: type[ModelInfo], name: str, given: dict[str, Any]) -> Any:
    obj = str.__new__(cls, name)
    obj.__dict__["_given"] = dict(given)
    return obj


_WARNED: set[tuple[str, str]] = set()


def warn_if_retiring(provider: str, name: str, date: dt.date | None,
                     day: dt.date | None = None) -> None:
    """Warn once per process and model that `name` shuts down (or shut down) on `date`,
    as seen on `day` (default: `today()`)."""
    if date is None or (provider, name) in _WARNED:
        return
    _WARNED.add((provider, name))
    day = day or today()
    if date <= day:
        text = (f"{provider}/{name} was shut down by its provider on {date}: requests for it "
                "fail (cached answers still load). Pick a current model: `lmwrapper models`.")
    else:
        text = (f"{provider}/{name} shuts down on {date} ({(date - day).days} days from "
                "now): move to a current model before then (`lmwrapper models`).")
    warnings.warn(text, ModelRetiringWarning, stacklevel=3)


def did_you_mean(name: str, known: list[str], cutoff: float = 0.85) -> list[str]:
    """Known names close enough to `name` to be what was meant (a typo, not a new model)."""
    import difflib

    return difflib.get_close_matches(name, known, n=3, cutoff=cutoff)


def window_source(sources: FactSources, table: FamilyTable, name: str,
                  given: dict[str, Any] | None = None, *, published_too: bool = True
                  ) -> str | None:
    """Where `name`'s context window comes from: "given" (the caller's `context_window=`),
    "models.toml" (a row of the provider's `table`), "genai-prices" (unless not
    `published_too`: a fine-tune is not its base model), or None when no source describes
    it (then the window is the table's default, a guess, and no prompt is refused for it)."""
    if given and given.get("context_window"):
        return "given"
    if table.explicit(name).get("context_window"):
        return "models.toml"
    pub = published(sources, name) if published_too else None
    return "genai-prices" if pub is not None and pub.context_window else None


def model_not_found_hint(sources: FactSources, name: str, shutdown: dt.date | None = None) -> str:
    """What to tell someone whose model name the provider does not know: when it was
    retired (`shutdown`: the SDK's table, else the provider's models.toml); the close names
    a maintained source lists as served today (`suggestions`); and where to find current
    ones."""
    if shutdown is None:
        try:
            shutdown = sdk_shutdowns(sources).get(name)
        except Exception:  # noqa: BLE001 — a hint only; the error itself must still be raised
            shutdown = None
    day = today()
    close = suggestions(sources, name, cutoff=0.75)
    retired = ("" if shutdown is None else f"it was shut down on {shutdown}; "
               if shutdown <= day else f"its shutdown is set for {shutdown}, so this 404 is "
               "not a retirement (a deployment or an account without access?); ")
    hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
    return f"{retired}{hint}If the model was retired, pick a current one: `lmwrapper models`"


__all__ = ["FactSources", "FamilyTable", "ModelInfo", "PublishedFacts", "current_names",
           "did_you_mean", "genai_prices_version", "is_known",
           "model_not_found_hint", "published", "published_tiers", "retirement",
           "sdk_model_names", "sdk_shutdowns", "sdk_unsupported", "suggestions", "today",
           "warn_if_retiring", "window_source"]
