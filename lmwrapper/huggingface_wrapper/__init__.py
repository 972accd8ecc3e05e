"""Local Hugging Face causal LMs: batched generation, logprobs, internals, all cached.

    from lmwrapper.huggingface_wrapper import get_huggingface_lm
    lm = get_huggingface_lm("smollm2-135m-instruct")   # or a local model folder

torch and transformers load when `get_huggingface_lm` is called, not on import.
"""

from typing import Any

from lmwrapper.huggingface_wrapper.wrapper import get_huggingface_lm
from lmwrapper.structs import ModelInternalsRequest

__all__ = ["HuggingFacePredictor", "ModelInternals", "ModelInternalsRequest", "get_huggingface_lm"]


def __getattr__(name: str) -> Any:  # lazy: these modules import torch / numpy
    if name == "HuggingFacePredictor":
        from lmwrapper.huggingface_wrapper.predictor import HuggingFacePredictor

        return HuggingFacePredictor
    if name == "ModelInternals":
        from lmwrapper.huggingface_wrapper.internals import ModelInternals

        return ModelInternals
    if name in _STAR_018:
        return _star_018(name)
    raise AttributeError(f"module 'lmwrapper.huggingface_wrapper' has no attribute {name!r}")

# -- lmwrapper 0.18 names --
# 0.18's `from lmwrapper.huggingface_wrapper import *` also gave Runtime, LmPrompt,
# PromptTrimmer, and torch and transformers with the transformers classes its notebooks use
# (`torch.float16`, `AutoTokenizer`). Those load only when star-imported or asked for by name,
# so `from lmwrapper.huggingface_wrapper import get_huggingface_lm` stays light.
from lmwrapper.prompt_trimming import PromptTrimmer
from lmwrapper.runtime import Runtime
from lmwrapper.structs import LmPrompt

_STAR_018 = ("torch", "transformers", "AutoConfig", "AutoModelForCausalLM", "AutoTokenizer",
             "PreTrainedModel", "PreTrainedTokenizerFast")
__all__ += ["AutoConfig", "AutoModelForCausalLM", "AutoTokenizer", "LmPrompt",
            "PreTrainedModel", "PreTrainedTokenizerFast", "PromptTrimmer", "Runtime", "torch",
            "transformers"]


def _star_018(name: str) -> Any:
    import importlib

    from lmwrapper.errors import install_hint

    module = name if name in ("torch", "transformers") else "transformers"
    try:
        loaded = importlib.import_module(module)
    except ImportError as e:
        raise install_hint(module, "hf") from e
    return loaded if name == module else getattr(loaded, name)
