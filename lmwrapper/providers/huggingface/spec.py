"""Local Hugging Face models, as the registry and the CLI know them (`providers/registry.py`)."""

from __future__ import annotations

import json
from pathlib import Path

from lmwrapper.providers.huggingface import get_huggingface_lm, smollm2
from lmwrapper.providers.registry import ModelEntry, ProviderSpec


def _models() -> list[ModelEntry]:
    """The embedded model; any hub name or local folder works too, but cannot be listed."""
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


SPEC = ProviderSpec(make=get_huggingface_lm, models=_models)
