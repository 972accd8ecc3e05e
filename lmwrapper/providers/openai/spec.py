"""OpenAI, as the registry, the CLI and the fake know it (`providers/registry.py` lists it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lmwrapper.providers.openai import AzureConfig, get_open_ai_lm
from lmwrapper.providers.openai.models import OpenAiModelNames
from lmwrapper.providers.registry import ModelEntry, ProviderSpec, from_infos


def _models() -> list[ModelEntry]:
    return from_infos("openai", OpenAiModelNames.all())


def _rebuild(identity: Mapping[str, Any], recorded: bool) -> dict[str, Any]:
    """An Azure deployment's identity (`AzureOpenAiBackend.model_identity`) rebuilds an
    Azure predictor: on the recorded endpoint, or on the one configured here."""
    url = identity.get("base_url") if recorded else None
    if "azure_deployment" in identity:
        return {"azure": AzureConfig(endpoint=url, deployment=identity["azure_deployment"])}
    return {"base_url": url} if url else {}


SPEC = ProviderSpec(make=get_open_ai_lm, models=_models, batch=True, rebuild=_rebuild,
                    sdk="openai",
                    fakes=("lmwrapper.testing.providers.openai",
                           "lmwrapper.testing.providers.openai_responses",
                           "lmwrapper.testing.providers.openai_batches",
                           "lmwrapper.testing.providers.openai_azure"))
