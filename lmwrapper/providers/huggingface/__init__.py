"""Local Hugging Face causal LMs: batched generation, logprobs, internals, all cached.

    from lmwrapper.providers.huggingface import get_huggingface_lm
    lm = get_huggingface_lm("smollm2-135m-instruct")   # or a local model folder

torch and transformers load when `get_huggingface_lm` is called, not on import.
"""

from typing import Any

from lmwrapper.core.prompt import ModelInternalsRequest
from lmwrapper.providers.huggingface.factory import get_huggingface_lm

__all__ = ["HuggingFaceBackend", "HuggingFacePredictor", "ModelInternals", "ModelInternalsRequest",
           "get_huggingface_lm"]


def __getattr__(name: str) -> Any:  # lazy: these modules import torch / numpy
    if name == "HuggingFacePredictor":
        from lmwrapper.providers.huggingface.predictor import HuggingFacePredictor

        return HuggingFacePredictor
    if name == "HuggingFaceBackend":
        from lmwrapper.providers.huggingface.backend import HuggingFaceBackend

        return HuggingFaceBackend
    if name == "ModelInternals":
        from lmwrapper.providers.huggingface.internals import ModelInternals

        return ModelInternals
    raise AttributeError(f"module 'lmwrapper.providers.huggingface' has no attribute {name!r}")
