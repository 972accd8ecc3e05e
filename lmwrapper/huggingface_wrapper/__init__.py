"""`lmwrapper.huggingface_wrapper`: the public module of local Hugging Face models
(`get_huggingface_lm`, `HuggingFacePredictor` and its `HuggingFaceBackend`, `ModelInternals`), and lmwrapper 0.18's import
path.

A thin re-export of `lmwrapper.providers.huggingface` (internal: its module paths may
change), so scripts written for 0.18 keep working. 0.18's
`from lmwrapper.huggingface_wrapper import *` also gave Runtime, LmPrompt, PromptTrimmer,
and torch and transformers with the transformers classes its notebooks use
(`torch.float16`, `AutoTokenizer`). Those load only when star-imported or asked for by
name, so `from lmwrapper.huggingface_wrapper import get_huggingface_lm` stays light. Those
and the public names (`__all__`) are all it has: an internal module of the provider's folder
(`smollm2`, ...) is not reached through it (an `AttributeError` lists the public names).
"""

import importlib
from typing import Any

from lmwrapper.compat018.prompt_trimming import PromptTrimmer
from lmwrapper.compat018.runtime import Runtime
from lmwrapper.core.errors import install_hint, no_public_name
from lmwrapper.core.prompt import LmPrompt, ModelInternalsRequest
from lmwrapper.providers import huggingface as _home
from lmwrapper.providers.huggingface.factory import get_huggingface_lm

_STAR_018 = ("torch", "transformers", "AutoConfig", "AutoModelForCausalLM", "AutoTokenizer",
             "PreTrainedModel", "PreTrainedTokenizerFast")
__all__ = ["AutoConfig", "AutoModelForCausalLM", "AutoTokenizer", "HuggingFaceBackend",
           "HuggingFacePredictor", "LmPrompt", "ModelInternals", "ModelInternalsRequest",
           "PreTrainedModel", "PreTrainedTokenizerFast", "PromptTrimmer", "Runtime",
           "get_huggingface_lm", "torch", "transformers"]


def __getattr__(name: str) -> Any:
    if name in _STAR_018:  # lazy: the ML stack loads only when asked for
        module = name if name in ("torch", "transformers") else "transformers"
        try:
            loaded = importlib.import_module(module)
        except ImportError as e:
            raise install_hint(module, "hf") from e
        return loaded if name == module else getattr(loaded, name)
    if name in __all__:  # the provider's lazy ones (HuggingFacePredictor, ...: torch)
        return getattr(_home, name)
    raise no_public_name(__name__, name, __all__)
