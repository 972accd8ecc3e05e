"""Local Hugging Face causal LMs: batched generation, logprobs, internals, all cached.

    from lmwrapper.huggingface_wrapper import get_huggingface_lm
    lm = get_huggingface_lm("smollm2-135m-instruct")   # or a local model folder

torch and transformers load when `get_huggingface_lm` is called, not on import.
"""

from lmwrapper.huggingface_wrapper.wrapper import get_huggingface_lm
from lmwrapper.structs import ModelInternalsRequest

__all__ = ["HuggingFacePredictor", "ModelInternals", "ModelInternalsRequest", "get_huggingface_lm"]


def __getattr__(name: str):  # lazy: these modules import torch / numpy
    if name == "HuggingFacePredictor":
        from lmwrapper.huggingface_wrapper.predictor import HuggingFacePredictor

        return HuggingFacePredictor
    if name == "ModelInternals":
        from lmwrapper.huggingface_wrapper.internals import ModelInternals

        return ModelInternals
    raise AttributeError(f"module 'lmwrapper.huggingface_wrapper' has no attribute {name!r}")

# -- lmwrapper 0.18 names --
# 0.18's `from lmwrapper.huggingface_wrapper import *` also gave Runtime and LmPrompt.
from lmwrapper.runtime import Runtime
from lmwrapper.structs import LmPrompt

__all__ += ["LmPrompt", "Runtime"]
