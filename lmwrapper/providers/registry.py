"""One name for any model, in Python and on the command line: `provider/name`.

    >>> import lmwrapper
    >>> lm = lmwrapper.get_lm("openai/gpt-5.4-mini")            # doctest: +SKIP
    >>> lm = lmwrapper.get_lm("anthropic/claude-sonnet-5-5")    # doctest: +SKIP
    >>> lm = lmwrapper.get_lm("hf/smollm2-135m-instruct")       # doctest: +SKIP

A provider is a `Provider`: a name (plus aliases), a constructor taking the model name and
keyword arguments, and a function listing its known models (`lmwrapper models` prints
them). Constructors and tables load lazily, so this module imports nothing heavy; a new
backend registers itself with `register_provider`. An unknown provider, or a bare model
name, is refused with "did you mean"; an unknown model name is the provider's to judge
(OpenAI and Claude refuse it with close matches; Hugging Face takes any hub name or folder).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
class Provider:
    name: str
    make: Callable[..., LmPredictor]
    models: Callable[[], list[ModelEntry]]
    aliases: tuple[str, ...] = ()
    local: bool = False  # runs in this process: API flags (base_url, concurrency) do not apply


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
                     f"{', '.join(_ALIASES)} (e.g. openai/gpt-4o-mini).{_did_you_mean(spec)} "
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


def get_lm(spec: str, **kwargs: Any) -> LmPredictor:
    """The model `spec` names (`provider/name`), built with the provider's own keyword
    arguments (`cache_dir=`, `cache_default=`, `base_url=`, `max_concurrency=`, ...)."""
    provider, name = provider_of(spec)
    return provider.make(name, **kwargs)


def known_models(provider: str | None = None) -> list[ModelEntry]:
    """Every model the registered providers know (those of `provider` only, if given)."""
    if provider is not None and provider not in _ALIASES:
        close = difflib.get_close_matches(provider, list(_ALIASES), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown provider {provider!r}; known: {', '.join(PROVIDERS)}.{hint}")
    wanted = [PROVIDERS[_ALIASES[provider]]] if provider else list(PROVIDERS.values())
    return [m for p in wanted for m in p.models()]


def _from_infos(provider: str, infos: list[Any]) -> list[ModelEntry]:
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
    from lmwrapper.core.models import genai_prices_version

    return (f"prices and context windows: {genai_prices_version()}; names and shutdown dates: "
            f"{_installed('openai')}, {_installed('anthropic')}; the rest: each provider's "
            "models.toml")


def _installed(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"{package} {version(package)}"
    except PackageNotFoundError:
        return f"{package} (not installed)"


# -- the built-in providers ----------------------------------------------------------------

def _openai(name: str, **kw: Any) -> LmPredictor:
    from lmwrapper.providers.openai import get_open_ai_lm

    return get_open_ai_lm(name, **kw)


def _openai_models() -> list[ModelEntry]:
    from lmwrapper.providers.openai.models import OpenAiModelNames

    return _from_infos("openai", OpenAiModelNames.all())


def _anthropic(name: str, **kw: Any) -> LmPredictor:
    from lmwrapper.providers.anthropic import get_claude_lm  # type: ignore[attr-defined]

    if kw.get("base_url") is None:
        kw.pop("base_url", None)
    return get_claude_lm(name, **kw)  # type: ignore[no-any-return]


def _anthropic_models() -> list[ModelEntry]:
    try:
        from lmwrapper.providers.anthropic.models import (  # type: ignore[import-not-found]
            ClaudeModelNames,
        )
    except ImportError:  # the Claude backend or its table is not installed: nothing to list
        return []
    return _from_infos("anthropic", ClaudeModelNames.all())


def _hf(name: str, **kw: Any) -> LmPredictor:
    from lmwrapper.providers.huggingface import get_huggingface_lm  # type: ignore[attr-defined]

    return get_huggingface_lm(name, **kw)  # type: ignore[no-any-return]


def _hf_models() -> list[ModelEntry]:
    """The embedded model; any hub name or local folder works too, but cannot be listed."""
    from lmwrapper.providers.huggingface import smollm2

    folder = smollm2.models_dir() / smollm2.FOLDER_NAME
    downloaded = (folder / "config.json").exists() and (folder / "model.safetensors").exists()
    context = _config_context(folder / "config.json") if downloaded else None
    return [ModelEntry("hf", smollm2.NAME, context, context, 0.0, 0.0, None, None,
                       local=True, downloaded=downloaded)]


def _config_context(config: Path) -> int | None:
    """The context size a saved model's config.json states (read without transformers)."""
    try:
        value = json.loads(config.read_text()).get("max_position_embeddings")
    except (OSError, ValueError):
        return None
    return value if isinstance(value, int) else None


register_provider(Provider("openai", _openai, _openai_models))
register_provider(Provider("anthropic", _anthropic, _anthropic_models, aliases=("claude",)))
register_provider(Provider("hf", _hf, _hf_models, aliases=("huggingface",), local=True))
