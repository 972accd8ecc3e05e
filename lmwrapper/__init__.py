"""lmwrapper: run language models over datasets, cached on disk, resumable, cost known up front.

Backends load lazily: `lmwrapper.providers.openai`, `lmwrapper.providers.anthropic`,
`lmwrapper.providers.huggingface`; `lmwrapper.get_lm("openai/gpt-4o-mini")` picks one by name.
"""

from lmwrapper.core.money import CostEstimate
from lmwrapper.core.prompt import (
    LmChatDialog,
    LmChatTurn,
    LmPrediction,
    LmPrompt,
    LmUsage,
    ModelInternalsRequest,
)
from lmwrapper.core.window import CompletionWindow
from lmwrapper.engine.plan import RunSummary
from lmwrapper.engine.predictor import LmPredictor
from lmwrapper.providers.registry import get_lm
from lmwrapper.store.db import get_cache_dir, set_cache_dir

__version__ = "0.1.0"

__all__ = [
    "CompletionWindow",
    "CostEstimate",
    "LmChatDialog",
    "LmChatTurn",
    "LmPrediction",
    "LmPredictor",
    "LmPrompt",
    "LmUsage",
    "ModelInternalsRequest",
    "RunSummary",
    "get_cache_dir",
    "get_lm",
    "set_cache_dir",
]
