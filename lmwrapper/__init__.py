"""lmwrapper: run language models over datasets, cached on disk, resumable, cost known up front.

Backends load lazily: `lmwrapper.openai_wrapper`, `lmwrapper.claude_wrapper`,
`lmwrapper.huggingface_wrapper`; `lmwrapper.get_lm("openai/gpt-4o-mini")` picks one by name.
"""

from lmwrapper.abstract_predictor import CostEstimate, LmPredictor
from lmwrapper.batch_config import CompletionWindow
from lmwrapper.plan import RunSummary
from lmwrapper.registry import get_lm
from lmwrapper.sqlcache import get_cache_dir, set_cache_dir
from lmwrapper.structs import (
    LmChatDialog,
    LmChatTurn,
    LmPrediction,
    LmPrompt,
    LmUsage,
    ModelInternalsRequest,
)

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
