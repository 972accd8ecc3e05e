"""lmwrapper: run language models over datasets, cached on disk, resumable, cost known up front.

Backends load lazily: `lmwrapper.providers.openai`, `lmwrapper.providers.anthropic`,
`lmwrapper.providers.huggingface`; `lmwrapper.get_lm("openai/gpt-4o-mini")` picks one by name.
"""

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
from lmwrapper.engine.predictor import CostEstimate, LmPredictor
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

# Last, once the public names exist: lmwrapper 0.18's behaviour plugs into the core's
# extension points (see lmwrapper.compat018), so it is there before any user code runs.
from lmwrapper import compat018  # noqa: F401
