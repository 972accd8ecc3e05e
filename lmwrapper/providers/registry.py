"""One name for any model, in Python and on the command line: `provider/name`.

    >>> import lmwrapper
    >>> lm = lmwrapper.get_lm("openai/gpt-5.4-mini")            # doctest: +SKIP
    >>> lm = lmwrapper.get_lm("anthropic/claude-sonnet-5-5")    # doctest: +SKIP
    >>> lm = lmwrapper.get_lm("hf/smollm2-135m-instruct")       # doctest: +SKIP

A provider is one line here, a `Provider`: its name (plus aliases) and the module of its
`ProviderSpec` (`providers/<name>/spec.py`: a constructor taking the model name and keyword
arguments, a function listing its known models, whether it has a batch API, the module of
its loopback fake). `get_lm`, `lmwrapper run`, `lmwrapper models` and `lmwrapper batch` all
read this list. A spec is imported on first use, so `import lmwrapper` loads no provider; a
backend from elsewhere registers itself with `register_provider`. An unknown provider, or a bare model
name, is refused with "did you mean"; an unknown model name is the provider's to judge
(OpenAI and Claude refuse it with close matches; Hugging Face takes any hub name or folder).
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from lmwrapper.core.models import genai_prices_version

if TYPE_CHECKING:
    from lmwrapper.engine.predictor import LmPredictor


@dataclass(frozen=True)
class ModelEntry:
    """What `lmwrapper models` shows about one model (None: not known)."""

    provider: str
    name: str
    context_window: int | None
    max_output_tokens: int | None
    input_usd_per_mtok: float | None
    output_usd_per_mtok: float | None
    batch_input_usd_per_mtok: float | None
    batch_output_usd_per_mtok: float | None
    local: bool = False
    downloaded: bool | None = None  # local models only
    endpoint: str | None = None  # how it is called: chat, instruct, reasoning, messages
    retires: str | None = None  # the shutdown date its provider announced (ISO), if any

    @property
    def spec(self) -> str:
        return f"{self.provider}/{self.name}"

    def to_dict(self) -> dict[str, Any]:
        return {"spec": self.spec, **asdict(self)}


@dataclass(frozen=True)
class ProviderSpec:
    """What one provider declares, as `SPEC` in its `providers/<name>/spec.py`.

    Its facts about the outside world (key variable and key pattern, error codes and shapes,
    rate-limit header names, where its model facts are published, token counting) are its
    predictor's class attributes and modules, in the same folder; the spec wires the folder
    to the registry, the CLI and the fake.
    """

    make: Callable[..., LmPredictor]  # get_lm's constructor: (model name, **keyword arguments)
    models: Callable[[], list[ModelEntry]]  # what `lmwrapper models` lists
    batch: bool = False  # has a batch API: its predictors' `batch_adapter()` (`lmwrapper batch`)
    fakes: tuple[str, ...] = ()  # modules of its loopback fake's `ROUTES` (`lmwrapper.testing`)
    sdk: str | None = None  # the SDK package whose model tables it reads (`lmwrapper models`)
    # `make`'s keyword arguments that rebuild a predictor from its recorded identity (a cache
    # row's, a batch job's): with the server it records (True), or with the same kind of
    # server as configured here (False). By default: its `base_url`, or none.
    rebuild: Callable[[Mapping[str, Any], bool], dict[str, Any]] | None = None

    def rebuild_args(self, identity: Mapping[str, Any], recorded: bool) -> dict[str, Any]:
        if self.rebuild is not None:
            return self.rebuild(identity, recorded)
        url = identity.get("base_url") if recorded else None
        return {"base_url": url} if url else {}


@dataclass(frozen=True)
class Provider:
    """One line of the registry: a name, and where its `ProviderSpec` is (loaded lazily)."""

    name: str
    spec_module: str  # a module defining `SPEC: ProviderSpec`
    aliases: tuple[str, ...] = ()
    local: bool = False  # runs in this process: API flags (base_url, concurrency) do not apply

    def spec(self) -> ProviderSpec:
        # By name, on first use: `import lmwrapper` stays light (a provider package loads its
        # engine, request rules and model tables). The providers are this module's layer.
        spec: ProviderSpec = importlib.import_module(self.spec_module).SPEC
        return spec

    def make(self, name: str, **kwargs: Any) -> LmPredictor:
        return self.spec().make(name, **kwargs)

    def models(self) -> list[ModelEntry]:
        return self.spec().models()


PROVIDERS: dict[str, Provider] = {}
_ALIASES: dict[str, str] = {}


def register_provider(provider: Provider) -> None:
    """Make `provider.name/...` (and each alias) a name `get_lm` and the CLI accept."""
    PROVIDERS[provider.name] = provider
    for alias in (provider.name, *provider.aliases):
        _ALIASES[alias] = provider.name


def provider_of(spec: str) -> tuple[Provider, str]:
    """`openai/gpt-4o-mini` → (the OpenAI provider, "gpt-4o-mini"); ValueError with "did you
    mean" for anything else."""
    prefix, sep, name = spec.partition("/")
    if sep and name and prefix in _ALIASES:
        return PROVIDERS[_ALIASES[prefix]], name
    raise ValueError(f"unknown model {spec!r}: give provider/name with provider one of "
                     f"{', '.join(_ALIASES)} (e.g. openai/gpt-5.4-mini).{_did_you_mean(spec)} "
                     f"`lmwrapper models` lists the known models")


def _did_you_mean(spec: str) -> str:
    prefix, sep, name = spec.partition("/")
    known = [m.spec for m in known_models()]
    if sep and name:  # a misspelt provider: keep the model name, fix the prefix
        close = difflib.get_close_matches(prefix, list(_ALIASES), n=1)
        if close:
            return f" Did you mean {close[0] + '/' + name!r}?"
    bare = [s for s in known if s.split("/", 1)[1] == spec]  # gpt-4o-mini → openai/gpt-4o-mini
    close = bare or difflib.get_close_matches(spec, known, n=3) or difflib.get_close_matches(
        spec, [s.split("/", 1)[1] for s in known], n=1)
    if not close:
        return ""
    full = [c if "/" in c else next(s for s in known if s.endswith("/" + c)) for c in close]
    return f" Did you mean {', '.join(repr(c) for c in full)}?"


def spelled(provider: str, model: str) -> str:
    """The name every command takes for a model a cache row or batch job records by its
    provider class's name: ("huggingface", "smollm2-135m-instruct") → "hf/smollm2-135m-instruct"
    (a provider not registered here, e.g. a test's "scripted", keeps its own name)."""
    return f"{_ALIASES.get(provider, provider)}/{model}"


def same_provider(a: str, b: str) -> bool:
    """Whether two provider names (or aliases) are one provider: "claude" and "anthropic"."""
    return _ALIASES.get(a, a) == _ALIASES.get(b, b)


def provider_named(name: str) -> Provider:
    """The provider called `name` (or an alias); ValueError listing the known ones."""
    if name not in _ALIASES:
        close = difflib.get_close_matches(name, list(_ALIASES), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown provider {name!r}; known: {', '.join(PROVIDERS)}.{hint}")
    return PROVIDERS[_ALIASES[name]]


def get_lm(spec: str, **kwargs: Any) -> LmPredictor:
    """The model `spec` names (`provider/name`), built with the provider's own keyword
    arguments (`cache_dir=`, `cache_default=`, `base_url=`, `max_concurrency=`, ...)."""
    provider, name = provider_of(spec)
    return provider.make(name, **kwargs)


def known_models(provider: str | None = None) -> list[ModelEntry]:
    """Every model the registered providers know (those of `provider` only, if given)."""
    wanted = [provider_named(provider)] if provider is not None else list(PROVIDERS.values())
    return [m for p in wanted for m in p.models()]


def from_infos(provider: str, infos: list[Any]) -> list[ModelEntry]:
    """Entries from a provider's table of `*ModelInfo`s (OpenAI's and Claude's share a shape)."""
    out = []
    for m in infos:
        live_in, live_out = m.input_usd_per_mtok, m.output_usd_per_mtok
        discount = getattr(m, "batch_discount", None)
        retires = m.retires
        out.append(ModelEntry(
            provider, str(m), m.context_window, m.max_output_tokens, live_in, live_out,
            live_in * discount if live_in is not None and discount else None,
            live_out * discount if live_out is not None and discount else None,
            endpoint=getattr(m, "kind", "messages"),
            retires=retires.isoformat() if retires else None))
    return out


def facts_source() -> str:
    """Where `lmwrapper models`' prices and limits come from, for its footer."""
    sdks = [s for p in PROVIDERS.values() if (s := p.spec().sdk) is not None]
    return (f"prices and context windows: {genai_prices_version()}; names and shutdown dates: "
            f"{', '.join(_installed(s) for s in sdks)}; the rest: each provider's models.toml")


def _installed(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"{package} {version(package)}"
    except PackageNotFoundError:
        return f"{package} (not installed)"


# -- the providers: one line each -------------------------------------------------------------
# A new provider is a folder `providers/<name>/` with a `spec.py` that defines `SPEC`, plus one
# line here, its fake `lmwrapper.testing.providers.<name>` (ROUTES, API, BATCHES) and its
# packaging extra: no other file (docs/architecture.md, "Adding a provider").

register_provider(Provider("openai", "lmwrapper.providers.openai.spec"))
register_provider(Provider("anthropic", "lmwrapper.providers.anthropic.spec", aliases=("claude",)))
register_provider(Provider("hf", "lmwrapper.providers.huggingface.spec", aliases=("huggingface",),
                           local=True))
