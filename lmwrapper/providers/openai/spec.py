"""OpenAI, as the registry, the CLI and the fake know it (`providers/registry.py` lists it)."""

from __future__ import annotations

from lmwrapper.providers.openai import get_open_ai_lm
from lmwrapper.providers.openai.models import OpenAiModelNames
from lmwrapper.providers.registry import ModelEntry, ProviderSpec, from_infos


def _models() -> list[ModelEntry]:
    return from_infos("openai", OpenAiModelNames.all())


SPEC = ProviderSpec(make=get_open_ai_lm, models=_models, batch=True,
                    sdk="openai",
                    fakes=("lmwrapper.testing.providers.openai",
                           "lmwrapper.testing.providers.openai_responses",
                           "lmwrapper.testing.providers.openai_batches"))
