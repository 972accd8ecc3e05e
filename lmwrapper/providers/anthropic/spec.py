"""Anthropic, as the registry, the CLI and the fake know it (`providers/registry.py` lists it)."""

from __future__ import annotations

from typing import Any

from lmwrapper.providers.anthropic import get_claude_lm
from lmwrapper.providers.anthropic.models import ClaudeModelNames
from lmwrapper.providers.anthropic.predictor import ClaudePredictor
from lmwrapper.providers.registry import ModelEntry, ProviderSpec, from_infos


def _make(name: str, **kw: Any) -> ClaudePredictor:
    if kw.get("base_url") is None:  # `get_lm(..., base_url=None)`: the default server
        kw.pop("base_url", None)
    return get_claude_lm(name, **kw)


def _models() -> list[ModelEntry]:
    return from_infos("anthropic", ClaudeModelNames.all())


SPEC = ProviderSpec(make=_make, models=_models, batch=True,
                    sdk="anthropic",
                    fakes=("lmwrapper.testing.providers.anthropic",))
